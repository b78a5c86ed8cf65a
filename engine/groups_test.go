package engine_test

import (
	"context"
	"slices"
	"testing"

	"github.com/callengine/callengine/adapters/loopback"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/fsm"
)

func TestGroupRingAllSkipsBusyAndOffline(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.register("alice", "101", nil, "a1")
	h.register("bob", "102", nil, "b1", "b2")
	h.register("carol", "103", nil, "c1")
	h.register("dave", "104", nil, "d1")
	must[engine.Group](t)(h.e.DefineGroup(ctx, engine.GroupSpec{
		ID: "sales", Name: "Sales", Extensions: []string{"200"}, Members: []string{"bob", "carol", "dave", "erin"},
	}))
	must[engine.Client](t)(h.e.SetAcceptInbound(ctx, "dave", false)) // offline for calls
	busy := must[engine.Call](t)(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "103"}))
	must[engine.Call](t)(h.e.Answer(ctx, busy.ID, "c1"))

	c := must[engine.Call](t)(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "200"}))
	if c.Group != "sales" || !slices.Equal(c.RingingDevices, []string{"bob/b1", "bob/b2"}) || c.Callee.Client != "" {
		t.Fatalf("group call %+v", c)
	}
	_, err := h.e.Answer(ctx, c.ID, "b1")
	wantCode(t, err, errcode.InvalidState) // a group call is answered as member/device
	c = must[engine.Call](t)(h.e.Answer(ctx, c.ID, "bob/b2"))
	if c.Callee.Client != "bob" || c.AnsweredDevice != "b2" || c.State != engine.Connected {
		t.Fatalf("answered %+v", c)
	}
	// Everyone is busy or offline now.
	_, err = h.e.Dial(ctx, engine.DialRequest{From: "dave", To: "200"})
	wantCode(t, err, errcode.Unavailable)
}

func TestGroupRoundRobinAcrossRestart(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.register("alice", "101", nil, "a1")
	for _, m := range []string{"bob", "carol", "dave"} {
		h.register(m, "", nil, m[:1]+"1")
	}
	must[engine.Group](t)(h.e.DefineGroup(ctx, engine.GroupSpec{
		ID: "support", Numbers: []string{"+14155550200"}, Members: []string{"bob", "carol", "dave"}, Strategy: engine.RoundRobin,
	}))
	var got []string
	next := func() {
		c := must[engine.Call](t)(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "+14155550200"}))
		got = append(got, c.Callee.Client)
		must[engine.Call](t)(h.e.Hangup(ctx, c.ID, engine.Caller))
	}
	next()
	next()
	h.reopen()
	next()
	next()
	if want := []string{"bob", "carol", "dave", "bob"}; !slices.Equal(got, want) {
		t.Fatalf("round robin picked %v, want %v", got, want)
	}
	if g := must[engine.Group](t)(h.e.Group(ctx, "support")); g.Last != "bob" {
		t.Fatalf("group after restart %+v", g)
	}
}

func TestTransferToGroup(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	x := h.connected()
	h.register("dave", "104", nil, "d1")
	must[engine.Group](t)(h.e.DefineGroup(ctx, engine.GroupSpec{ID: "desk", Extensions: []string{"300"}, Members: []string{"carol", "dave"}}))
	tr := must[engine.Transfer](t)(h.e.BlindTransfer(ctx, engine.TransferRequest{Call: x.ID, Side: engine.Caller, To: "300"}))
	if tr.Group != "desk" || tr.Status != fsm.Completed {
		t.Fatalf("transfer %+v", tr)
	}
	y := h.waitCall(tr.NewCall, engine.Ringing)
	if !slices.Equal(y.RingingDevices, []string{"carol/c1", "dave/d1"}) {
		t.Fatalf("ringing %v", y.RingingDevices)
	}
}

func TestDefineGroupRefusals(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.register("alice", "101", []string{"+14155550101"}, "a1")
	before := h.e.Journal().LastSeq()
	for _, spec := range []engine.GroupSpec{
		{ID: "", Members: []string{"alice"}},
		{ID: "g/1", Members: []string{"alice"}},
		{ID: "g", Members: nil},
		{ID: "g", Members: []string{"alice", "alice"}},
		{ID: "g", Members: []string{"alice"}, Extensions: []string{"101"}},
		{ID: "g", Members: []string{"alice"}, Numbers: []string{"+14155550101"}},
		{ID: "g", Members: []string{"alice"}, Numbers: []string{"12"}},
		{ID: "g", Members: []string{"alice"}, Strategy: 9},
	} {
		if _, err := h.e.DefineGroup(ctx, spec); errcode.CodeOf(err) == "" {
			t.Fatalf("%+v: %v, want a typed error", spec, err)
		}
	}
	if h.e.Journal().LastSeq() != before {
		t.Fatal("refused group definitions were journaled")
	}
	err := h.e.RemoveGroup(ctx, "nope")
	wantCode(t, err, errcode.NotFound)
}

