package webhooks_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/webhooks"
)

func ids(ds []webhooks.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID + " " + d.Kind
	}
	return out
}

func TestDeliveriesInJournalOrder(t *testing.T) {
	l := newLog(t)
	clk := clock.NewVirtual(t0)
	l.add("client/alice", t0, events.ClientRegistered{Name: "Alice"})
	l.call("old", t0) // before Start: a new endpoint does not receive the history

	all := newReceiver(t, "secret-of-all", clk.Now)
	some := newReceiver(t, "secret-of-some", clk.Now)
	statePath := filepath.Join(t.TempDir(), "webhooks.json")
	d := start(t, l.j, webhooks.Options{Clock: clk, StatePath: statePath},
		all.endpoint(), some.endpoint(webhooks.KindCallEnded, webhooks.KindVoicemailLeft))

	at := t0.Add(time.Hour)
	l.call("c1", at)
	l.add("message/m1", at, events.MessageSent{From: alice, To: "+33612345678", Text: "on my way"})
	l.add("message/m1", at, events.MessageDelivered{})
	l.add("call/c2", at, events.CallDialed{Caller: alice, Callee: bob, Destination: "102"},
		events.CallToVoicemail{Reason: events.NoAnswer, Deadline: at.Add(2 * time.Minute).UnixNano()})
	l.add("call/c2", at.Add(40*time.Second), events.VoicemailLeft{Client: "bob", From: alice, Duration: int64(12 * time.Second)},
		events.CallEnded{Reason: events.Voicemail, By: events.Caller})
	l.add("message/m2", at, events.MessageSent{From: alice, To: "+33600000000", Text: "hello"})
	l.add("message/m2", at, events.MessageFailed{Reason: "unreachable"})
	last := l.j.LastSeq()

	want := []string{
		"call/c1@1 call.created", "call/c1@4 call.ended",
		"message/m1@1 message.sent", "message/m1@2 message.delivered",
		"call/c2@1 call.created", "call/c2@3 voicemail.left", "call/c2@4 call.ended",
		"message/m2@1 message.sent", "message/m2@2 message.failed",
	}
	all.waitRequests(len(want))
	some.waitRequests(3)
	eventually(t, func() bool { return stats(d, 0).Lag == 0 && stats(d, 1).Lag == 0 }, "no lag")
	if got := ids(all.delivered()); !slices.Equal(got, want) {
		t.Fatalf("all kinds:\n got  %q\n want %q", got, want)
	}
	if got := ids(some.delivered()); !slices.Equal(got, []string{"call/c1@4 call.ended", "call/c2@3 voicemail.left", "call/c2@4 call.ended"}) {
		t.Fatalf("call.ended and voicemail.left: %q", got)
	}

	reqs := all.requests()
	var prev uint64
	for _, q := range reqs {
		if q.d.Seq <= prev || q.d.Seq > last {
			t.Fatalf("seq %d after %d (last %d)", q.d.Seq, prev, last)
		}
		prev = q.d.Seq
		if ts := q.header.Get(webhooks.HeaderTimestamp); ts != strconv.FormatInt(t0.Unix(), 10) {
			t.Fatalf("timestamp %s, want the clock's", ts)
		}
		if a := q.header.Get(webhooks.HeaderAttempt); a != "1" {
			t.Fatalf("attempt %s", a)
		}
		// A body signed with another secret does not verify.
		if err := webhooks.Verify([]byte("secret-of-some"), q.header.Get(webhooks.HeaderTimestamp), q.header.Get(webhooks.HeaderSignature), q.body, t0, time.Minute); errcode.CodeOf(err) != errcode.InvalidToken {
			t.Fatalf("verified with the wrong secret: %v", err)
		}
	}
	first := reqs[0].d
	if first.Type != "CallDialed" || first.Stream != "call/c1" || !first.Time.Equal(at) {
		t.Fatalf("first delivery %+v", first)
	}
	var dialed events.CallDialed
	if err := json.Unmarshal(first.Data, &dialed); err != nil || dialed.Caller != alice || dialed.Callee != bob {
		t.Fatalf("call.created data %s: %v", first.Data, err)
	}
	vm := reqs[5].d
	var left events.VoicemailLeft
	if err := json.Unmarshal(vm.Data, &left); err != nil || left.Client != "bob" || left.Duration != int64(12*time.Second) || !vm.Time.Equal(at.Add(40*time.Second)) {
		t.Fatalf("voicemail.left %+v %s: %v", vm, vm.Data, err)
	}
	if !strings.Contains(string(reqs[8].body), `"data":{"reason":"unreachable"}`) {
		t.Fatalf("message.failed body %s", reqs[8].body)
	}
	// The outcome of a text message carries the message it is about.
	if m := reqs[8].d.Message; m == nil || m.Text == "" || m.From.Client == "" {
		t.Fatalf("message.failed without its message: %s", reqs[8].body)
	}
	// Exact layout of a body.
	wantBody := fmt.Sprintf(`{"id":"message/m1@2","kind":"message.delivered","seq":%d,"time":"2026-01-05T10:00:00Z","stream":"message/m1","type":"MessageDelivered","data":{},"message":{"id":"m1","from":{"client":"alice","number":"+14155550101","name":"Alice"},"to":"+33612345678","text":"on my way"}}`, reqs[3].d.Seq)
	if string(reqs[3].body) != wantBody {
		t.Fatalf("body\n got  %s\n want %s", reqs[3].body, wantBody)
	}

	s := d.Stats()
	if s[0].Delivered != 9 || s[0].Retried != 0 || s[0].Dead != 0 || s[0].Cursor != last || s[0].ID != all.endpoint().URL {
		t.Fatalf("stats of all: %+v", s[0])
	}
	if s[1].Delivered != 3 || s[1].Cursor != last {
		t.Fatalf("stats of some: %+v", s[1])
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	var st struct {
		Version int
		Cursors map[string]uint64
	}
	b, _ := os.ReadFile(statePath)
	if err := json.Unmarshal(b, &st); err != nil || st.Cursors[all.endpoint().URL] != last || st.Cursors[some.endpoint().URL] != last {
		t.Fatalf("state file %s: %v", b, err)
	}
}

func TestRetriedWithBackoff(t *testing.T) {
	l := newLog(t)
	clk := clock.NewVirtual(t0)
	r := newReceiver(t, "k", clk.Now)
	r.respond = func(w http.ResponseWriter, _ *http.Request, n int, _ webhooks.Delivery) int {
		switch n {
		case 0, 1:
			return http.StatusInternalServerError
		case 3:
			w.Header().Set("Retry-After", "7")
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}
	d := start(t, l.j, webhooks.Options{Clock: clk, Timeout: 30 * time.Second}, r.endpoint())

	l.add("call/c1", t0, events.CallDialed{Caller: alice, Callee: bob})
	r.waitRequests(1)
	advanceWhenWaiting(t, clk, time.Second) // after the first failure: MinBackoff
	r.waitRequests(2)
	advanceWhenWaiting(t, clk, 2*time.Second) // then twice as long
	reqs := r.waitRequests(3)
	eventually(t, func() bool { return stats(d, 0).Delivered == 1 }, "delivered")

	for i, q := range reqs {
		if q.d.ID != "call/c1@1" || !bytes.Equal(q.body, reqs[0].body) {
			t.Fatalf("try %d: %s, want the same body every time", i+1, q.body)
		}
		if a := q.header.Get(webhooks.HeaderAttempt); a != strconv.Itoa(i+1) {
			t.Fatalf("try %d: attempt header %s", i+1, a)
		}
	}
	// Each try is signed when it is sent.
	if ts := reqs[2].header.Get(webhooks.HeaderTimestamp); ts != strconv.FormatInt(t0.Add(3*time.Second).Unix(), 10) {
		t.Fatalf("third try stamped %s", ts)
	}
	// At least once: the receiver saw the event three times, and answered
	// 2xx once; it keeps one per id.
	if got := ids(r.delivered()); !slices.Equal(got, []string{"call/c1@1 call.created"}) {
		t.Fatalf("delivered %q", got)
	}
	s := stats(d, 0)
	if s.Delivered != 1 || s.Retried != 2 || s.Dead != 0 || s.Lag != 0 || !strings.Contains(s.LastError, "call/c1@1: status 500") {
		t.Fatalf("stats %+v", s)
	}

	// A Retry-After longer than the backoff is honoured.
	l.add("call/c1", t0, events.CallEnded{Reason: events.Hangup, By: events.Callee})
	r.waitRequests(4)
	advanceWhenWaiting(t, clk, 7*time.Second)
	r.waitRequests(5)
	eventually(t, func() bool { return stats(d, 0).Delivered == 2 }, "second event delivered")
	if s := stats(d, 0); s.Retried != 3 {
		t.Fatalf("stats %+v", s)
	}
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestDeadAfterLastTry(t *testing.T) {
	l := newLog(t)
	clk := clock.NewVirtual(t0)
	var logs syncBuffer
	r := newReceiver(t, "k", clk.Now)
	r.respond = func(_ http.ResponseWriter, _ *http.Request, _ int, d webhooks.Delivery) int {
		if d.Kind == webhooks.KindCallCreated {
			return http.StatusBadRequest // this receiver never takes it
		}
		return http.StatusNoContent
	}
	d := start(t, l.j, webhooks.Options{
		Clock: clk, MaxAttempts: 3, MinBackoff: time.Second, MaxBackoff: 1500 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}, r.endpoint())

	l.call("c1", t0)
	r.waitRequests(1)
	advanceWhenWaiting(t, clk, time.Second)
	r.waitRequests(2)
	advanceWhenWaiting(t, clk, 1500*time.Millisecond) // capped by MaxBackoff
	r.waitRequests(4)                                 // the third try, then the next event
	eventually(t, func() bool { return stats(d, 0).Lag == 0 }, "caught up")

	if got := ids(r.delivered()); !slices.Equal(got, []string{"call/c1@4 call.ended"}) {
		t.Fatalf("delivered %q", got)
	}
	if n := len(r.requests()); n != 4 {
		t.Fatalf("%d requests, want 3 tries and 1", n)
	}
	if s := stats(d, 0); s.Delivered != 1 || s.Dead != 1 || s.Retried != 2 {
		t.Fatalf("stats %+v", s)
	}
	if out := logs.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "id=call/c1@1") || !strings.Contains(out, "attempts=3") {
		t.Fatalf("log:\n%s", out)
	}
}

func TestTimeoutIsAFailedTry(t *testing.T) {
	l := newLog(t)
	clk := clock.NewVirtual(t0)
	r := newReceiver(t, "k", clk.Now)
	r.respond = func(_ http.ResponseWriter, req *http.Request, n int, _ webhooks.Delivery) int {
		if n == 0 {
			<-req.Context().Done() // never answers; the client gives up
		}
		return http.StatusOK
	}
	d := start(t, l.j, webhooks.Options{Clock: clk, Timeout: 5 * time.Second}, r.endpoint())
	l.add("call/c1", t0, events.CallDialed{Caller: alice, Callee: bob})
	r.waitRequests(1)
	advanceWhenWaiting(t, clk, 5*time.Second) // the request's timeout, on the clock
	advanceWhenWaiting(t, clk, time.Second)   // the backoff
	r.waitRequests(2)
	eventually(t, func() bool { return stats(d, 0).Delivered == 1 }, "delivered")
	if s := stats(d, 0); s.Retried != 1 || !strings.Contains(s.LastError, "no answer within 5s") {
		t.Fatalf("stats %+v", s)
	}
}

func TestSlowEndpointHoldsOnlyItself(t *testing.T) {
	l := newLog(t)
	release := make(chan struct{})
	slow := newReceiver(t, "k", time.Now)
	slow.respond = func(_ http.ResponseWriter, req *http.Request, _ int, _ webhooks.Delivery) int {
		select {
		case <-release:
		case <-req.Context().Done():
		}
		return http.StatusOK
	}
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}) // before the server closes
	fast := newReceiver(t, "k", time.Now)
	d := start(t, l.j, webhooks.Options{}, slow.endpoint(), fast.endpoint())

	const calls = 30
	began := time.Now()
	for i := range calls {
		l.call(fmt.Sprintf("c%d", i), t0)
	}
	appended := time.Since(began)
	fast.waitRequests(2 * calls)
	eventually(t, func() bool { return stats(d, 1).Lag == 0 }, "fast endpoint caught up")
	if n := len(slow.requests()); n != 1 {
		t.Fatalf("slow endpoint got %d requests while its first hangs", n)
	}
	if s := d.Stats(); s[0].Lag == 0 || s[1].Lag != 0 {
		t.Fatalf("stats %+v", s)
	}
	t.Logf("%d calls journaled in %v while an endpoint hangs", calls, appended)
	close(release)
	slow.waitRequests(2 * calls)
	eventually(t, func() bool { return stats(d, 0).Lag == 0 }, "slow endpoint caught up")
	if got, want := ids(slow.delivered()), ids(fast.delivered()); !slices.Equal(got, want) {
		t.Fatalf("slow got %d, fast %d", len(got), len(want))
	}
}

