package fsm_test

import (
	"testing"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

// TestRecordLeg: the latest record per side is state; an equal record
// journals nothing; an ended call, a bad side, no adapter or too much data
// are refused.
func TestRecordLeg(t *testing.T) {
	c := fsm.Call{ID: "c1"}
	for i, ev := range []events.Event{dialed, ringing, answered} {
		if err := fsm.ApplyCall(&c, ev, start+int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	decide := func(cmd fsm.RecordLeg) []events.Event {
		t.Helper()
		evs, err := fsm.DecideCall(&c, cmd, start+10)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if err := fsm.ApplyCall(&c, ev, start+10); err != nil {
				t.Fatal(err)
			}
		}
		return evs
	}
	if evs := decide(fsm.RecordLeg{Side: events.Callee, Adapter: "sip", Data: []byte("b1")}); len(evs) != 1 {
		t.Fatalf("first record: %v", evs)
	}
	decide(fsm.RecordLeg{Side: events.Caller, Adapter: "sip", Data: []byte("a1")})
	snap := c.Clone()
	if evs := decide(fsm.RecordLeg{Side: events.Callee, Adapter: "sip", Data: []byte("b1")}); len(evs) != 0 {
		t.Fatalf("an equal record journaled %v", evs)
	}
	decide(fsm.RecordLeg{Side: events.Callee, Adapter: "sip", Data: []byte("b2")})
	if len(c.Legs) != 2 || c.Legs[0].Side != events.Caller || string(c.Legs[1].Data) != "b2" {
		t.Fatalf("legs %+v", c.Legs)
	}
	if l, _ := snap.LegRecord(events.Callee); string(l.Data) != "b1" {
		t.Fatalf("a clone changed with the call: %+v", l)
	}
	for _, tc := range []struct {
		cmd  fsm.RecordLeg
		code errcode.Code
	}{
		{fsm.RecordLeg{Side: events.NoSide, Adapter: "sip"}, errcode.InvalidParams},
		{fsm.RecordLeg{Side: events.Caller}, errcode.MissingParameter},
		{fsm.RecordLeg{Side: events.Caller, Adapter: "sip", Data: make([]byte, events.MaxLegData+1)}, errcode.InvalidParams},
	} {
		if _, err := fsm.DecideCall(&c, tc.cmd, start); errcode.CodeOf(err) != tc.code {
			t.Errorf("%+v: %v, want %s", tc.cmd, err, tc.code)
		}
	}
	if err := fsm.ApplyCall(&c, ended, start+20); err != nil {
		t.Fatal(err)
	}
	if _, err := fsm.DecideCall(&c, fsm.RecordLeg{Side: events.Caller, Adapter: "sip"}, start+21); errcode.CodeOf(err) != errcode.InvalidState {
		t.Errorf("record on an ended call: %v", err)
	}
	if err := fsm.ApplyCall(&c, events.CallLegRecorded{Side: events.Caller, Adapter: "sip"}, start+21); err == nil {
		t.Error("a leg record applied to an ended call")
	}
}
