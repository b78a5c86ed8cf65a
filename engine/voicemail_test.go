package engine_test

import (
	"testing"
	"time"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
)

// voicemailEvents returns the CallToVoicemail and VoicemailLeft events of a
// call, from the journal.
func voicemailEvents(t *testing.T, e *engine.Engine, id string) (to []events.CallToVoicemail, left []events.VoicemailLeft) {
	t.Helper()
	for _, env := range streamEvents(t, e, events.CallStream(id)) {
		switch ev := env.Event.(type) {
		case events.CallToVoicemail:
			to = append(to, ev)
		case events.VoicemailLeft:
			left = append(left, ev)
		}
	}
	return to, left
}

func vmCallIDs(cs []engine.Call) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.ID+" "+string(c.State))
	}
	return out
}

// checkMessage checks a call that ended after the caller left a message of
// length d in bob's box.
func checkMessage(t *testing.T, c engine.Call, d time.Duration, by engine.Side) {
	t.Helper()
	if c.State != engine.Ended || c.Reason != events.Voicemail || c.EndedBy != by || !c.Missed ||
		c.ReasonFor(engine.Callee) != events.Missed || c.ReasonFor(engine.Caller) != events.Voicemail {
		t.Fatalf("ended: %s reason %s by %v missed %v", c.State, c.Reason, c.EndedBy, c.Missed)
	}
	if c.InVoicemail || c.VoicemailAt.IsZero() || c.VoicemailLength != d {
		t.Fatalf("message: in %v, at %v, length %v; want length %v", c.InVoicemail, c.VoicemailAt, c.VoicemailLength, d)
	}
	if !c.ReleaseAt.Equal(c.VoicemailAt.Add(d)) {
		t.Fatalf("released at %v, %v after reaching the box at %v", c.ReleaseAt, d, c.VoicemailAt)
	}
}

// newVoicemailHarness registers alice (101, a1) and bob (102, b1), bob with
// a voicemail box of limit (0: none).
func newVoicemailHarness(t *testing.T, limit time.Duration) *harness {
	t.Helper()
	h := newHarness(t)
	h.register("alice", "101", nil, "a1")
	h.register("bob", "102", []string{"+14155550102"}, "b1")
	if limit > 0 {
		c := must[engine.Client](t)(h.e.SetVoicemail(ctx, "bob", true, limit))
		if !c.Voicemail || c.VoicemailMax != limit {
			t.Fatalf("box: %+v", c)
		}
	}
	h.events()
	return h
}

func TestVoicemailSetUp(t *testing.T) {
	h := newHarness(t)
	h.register("bob", "102", nil, "b1")
	j := h.e.Journal()
	if c := must[engine.Client](t)(h.e.Client(ctx, "bob")); c.Voicemail || c.VoicemailMax != 0 {
		t.Fatalf("a box by default: %+v", c)
	}
	seq := j.LastSeq()
	c := must[engine.Client](t)(h.e.SetVoicemail(ctx, "bob", true, 90*time.Second))
	if !c.Voicemail || c.VoicemailMax != 90*time.Second || j.LastSeq() != seq+1 {
		t.Fatalf("box on: %+v, %d events", c, j.LastSeq()-seq)
	}
	evs := streamEvents(t, h.e, events.ClientStream("bob"))
	if ev := evs[len(evs)-1].Event; ev != (events.ClientVoicemailSet{Enabled: true, MaxLength: int64(90 * time.Second)}) {
		t.Fatalf("journaled %#v", ev)
	}
	// The same again journals nothing; refusals journal nothing.
	seq = j.LastSeq()
	must[engine.Client](t)(h.e.SetVoicemail(ctx, "bob", true, 90*time.Second))
	_, err := h.e.SetVoicemail(ctx, "bob", true, -time.Second)
	wantCode(t, err, errcode.InvalidParams)
	_, err = h.e.SetVoicemail(ctx, "nobody", true, time.Minute)
	wantCode(t, err, errcode.NotFound)
	if j.LastSeq() != seq {
		t.Fatalf("journaled %d events", j.LastSeq()-seq)
	}
	// 0 is two minutes; it survives a restart; off is off.
	c = must[engine.Client](t)(h.e.SetVoicemail(ctx, "bob", true, 0))
	if !c.Voicemail || c.VoicemailMax != 2*time.Minute {
		t.Fatalf("default length: %+v", c)
	}
	h.reopen()
	if c := must[engine.Client](t)(h.e.Client(ctx, "bob")); !c.Voicemail || c.VoicemailMax != 2*time.Minute {
		t.Fatalf("after restart: %+v", c)
	}
	c = must[engine.Client](t)(h.e.SetVoicemail(ctx, "bob", false, time.Minute))
	if c.Voicemail || c.VoicemailMax != 0 {
		t.Fatalf("box off: %+v", c)
	}
	h.reopen()
	if c := must[engine.Client](t)(h.e.Client(ctx, "bob")); c.Voicemail {
		t.Fatalf("off after restart: %+v", c)
	}
}

