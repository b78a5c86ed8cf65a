package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callengine/callengine/adapters/loopback"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
)

// histLines lists a client's history as one line per entry, times relative
// to the harness's start.
func (h *harness) histLines(client string, q engine.HistoryQuery) []string {
	h.t.Helper()
	entries, err := h.e.History(ctx, client, q)
	if err != nil {
		h.t.Fatalf("History(%s): %v", client, err)
	}
	var out []string
	for _, e := range entries {
		rel := func(t time.Time) string {
			if t.IsZero() {
				return "-"
			}
			return "+" + t.Sub(start).String()
		}
		s := fmt.Sprintf("%s %s %s other=%s/%s setup=%s answer=%s end=%s rang=%s talked=%s",
			e.Call, e.Kind, e.State, e.Other.Client, e.Other.Number, rel(e.SetupAt), rel(e.AnswerAt), rel(e.EndAt), e.RingDuration, e.TalkDuration)
		if e.Reason != events.NoReason {
			s += " reason=" + e.Reason.String()
		}
		if e.Voicemail {
			s += " voicemail"
		}
		out = append(out, s)
	}
	return out
}

func (h *harness) histExpect(client string, q engine.HistoryQuery, want ...string) {
	h.t.Helper()
	got := h.histLines(client, q)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		h.t.Fatalf("history of %s:\n got  %s\n want %s", client, strings.Join(got, "\n      "), strings.Join(want, "\n      "))
	}
}

