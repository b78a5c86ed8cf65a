package engine_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/callengine/callengine/adapters/loopback"
	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

// registerWith registers a client with permissions and one device "<id>-desk".
func (h *harness) registerWith(id, ext string, numbers []string, perms ...string) {
	h.t.Helper()
	spec := engine.ClientSpec{ID: id, Name: id, Numbers: numbers, Permissions: perms,
		Devices: []engine.Device{{ID: id + "-desk", Kind: "loopback"}, {ID: id + "-web", Kind: "loopback"}}}
	if ext != "" {
		spec.Extensions = []string{ext}
	}
	if _, err := h.e.RegisterClient(ctx, spec); err != nil {
		h.t.Fatalf("register %s: %v", id, err)
	}
}

// connect places a call from a client to an extension and answers it.
func (h *harness) connect(from, to string) engine.Call {
	h.t.Helper()
	ok := must[engine.Call](h.t)
	c := ok(h.e.Dial(ctx, engine.DialRequest{From: from, To: to}))
	return ok(h.e.Answer(ctx, c.ID, c.RingingDevices[0]))
}

// unchanged fails the test if the journal grew since seq: refused commands
// journal nothing.
func (h *harness) unchanged(seq uint64) {
	h.t.Helper()
	if got := h.e.Journal().LastSeq(); got != seq {
		h.t.Fatalf("refused commands journaled %d events", got-seq)
	}
}

// drain returns the events the subscription holds now.
func (h *harness) drain() []engine.Event {
	var out []engine.Event
	for {
		select {
		case ev := <-h.sub.Events():
			out = append(out, ev)
		default:
			return out
		}
	}
}

