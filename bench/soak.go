package bench

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
)

// SoakConfig bounds and observes a Soak run.
type SoakConfig struct {
	Calls       int // calls to dial, answer and hold live (the count bound)
	Concurrency int
	// Duration bounds the setup in time: when it has passed no new call is
	// dialled, and the heap is measured over the calls that are up. 0: no
	// bound besides the context.
	Duration time.Duration
	Interval time.Duration // throughput sampling interval; default 250 ms
	Progress ProgressFunc
}

// SoakResult is what Soak measured.
type SoakResult struct {
	LiveCalls        int    // calls the soak holds live
	Requested        int    // calls asked for
	Stopped          string // "count" or "duration"
	HeapBefore       uint64 // live heap after setup, before the calls
	HeapAfter        uint64 // live heap with every call connected
	HeapBytesPerCall float64
	Setup            time.Duration // time to dial and answer them all
	Throughput       []Sample      // calls set up per sampling interval
}

// Soak dials n calls between up to 1,000 pairs of clients (several calls per
// client when n is larger, as a contact centre has), answers them all,
// and measures the live heap each connected call holds. The calls stay up:
// close the engine (and reopen it for Restore) when done.
func Soak(ctx context.Context, e *engine.Engine, n, concurrency int) (SoakResult, error) {
	return RunSoak(ctx, e, SoakConfig{Calls: n, Concurrency: concurrency})
}

// RunSoak is Soak with a time bound, throughput samples and progress.
func RunSoak(ctx context.Context, e *engine.Engine, cfg SoakConfig) (SoakResult, error) {
	n := cfg.Calls
	if n < 1 {
		return SoakResult{}, fmt.Errorf("bench: soak: %d calls", n)
	}
	concurrency := min(max(cfg.Concurrency, 1), n)
	pairs := min(n, 1000)
	if err := setupPairs(ctx, e, pairs, "soak", cfg.Progress); err != nil {
		return SoakResult{}, err
	}
	liveBefore := e.LiveCalls()
	before := liveHeap()
	var (
		next    atomic.Int64
		stop    atomic.Bool
		wg      sync.WaitGroup
		errOnce sync.Once
		failure error
	)
	s := startSampler(cfg.Interval, Progress{Workload: "soak", Phase: "calls", Total: int64(n), Unit: "calls"}, cfg.Progress)
	if cfg.Duration > 0 {
		t := time.AfterFunc(cfg.Duration, func() { stop.Store(true) })
		defer t.Stop()
	}
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() && ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				p := i % pairs
				c, err := e.Dial(ctx, engine.DialRequest{From: fmt.Sprintf("a%d", p), To: extension("b", p)})
				if err == nil {
					_, err = e.Answer(ctx, c.ID, fmt.Sprintf("b%d-1", p))
				}
				if err != nil {
					errOnce.Do(func() { failure = err })
					stop.Store(true)
					return
				}
				s.add(1)
			}
		}()
	}
	wg.Wait()
	setup := s.elapsed()
	series := s.stop()
	if err := ctx.Err(); err != nil {
		return SoakResult{}, err
	}
	if failure != nil {
		return SoakResult{}, failure
	}
	done := int(s.done.Load())
	phase(cfg.Progress, "soak", "heap")
	// The call history follows the journal: let it catch up, so that what
	// is measured is what it keeps, not a batch in flight.
	if _, err := e.History(ctx, "a0", engine.HistoryQuery{Limit: 1}); err != nil && errcode.CodeOf(err) != errcode.Unavailable {
		return SoakResult{}, err
	}
	after := liveHeap()
	r := SoakResult{
		LiveCalls: e.LiveCalls() - liveBefore, Requested: n, Stopped: "count",
		HeapBefore: before, HeapAfter: after, Setup: setup, Throughput: series,
	}
	if done < n {
		r.Stopped = "duration"
	}
	if r.LiveCalls != done {
		return r, fmt.Errorf("soak: %d live calls, want %d", r.LiveCalls, done)
	}
	if done > 0 {
		r.HeapBytesPerCall = float64(int64(after)-int64(before)) / float64(done)
	}
	finish(cfg.Progress, "soak", "calls", setup, fmt.Sprintf("%s live calls set up in %s, %s B of heap per live call",
		count(int64(done)), seconds(setup), count(int64(r.HeapBytesPerCall))))
	return r, nil
}

// liveHeap returns the bytes of heap in use after a full collection.
func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