// histWaitEnded waits until a call has ended (a timer ends it on its own).
func (h *harness) histWaitEnded(id string) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := h.e.Call(ctx, id)
		if err == nil && c.State == engine.Ended {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("call %s: %s (err %v), want ended", id, c.State, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// histCalls places the calls the history tests look at: Alice → Bob answered
// and hung up, Carol → Bob rejected, Alice → Bob given up, an outbound call,
// and Carol → Bob rung out.
func histCalls(t *testing.T, h *harness) []string {
	h.register("alice", "101", []string{"+14155550101"}, "alice-desk")
	h.register("bob", "102", []string{"+14155550102"}, "bob-desk", "bob-web")
	h.register("carol", "103", nil, "carol-desk")
	ok := must[engine.Call](t)
	var ids []string

	c := ok(h.e.Dial(ctx, engine.DialRequest{From: "alice", Device: "alice-desk", To: "102"}))
	ids = append(ids, c.ID)
	h.clock.Advance(3 * time.Second)
	ok(h.e.Answer(ctx, c.ID, "bob-web"))
	h.clock.Advance(10 * time.Second)
	ok(h.e.Hold(ctx, c.ID, engine.Callee))
	h.clock.Advance(10 * time.Second)
	ok(h.e.Resume(ctx, c.ID, engine.Callee))
	h.clock.Advance(40 * time.Second)
	ok(h.e.Hangup(ctx, c.ID, engine.Caller))

	h.clock.Advance(time.Minute)
	c = ok(h.e.Dial(ctx, engine.DialRequest{From: "carol", To: "102"}))
	ids = append(ids, c.ID)
	h.clock.Advance(2 * time.Second)
	ok(h.e.Reject(ctx, c.ID, false))

	h.clock.Advance(time.Minute)
	c = ok(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	ids = append(ids, c.ID)
	h.clock.Advance(5 * time.Second)
	ok(h.e.Hangup(ctx, c.ID, engine.Caller))

	h.clock.Advance(time.Minute)
	h.lb.Script("+33144556677", loopback.Behavior{Outcome: loopback.Manual})
	c = ok(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "+33144556677"}))
	ids = append(ids, c.ID)
	ok(h.e.FarRinging(ctx, c.ID))
	h.clock.Advance(4 * time.Second)
	ok(h.e.FarAnswered(ctx, c.ID))
	h.clock.Advance(30 * time.Second)
	ok(h.e.Hangup(ctx, c.ID, engine.Caller))

	h.clock.Advance(time.Minute)
	c = ok(h.e.Dial(ctx, engine.DialRequest{From: "carol", To: "102"}))
	ids = append(ids, c.ID)
	h.clock.Advance(30 * time.Second) // the ring timeout
	h.histWaitEnded(c.ID)
	return ids
}

func TestHistoryMadeReceivedMissed(t *testing.T) {
	h := newHarness(t)
	ids := histCalls(t, h)
	c1, c2, c3, c4, c5 := ids[0], ids[1], ids[2], ids[3], ids[4]

	// Newest first; read-your-writes: the last call's end is there at once.
	h.histExpect("bob", engine.HistoryQuery{},
		c5+" missed ended other=carol/103 setup=+5m44s answer=- end=+6m14s rang=30s talked=0s reason=missed",
		c3+" missed ended other=alice/+14155550101 setup=+3m5s answer=- end=+3m10s rang=5s talked=0s reason=missed",
		c2+" missed ended other=carol/103 setup=+2m3s answer=- end=+2m5s rang=2s talked=0s reason=rejected",
		c1+" received ended other=alice/+14155550101 setup=+0s answer=+3s end=+1m3s rang=3s talked=1m0s reason=hangup",
	)
	h.histExpect("alice", engine.HistoryQuery{},
		c4+" made ended other=/+33144556677 setup=+4m10s answer=+4m14s end=+4m44s rang=4s talked=30s reason=hangup",
		c3+" made ended other=bob/102 setup=+3m5s answer=- end=+3m10s rang=5s talked=0s reason=canceled",
		c1+" made ended other=bob/102 setup=+0s answer=+3s end=+1m3s rang=3s talked=1m0s reason=hangup",
	)
	// Filters.
	h.histExpect("bob", engine.HistoryQuery{Kinds: []engine.HistoryKind{engine.HistoryReceived}},
		c1+" received ended other=alice/+14155550101 setup=+0s answer=+3s end=+1m3s rang=3s talked=1m0s reason=hangup")
	h.histExpect("bob", engine.HistoryQuery{Reasons: []engine.Reason{events.Rejected}},
		c2+" missed ended other=carol/103 setup=+2m3s answer=- end=+2m5s rang=2s talked=0s reason=rejected")
	h.histExpect("alice", engine.HistoryQuery{Number: "44 55 66 77"},
		c4+" made ended other=/+33144556677 setup=+4m10s answer=+4m14s end=+4m44s rang=4s talked=30s reason=hangup")
	h.histExpect("bob", engine.HistoryQuery{From: start.Add(2 * time.Minute), To: start.Add(4 * time.Minute)},
		c3+" missed ended other=alice/+14155550101 setup=+3m5s answer=- end=+3m10s rang=5s talked=0s reason=missed",
		c2+" missed ended other=carol/103 setup=+2m3s answer=- end=+2m5s rang=2s talked=0s reason=rejected")
	// Paging.
	page := must[[]engine.HistoryEntry](t)(h.e.History(ctx, "bob", engine.HistoryQuery{Limit: 3}))
	next := must[[]engine.HistoryEntry](t)(h.e.History(ctx, "bob", engine.HistoryQuery{Limit: 3, Before: page[2].Cursor()}))
	if len(page) != 3 || len(next) != 1 || next[0].Call != c1 {
		t.Fatalf("pages of 3: %d then %v", len(page), next)
	}
	// Dave made, received and missed nothing.
	h.register("dave", "104", nil, "dave-desk")
	if got := h.histLines("dave", engine.HistoryQuery{}); len(got) != 0 {
		t.Fatalf("dave's history: %v", got)
	}
	// Bad queries.
	_, err := h.e.History(ctx, "", engine.HistoryQuery{})
	wantCode(t, err, errcode.MissingParameter)
	_, err = h.e.History(ctx, "bob", engine.HistoryQuery{Limit: 5000})
	wantCode(t, err, errcode.InvalidParams)
}

// A live call's entry follows it; its durations run to the engine's clock.
func TestHistoryLiveCall(t *testing.T) {
	h := newHarness(t)
	h.register("alice", "101", nil, "alice-desk")
	h.register("bob", "102", nil, "bob-desk")
	ok := must[engine.Call](t)
	c := ok(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	h.clock.Advance(2 * time.Second)
	h.histExpect("bob", engine.HistoryQuery{}, c.ID+" received ringing other=alice/101 setup=+0s answer=- end=- rang=2s talked=0s")
	ok(h.e.Answer(ctx, c.ID, "bob-desk"))
	h.clock.Advance(10 * time.Second)
	ok(h.e.Hold(ctx, c.ID, engine.Caller))
	h.clock.Advance(5 * time.Second)
	h.histExpect("alice", engine.HistoryQuery{}, c.ID+" made held other=bob/102 setup=+0s answer=+2s end=- rang=2s talked=15s")

	// Across a restart the live call's entry goes on.
	h.reopen()
	h.clock.Advance(5 * time.Second)
	ok(h.e.Hangup(ctx, c.ID, engine.Callee))
	h.histExpect("alice", engine.HistoryQuery{}, c.ID+" made ended other=bob/102 setup=+0s answer=+2s end=+22s rang=2s talked=20s reason=hangup")
}

// Close and Open: the history is the same — and the same again when its
// file is deleted and rebuilt from the journal.
func TestHistoryRestart(t *testing.T) {
	h := newHarness(t)
	histCalls(t, h)
	// A call still ringing when the engine closes.
	ringing := must[engine.Call](t)(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	snapshot := func() string {
		var b strings.Builder
		for _, c := range []string{"alice", "bob", "carol"} {
			b.WriteString(strings.Join(h.histLines(c, engine.HistoryQuery{}), "\n") + "\n")
		}
		return b.String()
	}
	before := snapshot()
	if !strings.Contains(before, ringing.ID+" received ringing") {
		t.Fatalf("the ringing call is not in bob's history:\n%s", before)
	}
	h.reopen()
	if got := snapshot(); got != before {
		t.Fatalf("history after restart:\n%s\nwant:\n%s", got, before)
	}

	// Delete the file: Open rebuilds it from the journal.
	if err := h.e.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(h.dir, "history.db")
	if err := os.Remove(path); err != nil {
		t.Fatalf("the history is not in the data directory: %v", err)
	}
	h.open()
	if got := snapshot(); got != before {
		t.Fatalf("history rebuilt from the journal:\n%s\nwant:\n%s", got, before)
	}
	// The call rang on through both restarts and now rings out.
	h.clock.Advance(30 * time.Second)
	h.histWaitEnded(ringing.ID)
	got := h.histLines("bob", engine.HistoryQuery{Limit: 1})
	if len(got) != 1 || !strings.HasPrefix(got[0], ringing.ID+" missed ended") {
		t.Fatalf("bob's latest entry %q, want the call that rang out, missed", got)
	}
}

// DeleteHistory refuses calls that are not in the client's history and
// journals nothing then; a delete takes calls out of that client's history
// only.
func TestDeleteHistory(t *testing.T) {
	h := newHarness(t)
	ids := histCalls(t, h)
	c1, c2 := ids[0], ids[1]
	seq := h.e.Journal().LastSeq()

	err := h.e.DeleteHistory(ctx, "bob", []string{c1, "no-such-call"})
	wantCode(t, err, errcode.NotFound)
	if !strings.Contains(err.Error(), "no-such-call") || strings.Contains(err.Error(), c1+",") {
		t.Errorf("error %q should name the missing call only", err)
	}
	wantCode(t, h.e.DeleteHistory(ctx, "alice", []string{c2}), errcode.NotFound) // Carol → Bob: not Alice's
	wantCode(t, h.e.DeleteHistory(ctx, "bob", nil), errcode.MissingParameter)
	wantCode(t, h.e.DeleteHistory(ctx, "", []string{c1}), errcode.MissingParameter)
	wantCode(t, h.e.DeleteHistory(ctx, "nobody", []string{c1}), errcode.NotFound)
	h.unchanged(seq)

	if err := h.e.DeleteHistory(ctx, "bob", []string{c1, c2}); err != nil {
		t.Fatal(err)
	}
	if got := h.e.Journal().LastSeq(); got != seq+1 {
		t.Fatalf("a delete journaled %d events, want 1 (HistoryDeleted)", got-seq)
	}
	for _, l := range h.histLines("bob", engine.HistoryQuery{}) {
		if strings.HasPrefix(l, c1+" ") || strings.HasPrefix(l, c2+" ") {
			t.Errorf("deleted call still listed: %s", l)
		}
	}
	if got := h.histLines("alice", engine.HistoryQuery{}); len(got) != 3 {
		t.Errorf("alice's history changed: %v", got)
	}
	// Deleted once, the call is not in the history: a second delete is
	// refused.
	wantCode(t, h.e.DeleteHistory(ctx, "bob", []string{c1}), errcode.NotFound)
	// The delete survives a restart.
	h.reopen()
	if got := h.histLines("bob", engine.HistoryQuery{}); len(got) != 2 {
		t.Errorf("bob's history after restart: %v", got)
	}
}

// Voicemail through the engine (C7): Bob's box takes the call he rejects;
// the message is new until he hears it.
func TestVoicemailBox(t *testing.T) {
	h := newHarness(t)
	h.register("alice", "101", []string{"+14155550101"}, "alice-desk")
	h.register("bob", "102", nil, "bob-desk")
	if _, err := h.e.SetVoicemail(ctx, "bob", true, time.Minute); err != nil {
		t.Fatal(err)
	}
	ok := must[engine.Call](t)
	c := ok(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	h.clock.Advance(2 * time.Second)
	ok(h.e.Reject(ctx, c.ID, false))
	h.clock.Advance(15 * time.Second)
	h.histExpect("bob", engine.HistoryQuery{}, c.ID+" missed voicemail other=alice/+14155550101 setup=+0s answer=- end=- rang=2s talked=0s")
	ok(h.e.Hangup(ctx, c.ID, engine.Caller))

	box, err := h.e.Voicemail(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if box.Counts != (engine.VoicemailCounts{New: 1, Total: 1}) || len(box.Messages) != 1 {
		t.Fatalf("box %+v", box)
	}
	m := box.Messages[0]
	if m.Call != c.ID || m.From.Client != "alice" || m.Duration != 15*time.Second || !m.At.Equal(start.Add(2*time.Second)) || !m.New {
		t.Fatalf("message %+v", m)
	}
	h.histExpect("bob", engine.HistoryQuery{}, c.ID+" missed ended other=alice/+14155550101 setup=+0s answer=- end=+17s rang=2s talked=0s reason=missed voicemail")
	h.histExpect("alice", engine.HistoryQuery{}, c.ID+" made ended other=bob/102 setup=+0s answer=- end=+17s rang=2s talked=0s reason=voicemail voicemail")

	seq := h.e.Journal().LastSeq()
	wantCode(t, h.e.MarkVoicemailHeard(ctx, "bob", []string{"no-such-call"}), errcode.NotFound)
	wantCode(t, h.e.MarkVoicemailHeard(ctx, "alice", []string{c.ID}), errcode.NotFound) // not in Alice's box
	wantCode(t, h.e.DeleteVoicemail(ctx, "bob", []string{c.ID, "x"}), errcode.NotFound)
	wantCode(t, h.e.DeleteVoicemail(ctx, "bob", nil), errcode.MissingParameter)
	h.unchanged(seq)

	if err := h.e.MarkVoicemailHeard(ctx, "bob", []string{c.ID}); err != nil {
		t.Fatal(err)
	}
	if box := must[engine.VoicemailBox](t)(h.e.Voicemail(ctx, "bob")); box.Counts != (engine.VoicemailCounts{New: 0, Total: 1}) {
		t.Fatalf("after heard: %+v", box.Counts)
	}
	h.reopen()
	if box := must[engine.VoicemailBox](t)(h.e.Voicemail(ctx, "bob")); box.Counts != (engine.VoicemailCounts{New: 0, Total: 1}) {
		t.Fatalf("after restart: %+v", box.Counts)
	}
	if err := h.e.DeleteVoicemail(ctx, "bob", []string{c.ID}); err != nil {
		t.Fatal(err)
	}
	if box := must[engine.VoicemailBox](t)(h.e.Voicemail(ctx, "bob")); box.Counts.Total != 0 || len(box.Messages) != 0 {
		t.Fatalf("after delete: %+v", box)
	}
	// The call stays in Bob's history.
	if got := h.histLines("bob", engine.HistoryQuery{}); len(got) != 1 {
		t.Fatalf("bob's history after the message was deleted: %v", got)
	}
}

// With Config.NoHistory there is no file and every history method says the
// history is off.
func TestHistoryOff(t *testing.T) {
	dir := t.TempDir()
	cfg := engine.Config{DataDir: dir, NoHistory: true}
	e, err := engine.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	_, err = e.History(ctx, "alice", engine.HistoryQuery{})
	wantCode(t, err, errcode.Unavailable)
	_, err = e.Voicemail(ctx, "alice")
	wantCode(t, err, errcode.Unavailable)
	wantCode(t, e.DeleteHistory(ctx, "alice", []string{"c1"}), errcode.Unavailable)
	wantCode(t, e.MarkVoicemailHeard(ctx, "alice", []string{"c1"}), errcode.Unavailable)
	wantCode(t, e.DeleteVoicemail(ctx, "alice", []string{"c1"}), errcode.Unavailable)
	if _, err := os.Stat(filepath.Join(dir, "history.db")); !os.IsNotExist(err) {
		t.Errorf("history.db with NoHistory: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = e.History(ctx, "alice", engine.HistoryQuery{})
	wantCode(t, err, errcode.Closed)
}

// After Close the history methods say so.
func TestHistoryAfterClose(t *testing.T) {
	h := newHarness(t)
	if err := h.e.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := h.e.History(ctx, "alice", engine.HistoryQuery{})
	wantCode(t, err, errcode.Closed)
	h.open() // for the cleanup's Close
}

// A ring-all group call and a parked call through the engine: the member
// that answers received it, the others missed it (answered by that member);
// the client that parks a call leaves it when another takes it.
func TestHistoryRingAllAndPark(t *testing.T) {
	h := newHarness(t)
	h.register("alice", "101", nil, "alice-desk")
	h.register("bob", "102", nil, "bob-desk")
	h.register("carol", "103", nil, "carol-desk")
	h.register("dave", "104", nil, "dave-desk")
	must[engine.Group](t)(h.e.DefineGroup(ctx, engine.GroupSpec{ID: "sales", Extensions: []string{"200"}, Members: []string{"bob", "carol"}}))
	ok := must[engine.Call](t)

	c := ok(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "200"}))
	h.clock.Advance(5 * time.Second)
	ok(h.e.Answer(ctx, c.ID, "carol/carol-desk"))
	h.clock.Advance(20 * time.Second)
	// Carol parks Alice; Dave takes the call from the slot.
	p := ok(h.e.Park(ctx, c.ID, engine.Callee, ""))
	h.clock.Advance(10 * time.Second)
	ok(h.e.Unpark(ctx, c.ID, "dave", "dave-desk"))
	h.clock.Advance(30 * time.Second)
	ok(h.e.Hangup(ctx, c.ID, engine.Caller))

	entry := func(client string) engine.HistoryEntry {
		t.Helper()
		es := must[[]engine.HistoryEntry](t)(h.e.History(ctx, client, engine.HistoryQuery{}))
		if len(es) != 1 || es[0].Call != c.ID {
			t.Fatalf("%s's history: %+v", client, es)
		}
		return es[0]
	}
	h.histExpect("alice", engine.HistoryQuery{}, c.ID+" made ended other=dave/104 setup=+0s answer=+5s end=+1m5s rang=5s talked=1m0s reason=hangup")
	h.histExpect("bob", engine.HistoryQuery{}, c.ID+" missed ended other=alice/101 setup=+0s answer=- end=+5s rang=5s talked=0s reason=missed")
	if b := entry("bob"); b.AnsweredBy != "carol" || b.Group != "sales" {
		t.Errorf("bob's entry: answered by %q, group %q", b.AnsweredBy, b.Group)
	}
	h.histExpect("carol", engine.HistoryQuery{}, c.ID+" received ended other=alice/101 setup=+0s answer=+5s end=+35s rang=5s talked=30s reason=transferred")
	h.histExpect("dave", engine.HistoryQuery{}, c.ID+" received ended other=alice/101 setup=+0s answer=+35s end=+1m5s rang=0s talked=30s reason=hangup")
	if p.ParkSlot == "" {
		t.Errorf("park slot: %+v", p)
	}
}
