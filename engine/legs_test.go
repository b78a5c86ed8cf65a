package engine_test

import (
	"testing"

	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/ids"
)

// TestRecordLegSurvivesRestart: a leg record is journaled, returned in the
// call's view, refused on a bad side or an ended call (nothing journaled),
// and comes back after a restart with the call.
func TestRecordLegSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := engine.Config{DataDir: dir, Clock: clock.NewVirtual(start), IDs: &ids.Sequence{Prefix: "l"}}
	e := must[*engine.Engine](t)(engine.Open(ctx, cfg))
	for _, id := range []string{"alice", "bob"} {
		must[engine.Client](t)(e.RegisterClient(ctx, engine.ClientSpec{ID: id, Extensions: []string{map[string]string{"alice": "101", "bob": "102"}[id]},
			Devices: []engine.Device{{ID: "d"}}}))
	}
	c := must[engine.Call](t)(e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	c = must[engine.Call](t)(e.Answer(ctx, c.ID, "d"))
	must[engine.Call](t)(e.RecordLeg(ctx, c.ID, engine.LegRecord{Side: engine.Caller, Adapter: "sip", Data: []byte(`{"a":1}`)}))
	c = must[engine.Call](t)(e.RecordLeg(ctx, c.ID, engine.LegRecord{Side: engine.Callee, Adapter: "sip", Data: []byte(`{"b":1}`)}))
	c = must[engine.Call](t)(e.RecordLeg(ctx, c.ID, engine.LegRecord{Side: engine.Caller, Adapter: "sip", Data: []byte(`{"a":2}`)}))
	if l, ok := c.Leg(engine.Caller); !ok || string(l.Data) != `{"a":2}` || len(c.Legs) != 2 {
		t.Fatalf("legs %+v", c.Legs)
	}
	last := e.Journal().LastSeq()
	if _, err := e.RecordLeg(ctx, c.ID, engine.LegRecord{Side: events.NoSide, Adapter: "sip"}); errcode.CodeOf(err) != errcode.InvalidParams {
		t.Fatalf("no side: %v", err)
	}
	if _, err := e.RecordLeg(ctx, c.ID, engine.LegRecord{Side: engine.Caller, Adapter: "sip", Data: []byte(`{"a":2}`)}); err != nil {
		t.Fatal(err)
	}
	if got := e.Journal().LastSeq(); got != last {
		t.Fatalf("a refused or unchanged record journaled %d events", got-last)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	e = must[*engine.Engine](t)(engine.Open(ctx, cfg))
	defer e.Close()
	legs := must[[]engine.Call](t)(e.LegCalls(ctx, "sip"))
	if len(legs) != 1 || legs[0].ID != c.ID {
		t.Fatalf("LegCalls after restart: %+v", legs)
	}
	if other := must[[]engine.Call](t)(e.LegCalls(ctx, "ws")); len(other) != 0 {
		t.Fatalf("LegCalls of another adapter: %+v", other)
	}
	c = must[engine.Call](t)(e.Call(ctx, c.ID))
	if l, ok := c.Leg(engine.Callee); !ok || l.Adapter != "sip" || string(l.Data) != `{"b":1}` {
		t.Fatalf("after restart: %+v", c.Legs)
	}
	if l, _ := c.Leg(engine.Caller); string(l.Data) != `{"a":2}` {
		t.Fatalf("after restart: %+v", c.Legs)
	}
	must[engine.Call](t)(e.Hangup(ctx, c.ID, engine.Caller))
	if _, err := e.RecordLeg(ctx, c.ID, engine.LegRecord{Side: engine.Caller, Adapter: "sip"}); err == nil {
		t.Fatal("a leg recorded on an ended call")
	}
}