func TestCloseCancelsRequestInFlightAndRestartResends(t *testing.T) {
	l := newLog(t)
	statePath := filepath.Join(t.TempDir(), "webhooks.json")
	r := newReceiver(t, "k", time.Now)
	r.respond = func(_ http.ResponseWriter, req *http.Request, n int, _ webhooks.Delivery) int {
		if n == 1 {
			<-req.Context().Done() // the second event's first try hangs until the client cancels
			return 499             // what nginx logs for a client that went away
		}
		return http.StatusOK
	}
	opts := webhooks.Options{StatePath: statePath}
	d, err := webhooks.Start(l.j, []webhooks.Endpoint{r.endpoint()}, opts)
	if err != nil {
		t.Fatal(err)
	}
	l.call("c1", t0) // call.created delivered, call.ended hangs
	r.waitRequests(2)
	began := time.Now()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 2*time.Second {
		t.Fatalf("Close took %v with a request in flight", took)
	}
	if err := d.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
	l.call("c2", t0) // while no dispatcher runs

	d = start(t, l.j, opts, r.endpoint())
	r.waitRequests(5)
	eventually(t, func() bool { return stats(d, 0).Lag == 0 }, "caught up")
	got := ids(r.delivered())
	want := []string{"call/c1@1 call.created", "call/c1@4 call.ended", "call/c2@1 call.created", "call/c2@4 call.ended"}
	// The receiver saw call/c1@4 twice (its first try was cut off): at least
	// once, never lost, and de-duplicated by id.
	if n := len(r.requests()); n != 5 || r.requests()[1].d.ID != "call/c1@4" || r.requests()[2].d.ID != "call/c1@4" {
		t.Fatalf("requests: %d", n)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("delivered\n got  %q\n want %q", got, want)
	}
}

