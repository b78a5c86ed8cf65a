package fsm_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

// ---- groups (T6) ----

func defined(members []string, s events.Strategy) events.GroupDefined {
	return events.GroupDefined{Name: "Sales", Extensions: []string{"600"}, Members: members, Strategy: s}
}

// group folds evs into a new group, failing the test on any refusal.
func group(t *testing.T, evs ...events.Event) *fsm.Group {
	t.Helper()
	g := &fsm.Group{ID: "sales"}
	for i, ev := range evs {
		if err := fsm.ApplyGroup(g, ev, start+int64(i)); err != nil {
			t.Fatalf("event %d (%s): %v", i, ev.Type(), err)
		}
	}
	return g
}

func TestGroupNextMembers(t *testing.T) {
	abc := []string{"alice", "bob", "carol"}
	picked := func(m string) events.Event { return events.GroupMemberPicked{Member: m, Call: "c-" + m} }
	tests := []struct {
		name string
		evs  []events.Event
		want []string
	}{
		{"ring-all rings everyone", []events.Event{defined(abc, events.RingAll)}, abc},
		{"ring-all ignores the last pick", []events.Event{defined(abc, events.RingAll), picked("bob")}, abc},
		{"round-robin, nobody picked yet", []events.Event{defined(abc, events.RoundRobin)}, abc},
		{"round-robin after the first", []events.Event{defined(abc, events.RoundRobin), picked("alice")}, []string{"bob", "carol", "alice"}},
		{"round-robin after the middle", []events.Event{defined(abc, events.RoundRobin), picked("bob")}, []string{"carol", "alice", "bob"}},
		{"round-robin wraps around after the last", []events.Event{defined(abc, events.RoundRobin), picked("carol")}, abc},
		{"round-robin follows every pick", []events.Event{
			defined(abc, events.RoundRobin), picked("alice"), picked("bob"), picked("carol"), picked("alice"),
		}, []string{"bob", "carol", "alice"}},
		{"one member", []events.Event{defined([]string{"alice"}, events.RoundRobin), picked("alice")}, []string{"alice"}},
		// A redefinition that drops the last member starts over.
		{"redefined without the last member", []events.Event{
			defined(abc, events.RoundRobin), picked("bob"), defined([]string{"alice", "carol", "dave"}, events.RoundRobin),
		}, []string{"alice", "carol", "dave"}},
		// One that keeps it goes on after it, in the new order.
		{"redefined with the last member", []events.Event{
			defined(abc, events.RoundRobin), picked("bob"), defined([]string{"dave", "bob", "alice"}, events.RoundRobin),
		}, []string{"alice", "dave", "bob"}},
		{"redefined from ring-all to round-robin", []events.Event{
			defined(abc, events.RingAll), picked("alice"), defined(abc, events.RoundRobin),
		}, []string{"bob", "carol", "alice"}},
		// A pick journaled for a member the group does not have (it cannot
		// come from the engine) is harmless: every member, in order.
		{"a pick of a stranger", []events.Event{defined(abc, events.RoundRobin), picked("zed")}, abc},
		{"removed and defined again keeps the last pick", []events.Event{
			defined(abc, events.RoundRobin), picked("alice"), events.GroupRemoved{}, defined(abc, events.RoundRobin),
		}, []string{"bob", "carol", "alice"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := group(t, tc.evs...)
			got := g.NextMembers()
			if !slices.Equal(got, tc.want) {
				t.Fatalf("NextMembers = %v, want %v (last %q)", got, tc.want, g.Last)
			}
			// The result is the caller's: changing it changes nothing.
			before := slices.Clone(g.Members)
			for i := range got {
				got[i] = "x"
			}
			if !slices.Equal(g.Members, before) || !slices.Equal(g.NextMembers(), tc.want) {
				t.Fatalf("NextMembers shares its slice with the group: members %v", g.Members)
			}
		})
	}
}

