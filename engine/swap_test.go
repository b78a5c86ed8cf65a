package engine_test

import (
	"context"
	"testing"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
)

func TestSwapAcrossCalls(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.register("alice", "101", nil, "a1", "a2")
	h.register("bob", "102", nil, "b1")
	h.register("carol", "103", nil, "c1")
	first := must[engine.Call](t)(h.e.Dial(ctx, engine.DialRequest{From: "bob", To: "101"}))
	must[engine.Call](t)(h.e.Answer(ctx, first.ID, "a2"))
	// A second call rings while alice talks to bob: call waiting.
	second := must[engine.Call](t)(h.e.Dial(ctx, engine.DialRequest{From: "carol", To: "101"}))
	active := must[[]engine.ActiveCall](t)(h.e.ActiveCalls(ctx, "alice"))
	if len(active) != 2 {
		t.Fatalf("active calls %+v", active)
	}
	got := must[engine.Call](t)(h.e.Swap(ctx, "alice", second.ID, ""))
	if got.State != engine.Connected || got.AnsweredDevice != "a2" {
		t.Fatalf("swapped to %+v", got)
	}
	if c := must[engine.Call](t)(h.e.Call(ctx, first.ID)); c.State != engine.Held || !c.HeldByCallee {
		t.Fatalf("first call %s held by callee %v", c.State, c.HeldByCallee)
	}
	h.reopen()
	must[engine.Call](t)(h.e.Swap(ctx, "alice", first.ID, ""))
	if c := must[engine.Call](t)(h.e.Call(ctx, first.ID)); c.State != engine.Connected {
		t.Fatalf("first call is %s after swapping back", c.State)
	}
	if c := must[engine.Call](t)(h.e.Call(ctx, second.ID)); c.State != engine.Held || !c.HeldByCallee {
		t.Fatalf("second call is %s", c.State)
	}
	states := map[string]string{}
	for _, a := range must[[]engine.ActiveCall](t)(h.e.ActiveCalls(ctx, "alice")) {
		states[a.ID] = a.State
	}
	if states[first.ID] != "active" || states[second.ID] != "held" {
		t.Fatalf("active calls %v", states)
	}
	before := h.e.Journal().LastSeq()
	_, err := h.e.Swap(ctx, "carol", first.ID, "")
	wantCode(t, err, errcode.InvalidParams) // not her call
	_, err = h.e.Swap(ctx, "nobody", first.ID, "")
	wantCode(t, err, errcode.NotFound)
	third := must[engine.Call](t)(h.e.Dial(ctx, engine.DialRequest{From: "carol", To: "102"}))
	_, err = h.e.Swap(ctx, "bob", third.ID, "zz")
	wantCode(t, err, errcode.InvalidParams) // device does not ring
	if got := h.e.Journal().LastSeq(); got != before+2 {
		t.Fatalf("refused swaps journaled %d events", got-before-2)
	}
}