func TestClickToCall(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.register("alice", "101", nil, "a1", "a2")
	h.lb.Script("+442071234567", loopback.Behavior{Outcome: loopback.Manual})
	tr := must[engine.Transfer](t)(h.e.ClickToCall(ctx, engine.ClickToCallRequest{First: "alice", FirstDevice: "a2", Second: "+442071234567"}))
	first := h.waitCall(tr.Consult, engine.Ringing)
	if !slices.Equal(first.RingingDevices, []string{"a2"}) || first.Origin != "click-to-call" || first.Callee.Client != "alice" {
		t.Fatalf("first leg %+v", first)
	}
	must[engine.Call](t)(h.e.Answer(ctx, first.ID, "a2"))
	tr = h.waitTransfer(tr.ID, fsm.Completed)
	y := h.waitCall(tr.NewCall, engine.Connecting)
	if y.Caller.Client != "alice" || y.CallerDevice != "a2" || y.Callee.Number != "+442071234567" {
		t.Fatalf("bridged call %+v", y)
	}
	must[engine.Call](t)(h.e.FarAnswered(ctx, y.ID))
	h.waitCall(first.ID, engine.Ended)

	// The first party does not answer: the click-to-call is over.
	tr = must[engine.Transfer](t)(h.e.ClickToCall(ctx, engine.ClickToCallRequest{First: "alice", Second: "+442071234567"}))
	must[engine.Call](t)(h.e.Reject(ctx, tr.Consult, false))
	if tr = h.waitTransfer(tr.ID, fsm.NotAnswered); tr.Reason != "rejected" {
		t.Fatalf("reason %q", tr.Reason)
	}
	_, err := h.e.ClickToCall(ctx, engine.ClickToCallRequest{First: "alice", FirstDevice: "zz", Second: "102"})
	wantCode(t, err, errcode.InvalidParams)
}

func TestRingAllCallIsEveryRingingMembersCall(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.register("alice", "101", nil, "a1")
	h.register("bob", "102", nil, "b1")
	h.register("carol", "103", nil, "c1")
	must[engine.Group](t)(h.e.DefineGroup(ctx, engine.GroupSpec{ID: "sales", Extensions: []string{"200"}, Members: []string{"bob", "carol"}}))
	sub := must[*engine.Subscription](t)(h.e.Subscribe(ctx, engine.Filter{Clients: []string{"carol"}}))
	defer sub.Close()
	c := must[engine.Call](t)(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "200"}))
	if !slices.Equal(c.RangMembers, []string{"bob", "carol"}) {
		t.Fatalf("rang %v", c.RangMembers)
	}
	if calls := must[[]engine.Call](t)(h.e.Calls(ctx, "carol")); len(calls) != 1 || calls[0].ID != c.ID {
		t.Fatalf("carol's calls while it rings: %v", calls)
	}
	h.reopen() // the members' lists come back with the ringing call
	if calls := must[[]engine.Call](t)(h.e.Calls(ctx, "carol")); len(calls) != 1 {
		t.Fatalf("carol's calls after a restart: %v", calls)
	}
	must[engine.Call](t)(h.e.Answer(ctx, c.ID, "bob/b1"))
	if calls := must[[]engine.Call](t)(h.e.Calls(ctx, "carol")); len(calls) != 0 {
		t.Fatalf("carol's calls after bob answered: %v", calls)
	}
	if calls := must[[]engine.Call](t)(h.e.Calls(ctx, "bob")); len(calls) != 1 {
		t.Fatalf("bob's calls: %v", calls)
	}
	// carol's subscription (opened before the restart, closed by it) heard
	// the call ring.
	var types []string
	for ev := range sub.Events() {
		types = append(types, ev.Type.String())
	}
	if !slices.Contains(types, "CallRinging") {
		t.Fatalf("carol heard %v", types)
	}
	sub2 := must[*engine.Subscription](t)(h.e.Subscribe(ctx, engine.Filter{Clients: []string{"carol"}}))
	defer sub2.Close()
	must[engine.Call](t)(h.e.Hangup(ctx, c.ID, engine.Caller))
	select {
	case ev := <-sub2.Events():
		if ev.Type.String() != "CallEnded" {
			t.Fatalf("carol heard %s", ev.Type)
		}
	default:
		t.Fatal("carol did not hear the end of the group call she was rung for")
	}
}