func TestApplyGroup(t *testing.T) {
	abc := []string{"alice", "bob", "carol"}
	ev := defined(abc, events.RoundRobin)
	g := group(t, ev)
	if !g.Defined() || g.Version != 1 || g.Name != "Sales" || g.Last != "" || g.Removed {
		t.Fatalf("after GroupDefined: %+v", g)
	}
	ev.Members[0] = "mallory" // the event's slice is not the group's
	if g.Members[0] != "alice" {
		t.Fatalf("the group shares its members with the event: %v", g.Members)
	}

	if err := fsm.ApplyGroup(g, events.GroupMemberPicked{Member: "bob", Call: "c1"}, start); err != nil {
		t.Fatal(err)
	}
	if g.Last != "bob" || g.Version != 2 {
		t.Fatalf("after a pick: last %q v%d", g.Last, g.Version)
	}
	// Redefined with bob: the last pick stays.
	if err := fsm.ApplyGroup(g, defined([]string{"bob", "dave"}, events.RoundRobin), start); err != nil {
		t.Fatal(err)
	}
	if g.Last != "bob" || g.Version != 3 || !slices.Equal(g.Members, []string{"bob", "dave"}) {
		t.Fatalf("after a redefinition with bob: %+v", g)
	}
	// Redefined without bob: Last is reset.
	if err := fsm.ApplyGroup(g, defined([]string{"dave", "erin"}, events.RoundRobin), start); err != nil {
		t.Fatal(err)
	}
	if g.Last != "" || g.Version != 4 {
		t.Fatalf("after a redefinition without bob: last %q v%d", g.Last, g.Version)
	}
	if err := fsm.ApplyGroup(g, events.GroupRemoved{}, start); err != nil {
		t.Fatal(err)
	}
	if g.Defined() || !g.Removed || g.Version != 5 {
		t.Fatalf("after GroupRemoved: %+v", g)
	}
	// Defined again after the removal.
	if err := fsm.ApplyGroup(g, defined(abc, events.RingAll), start); err != nil {
		t.Fatal(err)
	}
	if !g.Defined() || g.Removed || g.Strategy != events.RingAll {
		t.Fatalf("after a new definition: %+v", g)
	}
}

func TestApplyGroupRefusals(t *testing.T) {
	def := defined([]string{"alice", "bob"}, events.RoundRobin)
	pick := events.GroupMemberPicked{Member: "alice", Call: "c1"}
	tests := []struct {
		name  string
		prior []events.Event
		bad   events.Event
	}{
		{"removed before defined", nil, events.GroupRemoved{}},
		{"picked before defined", nil, pick},
		{"removed twice", []events.Event{def, events.GroupRemoved{}}, events.GroupRemoved{}},
		{"picked after removed", []events.Event{def, events.GroupRemoved{}}, pick},
		{"not a group event", []events.Event{def}, events.CallEnded{Reason: events.Hangup}},
		{"a message event", []events.Event{def}, events.MessageDelivered{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := group(t, tc.prior...)
			before := *g
			before.Members = slices.Clone(g.Members)
			if err := fsm.ApplyGroup(g, tc.bad, start+100); err == nil {
				t.Fatalf("ApplyGroup(%s) on %+v: no error", tc.bad.Type(), before)
			}
			if !reflect.DeepEqual(before, *g) {
				t.Errorf("a refused event changed the group:\nbefore %+v\nafter  %+v", before, *g)
			}
		})
	}
}

func TestCheckGroupDefined(t *testing.T) {
	tests := []struct {
		ev   events.GroupDefined
		code errcode.Code
	}{
		{defined([]string{"alice"}, events.RingAll), ""},
		{defined([]string{"alice", "bob"}, events.RoundRobin), ""},
		{defined(nil, events.RingAll), errcode.MissingParameter},
		{defined([]string{}, events.RoundRobin), errcode.MissingParameter},
		{defined([]string{"alice"}, 0), errcode.InvalidParams},
		{defined([]string{"alice"}, 3), errcode.InvalidParams},
		{defined([]string{"alice", ""}, events.RingAll), errcode.InvalidParams},
		{defined([]string{"alice", "bob", "alice"}, events.RingAll), errcode.InvalidParams},
	}
	for _, tc := range tests {
		if got := errcode.CodeOf(fsm.CheckGroupDefined(tc.ev)); got != tc.code {
			t.Errorf("CheckGroupDefined(%v %v) = %q, want %q", tc.ev.Members, tc.ev.Strategy, got, tc.code)
		}
	}
}

// ---- text messages (C15) ----

var sent = events.MessageSent{From: events.Party{Client: "alice", Number: "+14155550100"}, To: "+442071234567", Text: "on my way"}

func TestCheckMessageSent(t *testing.T) {
	long := strings.Repeat("x", fsm.MaxMessageText)
	tests := []struct {
		name string
		ev   events.MessageSent
		code errcode.Code
	}{
		{"ok", sent, ""},
		{"a client without a number", events.MessageSent{From: events.Party{Client: "alice"}, To: "102", Text: "hi"}, ""},
		{"the longest text", events.MessageSent{From: sent.From, To: sent.To, Text: long}, ""},
		{"no sender", events.MessageSent{To: sent.To, Text: "hi"}, errcode.MissingParameter},
		{"a number is not a sender", events.MessageSent{From: events.Party{Number: "+14155550100"}, To: sent.To, Text: "hi"}, errcode.MissingParameter},
		{"no destination", events.MessageSent{From: sent.From, Text: "hi"}, errcode.MissingParameter},
		{"no text", events.MessageSent{From: sent.From, To: sent.To}, errcode.MissingParameter},
		{"a byte too long", events.MessageSent{From: sent.From, To: sent.To, Text: long + "y"}, errcode.InvalidParams},
		// The limit is in bytes: 534 three-byte runes are 1602 bytes.
		{"too long in bytes", events.MessageSent{From: sent.From, To: sent.To, Text: strings.Repeat("€", 534)}, errcode.InvalidParams},
	}
	for _, tc := range tests {
		if got := errcode.CodeOf(fsm.CheckMessageSent(tc.ev)); got != tc.code {
			t.Errorf("%s: CheckMessageSent = %q, want %q", tc.name, got, tc.code)
		}
	}
}

