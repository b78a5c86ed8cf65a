package engine_test

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/webhooks"
)

// TestRetentionWaitsForWebhooks: a call whose events an endpoint has not
// been sent yet stays in the hot journal, however old; once the endpoint
// has it, the next run archives it.
func TestRetentionWaitsForWebhooks(t *testing.T) {
	clk := clock.NewVirtual(start)
	rcv := newHookReceiver(t, "ret-secret", clk.Now)
	var up atomic.Bool
	rcv.respond = func(*http.Request, int, webhooks.Delivery) int {
		if up.Load() {
			return http.StatusOK
		}
		return http.StatusServiceUnavailable
	}
	h := newHookEngine(t, clk, rcv.endpoint(webhooks.KindCallEnded))
	h.register("alice", "bob")
	id := h.call()
	clk.Advance(2 * time.Hour) // old enough; every retry so far failed
	rep, err := h.e.Archive(ctx, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Calls != 0 || rep.Undelivered != 1 {
		t.Fatalf("with the endpoint down: %+v", rep)
	}
	if _, err := h.e.Call(ctx, id); err != nil {
		t.Fatalf("the undelivered call left the journal: %v", err)
	}

	up.Store(true)
	waitUntil(t, "delivery", func() bool {
		clk.Advance(time.Minute) // the next retry
		return caughtUp(h.e)
	})
	// The journal's last record never leaves it: write one more.
	if _, err := h.e.SetPresence(ctx, "alice", events.PresenceAway, ""); err != nil {
		t.Fatal(err)
	}
	rep, err = h.e.Archive(ctx, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Calls != 1 || rep.Undelivered != 0 {
		t.Fatalf("once delivered: %+v", rep)
	}
}
