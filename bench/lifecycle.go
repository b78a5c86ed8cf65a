package bench

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callengine/callengine/engine"
)

// LifecycleResult is what Lifecycle measured.
type LifecycleResult struct {
	Calls        int           // complete life cycles
	Events       uint64        // events journaled by them
	Elapsed      time.Duration // wall time of the loop
	CallsPerSec  float64
	EventsPerSec float64
	// Latency of one command, from the call to its durable answer.
	P50, P99, P999 time.Duration
}

// setupPairs registers 2×n clients — caller i calls the extension of callee
// i — unless an earlier workload on the same engine did.
func setupPairs(ctx context.Context, e *engine.Engine, n int) error {
	for i := 0; i < n; i++ {
		for _, side := range []string{"a", "b"} {
			id := fmt.Sprintf("%s%d", side, i)
			if c, err := e.Client(ctx, id); err == nil && c.State == "registered" {
				continue
			}
			if _, err := e.RegisterClient(ctx, engine.ClientSpec{
				ID: id, Devices: []engine.Device{{ID: id + "-1"}},
				Extensions: []string{extension(side, i)},
			}); err != nil {
				return err
			}
		}
	}
	return nil
}

// extension gives client i of side "a" or "b" a unique 6-digit extension.
func extension(side string, i int) string {
	base := 100000
	if side == "b" {
		base = 500000
	}
	return fmt.Sprintf("%06d", base+i)
}

// Lifecycle runs calls complete life cycles — dial, ringing, answer, hold,
// resume, hang up — from concurrency goroutines on e, and measures them.
func Lifecycle(ctx context.Context, e *engine.Engine, calls, concurrency int) (LifecycleResult, error) {
	if concurrency < 1 {
		concurrency = 1
	}
	if err := setupPairs(ctx, e, concurrency); err != nil {
		return LifecycleResult{}, err
	}
	startSeq := e.Journal().LastSeq()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, concurrency)
	lat := make([][]time.Duration, concurrency)
	begin := time.Now()
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			from, to, dev := fmt.Sprintf("a%d", w), extension("b", w), fmt.Sprintf("b%d-1", w)
			samples := make([]time.Duration, 0, 5*(calls/concurrency+1))
			timed := func(f func() (engine.Call, error)) (engine.Call, error) {
				t0 := time.Now()
				c, err := f()
				samples = append(samples, time.Since(t0))
				return c, err
			}
			for next.Add(1) <= int64(calls) && ctx.Err() == nil {
				c, err := timed(func() (engine.Call, error) { return e.Dial(ctx, engine.DialRequest{From: from, To: to}) })
				if err == nil {
					_, err = timed(func() (engine.Call, error) { return e.Answer(ctx, c.ID, dev) })
				}
				if err == nil {
					_, err = timed(func() (engine.Call, error) { return e.Hold(ctx, c.ID, engine.Caller) })
				}
				if err == nil {
					_, err = timed(func() (engine.Call, error) { return e.Resume(ctx, c.ID, engine.Caller) })
				}
				if err == nil {
					_, err = timed(func() (engine.Call, error) { return e.Hangup(ctx, c.ID, engine.Caller) })
				}
				if err != nil {
					errs <- err
					return
				}
			}
			lat[w] = samples
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(begin)
	close(errs)
	if err := <-errs; err != nil {
		return LifecycleResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return LifecycleResult{}, err
	}
	var all []time.Duration
	for _, s := range lat {
		all = append(all, s...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	r := LifecycleResult{Calls: calls, Events: e.Journal().LastSeq() - startSeq, Elapsed: elapsed}
	r.CallsPerSec = float64(calls) / elapsed.Seconds()
	r.EventsPerSec = float64(r.Events) / elapsed.Seconds()
	r.P50, r.P99, r.P999 = quantile(all, 0.50), quantile(all, 0.99), quantile(all, 0.999)
	return r, nil
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)-1))
	return sorted[i]
}