func TestSendDigits(t *testing.T) {
	h := newHarness(t)
	h.registerWith("alice", "101", nil)
	h.registerWith("bob", "102", nil)
	ok := must[engine.Call](t)
	ringing := ok(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	c := h.connect("alice", "102")
	h.drain()

	c = ok(h.e.SendDigits(ctx, c.ID, engine.Caller, "123#", engine.ToneOptions{}))
	if c.Digits != 4 {
		t.Fatalf("digits %d, want 4", c.Digits)
	}
	c = ok(h.e.SendDigits(ctx, c.ID, engine.Callee, "*,9", engine.ToneOptions{Duration: 250 * time.Millisecond, Gap: 50 * time.Millisecond}))
	if c.Digits != 7 {
		t.Fatalf("digits %d, want 7", c.Digits)
	}
	var tones []events.CallDigits
	for _, ev := range h.drain() {
		if d, isDigits := ev.Event.(events.CallDigits); isDigits {
			tones = append(tones, d)
		}
	}
	want := []events.CallDigits{
		{Side: engine.Caller, Digits: "123#", Duration: int64(fsm.DefaultToneDuration), Gap: int64(fsm.DefaultToneGap)},
		{Side: engine.Callee, Digits: "*,9", Duration: int64(250 * time.Millisecond), Gap: int64(50 * time.Millisecond)},
	}
	if !slices.Equal(tones, want) {
		t.Fatalf("tones %+v, want %+v", tones, want)
	}

	seq := h.e.Journal().LastSeq()
	for _, tc := range []struct {
		name   string
		call   string
		side   engine.Side
		digits string
		opt    engine.ToneOptions
		code   errcode.Code
	}{
		{"letter", c.ID, engine.Caller, "12x", engine.ToneOptions{}, errcode.InvalidParams},
		{"empty", c.ID, engine.Caller, "", engine.ToneOptions{}, errcode.MissingParameter},
		{"too many", c.ID, engine.Caller, string(make([]byte, fsm.MaxDigits+1)), engine.ToneOptions{}, errcode.InvalidParams},
		{"negative gap", c.ID, engine.Caller, "1", engine.ToneOptions{Gap: -time.Millisecond}, errcode.InvalidParams},
		{"long tone", c.ID, engine.Caller, "1", engine.ToneOptions{Duration: time.Minute}, errcode.InvalidParams},
		{"no side", c.ID, 0, "1", engine.ToneOptions{}, errcode.InvalidParams},
		{"ringing", ringing.ID, engine.Caller, "1", engine.ToneOptions{}, errcode.InvalidState},
		{"no call", "nope", engine.Caller, "1", engine.ToneOptions{}, errcode.NotFound},
		{"no call id", "", engine.Caller, "1", engine.ToneOptions{}, errcode.MissingParameter},
	} {
		_, err := h.e.SendDigits(ctx, tc.call, tc.side, tc.digits, tc.opt)
		if errcode.CodeOf(err) != tc.code {
			t.Errorf("%s: got %v, want %s", tc.name, err, tc.code)
		}
	}
	h.unchanged(seq)

	h.reopen()
	if c = ok(h.e.Call(ctx, c.ID)); c.Digits != 7 || c.State != engine.Connected {
		t.Fatalf("after reopen: %s with %d digits", c.State, c.Digits)
	}
	c = ok(h.e.SendDigits(ctx, c.ID, engine.Caller, "0", engine.ToneOptions{}))
	if c.Digits != 8 {
		t.Fatalf("digits %d after reopen, want 8", c.Digits)
	}
}

func TestRecordingNeedsPermission(t *testing.T) {
	h := newHarness(t)
	h.registerWith("alice", "101", nil, events.PermissionRecord)
	h.registerWith("bob", "102", nil)
	ok := must[engine.Call](t)

	alice := must[engine.Client](t)(h.e.Client(ctx, "alice"))
	bob := must[engine.Client](t)(h.e.Client(ctx, "bob"))
	if !alice.Can(events.PermissionRecord) || bob.Can(events.PermissionRecord) || !slices.Equal(alice.Permissions, []string{"record"}) {
		t.Fatalf("permissions: alice %v, bob %v", alice.Permissions, bob.Permissions)
	}
	_, err := h.e.RegisterClient(ctx, engine.ClientSpec{ID: "eve", Permissions: []string{"spy"}})
	wantCode(t, err, errcode.InvalidParams)

	ringing := ok(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	c := h.connect("alice", "102") // c2, connected at version 3
	inbound := ok(h.e.Inbound(ctx, engine.InboundRequest{From: "+33123456789", To: "101"}))
	inbound = ok(h.e.Answer(ctx, inbound.ID, "alice-desk"))

	seq := h.e.Journal().LastSeq()
	_, err = h.e.StartRecording(ctx, c.ID, engine.Callee, "") // bob has no permission
	wantCode(t, err, errcode.RecordingNotAvailable)
	if !errors.Is(err, errcode.ErrRecordingNotAvailable) || errcode.CodeOf(err).Status() != 403 {
		t.Fatalf("typed error: %#v", err)
	}
	_, err = h.e.StartRecording(ctx, inbound.ID, engine.Caller, "x") // an external caller
	wantCode(t, err, errcode.RecordingNotAvailable)
	_, err = h.e.StartRecording(ctx, ringing.ID, engine.Caller, "") // not established
	wantCode(t, err, errcode.RecordingNotAvailable)
	_, err = h.e.StartRecording(ctx, c.ID, 0, "")
	wantCode(t, err, errcode.InvalidParams)
	_, err = h.e.StartRecording(ctx, "nope", engine.Caller, "")
	wantCode(t, err, errcode.NotFound)
	_, err = h.e.StopRecording(ctx, c.ID, engine.Caller) // not recorded
	wantCode(t, err, errcode.InvalidState)
	h.unchanged(seq)

	c = ok(h.e.StartRecording(ctx, c.ID, engine.Caller, ""))
	if !c.Recording || c.RecordingRef != "rec/"+c.ID+"/4" {
		t.Fatalf("after start: recording=%v ref %q", c.Recording, c.RecordingRef)
	}
	seq = h.e.Journal().LastSeq()
	_, err = h.e.StartRecording(ctx, c.ID, engine.Caller, "")
	wantCode(t, err, errcode.InvalidState)
	h.unchanged(seq)
	inbound = ok(h.e.StartRecording(ctx, inbound.ID, engine.Callee, "s3://calls/in.wav"))
	if inbound.RecordingRef != "s3://calls/in.wav" {
		t.Fatalf("given ref: %q", inbound.RecordingRef)
	}

	h.reopen()
	if c = ok(h.e.Call(ctx, c.ID)); !c.Recording || c.RecordingRef != "rec/"+c.ID+"/4" {
		t.Fatalf("after reopen: recording=%v ref %q", c.Recording, c.RecordingRef)
	}
	if alice = must[engine.Client](t)(h.e.Client(ctx, "alice")); !alice.Can(events.PermissionRecord) {
		t.Fatal("alice lost her permission across reopen")
	}
	seq = h.e.Journal().LastSeq()
	_, err = h.e.StopRecording(ctx, c.ID, engine.Callee)
	wantCode(t, err, errcode.RecordingNotAvailable)
	h.unchanged(seq)
	c = ok(h.e.StopRecording(ctx, c.ID, engine.Caller))
	if c.Recording || c.RecordingRef == "" {
		t.Fatalf("after stop: recording=%v ref %q", c.Recording, c.RecordingRef)
	}
	c = ok(h.e.StartRecording(ctx, c.ID, engine.Caller, ""))
	if c.RecordingRef != "rec/"+c.ID+"/6" {
		t.Fatalf("second recording ref %q", c.RecordingRef)
	}
}

func TestParkAndUnpark(t *testing.T) {
	h := newHarness(t)
	for i, id := range []string{"alice", "bob", "carol", "dave"} {
		h.registerWith(id, fmt.Sprint(101+i), nil)
	}
	ok := must[engine.Call](t)
	c1 := h.connect("alice", "102")
	c2 := h.connect("carol", "104")
	c3 := h.connect("alice", "103")
	ringing := ok(h.e.Dial(ctx, engine.DialRequest{From: "dave", To: "102"}))

	// Bob parks Alice: she waits held in the first free slot.
	c1 = ok(h.e.Park(ctx, c1.ID, engine.Callee, ""))
	if c1.ParkSlot != "1" || c1.ParkedSide != engine.Caller || c1.State != engine.Held || !c1.HeldByCallee {
		t.Fatalf("after park: slot %q side %v %s", c1.ParkSlot, c1.ParkedSide, c1.State)
	}
	c2 = ok(h.e.Park(ctx, c2.ID, engine.Caller, ""))
	if c2.ParkSlot != "2" || c2.ParkedSide != engine.Callee {
		t.Fatalf("second park: slot %q side %v", c2.ParkSlot, c2.ParkedSide)
	}
	// The parking party left the call; the parked one sees it parked.
	onCalls := func(when string) {
		t.Helper()
		for client, want := range map[string][]string{
			"alice": {c1.ID + " parked", c3.ID + " active"}, "bob": {ringing.ID + " ringing"},
			"carol": {c3.ID + " active"}, "dave": {c2.ID + " parked", ringing.ID + " ringing"},
		} {
			var got []string
			for _, a := range must[[]engine.ActiveCall](t)(h.e.ActiveCalls(ctx, client)) {
				got = append(got, a.ID+" "+a.State)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("%s: %s's active calls %q, want %q", when, client, got, want)
			}
		}
	}
	onCalls("after park")

	seq := h.e.Journal().LastSeq()
	_, err := h.e.Park(ctx, c3.ID, engine.Caller, "1")
	wantCode(t, err, errcode.Conflict)
	_, err = h.e.Park(ctx, c1.ID, engine.Callee, "")
	wantCode(t, err, errcode.InvalidState)
	_, err = h.e.Park(ctx, c1.ID, engine.Callee, "1") // its own slot: already parked
	wantCode(t, err, errcode.InvalidState)
	_, err = h.e.Park(ctx, ringing.ID, engine.Caller, "")
	wantCode(t, err, errcode.InvalidState)
	_, err = h.e.Park(ctx, c3.ID, engine.Caller, "a b")
	wantCode(t, err, errcode.InvalidParams)
	_, err = h.e.Park(ctx, c3.ID, 0, "7")
	wantCode(t, err, errcode.InvalidParams)
	_, err = h.e.Hold(ctx, c1.ID, engine.Caller)
	wantCode(t, err, errcode.HoldNotAvailable)
	var hna *fsm.HoldNotAvailable
	if !errors.As(err, &hna) || hna.Reason != fsm.HoldReasonParked || hna.By != engine.Caller {
		t.Fatalf("hold on a parked call: %#v", err)
	}
	_, err = h.e.Unpark(ctx, c1.ID, "alice", "") // the parked party
	wantCode(t, err, errcode.InvalidParams)
	_, err = h.e.Unpark(ctx, c1.ID, "dave", "bob-desk")
	wantCode(t, err, errcode.InvalidParams)
	_, err = h.e.Unpark(ctx, c1.ID, "mallory", "")
	wantCode(t, err, errcode.NotFound)
	_, err = h.e.Unpark(ctx, c1.ID, "", "")
	wantCode(t, err, errcode.MissingParameter)
	_, err = h.e.Unpark(ctx, c3.ID, "dave", "") // not parked
	wantCode(t, err, errcode.InvalidState)
	_, err = h.e.UnparkSlot(ctx, "9", "dave", "")
	wantCode(t, err, errcode.NotFound)
	h.unchanged(seq)

	slots := func() []string {
		var out []string
		for _, c := range must[[]engine.Call](t)(h.e.ParkedCalls(ctx)) {
			out = append(out, c.ParkSlot+"="+c.ID)
		}
		return out
	}
	want := []string{"1=" + c1.ID, "2=" + c2.ID}
	if got := slots(); !slices.Equal(got, want) {
		t.Fatalf("parked calls %v, want %v", got, want)
	}

	// The slots survive a restart, and so does their uniqueness.
	h.reopen()
	if got := slots(); !slices.Equal(got, want) {
		t.Fatalf("parked calls after reopen %v, want %v", got, want)
	}
	_, err = h.e.Park(ctx, c3.ID, engine.Caller, "2")
	wantCode(t, err, errcode.Conflict)
	onCalls("after reopen")

	// Dave takes Alice's call on his web device: he is now its callee.
	c1 = ok(h.e.Unpark(ctx, c1.ID, "dave", "dave-web"))
	if c1.ParkSlot != "" || c1.State != engine.Connected || c1.Callee.Client != "dave" || c1.AnsweredDevice != "dave-web" || c1.Callee.Number != "104" {
		t.Fatalf("after unpark: %+v", c1)
	}
	if ids := callIDs(must[[]engine.Call](t)(h.e.Calls(ctx, "dave"))); !slices.Contains(ids, c1.ID) {
		t.Fatalf("dave's calls %v lack %s", ids, c1.ID)
	}
	if ids := callIDs(must[[]engine.Call](t)(h.e.Calls(ctx, "bob"))); slices.Contains(ids, c1.ID) {
		t.Fatalf("bob's calls %v still hold %s", ids, c1.ID)
	}
	_, err = h.e.Unpark(ctx, c1.ID, "carol", "")
	wantCode(t, err, errcode.InvalidState)

	// The freed slot 1 is the first free one again; Bob takes the call in
	// slot 2 by its slot.
	c3 = ok(h.e.Park(ctx, c3.ID, engine.Caller, ""))
	if c3.ParkSlot != "1" {
		t.Fatalf("park into freed slot: %q", c3.ParkSlot)
	}
	c2 = ok(h.e.UnparkSlot(ctx, "2", "bob", "bob-desk"))
	if c2.Caller.Client != "bob" || c2.State != engine.Connected {
		t.Fatalf("after unpark by slot: %+v", c2)
	}
	h.reopen()
	if c1 = ok(h.e.Call(ctx, c1.ID)); c1.Callee.Client != "dave" || c1.ParkSlot != "" {
		t.Fatalf("unparked call after reopen: %+v", c1)
	}
	if got := slots(); !slices.Equal(got, []string{"1=" + c3.ID}) {
		t.Fatalf("parked calls at the end %v", got)
	}
}

func callIDs(calls []engine.Call) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.ID)
	}
	return out
}