func TestEndpointsJoinAndLeave(t *testing.T) {
	l := newLog(t)
	statePath := filepath.Join(t.TempDir(), "webhooks.json")
	a := newReceiver(t, "a", time.Now)
	b := newReceiver(t, "b", time.Now)
	opts := webhooks.Options{StatePath: statePath}
	d := start(t, l.j, opts, a.endpoint())
	l.call("c1", t0)
	a.waitRequests(2)
	eventually(t, func() bool { return stats(d, 0).Lag == 0 }, "caught up")
	d.Close()

	l.call("c2", t0) // a is behind by these; b did not exist yet
	epB := b.endpoint()
	epB.ID = "b"
	d = start(t, l.j, opts, a.endpoint(), epB)
	l.call("c3", t0)
	a.waitRequests(6)
	b.waitRequests(2)
	eventually(t, func() bool { return stats(d, 0).Lag == 0 && stats(d, 1).Lag == 0 }, "caught up")
	if got := ids(b.delivered()); !slices.Equal(got, []string{"call/c3@1 call.created", "call/c3@4 call.ended"}) {
		t.Fatalf("new endpoint got %q, want only what came after it joined", got)
	}
	if n := len(a.delivered()); n != 6 {
		t.Fatalf("old endpoint got %d, want 6", n)
	}
	d.Close()

	// a leaves: its cursor is dropped from the state file.
	d = start(t, l.j, opts, epB)
	d.Close()
	raw, _ := os.ReadFile(statePath)
	if strings.Contains(string(raw), a.endpoint().URL) || !strings.Contains(string(raw), `"b": `+strconv.FormatUint(l.j.LastSeq(), 10)) {
		t.Fatalf("state file:\n%s", raw)
	}
}

