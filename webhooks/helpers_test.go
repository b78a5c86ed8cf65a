package webhooks_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/journal"
	"github.com/callengine/callengine/webhooks"
)

var (
	bg    = context.Background()
	t0    = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	alice = events.Party{Client: "alice", Number: "+14155550101", Name: "Alice"}
	bob   = events.Party{Client: "bob", Number: "102", Name: "Bob"}
)

// eventLog is a real journal in a temp dir and the version of each stream, to
// append events as the engine does.
type eventLog struct {
	t        testing.TB
	j        *journal.Journal
	path     string
	versions map[string]uint64
}

func newLog(t testing.TB) *eventLog {
	t.Helper()
	l := &eventLog{t: t, path: filepath.Join(t.TempDir(), "journal.db"), versions: map[string]uint64{}}
	l.open()
	t.Cleanup(func() { _ = l.j.Close() })
	return l
}

func (l *eventLog) open() {
	l.t.Helper()
	j, err := journal.Open(l.path, journal.Options{})
	if err != nil {
		l.t.Fatalf("journal.Open: %v", err)
	}
	l.j = j
}

// add appends events to stream (in one append) at time at and returns the
// sequence number of the first.
func (l *eventLog) add(stream string, at time.Time, evs ...events.Event) uint64 {
	l.t.Helper()
	recs := make([][]byte, len(evs))
	for i, ev := range evs {
		recs[i] = events.EncodeBody(nil, at.UnixNano(), ev)
	}
	seq, err := l.j.Append(bg, stream, l.versions[stream], recs, false)
	if err != nil {
		l.t.Fatalf("append %s: %v", stream, err)
	}
	l.versions[stream] += uint64(len(evs))
	return seq
}

// call appends a whole call: dialed, ringing, answered, ended.
func (l *eventLog) call(id string, at time.Time) {
	l.t.Helper()
	s := "call/" + id
	l.add(s, at, events.CallDialed{Caller: alice, Callee: bob, Destination: "102", Direction: events.Internal},
		events.CallRinging{Devices: []string{"bob-desk"}})
	l.add(s, at.Add(2*time.Second), events.CallAnswered{Device: "bob-desk"})
	l.add(s, at.Add(62*time.Second), events.CallEnded{Reason: events.Hangup, By: events.Caller})
}

// request is one request a receiver got.
type request struct {
	d      webhooks.Delivery
	body   []byte
	header http.Header
	status int // what the receiver answered
}

// receiver is an HTTP server on loopback that records every request and
// answers with what respond says (200 when respond is nil). Verify checks
// each signature against now().
type receiver struct {
	t       testing.TB
	srv     *httptest.Server
	secret  []byte
	now     func() time.Time
	respond func(w http.ResponseWriter, req *http.Request, n int, d webhooks.Delivery) int // n counts requests from 0

	mu   sync.Mutex
	reqs []request
	bad  []string // requests that failed verification
}

func newReceiver(t testing.TB, secret string, now func() time.Time) *receiver {
	r := &receiver{t: t, secret: []byte(secret), now: now}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	var d webhooks.Delivery
	err := webhooks.Verify(r.secret, req.Header.Get(webhooks.HeaderTimestamp), req.Header.Get(webhooks.HeaderSignature), body, r.now(), 5*time.Minute)
	if err == nil {
		err = json.Unmarshal(body, &d)
	}
	r.mu.Lock()
	n := len(r.reqs)
	if err != nil || req.Header.Get(webhooks.HeaderEventID) != d.ID || req.Method != http.MethodPost ||
		req.Header.Get("Content-Type") != "application/json" {
		r.bad = append(r.bad, strconv.Itoa(n)+": "+req.Method+" "+string(body)+" "+errString(err))
	}
	r.reqs = append(r.reqs, request{d: d, body: body, header: req.Header.Clone()})
	respond := r.respond
	r.mu.Unlock()
	status := http.StatusOK
	if respond != nil {
		status = respond(w, req, n, d)
	}
	r.mu.Lock()
	r.reqs[n].status = status
	r.mu.Unlock()
	w.WriteHeader(status)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (r *receiver) endpoint(kinds ...string) webhooks.Endpoint {
	return webhooks.Endpoint{URL: r.srv.URL + "/hook", Secret: r.secret, Events: kinds}
}

// requests returns what the receiver got so far.
func (r *receiver) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.bad) > 0 {
		r.t.Errorf("requests failed verification: %q", r.bad)
	}
	return append([]request(nil), r.reqs...)
}

// delivered returns the deliveries the receiver answered with a 2xx, in
// order.
func (r *receiver) delivered() []webhooks.Delivery {
	var out []webhooks.Delivery
	for _, q := range r.requests() {
		if q.status >= 200 && q.status < 300 {
			out = append(out, q.d)
		}
	}
	return out
}

// waitRequests waits until the receiver got n requests.
func (r *receiver) waitRequests(n int) []request {
	r.t.Helper()
	eventually(r.t, func() bool { return len(r.requests()) >= n }, "%d requests", n)
	return r.requests()
}

// eventually polls cond for up to 10 s.
func eventually(t testing.TB, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for "+format, args...)
		}
		time.Sleep(time.Millisecond)
	}
}

// advanceWhenWaiting waits until the only pending timer of clk is due in d,
// then advances clk by d: it checks a backoff wait's length.
func advanceWhenWaiting(t testing.TB, clk *clock.Virtual, d time.Duration) {
	t.Helper()
	eventually(t, func() bool {
		due, ok := clk.NextDue()
		return ok && clk.Pending() == 1 && due.Equal(clk.Now().Add(d))
	}, "a timer due in %v (pending %d)", d, clk.Pending())
	clk.Advance(d)
}

func start(t testing.TB, j *journal.Journal, opts webhooks.Options, eps ...webhooks.Endpoint) *webhooks.Dispatcher {
	t.Helper()
	d, err := webhooks.Start(j, eps, opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func stats(d *webhooks.Dispatcher, i int) webhooks.EndpointStats { return d.Stats()[i] }
