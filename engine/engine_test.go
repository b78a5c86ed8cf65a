package engine_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/callengine/callengine/adapters/loopback"
	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/ids"
)

var start = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

// harness is an engine on a real journal in a temp dir, with a virtual clock
// and a loopback far end.
type harness struct {
	t     *testing.T
	dir   string
	clock *clock.Virtual
	lb    *loopback.Adapter
	e     *engine.Engine
	sub   *engine.Subscription
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), clock: clock.NewVirtual(start)}
	h.lb = loopback.New(h.clock)
	h.open()
	t.Cleanup(func() { h.e.Close() })
	return h
}

func (h *harness) config() engine.Config {
	return engine.Config{
		DataDir: h.dir, Clock: h.clock, IDs: &ids.Sequence{Prefix: "c"},
		RingTimeout: 30 * time.Second, Adapter: h.lb, Domain: "example.com",
		Numbers: []string{"+14155550100"},
	}
}

func (h *harness) open() {
	h.t.Helper()
	cfg := h.config()
	if h.e != nil { // keep the id sequence going across reopen
		cfg.IDs = h.e.Config().IDs
	}
	e, err := engine.Open(context.Background(), cfg)
	if err != nil {
		h.t.Fatalf("Open: %v", err)
	}
	h.e = e
	h.sub, err = e.Subscribe(context.Background(), engine.Filter{})
	if err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) reopen() {
	h.t.Helper()
	if err := h.e.Close(); err != nil {
		h.t.Fatalf("Close: %v", err)
	}
	h.open()
}

// events drains what the subscription has received so far, as "Type prev→state" lines.
func (h *harness) events() []string {
	var out []string
	for {
		select {
		case ev := <-h.sub.Events():
			s := ev.Type.String()
			if ev.Call != nil {
				s += " " + string(ev.Prev) + "→" + string(ev.State)
			}
			out = append(out, s)
		default:
			return out
		}
	}
}

func (h *harness) expectEvents(want ...string) {
	h.t.Helper()
	got := h.events()
	if !slices.Equal(got, want) {
		h.t.Fatalf("events:\n got  %q\n want %q", got, want)
	}
}

func (h *harness) register(id, ext string, numbers []string, devices ...string) {
	h.t.Helper()
	spec := engine.ClientSpec{ID: id, Name: id, Numbers: numbers}
	if ext != "" {
		spec.Extensions = []string{ext}
	}
	for _, d := range devices {
		spec.Devices = append(spec.Devices, engine.Device{ID: d, Kind: "loopback"})
	}
	if _, err := h.e.RegisterClient(context.Background(), spec); err != nil {
		h.t.Fatalf("register %s: %v", id, err)
	}
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func wantCode(t *testing.T, err error, code errcode.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("want error %s, got nil", code)
	}
	if got := errcode.CodeOf(err); got != code {
		t.Fatalf("want code %s, got %q (%v)", code, got, err)
	}
}

var ctx = context.Background()