func TestCursorBeyondJournalRestartsAtItsEnd(t *testing.T) {
	l := newLog(t)
	l.call("c1", t0)
	statePath := filepath.Join(t.TempDir(), "webhooks.json")
	r := newReceiver(t, "k", time.Now)
	// The state of a journal that had 1000 events; this one (an older
	// backup) has 4.
	state := fmt.Sprintf(`{"version":1,"cursors":{%q:1000}}`, r.endpoint().URL)
	if err := os.WriteFile(statePath, []byte(state), 0o600); err != nil {
		t.Fatal(err)
	}
	d := start(t, l.j, webhooks.Options{StatePath: statePath}, r.endpoint())
	if s := stats(d, 0); s.Cursor != 4 || s.Lag != 0 {
		t.Fatalf("stats %+v", s)
	}
	l.call("c2", t0)
	r.waitRequests(2)
	if got := ids(r.delivered()); !slices.Equal(got, []string{"call/c2@1 call.created", "call/c2@4 call.ended"}) {
		t.Fatalf("delivered %q", got)
	}
}

// TestStateFileNeverAheadOfDeliveries reads the state file while events are
// delivered: every event at or below the cursor it holds was answered 2xx —
// so a crash at any moment loses nothing.
func TestStateFileNeverAheadOfDeliveries(t *testing.T) {
	l := newLog(t)
	statePath := filepath.Join(t.TempDir(), "webhooks.json")
	r := newReceiver(t, "k", time.Now)
	d := start(t, l.j, webhooks.Options{StatePath: statePath}, r.endpoint(webhooks.KindCallCreated, webhooks.KindCallEnded))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 60 {
			l.call(fmt.Sprintf("c%d", i), t0)
		}
	}()
	checks := 0
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		raw, err := os.ReadFile(statePath)
		if err != nil {
			t.Fatal(err)
		}
		var st struct{ Cursors map[string]uint64 }
		if err := json.Unmarshal(raw, &st); err != nil {
			t.Fatalf("state file torn: %s: %v", raw, err)
		}
		cursor := st.Cursors[r.endpoint().URL]
		acked := map[uint64]bool{}
		for _, dl := range r.delivered() {
			acked[dl.Seq] = true
		}
		// Each call is 4 events; call.created is its 1st, call.ended its 4th.
		for seq := uint64(1); seq <= cursor; seq++ {
			if (seq%4 == 1 || seq%4 == 0) && !acked[seq] {
				t.Fatalf("state file cursor %d, but event #%d was not delivered", cursor, seq)
			}
		}
		checks++
	}
	r.waitRequests(120)
	eventually(t, func() bool { return stats(d, 0).Lag == 0 }, "caught up")
	t.Logf("%d reads of the state file", checks)
}

