package bench

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/callengine/callengine/engine"
)

// LifecycleConfig bounds and observes a Lifecycle run.
type LifecycleConfig struct {
	Calls       int // complete life cycles to run (the count bound)
	Concurrency int // callers, each with its own pair of clients
	// Duration bounds the loop in time: when it has passed, callers start no
	// new call and the run ends once the calls in flight are complete. 0: no
	// bound besides the context.
	Duration time.Duration
	// Interval is the throughput sampling interval; default 250 ms.
	Interval time.Duration
	Progress ProgressFunc
}

// LifecycleResult is what Lifecycle measured.
type LifecycleResult struct {
	Calls        int           // complete life cycles
	Requested    int           // life cycles asked for
	Concurrency  int           // callers that ran them
	Stopped      string        // "count" (all done) or "duration" (time bound reached)
	Events       uint64        // events journaled by them
	Commands     int64         // commands timed (5 per complete call)
	Elapsed      time.Duration // wall time of the loop
	CallsPerSec  float64
	EventsPerSec float64
	// Allocations made in the process while the loop ran (runtime.MemStats
	// Mallocs and TotalAlloc deltas), divided by the complete calls: what a
	// call life cycle costs the allocator, the journal writer and anything
	// else running beside it (the call history, when on) included.
	AllocsPerCall     float64
	AllocBytesPerCall float64
	// Latency of one command, from the call to its durable answer.
	P50, P90, P99, P999, Max time.Duration
	// Latency is the HDR histogram of command latencies, in microseconds.
	Latency *hdrhistogram.Histogram
	// Throughput is completed calls per sampling interval.
	Throughput []Sample
}

// lifecycleCaller is one caller of a life cycle run. Each command is a
// method of its own that keeps only the call's id of the view it gets back:
// the caller's goroutine holds no copy of a view while the next command runs,
// as a protocol adapter's would not.
type lifecycleCaller struct {
	e             *engine.Engine
	lat           *Latency
	w             int
	from, to, dev string
}

// call runs one life cycle, each command timed from its call to its
// durable answer.
func (l *lifecycleCaller) call(ctx context.Context) error {
	t0 := time.Now()
	id, err := l.dial(ctx)
	l.lat.Record(l.w, time.Since(t0))
	for step := 0; err == nil && step < 4; step++ {
		t0 = time.Now()
		err = l.command(ctx, step, id)
		l.lat.Record(l.w, time.Since(t0))
	}
	return err
}

// dial is not inlined into call, nor are the commands: each holds a view
// (with the compiler's copies of it, 1–2 KiB), one at a time on the stack.
//
//go:noinline
func (l *lifecycleCaller) dial(ctx context.Context) (string, error) {
	return callID(l.e.Dial(ctx, engine.DialRequest{From: l.from, To: l.to}))
}

// callID returns the id of the view c. Not inlined: dial's frame then
// holds the view once, as the result of Dial.
//
//go:noinline
func callID(c engine.Call, err error) (string, error) { return c.ID, err }

// command runs step 0–3 of a call's life after the dial: answer, hold,
// resume, hang up.
func (l *lifecycleCaller) command(ctx context.Context, step int, id string) error {
	switch step {
	case 0:
		return l.answer(ctx, id)
	case 1:
		return l.hold(ctx, id)
	case 2:
		return l.resume(ctx, id)
	}
	return l.hangup(ctx, id)
}

// Each command is a function of its own, not inlined: a call site keeps a
// copy of the view it gets back, so that one function with them all would
// hold four.

//go:noinline
func (l *lifecycleCaller) answer(ctx context.Context, id string) error {
	_, err := l.e.Answer(ctx, id, l.dev)
	return err
}

//go:noinline
func (l *lifecycleCaller) hold(ctx context.Context, id string) error {
	_, err := l.e.Hold(ctx, id, engine.Caller)
	return err
}

//go:noinline
func (l *lifecycleCaller) resume(ctx context.Context, id string) error {
	_, err := l.e.Resume(ctx, id, engine.Caller)
	return err
}

//go:noinline
func (l *lifecycleCaller) hangup(ctx context.Context, id string) error {
	_, err := l.e.Hangup(ctx, id, engine.Caller)
	return err
}

