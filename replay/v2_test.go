package replay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callengine/callengine/adapters/loopback"
	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/ids"
	"github.com/callengine/callengine/journal"
	"github.com/callengine/callengine/replay"
)

// controlDay is what controlJournal did: the ids of its calls and transfers.
type controlDay struct {
	path string // the journal file, closed

	rr1, rr2, rr3 string // three calls to the round-robin group "support"

	blindCall, blindNew, blind string // bob transfers alice to carol, blind
	// bob transfers alice to dave, attended: consultation bob → dave, then
	// the new call alice → dave
	attCall, attConsult, attNew, attended string
	parked                                string // alice → carol, parked by carol, unparked by erin
	confA, confB                          string // alice's two calls merged into a conference
	// a supervised transfer still consulting when the engine stopped
	liveCall, liveTransfer string
	message                string
}

// controlJournal drives a real engine — virtual clock, seeded ids, the
// loopback far end, a bbolt journal in a temporary directory — through the
// call control of schema 2: calls to a round-robin group, a blind and an
// attended transfer, DTMF, a recording, a park and an unpark, a conference,
// a text message, and a transfer left live when the engine stops.
func controlJournal(t *testing.T) controlDay {
	t.Helper()
	dir := t.TempDir()
	clk := clock.NewVirtual(dayStart)
	lb := loopback.New(clk)
	e, err := engine.Open(context.Background(), engine.Config{
		DataDir: dir, Clock: clk, IDs: ids.NewSeeded(clk, 20260106), Adapter: lb, RingTimeout: 30 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			e.Close()
		}
	}()
	ctx := context.Background()
	ok := func(c engine.Call, err error) engine.Call {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	okT := func(tr engine.Transfer, err error) engine.Transfer {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	// Transfer steps run on the actors' goroutines: wait for what they do.
	waitCall := func(id string, st engine.CallState) engine.Call {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			c, err := e.Call(ctx, id)
			if err == nil && c.State == st {
				return c
			}
			if time.Now().After(deadline) {
				t.Fatalf("call %s: %s (%v), want %s", id, c.State, err, st)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitTransfer := func(id string, st fsm.TransferStatus) engine.Transfer {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			tr, err := e.Transfer(ctx, id)
			if err == nil && tr.Status == st {
				return tr
			}
			if time.Now().After(deadline) {
				t.Fatalf("transfer %s: %s (%v), want %s", id, tr.Status, err, st)
			}
			time.Sleep(time.Millisecond)
		}
	}
	at := func(min int) { clk.Set(dayStart.Add(time.Duration(min) * time.Minute)) }
	after := func(d time.Duration) { clk.Advance(d) }
	register := func(id, ext string, perms ...string) {
		t.Helper()
		if _, err := e.RegisterClient(ctx, engine.ClientSpec{ID: id, Name: id, Extensions: []string{ext},
			Devices: []engine.Device{{ID: id + "-desk", Kind: "sip"}}, Permissions: perms}); err != nil {
			t.Fatal(err)
		}
	}
	register("alice", "101", events.PermissionRecord)
	register("bob", "102")
	register("carol", "103")
	register("dave", "104")
	register("erin", "105")
	if _, err := e.DefineGroup(ctx, engine.GroupSpec{ID: "support", Name: "Support", Extensions: []string{"200"},
		Members: []string{"carol", "dave", "erin"}, Strategy: engine.RoundRobin}); err != nil {
		t.Fatal(err)
	}
	var d controlDay

	// 09:01 alice → the group: carol's turn. alice sends DTMF and records.
	at(1)
	c := ok(e.Dial(ctx, engine.DialRequest{From: "alice", Device: "alice-desk", To: "200"}))
	if c.Callee.Client != "carol" || c.Group != "support" {
		t.Fatalf("first group call %+v", c)
	}
	d.rr1 = c.ID
	after(2 * time.Second)
	ok(e.Answer(ctx, c.ID, "carol-desk"))
	after(3 * time.Second)
	ok(e.SendDigits(ctx, c.ID, engine.Caller, "123#", engine.ToneOptions{}))
	after(time.Second)
	ok(e.StartRecording(ctx, c.ID, engine.Caller, ""))
	after(20 * time.Second)
	ok(e.StopRecording(ctx, c.ID, engine.Caller))
	after(10 * time.Second)
	ok(e.Hangup(ctx, c.ID, engine.Caller))

	// 09:03 and 09:04 bob and alice → the group: dave's turn, then erin's.
	at(3)
	c = ok(e.Dial(ctx, engine.DialRequest{From: "bob", To: "200"}))
	d.rr2 = c.ID
	after(2 * time.Second)
	ok(e.Answer(ctx, c.ID, "dave-desk"))
	after(30 * time.Second)
	ok(e.Hangup(ctx, c.ID, engine.Callee))
	at(4)
	c = ok(e.Dial(ctx, engine.DialRequest{From: "alice", To: "200"}))
	d.rr3 = c.ID
	after(5 * time.Second)
	ok(e.Reject(ctx, c.ID, false))
	if c.Callee.Client != "erin" {
		t.Fatalf("third group call to %s, want erin", c.Callee.Client)
	}

	// 09:05 alice → bob; bob sends alice to carol, blind.
	at(5)
	c = ok(e.Dial(ctx, engine.DialRequest{From: "alice", Device: "alice-desk", To: "102"}))
	d.blindCall = c.ID
	after(2 * time.Second)
	ok(e.Answer(ctx, c.ID, "bob-desk"))
	after(30 * time.Second)
	tr := okT(e.BlindTransfer(ctx, engine.TransferRequest{Call: c.ID, Side: engine.Caller, To: "103"}))
	d.blind, d.blindNew = tr.ID, tr.NewCall
	waitCall(d.blindCall, engine.Ended)
	waitCall(d.blindNew, engine.Ringing)
	after(3 * time.Second)
	ok(e.Answer(ctx, d.blindNew, "carol-desk"))
	after(time.Minute)
	ok(e.Hangup(ctx, d.blindNew, engine.Caller))

	// 09:10 alice → bob; bob consults dave, then hands alice over.
	at(10)
	c = ok(e.Dial(ctx, engine.DialRequest{From: "alice", Device: "alice-desk", To: "102"}))
	d.attCall = c.ID
	after(2 * time.Second)
	ok(e.Answer(ctx, c.ID, "bob-desk"))
	after(20 * time.Second)
	tr = okT(e.AttendedTransfer(ctx, engine.TransferRequest{Call: c.ID, Side: engine.Caller, To: "dave"}))
	d.attended, d.attConsult, d.attNew = tr.ID, tr.Consult, tr.NewCall
	waitCall(d.attConsult, engine.Ringing)
	after(4 * time.Second)
	ok(e.Answer(ctx, d.attConsult, "dave-desk"))
	waitTransfer(d.attended, fsm.Answered)
	after(15 * time.Second)
	okT(e.CompleteTransfer(ctx, d.attended))
	waitCall(d.attNew, engine.Connected)
	waitCall(d.attCall, engine.Ended)
	waitCall(d.attConsult, engine.Ended)
	after(time.Minute)
	ok(e.Hangup(ctx, d.attNew, engine.Callee))

	// 09:15 alice → carol; carol parks alice, erin takes her.
	at(15)
	c = ok(e.Dial(ctx, engine.DialRequest{From: "alice", To: "103"}))
	d.parked = c.ID
	after(2 * time.Second)
	ok(e.Answer(ctx, c.ID, "carol-desk"))
	after(10 * time.Second)
	ok(e.Park(ctx, c.ID, engine.Callee, ""))
	after(20 * time.Second)
	ok(e.Unpark(ctx, c.ID, "erin", "erin-desk"))
	after(30 * time.Second)
	ok(e.Hangup(ctx, c.ID, engine.Callee))

	// 09:20 alice calls bob and carol, holds both, and merges them.
	at(20)
	a := ok(e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	after(time.Second)
	ok(e.Answer(ctx, a.ID, "bob-desk"))
	after(10 * time.Second)
	ok(e.Hold(ctx, a.ID, engine.Caller))
	b := ok(e.Dial(ctx, engine.DialRequest{From: "alice", To: "103"}))
	after(time.Second)
	ok(e.Answer(ctx, b.ID, "carol-desk"))
	after(5 * time.Second)
	ok(e.Hold(ctx, b.ID, engine.Caller))
	if _, err := e.Merge(ctx, engine.MergeRequest{Call: a.ID, Side: engine.Callee, Other: b.ID, OtherSide: engine.Callee}); err != nil {
		t.Fatal(err)
	}
	d.confA, d.confB = a.ID, b.ID
	after(time.Minute)
	ok(e.Hangup(ctx, a.ID, engine.Callee))
	ok(e.Hangup(ctx, b.ID, engine.Callee))

	// 09:25 a text message, alice → bob.
	at(25)
	m, err := e.SendMessage(ctx, engine.MessageRequest{From: "alice", To: "102", Text: "call me back"})
	if err != nil {
		t.Fatal(err)
	}
	d.message = m.ID

	// 09:30 alice → bob; bob starts a supervised transfer to erin, who is
	// still ringing when the engine stops.
	at(30)
	c = ok(e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	d.liveCall = c.ID
	after(time.Second)
	ok(e.Answer(ctx, c.ID, "bob-desk"))
	after(10 * time.Second)
	tr = okT(e.SupervisedTransfer(ctx, engine.TransferRequest{Call: c.ID, Side: engine.Caller, To: "105", InviteTimer: time.Minute}))
	d.liveTransfer = tr.ID
	waitCall(tr.Consult, engine.Ringing)
	after(5 * time.Second)

	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	closed = true
	d.path = filepath.Join(dir, "journal.db")
	return d
}

func openPath(t *testing.T, path string) *replay.Log {
	t.Helper()
	l, err := replay.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// A journal the engine wrote with transfers, a round-robin group, call
// control and a message verifies without divergence, every stream checked.
func TestVerifyControlJournal(t *testing.T) {
	d := controlJournal(t)
	l := openPath(t, d.path)
	r, err := l.Verify()
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() {
		var b bytes.Buffer
		replay.WriteReport(&b, r)
		t.Fatalf("the engine's journal diverges from the current code:\n%s", b.String())
	}
	// 5 clients, 1 group, 13 calls, 3 transfers, 1 message.
	if r.Streams != 23 || r.Skipped != 0 || uint64(r.Events) != l.LastSeq() {
		t.Errorf("verified %d streams, %d events (skipped %d); want 23 streams and all %d events", r.Streams, r.Events, r.Skipped, l.LastSeq())
	}
}

// appendRaw appends events to a stream of a closed journal, as something
// other than the engine would.
func appendRaw(t *testing.T, path, stream string, at time.Time, evs ...events.Event) {
	t.Helper()
	j, err := journal.Open(path, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	v, err := j.StreamVersion(stream)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if _, err := j.Append(context.Background(), stream, v, [][]byte{events.EncodeBody(nil, at.UnixNano(), ev)}, events.Ends(ev)); err != nil {
			t.Fatal(err)
		}
		v++
	}
}

// A transfer stream doctored after the fact — completed after it failed —
// is a divergence of that stream at that version; the rest still verifies.
func TestVerifyDoctoredTransfer(t *testing.T) {
	d := controlJournal(t)
	stream := "transfer/" + d.liveTransfer
	end := dayStart.Add(31 * time.Minute)
	appendRaw(t, d.path, stream, end, events.TransferFailed{Reason: "the far end went away"}, events.TransferCompleted{})
	l := openPath(t, d.path)
	r, err := l.Verify()
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Divergences) != 1 {
		t.Fatalf("divergences %v, want one", r.Divergences)
	}
	div := r.Divergences[0]
	// TransferInitiated, the failure, then the completion: version 3.
	if div.Stream != stream || div.Version != 3 || div.Kind != replay.KindAfterEnd || div.Seq != l.LastSeq() ||
		div.Journal != "TransferCompleted" || div.Current != "the transfer ended at version 2: nothing may follow" {
		t.Errorf("divergence %+v", div)
	}
	var b bytes.Buffer
	replay.WriteReport(&b, r)
	if want := stream + " version 3 (seq "; !bytes.Contains(b.Bytes(), []byte(want)) {
		t.Errorf("report lacks %q:\n%s", want, b.String())
	}
}

// A call's timeline holds the events of the transfers that name it, in seq
// order among its own, so that one timeline shows the call transferred into
// another; the heading says which calls the transfer joined.
func TestTimelineShowsTransfers(t *testing.T) {
	d := controlJournal(t)
	l := openPath(t, d.path)

	steps, err := l.Timeline(d.blindCall)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for i, s := range steps {
		types = append(types, s.Envelope.Type.String())
		if i > 0 && s.Envelope.Seq <= steps[i-1].Envelope.Seq {
			t.Errorf("step %d (seq %d) after seq %d", i, s.Envelope.Seq, steps[i-1].Envelope.Seq)
		}
		if (s.Transfer != nil) != (s.Envelope.Stream == "transfer/"+d.blind) || s.Own() != (s.Envelope.Stream == "call/"+d.blindCall) {
			t.Errorf("step %d of %s: transfer %v", i, s.Envelope.Stream, s.Transfer)
		}
	}
	want := "CallDialed CallRinging CallAnswered TransferInitiated CallEnded TransferCompleted"
	if got := strings.Join(types, " "); got != want {
		t.Fatalf("timeline %s\nwant     %s", got, want)
	}
	if s := steps[3]; s.Transfer.Status != fsm.Placing || s.State.Status != fsm.Connected {
		t.Errorf("at the TransferInitiated: transfer %s, call %s", s.Transfer.Status, s.State.Status)
	}
	if s := steps[5]; s.Transfer.Status != fsm.Completed || s.State.Reason != events.Transferred || s.Call().State != fsm.Ended {
		t.Errorf("at the TransferCompleted: transfer %s, call %s %s", s.Transfer.Status, s.State.Status, s.State.Reason)
	}
	var b bytes.Buffer
	if err := replay.WriteTimeline(&b, steps); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"transfer " + d.blind + " (blind, completed): call " + d.blindCall + " (this call) → new call " + d.blindNew + "; its caller goes to carol\n",
		"reason=transferred by=callee transfer=" + d.blind + " new-call=" + d.blindNew,
		"TransferInitiated  transfer=" + d.blind + " kind=blind call=" + d.blindCall + " kept=caller target=carol",
		"transfer completed\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("timeline lacks %q:\n%s", want, out)
		}
	}

	// The new call of the attended transfer: the transfer began, and its
	// consultation was answered, before the call existed.
	steps, err = l.Timeline(d.attNew)
	if err != nil {
		t.Fatal(err)
	}
	types = types[:0]
	for _, s := range steps {
		types = append(types, s.Envelope.Type.String())
	}
	want = "TransferInitiated TransferAnswered CallDialed CallAnswered TransferCompleted CallEnded"
	if got := strings.Join(types, " "); got != want {
		t.Fatalf("timeline %s\nwant     %s", got, want)
	}
	if s := steps[0]; s.State.Status != fsm.NoCall || s.State.ID != d.attNew {
		t.Errorf("before the call: state %+v", s.State)
	}
	js, err := json.Marshal(steps[0])
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]map[string]any
	if err := json.Unmarshal(js, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["transfer"]["id"] != d.attended || doc["transfer"]["kind"] != "attended" || doc["transfer"]["new_call"] != d.attNew || doc["state"] != nil {
		t.Errorf("a transfer step as JSON: %s", js)
	}
	b.Reset()
	replay.WriteTimeline(&b, steps)
	if want := "call " + d.attCall + " → new call " + d.attNew + " (this call), after consultation " + d.attConsult; !strings.Contains(b.String(), want) {
		t.Errorf("timeline lacks %q:\n%s", want, b.String())
	}

	// A round-robin call: the pick that sent it to carol comes first.
	steps, err = l.Timeline(d.rr1)
	if err != nil {
		t.Fatal(err)
	}
	if s := steps[0]; s.Group == nil || s.Group.Last != "carol" || s.Envelope.Type != events.TypeGroupMemberPicked || steps[1].Envelope.Type != events.TypeCallDialed {
		t.Errorf("first steps %v, %v", steps[0].Envelope, steps[1].Envelope)
	}
	b.Reset()
	replay.WriteTimeline(&b, steps)
	for _, want := range []string{"group=support member=carol call=" + d.rr1, "group round-robin, picked carol",
		"CallDigits            side=caller digits=123#", "by=caller ref=rec/" + d.rr1 + "/5", "answered=carol-desk recording\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("timeline lacks %q:\n%s", want, b.String())
		}
	}

	// Park, unpark and conference read as such.
	for id, wants := range map[string][]string{
		d.parked: {"CallParked    side=caller slot=1 by=callee", "held held=callee parked=caller slot=1", "CallUnparked  party=erin/erin-desk"},
		d.confA:  {"CallJoined    conference=", "peer=" + d.confB, "connected answered=bob-desk conference="},
	} {
		steps, err := l.Timeline(id)
		if err != nil {
			t.Fatal(err)
		}
		b.Reset()
		replay.WriteTimeline(&b, steps)
		for _, want := range wants {
			if !strings.Contains(b.String(), want) {
				t.Errorf("timeline of %s lacks %q:\n%s", id, want, b.String())
			}
		}
	}
}

func TestTransfers(t *testing.T) {
	d := controlJournal(t)
	l := openPath(t, d.path)
	ts, err := l.Transfers(replay.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 3 {
		t.Fatalf("%d transfers", len(ts))
	}
	type view struct {
		id, kind, status, call, consult, newCall, by, kept, target string
		live                                                       bool
	}
	got := make([]view, len(ts))
	for i, tr := range ts {
		got[i] = view{tr.ID, tr.Kind.String(), string(tr.Status), tr.Call, tr.Consult, tr.NewCall,
			tr.Transferor.Client, tr.KeptParty.Client, tr.Target.Client, tr.Live}
	}
	want := []view{
		{d.blind, "blind", "completed", d.blindCall, "", d.blindNew, "bob", "alice", "carol", false},
		{d.attended, "attended", "completed", d.attCall, d.attConsult, d.attNew, "bob", "alice", "dave", false},
		{d.liveTransfer, "supervised", "consulting", d.liveCall, ts[2].Consult, ts[2].NewCall, "bob", "alice", "erin", true},
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("transfer %d: %+v\nwant        %+v", i, got[i], want[i])
		}
	}
	if ts[2].Deadline.IsZero() || !ts[0].EndedAt.Equal(dayStart.Add(5*time.Minute+32*time.Second)) {
		t.Errorf("deadline %v, ended %v", ts[2].Deadline, ts[0].EndedAt)
	}
	for _, tc := range []struct {
		name string
		f    replay.Filter
		want []string
	}{
		{"the target", replay.Filter{Client: "dave"}, []string{d.attended}},
		{"the transferring party", replay.Filter{Client: "bob"}, []string{d.blind, d.attended, d.liveTransfer}},
		{"since 09:10", replay.Filter{Since: dayStart.Add(10 * time.Minute)}, []string{d.attended, d.liveTransfer}},
		{"until 09:10", replay.Filter{Until: dayStart.Add(10 * time.Minute)}, []string{d.blind}},
		{"the destination as given", replay.Filter{Number: "105"}, []string{d.liveTransfer}},
		{"nobody", replay.Filter{Client: "zed"}, nil},
	} {
		ts, err := l.Transfers(tc.f)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, tr := range ts {
			ids = append(ids, tr.ID)
		}
		if !slices.Equal(ids, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, ids, tc.want)
		}
	}

	// At an instant: the transfers started by then, in their state then.
	s, err := l.At(dayStart.Add(10*time.Minute + 30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Transfers) != 2 || s.Transfers[1].Status != fsm.Answered || !s.Transfers[1].Live || s.Transfers[0].Live {
		t.Errorf("transfers at 09:10:30: %+v", s.Transfers)
	}
	var b bytes.Buffer
	replay.WriteSnapshot(&b, s)
	if !strings.Contains(b.String(), d.attended+"  2026-01-05T09:10:22.000Z  attended") {
		t.Errorf("snapshot lacks its transfers:\n%s", b.String())
	}
}

// The text of schema 2's events, on hand-made streams (healthy2): the
// timelines of a ring-all group call recorded, parked, unparked, merged and
// transferred to a number outside, and of the transit call it went on in;
// the transfer list.
func TestSchema2Golden(t *testing.T) {
	w := newWriter(t)
	healthy(w)
	healthy2(w)
	l := w.open()
	var b bytes.Buffer
	for _, id := range []string{"ring-all", "transit", "joined"} {
		steps, err := l.Timeline(id)
		if err != nil {
			t.Fatal(err)
		}
		if err := replay.WriteTimeline(&b, steps); err != nil {
			t.Fatal(err)
		}
		b.WriteString("\n")
	}
	golden(t, "schema2-timeline.golden", b.Bytes())
	ts, err := l.Transfers(replay.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	b.Reset()
	if err := replay.WriteTransfers(&b, ts); err != nil {
		t.Fatal(err)
	}
	golden(t, "schema2-transfers.golden", b.Bytes())
}