func TestStartRefuses(t *testing.T) {
	l := newLog(t)
	good := webhooks.Endpoint{URL: "http://127.0.0.1:1/hook", Secret: []byte("k")}
	if _, err := webhooks.Start(nil, []webhooks.Endpoint{good}, webhooks.Options{}); errcode.CodeOf(err) != errcode.InvalidParams {
		t.Fatalf("no journal: %v", err)
	}
	bad := good
	bad.Events = []string{"call.answered"}
	if _, err := webhooks.Start(l.j, []webhooks.Endpoint{bad}, webhooks.Options{}); errcode.CodeOf(err) != errcode.InvalidParams {
		t.Fatalf("unknown kind: %v", err)
	}
	statePath := filepath.Join(t.TempDir(), "webhooks.json")
	for _, content := range []string{"{not json", `{"version":99,"cursors":{}}`} {
		if err := os.WriteFile(statePath, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := webhooks.Start(l.j, []webhooks.Endpoint{good}, webhooks.Options{StatePath: statePath})
		if errcode.CodeOf(err) != errcode.Unavailable {
			t.Fatalf("state file %q: %v", content, err)
		}
	}
}

func TestCredentialsInTheURLStayOutOfLogs(t *testing.T) {
	l := newLog(t)
	clk := clock.NewVirtual(t0)
	var logs syncBuffer
	d := start(t, l.j, webhooks.Options{Clock: clk, Logger: slog.New(slog.NewTextHandler(&logs, nil))},
		webhooks.Endpoint{URL: "http://user:hunter2@127.0.0.1:1/hook?token=s3cr3t", Secret: []byte("k")})
	l.call("c1", t0)
	eventually(t, func() bool { return strings.Contains(logs.String(), "retrying") }, "a failed try logged")
	out := logs.String() + stats(d, 0).LastError
	if strings.Contains(out, "hunter2") || strings.Contains(out, "s3cr3t") || !strings.Contains(out, "endpoint=") {
		t.Fatalf("logs and stats:\n%s", out)
	}
	t.Log(out)
}