func TestParkedCallsOrderAndHangup(t *testing.T) {
	h := newHarness(t)
	h.registerWith("alice", "101", nil)
	h.registerWith("bob", "102", nil)
	ok := must[engine.Call](t)
	var ids []string
	for _, slot := range []string{"10", "lobby", "9", "02", "A1"} {
		c := h.connect("alice", "102")
		ok(h.e.Park(ctx, c.ID, engine.Callee, slot))
		ids = append(ids, c.ID)
	}
	var got []string
	for _, c := range must[[]engine.Call](t)(h.e.ParkedCalls(ctx)) {
		got = append(got, c.ParkSlot)
	}
	if want := []string{"02", "9", "10", "A1", "lobby"}; !slices.Equal(got, want) {
		t.Fatalf("slots %v, want %v", got, want)
	}
	// The parked party hangs up: the slot is free.
	ok(h.e.Hangup(ctx, ids[2], engine.Caller))
	c := h.connect("alice", "102")
	if c = ok(h.e.Park(ctx, c.ID, engine.Callee, "9")); c.ParkSlot != "9" {
		t.Fatalf("slot 9 after hangup: %q", c.ParkSlot)
	}
}

func TestParkSlotsUniqueUnderConcurrency(t *testing.T) {
	h := newHarness(t)
	h.registerWith("alice", "101", nil)
	h.registerWith("bob", "102", nil)
	const n = 12
	var calls []engine.Call
	for range 2 * n {
		calls = append(calls, h.connect("alice", "102"))
	}
	var wg sync.WaitGroup
	slots := make([]string, n)
	errs := make([]error, 2*n)
	for i := range calls {
		wg.Go(func() {
			slot := ""
			if i >= n {
				slot = "shared" // the second half race for one slot
			}
			c, err := h.e.Park(ctx, calls[i].ID, engine.Callee, slot)
			errs[i] = err
			if i < n {
				slots[i] = c.ParkSlot
			}
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("park %d: %v", i, errs[i])
		}
	}
	nums := make([]int, n)
	for i, s := range slots {
		nums[i], _ = strconv.Atoi(s)
	}
	slices.Sort(nums)
	for i, v := range nums {
		if v != i+1 {
			t.Fatalf("slots %v: want 1…%d, each once", slots, n)
		}
	}
	won := 0
	for _, err := range errs[n:] {
		switch {
		case err == nil:
			won++
		case errcode.CodeOf(err) != errcode.Conflict:
			t.Fatalf("race for a slot: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d parks took slot shared", won)
	}
}

func TestPauseParksIntoOwnSlot(t *testing.T) {
	h := newHarness(t)
	h.registerWith("alice", "101", nil)
	h.registerWith("bob", "102", nil)
	h.registerWith("carol", "", []string{"+14155550103"})
	h.registerWith("dave", "", nil)
	ok := must[engine.Call](t)
	c1 := h.connect("alice", "102")
	c2 := h.connect("alice", "102")
	c3 := h.connect("carol", "101")
	c4 := ok(h.e.Dial(ctx, engine.DialRequest{From: "dave", To: "101"}))
	c4 = ok(h.e.Answer(ctx, c4.ID, "alice-desk"))

	if c1 = ok(h.e.Pause(ctx, c1.ID, engine.Callee)); c1.ParkSlot != "102" || c1.ParkedSide != engine.Caller {
		t.Fatalf("bob pauses: slot %q side %v", c1.ParkSlot, c1.ParkedSide)
	}
	seq := h.e.Journal().LastSeq()
	_, err := h.e.Pause(ctx, c2.ID, engine.Callee) // bob's slot is taken
	wantCode(t, err, errcode.Conflict)
	_, err = h.e.Pause(ctx, c2.ID, 3)
	wantCode(t, err, errcode.InvalidParams)
	_, err = h.e.Pause(ctx, "nope", engine.Callee)
	wantCode(t, err, errcode.NotFound)
	h.unchanged(seq)
	if c3 = ok(h.e.Pause(ctx, c3.ID, engine.Caller)); c3.ParkSlot != "+14155550103" {
		t.Fatalf("carol pauses into %q", c3.ParkSlot)
	}
	if c4 = ok(h.e.Pause(ctx, c4.ID, engine.Caller)); c4.ParkSlot != "dave" {
		t.Fatalf("dave pauses into %q", c4.ParkSlot)
	}
	// Bob takes his paused call back from its slot.
	if c1 = ok(h.e.UnparkSlot(ctx, "102", "bob", "bob-web")); c1.State != engine.Connected || c1.Callee.Client != "bob" {
		t.Fatalf("bob takes it back: %+v", c1)
	}
	ended := ok(h.e.Hangup(ctx, c1.ID, engine.Caller))
	_, err = h.e.Pause(ctx, ended.ID, engine.Callee)
	wantCode(t, err, errcode.InvalidState)
}

func TestMergeIntoConference(t *testing.T) {
	h := newHarness(t)
	h.registerWith("alice", "101", nil)
	h.registerWith("bob", "102", nil)
	h.registerWith("carol", "103", nil)
	h.registerWith("dave", "104", nil)
	ok := must[engine.Call](t)
	ab := h.connect("alice", "102")
	ca := h.connect("carol", "101") // alice is the callee here
	bd := h.connect("bob", "104")
	ab2 := h.connect("alice", "102")

	req := engine.MergeRequest{Call: ab.ID, Side: engine.Callee, Other: ca.ID, OtherSide: engine.Caller}
	seq := h.e.Journal().LastSeq()
	_, err := h.e.Merge(ctx, req) // not held
	wantCode(t, err, errcode.InvalidState)
	h.unchanged(seq)
	ok(h.e.Hold(ctx, ab.ID, engine.Caller))
	seq = h.e.Journal().LastSeq()
	_, err = h.e.Merge(ctx, req) // the second is not held
	wantCode(t, err, errcode.InvalidState)
	h.unchanged(seq)
	ok(h.e.Hold(ctx, ca.ID, engine.Callee))
	ok(h.e.Hold(ctx, bd.ID, engine.Caller))
	ok(h.e.Hold(ctx, ab2.ID, engine.Caller))
	seq = h.e.Journal().LastSeq()
	for _, tc := range []struct {
		name string
		req  engine.MergeRequest
		code errcode.Code
	}{
		{"different hosts", engine.MergeRequest{Call: ab.ID, Side: engine.Caller, Other: ca.ID, OtherSide: engine.Caller}, errcode.InvalidParams},
		{"no common client", engine.MergeRequest{Call: ab.ID, Side: engine.Callee, Other: bd.ID, OtherSide: engine.Callee}, errcode.InvalidParams},
		{"same party twice", engine.MergeRequest{Call: ab.ID, Side: engine.Callee, Other: ab2.ID, OtherSide: engine.Callee}, errcode.InvalidParams},
		{"itself", engine.MergeRequest{Call: ab.ID, Side: engine.Callee, Other: ab.ID, OtherSide: engine.Caller}, errcode.InvalidParams},
		{"no side", engine.MergeRequest{Call: ab.ID, Other: ca.ID, OtherSide: engine.Caller}, errcode.InvalidParams},
		{"no other", engine.MergeRequest{Call: ab.ID, Side: engine.Callee}, errcode.MissingParameter},
		{"unknown call", engine.MergeRequest{Call: ab.ID, Side: engine.Callee, Other: "nope", OtherSide: engine.Caller}, errcode.NotFound},
	} {
		_, err := h.e.Merge(ctx, tc.req)
		if errcode.CodeOf(err) != tc.code {
			t.Errorf("%s: got %v, want %s", tc.name, err, tc.code)
		}
	}
	h.unchanged(seq)

	conf := must[engine.Conference](t)(h.e.Merge(ctx, req))
	alice, bob, carol := engine.Party{Client: "alice", Number: "101", Name: "alice"}, engine.Party{Client: "bob", Number: "102", Name: "bob"}, engine.Party{Client: "carol", Number: "103", Name: "carol"}
	checkConf := func(when string, conf engine.Conference, calls []string, parties ...engine.Party) {
		t.Helper()
		if conf.ID == "" || conf.Host != alice || !slices.Equal(conf.Calls, calls) || !slices.Equal(conf.Parties, parties) {
			t.Fatalf("%s: conference %+v\nwant calls %v, parties %v", when, conf, calls, parties)
		}
	}
	checkConf("merge", conf, []string{ab.ID, ca.ID}, alice, bob, carol)
	for _, id := range []string{ab.ID, ca.ID} {
		c := ok(h.e.Call(ctx, id))
		if c.State != engine.Connected || c.Conference != conf.ID || c.HeldByCaller || c.HeldByCallee {
			t.Fatalf("call %s after merge: %+v", id, c)
		}
		if c.Peer != map[string]string{ab.ID: ca.ID, ca.ID: ab.ID}[id] {
			t.Fatalf("call %s peer %q", id, c.Peer)
		}
	}
	seq = h.e.Journal().LastSeq()
	_, err = h.e.Hold(ctx, ab.ID, engine.Callee)
	wantCode(t, err, errcode.HoldNotAvailable)
	var hna *fsm.HoldNotAvailable
	if !errors.As(err, &hna) || hna.Reason != fsm.HoldReasonConference {
		t.Fatalf("hold in a conference: %#v", err)
	}
	_, err = h.e.Merge(ctx, req)
	wantCode(t, err, errcode.InvalidState)
	_, err = h.e.Park(ctx, ab.ID, engine.Callee, "")
	wantCode(t, err, errcode.InvalidState)
	_, err = h.e.Conference(ctx, "nope")
	wantCode(t, err, errcode.NotFound)
	h.unchanged(seq)
	checkConf("lookup", must[engine.Conference](t)(h.e.Conference(ctx, conf.ID)), []string{ab.ID, ca.ID}, alice, bob, carol)

	h.reopen()
	checkConf("reopen", must[engine.Conference](t)(h.e.Conference(ctx, conf.ID)), []string{ab.ID, ca.ID}, alice, bob, carol)

	// Bob leaves: the conference drops to Alice and Carol, an ordinary
	// two-party call again (CallLeftConference): no conference, no peer,
	// and it can be held, recorded, parked and transferred.
	ok(h.e.Hangup(ctx, ab.ID, engine.Callee))
	c := h.waitLeft(ca.ID)
	if c.State != engine.Connected || c.Peer != "" {
		t.Fatalf("carol's call after bob left: %+v", c)
	}
	_, err = h.e.Conference(ctx, conf.ID)
	wantCode(t, err, errcode.NotFound)
	if c = ok(h.e.Hold(ctx, ca.ID, engine.Callee)); c.State != engine.Held {
		t.Fatalf("hold after the conference: %+v", c)
	}
	ok(h.e.Resume(ctx, ca.ID, engine.Callee))
	h.reopen() // the leave is journaled: it survives a restart
	if c = ok(h.e.Call(ctx, ca.ID)); c.Conference != "" || c.Peer != "" {
		t.Fatalf("carol's call after reopen: %+v", c)
	}
	if c = ok(h.e.Park(ctx, ca.ID, engine.Callee, "")); c.ParkSlot == "" {
		t.Fatalf("park after the conference: %+v", c)
	}
	ok(h.e.Hangup(ctx, ca.ID, engine.Caller))
	_, err = h.e.Conference(ctx, conf.ID)
	wantCode(t, err, errcode.NotFound)
}

// waitLeft waits until call id has left its conference (the engine sends
// the leave once the other call's end is published).
func (h *harness) waitLeft(id string) engine.Call {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := h.e.Call(context.Background(), id)
		if err == nil && c.Conference == "" {
			return c
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("call %s still in conference %q (err %v)", id, c.Conference, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestConferenceDropsToTwoParties: when the host hangs up one call of the
// conference, the other is an ordinary call again — it can be transferred
// and recorded — and a subscriber sees CallLeftConference on it.
func TestConferenceDropsToTwoParties(t *testing.T) {
	h := newHarness(t)
	h.registerWith("alice", "101", nil, events.PermissionRecord)
	h.registerWith("bob", "102", nil)
	h.registerWith("carol", "103", nil)
	h.registerWith("dave", "104", nil)
	ok := must[engine.Call](t)
	ab := h.connect("alice", "102")
	ac := h.connect("alice", "103")
	ok(h.e.Hold(ctx, ab.ID, engine.Caller))
	ok(h.e.Hold(ctx, ac.ID, engine.Caller))
	sub, err := h.e.Subscribe(ctx, engine.Filter{Calls: []string{ac.ID}, Types: []events.Type{events.TypeCallLeftConference}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	conf := must[engine.Conference](t)(h.e.Merge(ctx, engine.MergeRequest{Call: ab.ID, Side: engine.Callee, Other: ac.ID, OtherSide: engine.Callee}))
	ok(h.e.Hangup(ctx, ab.ID, engine.Caller)) // the host leaves bob
	select {
	case ev := <-sub.Events():
		left := ev.Event.(events.CallLeftConference)
		if left.Conference != conf.ID || left.Peer != ab.ID || ev.Call.Conference != "" || ev.Call.Peer != "" {
			t.Fatalf("left: %+v, call %+v", left, ev.Call)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no CallLeftConference")
	}
	if c, err := h.e.StartRecording(ctx, ac.ID, engine.Caller, ""); err != nil || !c.Recording {
		t.Fatalf("recording after the conference: %+v %v", c, err)
	}
	tr, err := h.e.BlindTransfer(ctx, engine.TransferRequest{Call: ac.ID, Side: engine.Callee, To: "104"})
	if err != nil || tr.Status != fsm.Completed {
		t.Fatalf("transfer after the conference: %+v %v", tr, err)
	}
}

// TestCallparkLine needs Filter.match to call matchesCallpark for a Lines
// filter that holds engine.CallparkLine.
func TestCallparkLine(t *testing.T) {
	h := newHarness(t)
	h.registerWith("alice", "101", nil)
	h.registerWith("bob", "102", nil)
	h.registerWith("carol", "103", nil)
	ok := must[engine.Call](t)
	sub, err := h.e.Subscribe(ctx, engine.Filter{Lines: []string{engine.CallparkLine}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	other := h.connect("alice", "103")
	c := h.connect("alice", "102")
	ok(h.e.SendDigits(ctx, other.ID, engine.Caller, "1", engine.ToneOptions{}))
	ok(h.e.Park(ctx, c.ID, engine.Callee, ""))
	ok(h.e.SendDigits(ctx, c.ID, engine.Caller, "5", engine.ToneOptions{}))
	ok(h.e.Unpark(ctx, c.ID, "carol", ""))
	ok(h.e.SendDigits(ctx, c.ID, engine.Caller, "6", engine.ToneOptions{})) // no longer parked

	var got []string
	for {
		select {
		case ev := <-sub.Events():
			got = append(got, fmt.Sprintf("%s %s slot=%q", ev.CallID(), ev.Type, ev.Call.ParkSlot))
			continue
		default:
		}
		break
	}
	want := []string{
		c.ID + ` CallParked slot="1"`,
		c.ID + ` CallDigits slot="1"`,
		c.ID + ` CallUnparked slot=""`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("callpark line:\n got  %q\n want %q", got, want)
	}
}

// TestConferenceLeftAfterCrash: the process died after a conference call
// ended and before the other call left the conference (its
// CallLeftConference not yet journaled). Open finishes the step: the other
// call leaves the conference, once, and is an ordinary call.
func TestConferenceLeftAfterCrash(t *testing.T) {
	h := newHarness(t)
	h.registerWith("alice", "101", nil)
	h.registerWith("bob", "102", nil)
	h.registerWith("carol", "103", nil)
	ok := must[engine.Call](t)
	ab := h.connect("alice", "102")
	ac := h.connect("alice", "103")
	ok(h.e.Hold(ctx, ab.ID, engine.Caller))
	ok(h.e.Hold(ctx, ac.ID, engine.Caller))
	sub, err := h.e.Subscribe(ctx, engine.Filter{Calls: []string{ac.ID}, Types: []events.Type{events.TypeCallLeftConference}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	must[engine.Conference](t)(h.e.Merge(ctx, engine.MergeRequest{Call: ab.ID, Side: engine.Callee, Other: ac.ID, OtherSide: engine.Callee}))
	ok(h.e.Hangup(ctx, ab.ID, engine.Caller))
	select {
	case <-sub.Events():
	case <-time.After(5 * time.Second):
		t.Fatal("no CallLeftConference")
	}
	if err := h.e.Close(); err != nil {
		t.Fatal(err)
	}
	full := readBatches(t, filepath.Join(h.dir, "journal.db"))
	cut := -1
	for i, b := range full {
		env := events.Envelope{}
		if err := events.DecodeBody(b.recs[0].Data, &env); err != nil {
			t.Fatal(err)
		}
		if _, left := env.Event.(events.CallLeftConference); left {
			cut = i
		}
	}
	if cut < 0 {
		t.Fatal("no CallLeftConference in the journal")
	}
	dir := t.TempDir()
	writeJournal(t, filepath.Join(dir, "journal.db"), full[:cut]) // died just before it
	r := &harness{t: t, dir: dir, clock: clock.NewVirtual(time.Unix(0, full[cut].at).UTC())}
	r.lb = loopback.New(r.clock)
	r.open()
	defer func() { r.e.Close() }()
	c := ok(r.e.Call(ctx, ac.ID))
	if c.Conference != "" || c.Peer != "" {
		t.Fatalf("after the restart the call is still in the conference: %+v", c)
	}
	if _, err := r.e.Hold(ctx, ac.ID, engine.Callee); err != nil {
		t.Fatalf("hold after the conference: %v", err)
	}
	if err := r.e.Close(); err != nil {
		t.Fatal(err)
	}
	left := 0
	for _, b := range readBatches(t, filepath.Join(dir, "journal.db")) {
		for _, rec := range b.recs {
			env := events.Envelope{}
			if err := events.DecodeBody(rec.Data, &env); err != nil {
				t.Fatal(err)
			}
			if _, ok := env.Event.(events.CallLeftConference); ok {
				left++
			}
		}
	}
	if left != 1 {
		t.Fatalf("%d CallLeftConference events, want 1", left)
	}
}
