package actors

import (
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// PoolDispatcher runs mailboxes on reused goroutines. protoactor's default
// dispatcher starts a new goroutine for every mailbox activation; a call
// actor's handler is deep (decide, encode, wait for the journal, publish), so
// each fresh goroutine grows and copies its stack. Here a goroutine that
// finished a mailbox run waits for the next one, up to MaxIdle idle
// goroutines; beyond that it exits. A run is never queued behind another:
// with no idle goroutine, Schedule starts one — actors block on the journal,
// so a bounded pool could stall them all.
type PoolDispatcher struct {
	work       chan func()
	idle       atomic.Int32
	maxIdle    int32
	throughput int
}

// NewPoolDispatcher returns a dispatcher that keeps up to maxIdle goroutines
// waiting and processes up to throughput messages per mailbox run.
func NewPoolDispatcher(maxIdle, throughput int) *PoolDispatcher {
	return &PoolDispatcher{work: make(chan func()), maxIdle: int32(maxIdle), throughput: throughput}
}

var _ actor.Dispatcher = (*PoolDispatcher)(nil)

// Schedule implements actor.Dispatcher.
func (d *PoolDispatcher) Schedule(fn func()) {
	select {
	case d.work <- fn:
	default:
		go d.worker(fn)
	}
}

// Throughput implements actor.Dispatcher.
func (d *PoolDispatcher) Throughput() int { return d.throughput }

func (d *PoolDispatcher) worker(fn func()) {
	for {
		fn()
		if d.idle.Add(1) > d.maxIdle {
			d.idle.Add(-1)
			return
		}
		fn = <-d.work
		d.idle.Add(-1)
	}
}
