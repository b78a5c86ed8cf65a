package fsm_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

// Replay folds journaled events with ApplyCall/ApplyClient; an event that does
// not fit the state is a divergence and must be refused without touching the
// state. These are events DecideCall never produces, so the scripts and the
// property test cannot reach them.

var (
	dialed    = events.CallDialed{Caller: events.Party{Client: "alice"}, Callee: events.Party{Client: "bob"}}
	dialedOut = events.CallDialed{Caller: events.Party{Client: "alice"}, Callee: events.Party{Number: "+14155550123"}}
	ringing   = events.CallRinging{Devices: []string{"d1"}}
	answered  = events.CallAnswered{Device: "d1"}
	heldBy    = func(s events.Side) events.Event { return events.CallHeld{By: s} }
	ended     = events.CallEnded{Reason: events.Hangup, By: events.Caller}
)

func TestApplyCallRefusesDivergentEvents(t *testing.T) {
	tests := []struct {
		name  string
		prior []events.Event
		bad   events.Event
	}{
		{"ringing before dialed", nil, ringing},
		{"ended before dialed", nil, ended},
		{"dialed twice", []events.Event{dialed}, dialed},
		{"ringing twice", []events.Event{dialed, ringing}, ringing},
		{"ringing after answer", []events.Event{dialed, ringing, answered}, ringing},
		{"answered twice", []events.Event{dialed, ringing, answered}, answered},
		{"answered after end", []events.Event{dialed, ringing, ended}, answered},
		{"held while ringing", []events.Event{dialed, ringing}, heldBy(events.Caller)},
		{"held while connecting", []events.Event{dialedOut}, heldBy(events.Callee)},
		{"held after end", []events.Event{dialed, ringing, answered, ended}, heldBy(events.Caller)},
		{"held by nobody", []events.Event{dialed, ringing, answered}, heldBy(events.NoSide)},
		{"held by side 3", []events.Event{dialed, ringing, answered}, heldBy(3)},
		{"held twice by one side", []events.Event{dialed, ringing, answered, heldBy(events.Caller)}, heldBy(events.Caller)},
		{"resumed without hold", []events.Event{dialed, ringing, answered}, events.CallResumed{By: events.Caller}},
		{"resumed by the other side", []events.Event{dialed, ringing, answered, heldBy(events.Caller)}, events.CallResumed{By: events.Callee}},
		{"muted after end", []events.Event{dialed, ringing, ended}, events.CallMuted{Side: events.Caller}},
		{"muted nobody", []events.Event{dialed, ringing}, events.CallMuted{Side: events.NoSide}},
		{"unmuted after end", []events.Event{dialed, ringing, ended}, events.CallUnmuted{Side: events.Caller}},
		{"unmuted side 9", []events.Event{dialed, ringing}, events.CallUnmuted{Side: 9}},
		{"ignored while connecting", []events.Event{dialedOut}, events.CallIgnored{}},
		{"ignored after answer", []events.Event{dialed, ringing, answered}, events.CallIgnored{}},
		{"ended twice", []events.Event{dialed, ringing, ended}, ended},
		{"client event", []events.Event{dialed, ringing}, events.ClientRegistered{Name: "x"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := fsm.Call{ID: "c1"}
			for i, ev := range tc.prior {
				if err := fsm.ApplyCall(&c, ev, start+int64(i)); err != nil {
					t.Fatalf("prior event %d (%v): %v", i, ev, err)
				}
			}
			before := c.Clone()
			if err := fsm.ApplyCall(&c, tc.bad, start+100); err == nil {
				t.Fatalf("ApplyCall(%T%+v) on a %s call: no error", tc.bad, tc.bad, before.Status)
			}
			if !reflect.DeepEqual(before, c) {
				t.Errorf("a refused event changed the call:\nbefore %+v\nafter  %+v", before, c)
			}
		})
	}
}

// FoldCall folds as ApplyCall does, without the copy that keeps a refused
// event from changing the call: the same states event by event, the same
// refusals.
func TestFoldCallFoldsAsApplyCall(t *testing.T) {
	lives := [][]events.Event{
		{dialed, ringing, answered, heldBy(events.Caller), events.CallResumed{By: events.Caller}, ended},
		{dialedOut, events.CallRinging{}, events.CallAnswered{}, events.CallMuted{Side: events.Callee}, ended},
		{dialed, ringing, events.CallIgnored{}, ended},
		{dialed, ringing, answered, answered}, // refused at the end
		{ringing},                             // refused at once
	}
	for n, life := range lives {
		applied, folded := fsm.Call{ID: "c1"}, fsm.Call{ID: "c1"}
		for i, ev := range life {
			aerr := fsm.ApplyCall(&applied, ev, start+int64(i))
			ferr := fsm.FoldCall(&folded, ev, start+int64(i))
			if (aerr == nil) != (ferr == nil) {
				t.Fatalf("life %d, event %d (%T): ApplyCall says %v, FoldCall %v", n, i, ev, aerr, ferr)
			}
			if aerr != nil {
				break
			}
			if !reflect.DeepEqual(applied, folded) {
				t.Fatalf("life %d, event %d (%T):\nApplyCall %+v\nFoldCall  %+v", n, i, ev, applied, folded)
			}
		}
	}
}

