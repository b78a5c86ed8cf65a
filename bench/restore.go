package bench

import (
	"context"
	"runtime"
	"time"

	"github.com/callengine/callengine/engine"
)

// RestoreResult is what Restore measured.
type RestoreResult struct {
	LiveCalls int
	Clients   int
	Events    int
	Elapsed   time.Duration // wall time of Open
	// AllocBytes and Allocs are what the process allocated during Open
	// (runtime.MemStats TotalAlloc and Mallocs deltas).
	AllocBytes uint64
	Allocs     uint64
}

// AllocBytesPerCall is the bytes allocated during Open per restored live
// call; 0 when none was restored.
func (r RestoreResult) AllocBytesPerCall() float64 {
	if r.LiveCalls == 0 {
		return 0
	}
	return float64(r.AllocBytes) / float64(r.LiveCalls)
}

// Restore opens an engine on cfg's journal — one that Soak left with live
// calls — and measures how long Open takes to bring them back, and what it
// allocates doing so. The engine is closed before it returns.
func Restore(ctx context.Context, cfg engine.Config) (RestoreResult, error) {
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	begin := time.Now()
	e, err := engine.Open(ctx, cfg)
	elapsed := time.Since(begin)
	runtime.ReadMemStats(&m1)
	if err != nil {
		return RestoreResult{}, err
	}
	defer e.Close()
	r := e.Restored()
	return RestoreResult{LiveCalls: e.LiveCalls(), Clients: r.Clients, Events: r.Events, Elapsed: elapsed,
		AllocBytes: m1.TotalAlloc - m0.TotalAlloc, Allocs: m1.Mallocs - m0.Mallocs}, nil
}