func TestCallLifecycleBetweenClients(t *testing.T) {
	h := newHarness(t)
	h.register("alice", "101", []string{"+14155550101"}, "alice-desk")
	h.register("bob", "102", nil, "bob-desk", "bob-web")
	h.expectEvents("ClientRegistered", "ClientRegistered")
	ok := must[engine.Call](t)

	// Alice dials Bob's extension: both of Bob's devices ring.
	c := ok(h.e.Dial(ctx, engine.DialRequest{From: "alice", Device: "alice-desk", To: "102"}))
	if c.State != engine.Ringing || !slices.Equal(c.RingingDevices, []string{"bob-desk", "bob-web"}) {
		t.Fatalf("after dial: %s ringing %v", c.State, c.RingingDevices)
	}
	if c.Caller.Number != "+14155550101" || c.Callee.Client != "bob" || c.Direction != events.Internal {
		t.Fatalf("parties: %+v → %+v", c.Caller, c.Callee)
	}
	if !c.RingDeadline.Equal(start.Add(30 * time.Second)) {
		t.Fatalf("ring deadline %v", c.RingDeadline)
	}
	h.expectEvents("CallDialed →connecting", "CallRinging connecting→ringing")

	// Bob answers on the web; the desk phone can no longer answer.
	h.clock.Advance(4 * time.Second)
	c = ok(h.e.Answer(ctx, c.ID, "bob-web"))
	if c.State != engine.Connected || c.AnsweredDevice != "bob-web" || len(c.RingingDevices) != 0 {
		t.Fatalf("after answer: %+v", c)
	}
	if c.RingingDuration != 4*time.Second {
		t.Fatalf("ringing duration %v", c.RingingDuration)
	}
	_, err := h.e.Answer(ctx, c.ID, "bob-desk")
	wantCode(t, err, errcode.InvalidState)

	// Alice holds, Bob holds too, Alice resumes: still held by Bob.
	c = ok(h.e.Hold(ctx, c.ID, engine.Caller))
	if local, remote := c.HoldFlags(engine.Callee); c.State != engine.Held || local || !remote {
		t.Fatalf("after hold: %s local=%v remote=%v", c.State, local, remote)
	}
	c = ok(h.e.Hold(ctx, c.ID, engine.Callee))
	c = ok(h.e.Resume(ctx, c.ID, engine.Caller))
	if c.State != engine.Held || !c.HeldByCallee || c.HeldByCaller {
		t.Fatalf("after caller resume: %+v", c)
	}
	c = ok(h.e.Resume(ctx, c.ID, engine.Callee))
	if c.State != engine.Connected {
		t.Fatalf("after both resume: %s", c.State)
	}
	c = ok(h.e.Mute(ctx, c.ID, engine.Caller))
	if !c.MutedCaller {
		t.Fatal("caller not muted")
	}
	_, err = h.e.Mute(ctx, c.ID, engine.Caller)
	wantCode(t, err, errcode.InvalidState)

	h.clock.Advance(60 * time.Second)
	c = ok(h.e.Hangup(ctx, c.ID, engine.Callee))
	if c.State != engine.Ended || c.Reason != events.Hangup || c.EndedBy != engine.Callee || c.Missed {
		t.Fatalf("after hangup: %+v", c)
	}
	if c.Duration != 60*time.Second || !c.ReleaseAt.Equal(start.Add(64*time.Second)) {
		t.Fatalf("durations: %v, release %v", c.Duration, c.ReleaseAt)
	}
	h.expectEvents("CallAnswered ringing→connected",
		"CallHeld connected→held", "CallHeld held→held", "CallResumed held→held", "CallResumed held→connected",
		"CallMuted connected→connected", "CallEnded connected→ended")

	// The ended call is still there to look at, and refuses commands.
	got := ok(h.e.Call(ctx, c.ID))
	if got.State != engine.Ended || got.Reason != events.Hangup || got.Version != 9 {
		t.Fatalf("Call after end: %+v", got)
	}
	_, err = h.e.Hold(ctx, c.ID, engine.Caller)
	wantCode(t, err, errcode.InvalidState)
	if n := len(must[[]engine.Call](t)(h.e.Calls(ctx, "alice"))); n != 0 {
		t.Fatalf("alice still has %d calls", n)
	}
}

func TestEndReasons(t *testing.T) {
	h := newHarness(t)
	h.register("alice", "101", nil, "a1")
	h.register("bob", "102", nil, "b1")
	h.register("carol", "103", nil) // no devices: nothing can ring
	ok := must[engine.Call](t)
	dial := func(to string) engine.Call {
		t.Helper()
		return ok(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: to}))
	}

	c := dial("102")
	c = ok(h.e.Reject(ctx, c.ID, false))
	if c.Reason != events.Rejected || c.Missed {
		t.Errorf("reject: %v missed=%v", c.Reason, c.Missed)
	}
	c = dial("102")
	c = ok(h.e.Reject(ctx, c.ID, true))
	if c.Reason != events.Busy {
		t.Errorf("reject busy: %v", c.Reason)
	}
	c = dial("102")
	c = ok(h.e.Hangup(ctx, c.ID, engine.Caller))
	if c.Reason != events.Canceled || !c.Missed || c.ReasonFor(engine.Callee) != events.Missed || c.ReasonFor(engine.Caller) != events.Canceled {
		t.Errorf("cancel: %v missed=%v", c.Reason, c.Missed)
	}
	c = dial("103")
	if c.State != engine.Ended || c.Reason != events.Failed {
		t.Errorf("no devices: %s %v", c.State, c.Reason)
	}

	// Ring timeout: no answer within 30 s.
	c = dial("102")
	h.clock.Advance(29 * time.Second)
	if got := ok(h.e.Call(ctx, c.ID)); got.State != engine.Ringing {
		t.Fatalf("at 29s: %s", got.State)
	}
	h.clock.Advance(time.Second)
	got := waitState(t, h.e, c.ID, engine.Ended)
	if got.Reason != events.NoAnswer || !got.Missed || got.EndedBy != 0 {
		t.Errorf("ring timeout: %v missed=%v by=%v", got.Reason, got.Missed, got.EndedBy)
	}

	// Ignore: Bob's devices stop, Alice still hears ringing until the timeout.
	c = dial("102")
	c = ok(h.e.Ignore(ctx, c.ID))
	if c.State != engine.Ringing || !c.Ignored || len(c.RingingDevices) != 0 {
		t.Errorf("ignore: %+v", c)
	}
	h.clock.Advance(30 * time.Second)
	if got := waitState(t, h.e, c.ID, engine.Ended); got.Reason != events.NoAnswer {
		t.Errorf("ignored call: %v", got.Reason)
	}

	// Not accepting inbound calls: never rings (CL7).
	must[engine.Client](t)(h.e.SetAcceptInbound(ctx, "bob", false))
	c = dial("102")
	if c.State != engine.Ended || c.Reason != events.Failed || len(c.RingingDevices) != 0 {
		t.Errorf("not accepting: %s %v", c.State, c.Reason)
	}
}