func TestApplyClientRefusesDivergentEvents(t *testing.T) {
	reg := events.ClientRegistered{Name: "Bob", Devices: []events.Device{{ID: "a"}}}
	gone := events.ClientUnregistered{}
	tests := []struct {
		name  string
		prior []events.Event
		bad   events.Event
	}{
		{"unregistered before registered", nil, gone},
		{"registered twice", []events.Event{reg}, reg},
		{"unregistered twice", []events.Event{reg, gone}, gone},
		{"device added before registered", nil, events.DeviceAdded{Device: events.Device{ID: "b"}}},
		{"device added when gone", []events.Event{reg, gone}, events.DeviceAdded{Device: events.Device{ID: "b"}}},
		{"device added twice", []events.Event{reg}, events.DeviceAdded{Device: events.Device{ID: "a"}}},
		{"unknown device removed", []events.Event{reg}, events.DeviceRemoved{ID: "z"}},
		{"device removed when gone", []events.Event{reg, gone}, events.DeviceRemoved{ID: "a"}},
		{"updated before registered", nil, events.ClientUpdated{Name: "x"}},
		{"updated when gone", []events.Event{reg, gone}, events.ClientUpdated{Name: "x"}},
		{"call event", []events.Event{reg}, dialed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := fsm.Client{ID: "bob"}
			for i, ev := range tc.prior {
				if err := fsm.ApplyClient(&c, ev, start+int64(i)); err != nil {
					t.Fatalf("prior event %d (%v): %v", i, ev, err)
				}
			}
			before := c.Clone()
			if err := fsm.ApplyClient(&c, tc.bad, start+100); err == nil {
				t.Fatalf("ApplyClient(%T%+v) on a %s client: no error", tc.bad, tc.bad, before.Status)
			}
			if !reflect.DeepEqual(before, c) {
				t.Errorf("a refused event changed the client:\nbefore %+v\nafter  %+v", before, c)
			}
		})
	}
}

// ApplyClient must not share slices with the state it was given: a caller
// holding the old state (a snapshot, a reply to an API call) must not see it
// change.
func TestApplyClientDoesNotAlias(t *testing.T) {
	c := fsm.Client{ID: "bob"}
	reg := events.ClientRegistered{Devices: []events.Device{{ID: "a"}, {ID: "b"}, {ID: "c"}}}
	if err := fsm.ApplyClient(&c, reg, start); err != nil {
		t.Fatal(err)
	}
	old := c
	snapshot := c.Clone()
	if err := fsm.ApplyClient(&c, events.DeviceRemoved{ID: "a"}, start); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(old, snapshot) {
		t.Errorf("removing a device changed an earlier state: %+v, was %+v", old.Devices, snapshot.Devices)
	}
	reg.Devices[1].ID = "mutated" // the event's slice is not the state's either
	if slices.Contains(c.DeviceIDs(), "mutated") {
		t.Error("the client shares its devices with the event")
	}
}

func TestCallPartyAndSideOf(t *testing.T) {
	c := fsm.Call{
		Caller: events.Party{Client: "alice", Number: "+14155550100"},
		Callee: events.Party{Number: "+442071234567"},
	}
	if p := c.Party(events.Caller); p.Client != "alice" {
		t.Errorf("Party(caller) = %+v", p)
	}
	if p := c.Party(events.Callee); p.Number != "+442071234567" {
		t.Errorf("Party(callee) = %+v", p)
	}
	for client, want := range map[string]events.Side{"alice": events.Caller, "": events.NoSide, "bob": events.NoSide} {
		if got := c.SideOf(client); got != want {
			t.Errorf("SideOf(%q) = %v, want %v", client, got, want)
		}
	}
	c.Callee.Client = "bob"
	if got := c.SideOf("bob"); got != events.Callee {
		t.Errorf("SideOf(bob) = %v", got)
	}
	if c.HeldBy(events.NoSide) || c.MutedSide(3) {
		t.Error("a side that is neither caller nor callee holds or is muted")
	}
}

func TestMachineDefinitions(t *testing.T) {
	call := fsm.CallMachine.Definition()
	if call.Current() != string(fsm.Connecting) {
		t.Errorf("call machine starts in %q", call.Current())
	}
	if got := call.AvailableTransitions(); !slices.Contains(got, "ring") || !slices.Contains(got, "end") {
		t.Errorf("transitions from connecting: %v", got)
	}
	if client := fsm.ClientMachine.Definition(); client.Current() != string(fsm.ClientUnknown) {
		t.Errorf("client machine starts in %q", client.Current())
	}
}
