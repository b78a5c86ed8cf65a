package journal

import (
	"context"
	"sync"
	"sync/atomic"
)

// tailSignal wakes readers that wait for new records. The writer signals
// after each commit; it costs one atomic load when nobody waits.
type tailSignal struct {
	waiters atomic.Int64
	mu      sync.Mutex
	ch      chan struct{} // closed and replaced at each signal
}

func (t *tailSignal) wait() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ch == nil {
		t.ch = make(chan struct{})
	}
	return t.ch
}

func (t *tailSignal) signal() {
	if t.waiters.Load() == 0 {
		return
	}
	t.mu.Lock()
	if t.ch != nil {
		close(t.ch)
		t.ch = nil
	}
	t.mu.Unlock()
}

// WaitFor blocks until a record with a sequence number above after is
// committed (LastSeq() > after), ctx ends, or the journal closes. It returns
// nil, ctx.Err(), or ErrClosed. Readers that follow the journal — the call
// history, webhooks — call Scan(after+1, …) and then WaitFor(ctx, last).
func (j *Journal) WaitFor(ctx context.Context, after uint64) error {
	j.tail.waiters.Add(1)
	defer j.tail.waiters.Add(-1)
	for {
		ch := j.tail.wait()
		if j.lastSeq.Load() > after {
			return nil
		}
		if j.isClosed.Load() {
			return ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
