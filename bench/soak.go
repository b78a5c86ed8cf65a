package bench

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callengine/callengine/engine"
)

// SoakResult is what Soak measured.
type SoakResult struct {
	LiveCalls        int
	HeapBefore       uint64 // live heap after setup, before the calls
	HeapAfter        uint64 // live heap with every call connected
	HeapBytesPerCall float64
	Setup            time.Duration // time to dial and answer them all
}

// Soak dials n calls between up to 1,000 pairs of clients (several calls per
// client when n is larger, as a contact centre has), answers them all,
// and measures the live heap each connected call holds. The calls stay up:
// close the engine (and reopen it for Restore) when done.
func Soak(ctx context.Context, e *engine.Engine, n, concurrency int) (SoakResult, error) {
	if concurrency < 1 {
		concurrency = 1
	}
	pairs := min(n, 1000)
	if err := setupPairs(ctx, e, pairs); err != nil {
		return SoakResult{}, err
	}
	before := liveHeap()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, concurrency)
	begin := time.Now()
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				p := i % pairs
				c, err := e.Dial(ctx, engine.DialRequest{From: fmt.Sprintf("a%d", p), To: extension("b", p)})
				if err == nil {
					_, err = e.Answer(ctx, c.ID, fmt.Sprintf("b%d-1", p))
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	setup := time.Since(begin)
	close(errs)
	if err := <-errs; err != nil {
		return SoakResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return SoakResult{}, err
	}
	after := liveHeap()
	r := SoakResult{LiveCalls: e.LiveCalls(), HeapBefore: before, HeapAfter: after, Setup: setup}
	if r.LiveCalls != n {
		return r, fmt.Errorf("soak: %d live calls, want %d", r.LiveCalls, n)
	}
	r.HeapBytesPerCall = float64(int64(after)-int64(before)) / float64(n)
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
