package engine_test

import (
	"context"
	"testing"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

// authzWorld is an engine with tokens and a few calls, placed by the
// embedding program (no principal):
//
//	ab  alice → bob, connected
//	bc  bob → carol, connected
//	pk  bob → dave, parked by bob in slot 1 (dave waits)
//	dc  dave → carol, ringing
//	ad  alice → dave, ringing
//	cd  carol → dave, connected and held by carol: carol transfers dave to
//	    bob (attended, transfer tr, consultation ringing bob)
//
// Group "desk" (300) has carol and dave. Every client may record.
type authzWorld struct {
	h                          *harness
	ab, bc, pk, dc, ad, cd, tr string
}

func newAuthzWorld(t *testing.T) *authzWorld {
	t.Helper()
	h := newTokenHarness(t)
	for _, c := range []struct{ id, ext, dev string }{
		{"alice", "101", "a1"}, {"bob", "102", "b1"}, {"carol", "103", "c1"}, {"dave", "104", "d1"}, {"boss", "109", "s1"},
	} {
		if _, err := h.e.RegisterClient(ctx, engine.ClientSpec{ID: c.id, Name: c.id, Extensions: []string{c.ext},
			Devices: []engine.Device{{ID: c.dev, Kind: "loopback"}}, Permissions: []string{events.PermissionRecord}}); err != nil {
			t.Fatal(err)
		}
	}
	must[engine.Group](t)(h.e.DefineGroup(ctx, engine.GroupSpec{ID: "desk", Extensions: []string{"300"}, Members: []string{"carol", "dave"}}))
	ok := must[engine.Call](t)
	dial := func(from, to string) engine.Call {
		t.Helper()
		return ok(h.e.Dial(ctx, engine.DialRequest{From: from, To: to}))
	}
	w := &authzWorld{h: h}
	w.ab = dial("alice", "102").ID
	ok(h.e.Answer(ctx, w.ab, "b1"))
	w.bc = dial("bob", "103").ID
	ok(h.e.Answer(ctx, w.bc, "c1"))
	w.pk = dial("bob", "104").ID
	ok(h.e.Answer(ctx, w.pk, "d1"))
	if c := ok(h.e.Park(ctx, w.pk, engine.Caller, "1")); c.ParkSlot != "1" {
		t.Fatalf("parked %+v", c)
	}
	w.dc = dial("dave", "103").ID
	w.ad = dial("alice", "104").ID
	w.cd = dial("carol", "104").ID
	ok(h.e.Answer(ctx, w.cd, "d1"))
	tr := must[engine.Transfer](t)(h.e.AttendedTransfer(ctx, engine.TransferRequest{Call: w.cd, Side: engine.Callee, To: "bob"}))
	if tr.Status != fsm.Consulting {
		t.Fatalf("transfer %+v", tr)
	}
	w.tr = tr.ID
	return w
}

// authzCase is a command an agent (alice) may not send. sup is what the
// same command gets from a supervisor, on a world of its own: "" for
// success.
type authzCase struct {
	name string
	do   func(c context.Context, w *authzWorld) error
	sup  errcode.Code
}

// quietCommands journal nothing even when they succeed.
var quietCommands = map[string]bool{"issue tokens for herself": true}

func callErr(_ engine.Call, err error) error         { return err }
func clientErr(_ engine.Client, err error) error     { return err }
func transferErr(_ engine.Transfer, err error) error { return err }
func groupErr(_ engine.Group, err error) error       { return err }
func confErr(_ engine.Conference, err error) error   { return err }
func messageErr(_ engine.Message, err error) error   { return err }
func tokensErr(_ engine.Tokens, err error) error     { return err }

var agentRefusals = []authzCase{
	// Placing calls: only as itself.
	{"dial as bob", func(c context.Context, w *authzWorld) error {
		return callErr(w.h.e.Dial(c, engine.DialRequest{From: "bob", To: "103"}))
	}, ""},
	{"dial as bob from his device", func(c context.Context, w *authzWorld) error {
		return callErr(w.h.e.Dial(c, engine.DialRequest{From: "bob", Device: "b1", To: "101"}))
	}, ""},
	{"click-to-call as bob", func(c context.Context, w *authzWorld) error {
		return transferErr(w.h.e.ClickToCall(c, engine.ClickToCallRequest{First: "bob", Second: "103"}))
	}, ""},
	{"send a message as bob", func(c context.Context, w *authzWorld) error {
		return messageErr(w.h.e.SendMessage(c, engine.MessageRequest{From: "bob", To: "103", Text: "hi"}))
	}, ""},

	// Calls that do not ring alice.
	{"answer a call ringing carol", func(c context.Context, w *authzWorld) error {
		return callErr(w.h.e.Answer(c, w.dc, "c1"))
	}, ""},
	{"reject a call ringing carol", func(c context.Context, w *authzWorld) error {
		return callErr(w.h.e.Reject(c, w.dc, false))
	}, ""},
	{"reject busy a call ringing carol", func(c context.Context, w *authzWorld) error {
		return callErr(w.h.e.Reject(c, w.dc, true))
	}, ""},
	{"ignore a call ringing carol", func(c context.Context, w *authzWorld) error {
		return callErr(w.h.e.Ignore(c, w.dc))
	}, ""},
	{"answer her own outgoing call", func(c context.Context, w *authzWorld) error {
		return callErr(w.h.e.Answer(c, w.ad, "d1"))
	}, ""},
	{"reject her own outgoing call", func(c context.Context, w *authzWorld) error {
		return callErr(w.h.e.Reject(c, w.ad, false))
	}, ""},
	{"swap to a call ringing carol", func(c context.Context, w *authzWorld) error {
		return callErr(w.h.e.Swap(c, "carol", w.dc, ""))
	}, ""},

	// bob's call with carol: alice is not on it.
	{"hang up bob's call as its caller", func(c context.Context, w *authzWorld) error {
		return callErr(w.h.e.Hangup(c, w.bc, engine.Caller))
	}, ""},
	{"hang up bob's call as its callee", func(c context.Context, w *authzWorld) error {
		return callErr(w.h.e.Hangup(c, w.bc, engine.Callee))
	}, ""},
	{"hold bob's call", func(c context.Context, w *authzWorld) error {
		return callErr(w.h.e.Hold(c, w.bc, engine.Caller))
	}, ""},
	{"mute bob's call", func(c context.Context, w *authzWorld) error {
		return callErr(w.h.e.Mute(c, w.bc, engine.Callee))
	}, ""},
	{"send tones on bob's call", func(c context.Context, w *authzWorld) error {
		return callErr(w.h.e.SendDigits(c, w.bc, engine.Caller, "12", engine.ToneOptions{}))
	}, ""},
	{"record bob's call", func(c context.Context, w *authzWorld) error {
		return callErr(w.h.e.StartRecording(c, w.bc, engine.Caller, ""))
	}, ""},
	{"park bob's call", func(c context.Context, w *authzWorld) error {
		return callErr(w.h.e.Park(c, w.bc, engine.Caller, ""))
	}, ""},
	{"pause bob's call", func(c context.Context, w *authzWorld) error {
		return callErr(w.h.e.Pause(c, w.bc, engine.Callee))
	}, ""},
	{"transfer carol away from bob", func(c context.Context, w *authzWorld) error {
		return transferErr(w.h.e.BlindTransfer(c, engine.TransferRequest{Call: w.bc, Side: engine.Callee, To: "dave"}))
	}, ""},
	{"attended-transfer bob away from carol", func(c context.Context, w *authzWorld) error {
		return transferErr(w.h.e.AttendedTransfer(c, engine.TransferRequest{Call: w.bc, Side: engine.Caller, To: "dave"}))
	}, ""},
	{"swap bob's calls", func(c context.Context, w *authzWorld) error {
		return callErr(w.h.e.Swap(c, "bob", w.bc, ""))
	}, ""},

	// alice's own call with bob, as the other side.
	{"hang up her call as the callee", func(c context.Context, w *authzWorld) error {
		return callErr(w.h.e.Hangup(c, w.ab, engine.Callee))
	}, ""},
	{"hold her call as the callee", func(c context.Context, w *authzWorld) error {
		return callErr(w.h.e.Hold(c, w.ab, engine.Callee))
	}, ""},
	{"mute the callee of her call", func(c context.Context, w *authzWorld) error {
		return callErr(w.h.e.Mute(c, w.ab, engine.Callee))
	}, ""},
	{"send tones as the callee of her call", func(c context.Context, w *authzWorld) error {
		return callErr(w.h.e.SendDigits(c, w.ab, engine.Callee, "5", engine.ToneOptions{}))
	}, ""},
	{"record as the callee of her call", func(c context.Context, w *authzWorld) error {
		return callErr(w.h.e.StartRecording(c, w.ab, engine.Callee, ""))
	}, ""},
	{"park her call as the callee", func(c context.Context, w *authzWorld) error {
		return callErr(w.h.e.Park(c, w.ab, engine.Callee, ""))
	}, ""},
	{"pause her call as the callee", func(c context.Context, w *authzWorld) error {
		return callErr(w.h.e.Pause(c, w.ab, engine.Callee))
	}, ""},
	{"transfer herself away as bob", func(c context.Context, w *authzWorld) error {
		return transferErr(w.h.e.BlindTransfer(c, engine.TransferRequest{Call: w.ab, Side: engine.Caller, To: "carol"}))
	}, ""},
	{"merge her call with bob's", func(c context.Context, w *authzWorld) error {
		return confErr(w.h.e.Merge(c, engine.MergeRequest{Call: w.ab, Side: engine.Caller, Other: w.bc, OtherSide: engine.Callee}))
	}, errcode.InvalidState}, // neither call is held

	// The parked call and carol's transfer.
	{"unpark for carol", func(c context.Context, w *authzWorld) error {
		return callErr(w.h.e.Unpark(c, w.pk, "carol", ""))
	}, ""},
	{"unpark the slot for carol", func(c context.Context, w *authzWorld) error {
		return callErr(w.h.e.UnparkSlot(c, "1", "carol", "c1"))
	}, ""},
	{"hang up the parked call as its caller (bob, who left)", func(c context.Context, w *authzWorld) error {
		return callErr(w.h.e.Hangup(c, w.pk, engine.Caller))
	}, ""},
	{"complete carol's transfer", func(c context.Context, w *authzWorld) error {
		return transferErr(w.h.e.CompleteTransfer(c, w.tr))
	}, errcode.InvalidState}, // bob has not answered the consultation
	{"cancel carol's transfer", func(c context.Context, w *authzWorld) error {
		return transferErr(w.h.e.CancelTransfer(c, w.tr))
	}, ""},

	// Other clients, and the directory.
	{"set bob's presence", func(c context.Context, w *authzWorld) error {
		return clientErr(w.h.e.SetPresence(c, "bob", events.PresenceAway, "gone"))
	}, ""},
	{"set up bob's voicemail", func(c context.Context, w *authzWorld) error {
		return clientErr(w.h.e.SetVoicemail(c, "bob", true, 0))
	}, ""},
	{"add a device to bob", func(c context.Context, w *authzWorld) error {
		return clientErr(w.h.e.AddDevice(c, "bob", engine.Device{ID: "evil", Kind: "loopback"}))
	}, ""},
	{"remove bob's device", func(c context.Context, w *authzWorld) error {
		return clientErr(w.h.e.RemoveDevice(c, "bob", "b1"))
	}, ""},
	{"stop bob's inbound calls", func(c context.Context, w *authzWorld) error {
		return clientErr(w.h.e.SetAcceptInbound(c, "bob", false))
	}, ""},
	{"register a client", func(c context.Context, w *authzWorld) error {
		return clientErr(w.h.e.RegisterClient(c, engine.ClientSpec{ID: "eve", Extensions: []string{"105"}}))
	}, ""},
	{"register herself with another extension", func(c context.Context, w *authzWorld) error {
		return clientErr(w.h.e.RegisterClient(c, engine.ClientSpec{ID: "alice", Extensions: []string{"101", "199"}}))
	}, errcode.AlreadyExists}, // alice is registered already
	{"unregister bob", func(c context.Context, w *authzWorld) error {
		return clientErr(w.h.e.UnregisterClient(c, "bob"))
	}, ""},
	{"unregister herself", func(c context.Context, w *authzWorld) error {
		return clientErr(w.h.e.UnregisterClient(c, "alice"))
	}, ""},
	{"define a group", func(c context.Context, w *authzWorld) error {
		return groupErr(w.h.e.DefineGroup(c, engine.GroupSpec{ID: "sales", Extensions: []string{"200"}, Members: []string{"alice", "bob"}}))
	}, ""},
	{"remove a group", func(c context.Context, w *authzWorld) error {
		return w.h.e.RemoveGroup(c, "desk")
	}, ""},
	{"issue tokens for herself", func(c context.Context, w *authzWorld) error {
		return tokensErr(w.h.e.IssueTokens(c, "alice", engine.RoleSupervisor))
	}, ""},
}

// An agent controls only its own calls, on its own side, and only its own
// client: every other command is forbidden and journals nothing.
func TestAccessAgentRefusals(t *testing.T) {
	w := newAuthzWorld(t)
	actx := login(t, w.h.e, "alice", engine.RoleAgent)
	j := w.h.e.Journal()
	before := map[string]engine.Call{}
	for _, id := range []string{w.ab, w.bc, w.pk, w.dc, w.ad, w.cd} {
		before[id] = must[engine.Call](t)(w.h.e.Call(ctx, id))
	}
	for _, tc := range agentRefusals {
		seq := j.LastSeq()
		err := tc.do(actx, w)
		if code := errcode.CodeOf(err); code != errcode.Forbidden {
			t.Errorf("%s: code %q (%v), want forbidden", tc.name, code, err)
		}
		if got := j.LastSeq(); got != seq {
			t.Errorf("%s: refused, but journaled %d events", tc.name, got-seq)
		}
	}
	// Nothing changed on any call.
	for id, b := range before {
		a := must[engine.Call](t)(w.h.e.Call(ctx, id))
		if a.Version != b.Version || a.State != b.State {
			t.Errorf("call %s changed: v%d %s → v%d %s", id, b.Version, b.State, a.Version, a.State)
		}
	}
	for _, id := range []string{"alice", "bob"} {
		if c, err := w.h.e.Client(ctx, id); err != nil || c.SetPresence != events.PresenceAvailable || c.Voicemail || !c.AcceptInbound {
			t.Errorf("client %s changed: %+v, %v", id, c, err)
		}
	}
	if tr := must[engine.Transfer](t)(w.h.e.Transfer(ctx, w.tr)); tr.Status != fsm.Consulting {
		t.Errorf("transfer %s is %s", w.tr, tr.Status)
	}
}

// A supervisor may send every command an agent may not: each succeeds, or
// fails for a reason that has nothing to do with access.
func TestAccessSupervisorMayDoItAll(t *testing.T) {
	for _, tc := range agentRefusals {
		t.Run(tc.name, func(t *testing.T) {
			w := newAuthzWorld(t)
			sctx := login(t, w.h.e, "boss", engine.RoleSupervisor)
			seq := w.h.e.Journal().LastSeq()
			err := tc.do(sctx, w)
			if code := errcode.CodeOf(err); code != tc.sup {
				t.Fatalf("code %q (%v), want %q", code, err, tc.sup)
			}
			if grew := w.h.e.Journal().LastSeq() > seq; grew != (err == nil && !quietCommands[tc.name]) {
				t.Fatalf("err %v, journal grew %v", err, grew)
			}
		})
	}
}

// What an agent may do: act for itself, on its own side of its own calls,
// and take any parked call for itself.
func TestAccessAgentOwnCallsAndClient(t *testing.T) {
	w := newAuthzWorld(t)
	e := w.h.e
	actx := login(t, e, "alice", engine.RoleAgent)
	j := e.Journal()
	ok := must[engine.Call](t)
	grows := func(name string, f func() error) {
		t.Helper()
		seq := j.LastSeq()
		if err := f(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if j.LastSeq() == seq {
			t.Fatalf("%s journaled nothing", name)
		}
	}

	// Dial as herself; cancel it.
	var mine engine.Call
	grows("dial as herself", func() (err error) {
		mine, err = e.Dial(actx, engine.DialRequest{From: "alice", Device: "a1", To: "103"})
		return err
	})
	grows("cancel her call", func() error { return callErr(e.Hangup(actx, mine.ID, engine.Caller)) })

	// Calls that ring her: answer, control as callee, hang up; reject;
	// ignore.
	in := ok(e.Dial(ctx, engine.DialRequest{From: "dave", To: "101"}))
	grows("answer a call ringing her", func() error { return callErr(e.Answer(actx, in.ID, "a1")) })
	grows("hold as callee", func() error { return callErr(e.Hold(actx, in.ID, engine.Callee)) })
	grows("resume as callee", func() error { return callErr(e.Resume(actx, in.ID, engine.Callee)) })
	grows("mute herself", func() error { return callErr(e.Mute(actx, in.ID, engine.Callee)) })
	grows("unmute herself", func() error { return callErr(e.Unmute(actx, in.ID, engine.Callee)) })
	grows("send tones", func() error {
		return callErr(e.SendDigits(actx, in.ID, engine.Callee, "1#", engine.ToneOptions{}))
	})
	grows("record", func() error { return callErr(e.StartRecording(actx, in.ID, engine.Callee, "")) })
	grows("stop recording", func() error { return callErr(e.StopRecording(actx, in.ID, engine.Callee)) })
	grows("hang up as callee", func() error { return callErr(e.Hangup(actx, in.ID, engine.Callee)) })
	in = ok(e.Dial(ctx, engine.DialRequest{From: "dave", To: "101"}))
	grows("reject a call ringing her", func() error { return callErr(e.Reject(actx, in.ID, false)) })
	in = ok(e.Dial(ctx, engine.DialRequest{From: "dave", To: "101"}))
	grows("ignore a call ringing her", func() error { return callErr(e.Ignore(actx, in.ID)) })
	ok(e.Hangup(ctx, in.ID, engine.Caller))

	// Her call with bob, as its caller; she parks it and leaves it.
	grows("hold as caller", func() error { return callErr(e.Hold(actx, w.ab, engine.Caller)) })
	grows("resume as caller", func() error { return callErr(e.Resume(actx, w.ab, engine.Caller)) })
	grows("park as caller", func() error { return callErr(e.Park(actx, w.ab, engine.Caller, "7")) })
	seq := j.LastSeq()
	_, err := e.Hangup(actx, w.ab, engine.Caller)
	wantCode(t, err, errcode.Forbidden) // she left the call when she parked it
	_, err = e.Hold(actx, w.ab, engine.Caller)
	wantCode(t, err, errcode.Forbidden)
	if j.LastSeq() != seq {
		t.Fatal("refused commands on the call she parked journaled events")
	}
	// Parked calls are anyone's: she takes the one bob parked.
	grows("unpark bob's parked call for herself", func() error { return callErr(e.Unpark(actx, w.pk, "alice", "a1")) })
	pk := ok(e.Call(ctx, w.pk))
	if pk.ParkSlot != "" || pk.Caller.Client != "alice" || pk.Callee.Client != "dave" {
		t.Fatalf("unparked %+v", pk)
	}
	grows("hang up the call she took", func() error { return callErr(e.Hangup(actx, w.pk, engine.Caller)) })
	grows("unpark her own parked call from its slot", func() error { return callErr(e.UnparkSlot(actx, "7", "alice", "")) })
	ab := ok(e.Call(ctx, w.ab))
	if ab.State != engine.Connected || ab.Caller.Client != "alice" || ab.Callee.Client != "bob" {
		t.Fatalf("taken back %+v", ab)
	}

	// She transfers bob to carol.
	grows("transfer bob", func() error {
		return transferErr(e.BlindTransfer(actx, engine.TransferRequest{Call: w.ab, Side: engine.Callee, To: "carol"}))
	})
	if c := ok(e.Call(ctx, w.ab)); c.State != engine.Ended || c.Reason != events.Transferred {
		t.Fatalf("after her transfer: %+v", c)
	}

	// Her own client.
	grows("set her presence", func() error { return clientErr(e.SetPresence(actx, "alice", events.PresenceAway, "lunch")) })
	grows("set up her voicemail", func() error { return clientErr(e.SetVoicemail(actx, "alice", true, 0)) })
	grows("add a device", func() error { return clientErr(e.AddDevice(actx, "alice", engine.Device{ID: "a2", Kind: "loopback"})) })
	grows("remove a device", func() error { return clientErr(e.RemoveDevice(actx, "alice", "a2")) })
	grows("stop her inbound calls", func() error { return clientErr(e.SetAcceptInbound(actx, "alice", false)) })
	grows("send a message", func() error {
		return messageErr(e.SendMessage(actx, engine.MessageRequest{From: "alice", To: "102", Text: "hi"}))
	})
	c := must[engine.Client](t)(e.Client(ctx, "alice"))
	if c.SetPresence != events.PresenceAway || c.Activity != "lunch" || !c.Voicemail || c.AcceptInbound || len(c.Devices) != 1 {
		t.Fatalf("alice after her changes: %+v", c)
	}
}

// A ring-all group call rings every member: each may answer it, but only
// from its own devices, as itself.
func TestAccessGroupMemberAnswersOnlyAsItself(t *testing.T) {
	w := newAuthzWorld(t)
	e := w.h.e
	w.h.register("erin", "105", nil, "e1")
	w.h.register("frank", "106", nil, "f1")
	must[engine.Group](t)(e.DefineGroup(ctx, engine.GroupSpec{ID: "team", Extensions: []string{"301"}, Members: []string{"erin", "frank"}}))
	g := must[engine.Call](t)(e.Dial(ctx, engine.DialRequest{From: "bob", To: "301"}))
	if g.State != engine.Ringing || len(g.RingingDevices) != 2 {
		t.Fatalf("group call %+v", g)
	}
	actx := login(t, e, "alice", engine.RoleAgent) // not a member
	ectx := login(t, e, "erin", engine.RoleAgent)
	fctx := login(t, e, "frank", engine.RoleAgent)
	seq := e.Journal().LastSeq()
	_, err := e.Answer(actx, g.ID, "erin/e1")
	wantCode(t, err, errcode.Forbidden)
	_, err = e.Answer(ectx, g.ID, "frank/f1") // erin answering as frank
	wantCode(t, err, errcode.Forbidden)
	if got := e.Journal().LastSeq(); got != seq {
		t.Fatalf("refused answers journaled %d events", got-seq)
	}
	c := must[engine.Call](t)(e.Answer(fctx, g.ID, "frank/f1"))
	if c.Callee.Client != "frank" || c.State != engine.Connected {
		t.Fatalf("answered %+v", c)
	}
	// Now frank is the callee; erin is not on the call.
	_, err = e.Hangup(ectx, g.ID, engine.Callee)
	wantCode(t, err, errcode.Forbidden)
	must[engine.Call](t)(e.Hangup(fctx, g.ID, engine.Callee))
}