func TestVoicemailRejectedCallLeavesMessage(t *testing.T) {
	h := newVoicemailHarness(t, 2*time.Minute)
	bob := must[*engine.Subscription](t)(h.e.Subscribe(ctx, engine.Filter{Clients: []string{"bob"}, Presence: true}))
	ok := must[engine.Call](t)
	c := ok(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	expectNotices(t, bob, "bob busy")

	h.clock.Advance(5 * time.Second)
	v := ok(h.e.Reject(ctx, c.ID, false))
	if v.State != engine.Connected || !v.InVoicemail || !v.VoicemailAt.Equal(start.Add(5*time.Second)) ||
		len(v.RingingDevices) != 0 || v.AnsweredDevice != "" || v.Callee.Client != "bob" || v.Reason != events.NoReason {
		t.Fatalf("in voicemail: %+v", v)
	}
	h.expectEvents("CallDialed →connecting", "CallRinging connecting→ringing", "CallToVoicemail ringing→connected")
	to, _ := voicemailEvents(t, h.e, c.ID)
	if len(to) != 1 || to[0] != (events.CallToVoicemail{Reason: events.Rejected, Deadline: start.Add(5*time.Second + 2*time.Minute).UnixNano()}) {
		t.Fatalf("CallToVoicemail %+v", to)
	}

	// bob is off the call: not busy, not listed; alice is on it.
	if seen, _, _ := presenceOf(t, h.e, "bob"); seen != events.PresenceAvailable {
		t.Fatalf("bob while alice talks to his box: %s", seen)
	}
	expectNotices(t, bob, "bob available")
	if seen, _, _ := presenceOf(t, h.e, "alice"); seen != events.PresenceBusy {
		t.Fatalf("alice leaving a message: %s", seen)
	}
	if cs := must[[]engine.Call](t)(h.e.Calls(ctx, "bob")); len(cs) != 0 {
		t.Fatalf("bob's calls: %+v", cs)
	}
	if cs := must[[]engine.Call](t)(h.e.Calls(ctx, "alice")); len(cs) != 1 || cs[0].ID != c.ID || !cs[0].InVoicemail {
		t.Fatalf("alice's calls: %+v", cs)
	}

	// Alice speaks for 20 s and hangs up.
	h.clock.Advance(20 * time.Second)
	end := ok(h.e.Hangup(ctx, c.ID, engine.Caller))
	checkMessage(t, end, 20*time.Second, engine.Caller)
	h.expectEvents("VoicemailLeft connected→connected", "CallEnded connected→ended")
	_, left := voicemailEvents(t, h.e, c.ID)
	if len(left) != 1 || left[0].Client != "bob" || left[0].From.Client != "alice" || left[0].Duration != int64(20*time.Second) {
		t.Fatalf("VoicemailLeft %+v", left)
	}
	checkMessage(t, ok(h.e.Call(ctx, c.ID)), 20*time.Second, engine.Caller)
	expectNotices(t, bob) // bob was not on the call any more
	if seen, _, _ := presenceOf(t, h.e, "alice"); seen != events.PresenceAvailable {
		t.Fatalf("alice after: %s", seen)
	}
	if h.e.LiveCalls() != 0 {
		t.Fatalf("%d live calls", h.e.LiveCalls())
	}
}

// The callee's hangup while the call rings declines it too; so does an
// external caller's call.
func TestVoicemailCalleeHangupAndInbound(t *testing.T) {
	h := newVoicemailHarness(t, time.Minute)
	ok := must[engine.Call](t)
	c := ok(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	v := ok(h.e.Hangup(ctx, c.ID, engine.Callee))
	if !v.InVoicemail {
		t.Fatalf("callee hangup while ringing: %+v", v)
	}
	if to, _ := voicemailEvents(t, h.e, c.ID); len(to) != 1 || to[0].Reason != events.Rejected {
		t.Fatalf("CallToVoicemail %+v", to)
	}
	h.clock.Advance(3 * time.Second)
	checkMessage(t, ok(h.e.Hangup(ctx, c.ID, engine.Caller)), 3*time.Second, engine.Caller)

	in := ok(h.lb.Call(ctx, "+442079460000", "London", "+14155550102"))
	if in.State != engine.Ringing || in.Direction != events.Inbound {
		t.Fatalf("inbound: %+v", in)
	}
	h.clock.Advance(2 * time.Second)
	v = ok(h.e.Reject(ctx, in.ID, false))
	if !v.InVoicemail {
		t.Fatalf("inbound rejected: %+v", v)
	}
	h.clock.Advance(7 * time.Second)
	end := ok(h.e.FarEnded(ctx, in.ID, events.Hangup))
	checkMessage(t, end, 7*time.Second, engine.Caller)
	if _, left := voicemailEvents(t, h.e, in.ID); len(left) != 1 || left[0].From.Number != "+442079460000" || left[0].Client != "bob" {
		t.Fatalf("VoicemailLeft %+v", left)
	}
}

func TestVoicemailRingOutAndDeadline(t *testing.T) {
	h := newVoicemailHarness(t, time.Minute)
	c := must[engine.Call](t)(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	h.clock.Advance(29 * time.Second)
	if got := must[engine.Call](t)(h.e.Call(ctx, c.ID)); got.State != engine.Ringing || got.InVoicemail {
		t.Fatalf("at 29 s: %+v", got)
	}
	h.clock.Advance(time.Second) // Config.RingTimeout: 30 s
	v := waitState(t, h.e, c.ID, engine.Connected)
	if !v.InVoicemail || !v.VoicemailAt.Equal(start.Add(30*time.Second)) || len(v.RingingDevices) != 0 {
		t.Fatalf("rang out: %+v", v)
	}
	if to, _ := voicemailEvents(t, h.e, c.ID); len(to) != 1 || to[0].Reason != events.NoAnswer ||
		to[0].Deadline != start.Add(90*time.Second).UnixNano() {
		t.Fatalf("CallToVoicemail %+v", to)
	}
	if seen, _, _ := presenceOf(t, h.e, "bob"); seen != events.PresenceAvailable {
		t.Fatalf("bob: %s", seen)
	}

	// The box's deadline ends the message, not a moment earlier.
	h.clock.Advance(time.Minute - time.Nanosecond)
	if got := must[engine.Call](t)(h.e.Call(ctx, c.ID)); !got.InVoicemail {
		t.Fatalf("1 ns before the box's deadline: %+v", got)
	}
	h.clock.Advance(time.Nanosecond)
	end := waitState(t, h.e, c.ID, engine.Ended)
	checkMessage(t, end, time.Minute, engine.Side(0))
	h.expectEvents("CallDialed →connecting", "CallRinging connecting→ringing", "CallToVoicemail ringing→connected",
		"VoicemailLeft connected→connected", "CallEnded connected→ended")
}

// The box's deadline ends the message at its instant, however far past it
// the clock jumps.
func TestVoicemailDeadlineEndsAtItsInstant(t *testing.T) {
	h := newVoicemailHarness(t, 45*time.Second)
	c := must[engine.Call](t)(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	h.clock.Advance(30 * time.Second)
	waitState(t, h.e, c.ID, engine.Connected)
	h.clock.Advance(time.Hour)
	end := waitState(t, h.e, c.ID, engine.Ended)
	checkMessage(t, end, 45*time.Second, engine.Side(0))
	if !end.ReleaseAt.Equal(start.Add(75 * time.Second)) {
		t.Fatalf("released at %v", end.ReleaseAt)
	}
}

// Without a box, a declined or unanswered call ends as it always did; with
// one, a busy signal or a caller who gives up does not reach the box.
func TestVoicemailOnlyWithABox(t *testing.T) {
	h := newVoicemailHarness(t, 0)
	ok := must[engine.Call](t)
	dial := func() engine.Call {
		t.Helper()
		return ok(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	}
	noBox := func(c engine.Call, reason events.Reason) {
		t.Helper()
		if c.State != engine.Ended || c.Reason != reason || !c.VoicemailAt.IsZero() || c.InVoicemail {
			t.Fatalf("want ended %s without voicemail: %+v", reason, c)
		}
		if to, left := voicemailEvents(t, h.e, c.ID); len(to)+len(left) != 0 {
			t.Fatalf("voicemail events %+v %+v", to, left)
		}
	}
	noBox(ok(h.e.Reject(ctx, dial().ID, false)), events.Rejected)
	noBox(ok(h.e.Hangup(ctx, dial().ID, engine.Callee)), events.Rejected)
	c := dial()
	h.clock.Advance(30 * time.Second)
	noBox(waitState(t, h.e, c.ID, engine.Ended), events.NoAnswer)

	must[engine.Client](t)(h.e.SetVoicemail(ctx, "bob", true, time.Minute))
	noBox(ok(h.e.Reject(ctx, dial().ID, true)), events.Busy)
	noBox(ok(h.e.Hangup(ctx, dial().ID, engine.Caller)), events.Canceled)
	// An answered call never goes to voicemail.
	c = ok(h.e.Answer(ctx, dial().ID, "b1"))
	noBox(ok(h.e.Hangup(ctx, c.ID, engine.Callee)), events.Hangup)

	// A box switched off after the call was placed: the call keeps the box
	// it was placed with.
	c = dial()
	must[engine.Client](t)(h.e.SetVoicemail(ctx, "bob", false, 0))
	if v := ok(h.e.Reject(ctx, c.ID, false)); !v.InVoicemail {
		t.Fatalf("box switched off after the dial: %+v", v)
	}
	noBox(ok(h.e.Reject(ctx, dial().ID, false)), events.Rejected)
}

// A client that takes no inbound calls (or has no device) and has a box
// sends its callers straight to it: nothing rings, and it is never busy.
func TestVoicemailStraightToTheBox(t *testing.T) {
	h := newVoicemailHarness(t, time.Minute)
	h.register("dave", "104", nil) // no device
	must[engine.Client](t)(h.e.SetVoicemail(ctx, "dave", true, time.Minute))
	if _, err := h.e.RegisterClient(ctx, engine.ClientSpec{ID: "carol", Extensions: []string{"103"},
		Devices: []engine.Device{{ID: "c1"}}, RejectInbound: true}); err != nil {
		t.Fatal(err)
	}
	must[engine.Client](t)(h.e.SetVoicemail(ctx, "carol", true, 30*time.Second))
	must[engine.Client](t)(h.e.SetAcceptInbound(ctx, "bob", false))
	h.events()
	ok := must[engine.Call](t)
	for _, to := range []string{"102", "103", "104"} {
		c := ok(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: to}))
		if c.State != engine.Connected || !c.InVoicemail || !c.VoicemailAt.Equal(h.clock.Now()) ||
			len(c.RingingDevices) != 0 || !c.RingDeadline.IsZero() {
			t.Fatalf("call to %s: %+v", to, c)
		}
		h.expectEvents("CallDialed →connecting", "CallToVoicemail connecting→connected")
		if tv, _ := voicemailEvents(t, h.e, c.ID); len(tv) != 1 || tv[0].Reason != events.NoAnswer {
			t.Fatalf("CallToVoicemail %+v", tv)
		}
		h.clock.Advance(4 * time.Second)
		checkMessage(t, ok(h.e.Hangup(ctx, c.ID, engine.Caller)), 4*time.Second, engine.Caller)
		h.events()
	}
	// Taking calls again: bob's phone rings.
	must[engine.Client](t)(h.e.SetAcceptInbound(ctx, "bob", true))
	if c := ok(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"})); c.State != engine.Ringing {
		t.Fatalf("bob takes calls again: %+v", c)
	}
}

// bob never looked busy to others while his callers went straight to his
// box: his presence subscribers hear nothing.
func TestVoicemailStraightToTheBoxMakesNoPresenceNotice(t *testing.T) {
	h := newVoicemailHarness(t, time.Minute)
	must[engine.Client](t)(h.e.SetAcceptInbound(ctx, "bob", false))
	bob := must[*engine.Subscription](t)(h.e.Subscribe(ctx, engine.Filter{Clients: []string{"bob"}, Presence: true}))
	alice := must[*engine.Subscription](t)(h.e.Subscribe(ctx, engine.Filter{Clients: []string{"alice"}, Presence: true}))
	c := must[engine.Call](t)(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	if seen, _, _ := presenceOf(t, h.e, "bob"); seen != events.PresenceAvailable {
		t.Fatalf("bob: %s", seen)
	}
	expectNotices(t, alice, "alice busy")
	expectNotices(t, bob)
	must[engine.Call](t)(h.e.Hangup(ctx, c.ID, engine.Caller))
	expectNotices(t, alice, "alice available")
	expectNotices(t, bob)
}

// While the caller talks to the box the callee is not on the call: it can
// neither answer nor hang up, and the call cannot be held or parked.
// Nothing of that is journaled.
func TestVoicemailCalleeCannotAct(t *testing.T) {
	h := newVoicemailHarness(t, 2*time.Minute)
	h.register("carol", "103", nil, "c1")
	ok := must[engine.Call](t)
	// bob talks with carol, then declines alice.
	other := ok(h.e.Dial(ctx, engine.DialRequest{From: "carol", To: "102"}))
	other = ok(h.e.Answer(ctx, other.ID, "b1"))
	c := ok(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	ok(h.e.Reject(ctx, c.ID, false))
	j := h.e.Journal()
	seq := j.LastSeq()
	for _, tc := range []struct {
		name string
		do   func() error
		code errcode.Code
	}{
		{"answer", func() error { return callErr(h.e.Answer(ctx, c.ID, "b1")) }, errcode.InvalidState},
		{"answer without device", func() error { return callErr(h.e.Answer(ctx, c.ID, "")) }, errcode.InvalidState},
		{"reject", func() error { return callErr(h.e.Reject(ctx, c.ID, false)) }, errcode.InvalidState},
		{"reject busy", func() error { return callErr(h.e.Reject(ctx, c.ID, true)) }, errcode.InvalidState},
		{"ignore", func() error { return callErr(h.e.Ignore(ctx, c.ID)) }, errcode.InvalidState},
		{"callee hangs up", func() error { return callErr(h.e.Hangup(ctx, c.ID, engine.Callee)) }, errcode.InvalidState},
		{"callee mutes", func() error { return callErr(h.e.Mute(ctx, c.ID, engine.Callee)) }, errcode.InvalidState},
		{"callee sends tones", func() error { return callErr(h.e.SendDigits(ctx, c.ID, engine.Callee, "1", engine.ToneOptions{})) }, errcode.InvalidState},
		{"caller holds", func() error { return callErr(h.e.Hold(ctx, c.ID, engine.Caller)) }, errcode.HoldNotAvailable},
		{"callee holds", func() error { return callErr(h.e.Hold(ctx, c.ID, engine.Callee)) }, errcode.HoldNotAvailable},
		{"resume", func() error { return callErr(h.e.Resume(ctx, c.ID, engine.Caller)) }, errcode.InvalidState},
		{"park", func() error { return callErr(h.e.Park(ctx, c.ID, engine.Caller, "")) }, errcode.InvalidState},
		{"pause", func() error { return callErr(h.e.Pause(ctx, c.ID, engine.Callee)) }, errcode.InvalidState},
		{"unpark", func() error { return callErr(h.e.Unpark(ctx, c.ID, "carol", "")) }, errcode.InvalidState},
	} {
		err := tc.do()
		if code := errcode.CodeOf(err); code != tc.code {
			t.Errorf("%s: code %q (%v), want %s", tc.name, code, err, tc.code)
		}
		if got := j.LastSeq(); got != seq {
			t.Errorf("%s: journaled %d events", tc.name, got-seq)
			seq = got
		}
	}
	if v := ok(h.e.Call(ctx, c.ID)); !v.InVoicemail || v.State != engine.Connected {
		t.Fatalf("after the refusals: %+v", v)
	}
	if o := ok(h.e.Call(ctx, other.ID)); o.State != engine.Connected || o.Version != other.Version {
		t.Errorf("bob's call with carol changed: v%d → v%d, %s", other.Version, o.Version, o.State)
	}
	// The caller may still send tones (a menu of the box) and mute.
	seq = j.LastSeq()
	if v := ok(h.e.SendDigits(ctx, c.ID, engine.Caller, "1", engine.ToneOptions{})); v.Digits != 1 || !v.InVoicemail {
		t.Fatalf("tones to the box: %+v", v)
	}
	if v := ok(h.e.Mute(ctx, c.ID, engine.Caller)); !v.MutedCaller || !v.InVoicemail {
		t.Fatalf("muted in voicemail: %+v", v)
	}
	if j.LastSeq() != seq+2 {
		t.Fatalf("tones and mute journaled %d events", j.LastSeq()-seq)
	}
}

// inVoicemailWhileBobTalks sets up bob talking with carol while alice, whom
// bob declined, talks to his box. It returns both calls.
func inVoicemailWhileBobTalks(t *testing.T) (h *harness, vm, other engine.Call) {
	t.Helper()
	h = newVoicemailHarness(t, 2*time.Minute)
	h.register("carol", "103", nil, "c1")
	ok := must[engine.Call](t)
	other = ok(h.e.Dial(ctx, engine.DialRequest{From: "carol", To: "102"}))
	other = ok(h.e.Answer(ctx, other.ID, "b1"))
	vm = ok(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	vm = ok(h.e.Reject(ctx, vm.ID, false))
	if !vm.InVoicemail {
		t.Fatalf("not in voicemail: %+v", vm)
	}
	return h, vm, other
}

// Swap makes a call the client's active one: a call whose caller talks to
// the client's box is not one the client is on. Swap refuses it and holds
// nothing.
func TestVoicemailCallCannotBeSwappedTo(t *testing.T) {
	h, vm, other := inVoicemailWhileBobTalks(t)
	seq := h.e.Journal().LastSeq()
	c, err := h.e.Swap(ctx, "bob", vm.ID, "")
	if code := errcode.CodeOf(err); code != errcode.InvalidState {
		t.Errorf("swap to a call in voicemail: code %q (%v), call %s in voicemail %v", code, err, c.State, c.InVoicemail)
	}
	if got := h.e.Journal().LastSeq(); got != seq {
		t.Errorf("refused swap journaled %d events", got-seq)
	}
	if o := must[engine.Call](t)(h.e.Call(ctx, other.ID)); o.State != engine.Connected || o.HeldByCallee {
		t.Errorf("bob's call with carol: %s, held by bob %v", o.State, o.HeldByCallee)
	}
}

// The callee of a call in voicemail is not on it: it cannot transfer the
// caller away from its box. The transfer is refused before anything is
// journaled, and no call rings the target.
func TestVoicemailCallCannotBeTransferred(t *testing.T) {
	h, vm, other := inVoicemailWhileBobTalks(t)
	for _, kind := range []string{"blind", "attended", "supervised"} {
		seq := h.e.Journal().LastSeq()
		req := engine.TransferRequest{Call: vm.ID, Side: engine.Caller, To: "carol"}
		var tr engine.Transfer
		var err error
		switch kind {
		case "blind":
			tr, err = h.e.BlindTransfer(ctx, req)
		case "attended":
			tr, err = h.e.AttendedTransfer(ctx, req)
		case "supervised":
			tr, err = h.e.SupervisedTransfer(ctx, req)
		}
		if code := errcode.CodeOf(err); code != errcode.InvalidState {
			t.Errorf("%s transfer of a call in voicemail: code %q (%v), transfer %s %q", kind, code, err, tr.Status, tr.Reason)
		}
		if got := h.e.Journal().LastSeq(); got != seq {
			t.Errorf("%s transfer of a call in voicemail journaled %d events", kind, got-seq)
		}
	}
	if cs := must[[]engine.Call](t)(h.e.Calls(ctx, "carol")); len(cs) != 1 || cs[0].ID != other.ID {
		t.Errorf("carol's calls: %v, want only %s", vmCallIDs(cs), other.ID)
	}
	if v := must[engine.Call](t)(h.e.Call(ctx, vm.ID)); !v.InVoicemail {
		t.Errorf("alice's call: %+v", v)
	}
}

func TestVoicemailCloseOpenWhileLeavingAMessage(t *testing.T) {
	h := newVoicemailHarness(t, 2*time.Minute)
	ok := must[engine.Call](t)
	c := ok(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	h.clock.Advance(5 * time.Second)
	ok(h.e.Reject(ctx, c.ID, false))
	short := ok(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	h.clock.Advance(5 * time.Second)
	ok(h.e.Reject(ctx, short.ID, false)) // at +10 s
	h.clock.Advance(10 * time.Second)
	before := ok(h.e.Call(ctx, c.ID))
	h.reopen()

	if h.e.LiveCalls() != 2 {
		t.Fatalf("%d live calls after restart", h.e.LiveCalls())
	}
	v := ok(h.e.Call(ctx, c.ID))
	if !v.InVoicemail || v.State != engine.Connected || !v.VoicemailAt.Equal(start.Add(5*time.Second)) || v.Version != before.Version {
		t.Fatalf("after restart: %+v", v)
	}
	if seen, _, _ := presenceOf(t, h.e, "bob"); seen != events.PresenceAvailable {
		t.Fatalf("bob after restart: %s", seen)
	}
	if seen, _, _ := presenceOf(t, h.e, "alice"); seen != events.PresenceBusy {
		t.Fatalf("alice after restart: %s", seen)
	}
	if cs := must[[]engine.Call](t)(h.e.Calls(ctx, "bob")); len(cs) != 0 {
		t.Fatalf("bob's calls after restart: %+v", cs)
	}
	// The callee is still off the call.
	seq := h.e.Journal().LastSeq()
	_, err := h.e.Answer(ctx, c.ID, "b1")
	wantCode(t, err, errcode.InvalidState)
	if h.e.Journal().LastSeq() != seq {
		t.Fatal("refused answer journaled")
	}

	// The caller of the second call hangs up: its length counts from when it
	// reached the box, before the restart.
	h.clock.Advance(time.Second) // +21 s
	checkMessage(t, ok(h.e.Hangup(ctx, short.ID, engine.Caller)), 11*time.Second, engine.Caller)

	// The first call's box timer was armed again: it fires at +2m5s.
	h.clock.Set(start.Add(2*time.Minute + 5*time.Second - time.Nanosecond))
	if got := ok(h.e.Call(ctx, c.ID)); !got.InVoicemail {
		t.Fatalf("before the deadline: %+v", got)
	}
	h.clock.Advance(time.Nanosecond)
	end := waitState(t, h.e, c.ID, engine.Ended)
	checkMessage(t, end, 2*time.Minute, engine.Side(0))
	if !end.ReleaseAt.Equal(start.Add(2*time.Minute + 5*time.Second)) {
		t.Fatalf("released at %v", end.ReleaseAt)
	}
}

// The engine was down when the box's deadline passed: the box stopped
// recording at its deadline, so the message is as long as the box takes,
// not as long as the engine was down.
func TestVoicemailDeadlinePassedWhileClosed(t *testing.T) {
	h := newVoicemailHarness(t, time.Minute)
	c := must[engine.Call](t)(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	h.clock.Advance(5 * time.Second)
	must[engine.Call](t)(h.e.Reject(ctx, c.ID, false))
	if err := h.e.Close(); err != nil {
		t.Fatal(err)
	}
	h.clock.Set(start.Add(time.Hour))
	h.open()
	h.clock.Advance(0)
	end := waitState(t, h.e, c.ID, engine.Ended)
	if end.Reason != events.Voicemail || end.VoicemailLength != time.Minute {
		t.Fatalf("message of a 1 min box, deadline passed while closed: reason %s, length %v", end.Reason, end.VoicemailLength)
	}
	if _, left := voicemailEvents(t, h.e, c.ID); len(left) != 1 || left[0].Duration != int64(time.Minute) {
		t.Fatalf("VoicemailLeft %+v", left)
	}
}