func TestMessageLifecycle(t *testing.T) {
	tests := []struct {
		name      string
		delivered bool
		reason    string
		want      events.Event
		status    fsm.MessageStatus
	}{
		{"delivered", true, "", events.MessageDelivered{}, fsm.MessageDelivered},
		{"delivered, a reason is ignored", true, "ignored", events.MessageDelivered{}, fsm.MessageDelivered},
		{"failed with a reason", false, "unreachable", events.MessageFailed{Reason: "unreachable"}, fsm.MessageFailed},
		{"failed without a reason", false, "", events.MessageFailed{Reason: "failed"}, fsm.MessageFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := fsm.Message{ID: "m1"}
			if _, err := fsm.DecideMessageResult(&m, tc.delivered, tc.reason); errcode.CodeOf(err) != errcode.NotFound {
				t.Fatalf("a result for a message never sent: %v, want not_found", err)
			}
			if err := fsm.ApplyMessage(&m, sent, start); err != nil {
				t.Fatal(err)
			}
			if m.Status != fsm.MessagePending || m.SentAt != start || m.Version != 1 || m.Text != sent.Text || m.DoneAt != 0 {
				t.Fatalf("after MessageSent: %+v", m)
			}
			before := m
			ev, err := fsm.DecideMessageResult(&m, tc.delivered, tc.reason)
			if err != nil {
				t.Fatal(err)
			}
			if m != before {
				t.Fatalf("DecideMessageResult changed the message: %+v", m)
			}
			if !reflect.DeepEqual(ev, tc.want) {
				t.Fatalf("decided %#v, want %#v", ev, tc.want)
			}
			if err := fsm.ApplyMessage(&m, ev, start+5); err != nil {
				t.Fatalf("decided event %v does not apply: %v", ev, err)
			}
			if m.Status != tc.status || m.DoneAt != start+5 || m.Version != 2 {
				t.Fatalf("after %s: %+v", ev.Type(), m)
			}
			if f, ok := tc.want.(events.MessageFailed); ok && m.Reason != f.Reason {
				t.Fatalf("reason %q, want %q", m.Reason, f.Reason)
			}
			// A second result is refused, whatever it says.
			for _, d := range []bool{true, false} {
				if _, err := fsm.DecideMessageResult(&m, d, "again"); errcode.CodeOf(err) != errcode.InvalidState {
					t.Fatalf("a second result (delivered=%v): %v, want invalid_state", d, err)
				}
			}
		})
	}
}

func TestApplyMessageRefusals(t *testing.T) {
	tests := []struct {
		name  string
		prior []events.Event
		bad   events.Event
	}{
		{"delivered before sent", nil, events.MessageDelivered{}},
		{"failed before sent", nil, events.MessageFailed{Reason: "x"}},
		{"sent twice", []events.Event{sent}, sent},
		{"delivered twice", []events.Event{sent, events.MessageDelivered{}}, events.MessageDelivered{}},
		{"failed after delivered", []events.Event{sent, events.MessageDelivered{}}, events.MessageFailed{Reason: "x"}},
		{"delivered after failed", []events.Event{sent, events.MessageFailed{Reason: "x"}}, events.MessageDelivered{}},
		{"sent after failed", []events.Event{sent, events.MessageFailed{Reason: "x"}}, sent},
		{"not a message event", []events.Event{sent}, events.GroupRemoved{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := fsm.Message{ID: "m1"}
			for i, ev := range tc.prior {
				if err := fsm.ApplyMessage(&m, ev, start+int64(i)); err != nil {
					t.Fatalf("prior event %d (%s): %v", i, ev.Type(), err)
				}
			}
			before := m
			if err := fsm.ApplyMessage(&m, tc.bad, start+100); err == nil {
				t.Fatalf("ApplyMessage(%s) on a %q message: no error", tc.bad.Type(), before.Status)
			}
			if m != before {
				t.Errorf("a refused event changed the message:\nbefore %+v\nafter  %+v", before, m)
			}
		})
	}
}