// waitState polls until the call reaches state: timers fire on the actor's
// goroutine after the clock moved.
func waitState(t *testing.T, e *engine.Engine, id string, st engine.CallState) engine.Call {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := e.Call(ctx, id)
		if err == nil && c.State == st {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("call %s: want %s, have %s (err %v)", id, st, c.State, err)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestRefusedCommandsJournalNothing(t *testing.T) {
	h := newHarness(t)
	h.register("alice", "101", []string{"+14155550101"}, "a1")
	h.register("bob", "102", nil, "b1")
	j := h.e.Journal()
	before := j.LastSeq()
	cases := []struct {
		name string
		req  engine.DialRequest
		code errcode.Code
	}{
		{"garbage destination", engine.DialRequest{From: "alice", To: "call me maybe"}, errcode.InvalidParams},
		{"empty destination", engine.DialRequest{From: "alice", To: ""}, errcode.MissingParameter},
		{"short E.164", engine.DialRequest{From: "alice", To: "+1234"}, errcode.InvalidParams},
		{"unknown extension", engine.DialRequest{From: "alice", To: "999"}, errcode.NotFound},
		{"unknown caller", engine.DialRequest{From: "mallory", To: "102"}, errcode.NotFound},
		{"foreign caller id", engine.DialRequest{From: "alice", To: "102", CallerID: "+33123456789"}, errcode.Forbidden},
		{"bad caller id", engine.DialRequest{From: "alice", To: "102", CallerID: "abc"}, errcode.InvalidParams},
		{"self", engine.DialRequest{From: "alice", To: "101"}, errcode.InvalidParams},
		{"unknown device", engine.DialRequest{From: "alice", Device: "zz", To: "102"}, errcode.InvalidParams},
		{"unknown local sip user", engine.DialRequest{From: "alice", To: "sip:nobody@example.com"}, errcode.NotFound},
	}
	for _, tc := range cases {
		_, err := h.e.Dial(ctx, tc.req)
		wantCode(t, err, tc.code)
	}
	c := must[engine.Call](t)(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	mid := j.LastSeq()
	if mid != before+2 {
		t.Fatalf("valid dial wrote %d events, want 2", mid-before)
	}
	_, err := h.e.Hold(ctx, c.ID, engine.Caller)
	wantCode(t, err, errcode.HoldNotAvailable) // ringing: HOLD_NOT_AVAILABLE
	_, err = h.e.Resume(ctx, c.ID, engine.Caller)
	wantCode(t, err, errcode.InvalidState)
	_, err = h.e.Answer(ctx, c.ID, "a1")
	wantCode(t, err, errcode.InvalidState)
	_, err = h.e.Hangup(ctx, c.ID, 7)
	wantCode(t, err, errcode.InvalidParams)
	_, err = h.e.Hold(ctx, "nope", engine.Caller)
	wantCode(t, err, errcode.NotFound)
	_, err = h.e.RegisterClient(ctx, engine.ClientSpec{ID: "eve", Extensions: []string{"102"}})
	wantCode(t, err, errcode.AlreadyExists)
	_, err = h.e.RegisterClient(ctx, engine.ClientSpec{ID: "eve", Numbers: []string{"12"}})
	wantCode(t, err, errcode.InvalidParams)
	if j.LastSeq() != mid {
		t.Fatalf("refused commands journaled %d events", j.LastSeq()-mid)
	}
	var e *errcode.Error
	_, err = h.e.Hold(ctx, c.ID, engine.Caller)
	var na *fsm.HoldNotAvailable
	if !errors.As(err, &e) || e.Status() != 409 || !errors.Is(err, errcode.ErrHoldNotAvailable) ||
		!errors.As(err, &na) || na.Reason != fsm.HoldReasonNotEstablished || na.By != engine.Caller {
		t.Fatalf("typed error: %#v", err)
	}
	_, err = h.e.Resume(ctx, c.ID, engine.Caller)
	if !errors.Is(err, errcode.ErrInvalidState) {
		t.Fatalf("typed error: %#v", err)
	}
}

func TestOutboundThroughLoopback(t *testing.T) {
	h := newHarness(t)
	h.register("alice", "101", []string{"+14155550101"}, "a1")
	h.lb.Script("+33100000001", loopback.Behavior{Outcome: loopback.Answer, RingAfter: time.Second, AnswerAfter: 3 * time.Second, HangupAfter: 10 * time.Second})
	h.lb.Script("+33100000002", loopback.Behavior{Outcome: loopback.Busy, RingFor: 0})
	h.lb.Script("+33100000003", loopback.Behavior{Outcome: loopback.NoAnswer})
	h.lb.Script("+33100000004", loopback.Behavior{Outcome: loopback.Fail, RingAfter: time.Second, RingFor: time.Second})
	h.lb.Script("+33100000005", loopback.Behavior{Outcome: loopback.NoAnswer, RingFor: 5 * time.Second})
	ok := must[engine.Call](t)
	dial := func(to string) engine.Call {
		return ok(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: to, CallerID: "+14155550100"}))
	}
	answered, busy, noAnswer, failed, upstream := dial("+33 1 00 00 00 01"), dial("+33100000002"), dial("+33100000003"), dial("tel:+33100000004"), dial("+33100000005")
	if answered.State != engine.Connecting || answered.Direction != events.Outbound || answered.CallerID != "+14155550100" {
		t.Fatalf("outbound dial: %+v", answered)
	}
	h.clock.Advance(0)
	waitState(t, h.e, busy.ID, engine.Ended)
	h.clock.Advance(time.Second)
	waitState(t, h.e, answered.ID, engine.Ringing)
	h.clock.Advance(3 * time.Second)
	c := waitState(t, h.e, answered.ID, engine.Connected)
	if !c.ConnectAt.Equal(start.Add(4 * time.Second)) {
		t.Errorf("connect at %v", c.ConnectAt)
	}
	h.clock.Advance(10 * time.Second)
	c = waitState(t, h.e, answered.ID, engine.Ended)
	if c.Reason != events.Hangup || c.EndedBy != engine.Callee || c.Duration != 10*time.Second {
		t.Errorf("far hangup: %v by %v after %v", c.Reason, c.EndedBy, c.Duration)
	}
	if c := must[engine.Call](t)(h.e.Call(ctx, busy.ID)); c.Reason != events.Busy {
		t.Errorf("busy: %v", c.Reason)
	}
	if c := waitState(t, h.e, failed.ID, engine.Ended); c.Reason != events.Failed {
		t.Errorf("failed: %v", c.Reason)
	}
	if c := waitState(t, h.e, upstream.ID, engine.Ended); c.Reason != events.NoAnswer {
		t.Errorf("upstream no-answer: %v", c.Reason)
	}
	h.clock.Advance(30 * time.Second) // the engine's ring timeout ends the one that rings forever
	if c := waitState(t, h.e, noAnswer.ID, engine.Ended); c.Reason != events.NoAnswer {
		t.Errorf("no-answer: %v", c.Reason)
	}
	// No adapter reaches a number: refused before anything is journaled.
	_, err := h.e.FarAnswered(ctx, "c999")
	wantCode(t, err, errcode.NotFound)
}

func TestInboundRingsEveryDeviceFirstAnswerWins(t *testing.T) {
	h := newHarness(t)
	h.register("bob", "102", []string{"+14155550102"}, "bob-desk", "bob-web", "bob-mobile")
	c := must[engine.Call](t)(h.lb.Call(ctx, "+44 20 7946 0000", "London", "+14155550102"))
	if c.Direction != events.Inbound || c.Caller.Number != "+442079460000" || c.Caller.Name != "London" || len(c.RingingDevices) != 3 {
		t.Fatalf("inbound: %+v", c)
	}
	c = must[engine.Call](t)(h.e.Answer(ctx, c.ID, "bob-mobile"))
	for _, d := range []string{"bob-desk", "bob-web"} {
		_, err := h.e.Answer(ctx, c.ID, d)
		wantCode(t, err, errcode.InvalidState)
	}
	c = must[engine.Call](t)(h.e.FarEnded(ctx, c.ID, events.Hangup))
	if c.EndedBy != engine.Caller || c.Reason != events.Hangup {
		t.Fatalf("far end hangup: %+v", c)
	}
	_, err := h.lb.Call(ctx, "+442079460000", "", "+14155559999")
	wantCode(t, err, errcode.NotFound)
}

func TestCallWaitingAndSwap(t *testing.T) {
	h := newHarness(t)
	h.register("alice", "101", nil, "a1")
	h.register("bob", "102", nil, "b1")
	h.register("carol", "103", nil, "c1")
	ok := must[engine.Call](t)
	first := ok(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	ok(h.e.Answer(ctx, first.ID, "b1"))
	h.clock.Advance(time.Second)
	waiting := ok(h.e.Dial(ctx, engine.DialRequest{From: "carol", To: "102"}))
	if waiting.State != engine.Ringing {
		t.Fatalf("call waiting: %s", waiting.State)
	}
	active := must[[]engine.ActiveCall](t)(h.e.ActiveCalls(ctx, "bob"))
	want := []engine.ActiveCall{
		{ID: first.ID, From: "101", To: "102", State: "active", Direction: "inbound", Side: engine.Callee},
		{ID: waiting.ID, From: "103", To: "102", State: "ringing", Direction: "inbound", Side: engine.Callee},
	}
	if !slices.Equal(active, want) {
		t.Fatalf("active calls:\n got  %+v\n want %+v", active, want)
	}
	// Swap: hold the first, answer the second; then back.
	ok(h.e.Hold(ctx, first.ID, engine.Callee))
	ok(h.e.Answer(ctx, waiting.ID, "b1"))
	ok(h.e.Hold(ctx, waiting.ID, engine.Callee))
	ok(h.e.Resume(ctx, first.ID, engine.Callee))
	states := map[string]string{}
	for _, a := range must[[]engine.ActiveCall](t)(h.e.ActiveCalls(ctx, "bob")) {
		states[a.ID] = a.State
	}
	if states[first.ID] != "active" || states[waiting.ID] != "held" {
		t.Fatalf("after swap: %v", states)
	}
	if a := must[[]engine.ActiveCall](t)(h.e.ActiveCalls(ctx, "alice")); len(a) != 1 || a[0].Direction != "outbound" {
		t.Fatalf("alice: %+v", a)
	}
}

func TestCloseOpenRestoresEveryLiveCall(t *testing.T) {
	h := newHarness(t)
	h.register("alice", "101", nil, "a1")
	h.register("bob", "102", nil, "b1", "b2")
	ok := must[engine.Call](t)
	ringing := ok(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	connected := ok(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	ok(h.e.Answer(ctx, connected.ID, "b2"))
	held := ok(h.e.Dial(ctx, engine.DialRequest{From: "bob", To: "101"}))
	ok(h.e.Answer(ctx, held.ID, "a1"))
	ok(h.e.Hold(ctx, held.ID, engine.Callee))
	ok(h.e.Mute(ctx, held.ID, engine.Caller))
	ended := ok(h.e.Dial(ctx, engine.DialRequest{From: "bob", To: "101"}))
	ok(h.e.Hangup(ctx, ended.ID, engine.Caller))

	before := map[string]engine.Call{}
	for _, id := range []string{ringing.ID, connected.ID, held.ID} {
		before[id] = ok(h.e.Call(ctx, id))
	}
	h.clock.Advance(10 * time.Second)
	h.reopen()

	r := h.e.Restored()
	if r.Clients != 2 || r.Calls != 3 || h.e.LiveCalls() != 3 {
		t.Fatalf("restored %+v, live %d", r, h.e.LiveCalls())
	}
	for id, b := range before {
		a := ok(h.e.Call(ctx, id))
		b.Duration, a.Duration = 0, 0
		if !equalCalls(a, b) {
			t.Errorf("call %s changed across restart:\n before %+v\n after  %+v", id, b, a)
		}
	}
	if c := must[engine.Client](t)(h.e.Client(ctx, "bob")); len(c.Devices) != 2 {
		t.Fatalf("bob after restore: %+v", c)
	}
	// The restored calls take commands; the restored timer has 20 s left.
	ok(h.e.Resume(ctx, held.ID, engine.Callee))
	h.clock.Advance(19 * time.Second)
	if c := ok(h.e.Call(ctx, ringing.ID)); c.State != engine.Ringing {
		t.Fatalf("fired early: %s", c.State)
	}
	h.clock.Advance(time.Second)
	waitState(t, h.e, ringing.ID, engine.Ended)
	// A new call after the restart gets a fresh id and works.
	c := ok(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	if _, dup := before[c.ID]; dup || c.ID == ended.ID {
		t.Fatalf("id %s reused", c.ID)
	}
	if _, err := h.e.Call(ctx, ended.ID); err != nil {
		t.Fatalf("ended call lost: %v", err)
	}
}

func TestRingTimerPastDeadlineFiresOnOpen(t *testing.T) {
	h := newHarness(t)
	h.register("alice", "101", nil, "a1")
	h.register("bob", "102", nil, "b1")
	c := must[engine.Call](t)(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	h.e.Close()
	h.clock.Set(start.Add(time.Hour)) // the engine was down past the deadline
	h.open()
	h.clock.Advance(0)
	got := waitState(t, h.e, c.ID, engine.Ended)
	if got.Reason != events.NoAnswer || !got.ReleaseAt.Equal(start.Add(time.Hour)) {
		t.Fatalf("after reopen: %v at %v", got.Reason, got.ReleaseAt)
	}
}

func equalCalls(a, b engine.Call) bool {
	return a.ID == b.ID && a.State == b.State && a.Prev == b.Prev && a.Version == b.Version &&
		slices.Equal(a.RingingDevices, b.RingingDevices) && a.RingDeadline.Equal(b.RingDeadline) &&
		a.HeldByCaller == b.HeldByCaller && a.HeldByCallee == b.HeldByCallee &&
		a.MutedCaller == b.MutedCaller && a.MutedCallee == b.MutedCallee &&
		a.AnsweredDevice == b.AnsweredDevice && a.ConnectAt.Equal(b.ConnectAt) && a.SetupAt.Equal(b.SetupAt) &&
		a.Caller == b.Caller && a.Callee == b.Callee
}

func TestSubscribeFilter(t *testing.T) {
	h := newHarness(t)
	h.register("alice", "101", nil, "a1")
	h.register("bob", "102", nil, "b1")
	h.register("carol", "103", nil, "c1")
	subCtx, cancel := context.WithCancel(ctx)
	bobs := must[*engine.Subscription](t)(h.e.Subscribe(subCtx, engine.Filter{Clients: []string{"bob"}}))
	ends := must[*engine.Subscription](t)(h.e.Subscribe(ctx, engine.Filter{Types: []events.Type{events.TypeCallEnded}}))
	ab := must[engine.Call](t)(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	ac := must[engine.Call](t)(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "103"}))
	must[engine.Call](t)(h.e.Hangup(ctx, ac.ID, engine.Caller))
	must[engine.Call](t)(h.e.Hangup(ctx, ab.ID, engine.Caller))
	var seqs []uint64
	for i := 0; i < 3; i++ {
		ev := <-bobs.Events()
		if ev.CallID() != ab.ID {
			t.Fatalf("bob got an event of call %s", ev.CallID())
		}
		seqs = append(seqs, ev.Seq)
	}
	if !slices.IsSorted(seqs) {
		t.Fatalf("seqs out of order: %v", seqs)
	}
	if a, b := <-ends.Events(), <-ends.Events(); a.CallID() != ac.ID || b.CallID() != ab.ID {
		t.Fatalf("ended events: %s %s", a.CallID(), b.CallID())
	}
	cancel()
	if _, open := <-bobs.Events(); open {
		t.Fatal("subscription still open after its context ended")
	}
	if !errors.Is(bobs.Err(), context.Canceled) {
		t.Fatalf("err %v", bobs.Err())
	}
}

func TestSlowSubscriberIsClosedNotBlocking(t *testing.T) {
	h := newHarness(t)
	cfg := h.config()
	cfg.DataDir = filepath.Join(t.TempDir(), "slow")
	cfg.SubscriberBuffer = 2
	e := must[*engine.Engine](t)(engine.Open(ctx, cfg))
	defer e.Close()
	slow := must[*engine.Subscription](t)(e.Subscribe(ctx, engine.Filter{}))
	for _, id := range []string{"a", "b", "c", "d"} {
		must[engine.Client](t)(e.RegisterClient(ctx, engine.ClientSpec{ID: id}))
	}
	n := 0
	for range slow.Events() {
		n++
	}
	if n != 2 || errcode.CodeOf(slow.Err()) != errcode.Unavailable {
		t.Fatalf("slow subscriber got %d events, err %v", n, slow.Err())
	}
}

func TestActorPanicRecoversFromJournal(t *testing.T) {
	h := newHarness(t)
	h.register("alice", "101", nil, "a1")
	h.register("bob", "102", nil, "b1")
	c := must[engine.Call](t)(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	must[engine.Call](t)(h.e.Answer(ctx, c.ID, "b1"))
	_, err := engine.PanicCallForTest(h.e, c.ID)
	wantCode(t, err, errcode.Internal)
	// The supervisor restarted the actor; it read its stream back.
	got := must[engine.Call](t)(h.e.Hold(ctx, c.ID, engine.Caller))
	if got.State != engine.Held || got.Version != 4 {
		t.Fatalf("after restart: %s v%d", got.State, got.Version)
	}
}

func TestClosedEngineRefuses(t *testing.T) {
	h := newHarness(t)
	h.e.Close()
	_, err := h.e.Dial(ctx, engine.DialRequest{From: "a", To: "102"})
	wantCode(t, err, errcode.Closed)
	if err := h.e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestClientRegisteredAgainSurvivesRestart(t *testing.T) {
	h := newHarness(t)
	h.register("alice", "101", []string{"+14155550101"}, "a1")
	must[engine.Client](t)(h.e.AddDevice(ctx, "alice", engine.Device{ID: "a2"}))
	must[engine.Client](t)(h.e.RemoveDevice(ctx, "alice", "a1"))
	must[engine.Client](t)(h.e.UnregisterClient(ctx, "alice"))
	// Its extension is free while it is gone.
	h.register("bob", "102", nil, "b1")
	_, err := h.e.Dial(ctx, engine.DialRequest{From: "bob", To: "101"})
	wantCode(t, err, errcode.NotFound)
	h.register("alice", "101", []string{"+14155550101"}, "a3")
	h.reopen()
	c := must[engine.Client](t)(h.e.Client(ctx, "alice"))
	if c.State != "registered" || len(c.Devices) != 1 || c.Devices[0].ID != "a3" || c.Version != 5 {
		t.Fatalf("alice after restart: %+v", c)
	}
	call := must[engine.Call](t)(h.e.Dial(ctx, engine.DialRequest{From: "bob", To: "+14155550101"}))
	if !slices.Equal(call.RingingDevices, []string{"a3"}) {
		t.Fatalf("rings %v", call.RingingDevices)
	}
	cs := must[[]engine.Client](t)(h.e.Clients(ctx))
	if len(cs) != 2 || cs[0].ID != "alice" || cs[1].ID != "bob" {
		t.Fatalf("directory: %+v", cs)
	}
}

func TestSubscribeByLine(t *testing.T) {
	h := newHarness(t)
	h.register("alice", "101", []string{"+14155550101"}, "a1")
	h.register("bob", "102", nil, "b1")
	h.register("carol", "103", nil, "c1")
	line := must[*engine.Subscription](t)(h.e.Subscribe(ctx, engine.Filter{Lines: []string{"+14155550101"}}))
	toAlice := must[engine.Call](t)(h.e.Dial(ctx, engine.DialRequest{From: "bob", To: "+14155550101"}))
	must[engine.Call](t)(h.e.Dial(ctx, engine.DialRequest{From: "bob", To: "103"})) // not alice's line
	fromAlice := must[engine.Call](t)(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "103"}))
	want := []string{toAlice.ID, toAlice.ID, fromAlice.ID, fromAlice.ID}
	for i, id := range want {
		select {
		case ev := <-line.Events():
			if ev.CallID() != id {
				t.Fatalf("event %d is of call %s, want %s", i, ev.CallID(), id)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("event %d missing", i)
		}
	}
	select {
	case ev := <-line.Events():
		t.Fatalf("unexpected event %s of call %s", ev.Type, ev.CallID())
	default:
	}
}

func TestSIPRoutingAndOrganisationNumbers(t *testing.T) {
	h := newHarness(t)
	cfg := h.config()
	cfg.DataDir = t.TempDir()
	cfg.Numbers = []string{"+1 415 555 0199"}
	lb := loopback.New(h.clock)
	lb.Record(true)
	lb.Default(loopback.Behavior{Outcome: loopback.Manual})
	cfg.Adapter = lb
	e := must[*engine.Engine](t)(engine.Open(ctx, cfg))
	defer e.Close()
	for _, id := range []string{"alice", "bob"} {
		must[engine.Client](t)(e.RegisterClient(ctx, engine.ClientSpec{ID: id, Extensions: []string{map[string]string{"alice": "101", "bob": "102"}[id]},
			Devices: []engine.Device{{ID: id + "-1"}}}))
	}
	local := must[engine.Call](t)(e.Dial(ctx, engine.DialRequest{From: "alice", To: "sip:102@EXAMPLE.com:5060", CallerID: "+14155550199"}))
	if local.Callee.Client != "bob" || local.CallerID != "+14155550199" {
		t.Fatalf("sip with port: %+v", local)
	}
	secure := must[engine.Call](t)(e.Dial(ctx, engine.DialRequest{From: "alice", To: "sips:carol@elsewhere.net"}))
	if secure.Direction != events.Outbound || secure.Callee.Number != "sips:carol@elsewhere.net" {
		t.Fatalf("sips: %+v", secure.Callee)
	}
	if _, err := engine.Open(ctx, engine.Config{DataDir: t.TempDir(), Numbers: []string{"not a number"}}); errcode.CodeOf(err) != errcode.InvalidParams {
		t.Fatalf("bad organisation number: %v", err)
	}
}

// A Dial whose context ends while it is in flight either exists durably and
// is live, or does not exist at all: never half.
func TestDialWithExpiringContextLeavesNoOrphans(t *testing.T) {
	h := newHarness(t)
	h.register("alice", "101", nil, "a1")
	h.register("bob", "102", nil, "b1")
	for i := 0; i < 300; i++ {
		c, cancel := context.WithTimeout(ctx, time.Duration(i%50)*10*time.Microsecond)
		h.e.Dial(c, engine.DialRequest{From: "alice", To: "102"})
		cancel()
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		live := 0
		h.e.Journal().Live(func(stream string, _ uint64) error {
			if len(stream) > 5 && stream[:5] == "call/" {
				live++
			}
			return nil
		})
		// Settled: every durable call is live in the engine and listed for
		// its caller (an actor joins the call to its clients when it
		// publishes, just after the append).
		listed := len(must[[]engine.Call](t)(h.e.Calls(ctx, "alice")))
		if live == h.e.LiveCalls() && live == listed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("journal has %d live calls, engine %d, alice lists %d", live, h.e.LiveCalls(), listed)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, c := range must[[]engine.Call](t)(h.e.Calls(ctx, "alice")) {
		if _, err := h.e.Hangup(ctx, c.ID, engine.Caller); err != nil {
			t.Fatalf("call %s is listed but cannot be hung up: %v", c.ID, err)
		}
	}
	if h.e.LiveCalls() != 0 {
		t.Fatalf("%d live calls left after hanging up every listed call", h.e.LiveCalls())
	}
}

// The ring timeout happens at the deadline, however far past it the clock
// jumps and however late the actor handles the timer.
func TestRingTimeoutEndsAtTheDeadline(t *testing.T) {
	h := newHarness(t)
	h.register("alice", "101", nil, "a1")
	h.register("bob", "102", nil, "b1")
	c := must[engine.Call](t)(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	h.clock.Advance(10 * time.Minute)
	got := waitState(t, h.e, c.ID, engine.Ended)
	if !got.ReleaseAt.Equal(c.RingDeadline) || got.RingingDuration != 30*time.Second {
		t.Fatalf("released at %v (deadline %v), rang %v", got.ReleaseAt, c.RingDeadline, got.RingingDuration)
	}
}

// A client without a number of its own presents its extension to colleagues
// and the organisation's first number to the outside world.
func TestDefaultCallerID(t *testing.T) {
	h := newHarness(t)
	h.register("alice", "101", nil, "a1")
	h.register("bob", "102", []string{"+14155550102"}, "b1")
	ok := must[engine.Call](t)
	inside := ok(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	outside := ok(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "+33100000009"}))
	own := ok(h.e.Dial(ctx, engine.DialRequest{From: "bob", To: "+33100000008"}))
	if inside.CallerID != "101" || outside.CallerID != "+14155550100" || own.CallerID != "+14155550102" {
		t.Fatalf("caller ids: inside %q, outside %q, own number %q", inside.CallerID, outside.CallerID, own.CallerID)
	}
}

// A subscription whose context another goroutine cancels while it is being
// made, or that is closed at the same time, ends once and cleanly (go test
// -race watches the subscription's fields).
func TestSubscribeCancelledConcurrently(t *testing.T) {
	h := newHarness(t)
	for range 200 {
		sctx, cancel := context.WithCancel(context.Background())
		go cancel()
		sub, err := h.e.Subscribe(sctx, engine.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		go sub.Close()
		for range sub.Events() {
		}
		cancel()
	}
}