// setupPairs registers 2×n clients — caller i calls the extension of callee
// i — unless an earlier workload on the same engine did.
func setupPairs(ctx context.Context, e *engine.Engine, n int, workload string, report ProgressFunc) error {
	s := startSampler(0, Progress{Workload: workload, Phase: "setup", Total: int64(2 * n), Unit: "clients"}, report)
	defer s.stop()
	for i := 0; i < n; i++ {
		for _, side := range []string{"a", "b"} {
			id := fmt.Sprintf("%s%d", side, i)
			if c, err := e.Client(ctx, id); err == nil && c.State == "registered" {
				s.add(1)
				continue
			}
			if _, err := e.RegisterClient(ctx, engine.ClientSpec{
				ID: id, Devices: []engine.Device{{ID: id + "-1"}},
				Extensions: []string{extension(side, i)},
			}); err != nil {
				return err
			}
			s.add(1)
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
	return RunLifecycle(ctx, e, LifecycleConfig{Calls: calls, Concurrency: concurrency})
}

// RunLifecycle runs cfg.Calls complete life cycles (fewer if cfg.Duration
// runs out first) from cfg.Concurrency callers on e: each call is Dial
// (CallDialed + CallRinging), Answer, Hold, Resume, Hangup, every command
// waiting for its durable answer. It records the latency of every command in
// an HDR histogram and the completed calls of every sampling interval. A
// cancelled ctx aborts the run with its error.
func RunLifecycle(ctx context.Context, e *engine.Engine, cfg LifecycleConfig) (LifecycleResult, error) {
	calls := cfg.Calls
	if calls < 1 {
		return LifecycleResult{}, fmt.Errorf("bench: lifecycle: %d calls", calls)
	}
	concurrency := min(max(cfg.Concurrency, 1), calls)
	if err := setupPairs(ctx, e, concurrency, "lifecycle", cfg.Progress); err != nil {
		return LifecycleResult{}, err
	}
	startSeq := e.Journal().LastSeq()
	lat := NewLatency()
	var (
		next    atomic.Int64
		stop    atomic.Bool
		wg      sync.WaitGroup
		errOnce sync.Once
		failure error
	)
	fail := func(err error) {
		errOnce.Do(func() { failure = err })
		stop.Store(true)
	}
	var mem0 runtime.MemStats
	runtime.ReadMemStats(&mem0)
	s := startSampler(cfg.Interval, Progress{Workload: "lifecycle", Phase: "calls", Total: int64(calls), Unit: "calls"}, cfg.Progress)
	if cfg.Duration > 0 {
		t := time.AfterFunc(cfg.Duration, func() { stop.Store(true) })
		defer t.Stop()
	}
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			l := lifecycleCaller{e: e, lat: lat, w: w, from: fmt.Sprintf("a%d", w), to: extension("b", w), dev: fmt.Sprintf("b%d-1", w)}
			for !stop.Load() && ctx.Err() == nil && next.Add(1) <= int64(calls) {
				err := l.call(ctx)
				if err != nil {
					fail(err)
					return
				}
				s.add(1)
			}
		}(w)
	}
	wg.Wait()
	elapsed := s.elapsed()
	var mem1 runtime.MemStats
	runtime.ReadMemStats(&mem1)
	series := s.stop()
	if err := ctx.Err(); err != nil {
		return LifecycleResult{}, err
	}
	if failure != nil {
		return LifecycleResult{}, failure
	}
	done := int(s.done.Load())
	h := lat.Histogram()
	r := LifecycleResult{
		Calls: done, Requested: calls, Concurrency: concurrency, Stopped: "count",
		Events: e.Journal().LastSeq() - startSeq, Commands: h.TotalCount(),
		Elapsed: elapsed, Latency: h, Throughput: series,
	}
	if done < calls {
		r.Stopped = "duration"
	}
	r.CallsPerSec = float64(done) / elapsed.Seconds()
	r.EventsPerSec = float64(r.Events) / elapsed.Seconds()
	if done > 0 {
		r.AllocsPerCall = float64(mem1.Mallocs-mem0.Mallocs) / float64(done)
		r.AllocBytesPerCall = float64(mem1.TotalAlloc-mem0.TotalAlloc) / float64(done)
	}
	r.P50, r.P90, r.P99, r.P999 = Quantile(h, 0.50), Quantile(h, 0.90), Quantile(h, 0.99), Quantile(h, 0.999)
	r.Max = time.Duration(h.Max()) * time.Microsecond
	finish(cfg.Progress, "lifecycle", "calls", elapsed, fmt.Sprintf("%s calls from %s callers in %s: %s calls/s, %s events/s, p99 %s, %s allocations per call",
		count(int64(done)), count(int64(concurrency)), seconds(elapsed), count(int64(r.CallsPerSec)), count(int64(r.EventsPerSec)), millis(r.P99), count(int64(r.AllocsPerCall+0.5))))
	return r, nil
}
