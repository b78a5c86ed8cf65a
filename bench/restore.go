package bench

import (
	"context"
	"time"

	"github.com/callengine/callengine/engine"
)

// RestoreResult is what Restore measured.
type RestoreResult struct {
	LiveCalls int
	Clients   int
	Events    int
	Elapsed   time.Duration // wall time of Open
}

// Restore opens an engine on cfg's journal — one that Soak left with live
// calls — and measures how long Open takes to bring them back. The engine is
// closed before it returns.
func Restore(ctx context.Context, cfg engine.Config) (RestoreResult, error) {
	begin := time.Now()
	e, err := engine.Open(ctx, cfg)
	elapsed := time.Since(begin)
	if err != nil {
		return RestoreResult{}, err
	}
	defer e.Close()
	r := e.Restored()
	return RestoreResult{LiveCalls: e.LiveCalls(), Clients: r.Clients, Events: r.Events, Elapsed: elapsed}, nil
}
