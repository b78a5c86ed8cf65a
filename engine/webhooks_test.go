package engine_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/callengine/callengine/adapters/loopback"
	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/ids"
	"github.com/callengine/callengine/journal"
	"github.com/callengine/callengine/webhooks"
)

// hookRequest is one request a hookReceiver got.
type hookRequest struct {
	d      webhooks.Delivery
	status int // what the receiver answered; 499 when the client went away first
}

// hookReceiver is an HTTP server on loopback that verifies each request's
// signature against now() and records it. respond picks the answer (200
// when nil); it may block, watching the request's context.
type hookReceiver struct {
	t       testing.TB
	srv     *httptest.Server
	secret  []byte
	now     func() time.Time
	respond func(req *http.Request, n int, d webhooks.Delivery) int

	mu   sync.Mutex
	reqs []hookRequest
	bad  []string
}

func newHookReceiver(t testing.TB, secret string, now func() time.Time) *hookReceiver {
	t.Helper()
	return newHookReceiverAt(t, "127.0.0.1:0", secret, now)
}

// newHookReceiverAt starts a receiver listening at addr.
func newHookReceiverAt(t testing.TB, addr, secret string, now func() time.Time) *hookReceiver {
	t.Helper()
	r := &hookReceiver{t: t, secret: []byte(secret), now: now}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	r.srv = httptest.NewUnstartedServer(r)
	r.srv.Listener.Close()
	r.srv.Listener = l
	r.srv.Start()
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	var d webhooks.Delivery
	err := webhooks.Verify(r.secret, req.Header.Get(webhooks.HeaderTimestamp), req.Header.Get(webhooks.HeaderSignature), body, r.now(), 5*time.Minute)
	if err == nil {
		err = json.Unmarshal(body, &d)
	}
	r.mu.Lock()
	n := len(r.reqs)
	if err != nil || d.ID != req.Header.Get(webhooks.HeaderEventID) {
		r.bad = append(r.bad, fmt.Sprintf("%s: %v", body, err))
	}
	r.reqs = append(r.reqs, hookRequest{d: d})
	respond := r.respond
	r.mu.Unlock()
	status := http.StatusOK
	if respond != nil {
		status = respond(req, n, d)
	}
	if req.Context().Err() != nil {
		status = 499 // the engine gave up on this try: not an answer it saw
	}
	r.mu.Lock()
	r.reqs[n].status = status
	r.mu.Unlock()
	w.WriteHeader(status)
}

func (r *hookReceiver) endpoint(kinds ...string) webhooks.Endpoint {
	return webhooks.Endpoint{URL: r.srv.URL + "/hooks/callengine", Secret: r.secret, Events: kinds}
}

func (r *hookReceiver) requests() []hookRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.bad) > 0 {
		r.t.Errorf("requests that do not verify: %q", r.bad)
	}
	return append([]hookRequest(nil), r.reqs...)
}

// delivered returns "<id> <kind>" of each request answered 2xx, in order.
func (r *hookReceiver) delivered() []string {
	var out []string
	for _, q := range r.requests() {
		if q.status >= 200 && q.status < 300 {
			out = append(out, q.d.ID+" "+q.d.Kind)
		}
	}
	return out
}

func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// caughtUp reports whether every endpoint of e has no lag.
func caughtUp(e *engine.Engine) bool {
	for _, s := range e.WebhookStats() {
		if s.Lag > 0 {
			return false
		}
	}
	return true
}

// hookEngine opens engines on one data dir with webhooks.
type hookEngine struct {
	t   *testing.T
	cfg engine.Config
	e   *engine.Engine
}

func newHookEngine(t *testing.T, clk clock.Clock, eps ...webhooks.Endpoint) *hookEngine {
	t.Helper()
	h := &hookEngine{t: t, cfg: engine.Config{
		DataDir: t.TempDir(), Clock: clk, IDs: &ids.Sequence{Prefix: "c"}, RingTimeout: 30 * time.Second,
		Webhooks: eps,
		// The state file's save timer, on the virtual clock, stays out of
		// the way of the backoff timers the tests look for.
		WebhookOptions: webhooks.Options{SaveInterval: time.Hour},
	}}
	h.open()
	t.Cleanup(func() { h.e.Close() })
	return h
}

func (h *hookEngine) open() {
	h.t.Helper()
	e, err := engine.Open(ctx, h.cfg)
	if err != nil {
		h.t.Fatalf("Open: %v", err)
	}
	h.e = e
}

func (h *hookEngine) register(ids ...string) {
	h.t.Helper()
	for i, id := range ids {
		spec := engine.ClientSpec{ID: id, Name: id, Extensions: []string{fmt.Sprintf("%d", 101+i)},
			Devices: []engine.Device{{ID: id + "-desk", Kind: "loopback"}}}
		if _, err := h.e.RegisterClient(ctx, spec); err != nil {
			h.t.Fatalf("register %s: %v", id, err)
		}
	}
}

// call places a call from alice to bob (extension 102), answers it and
// hangs it up, and returns its id.
func (h *hookEngine) call() string {
	h.t.Helper()
	ok := must[engine.Call](h.t)
	c := ok(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	ok(h.e.Answer(ctx, c.ID, "bob-desk"))
	ok(h.e.Hangup(ctx, c.ID, engine.Callee))
	return c.ID
}

func TestWebhookDeliveriesFromTheEngine(t *testing.T) {
	clk := clock.NewVirtual(start)
	all := newHookReceiver(t, "all-secret", clk.Now)
	ended := newHookReceiver(t, "ended-secret", clk.Now)
	lb := loopback.New(clk)
	lb.Script("+33600000000", loopback.Behavior{MessageFailure: "unreachable"})
	h := &hookEngine{t: t, cfg: engine.Config{
		DataDir: t.TempDir(), Clock: clk, IDs: &ids.Sequence{Prefix: "c"}, Adapter: lb,
		Webhooks: []webhooks.Endpoint{all.endpoint(), ended.endpoint(webhooks.KindCallEnded)},
	}}
	h.open()
	t.Cleanup(func() { h.e.Close() })
	h.register("alice", "bob")

	id := h.call()
	inside := must[engine.Message](t)(h.e.SendMessage(ctx, engine.MessageRequest{From: "alice", To: "102", Text: "lunch?"}))
	out := must[engine.Message](t)(h.e.SendMessage(ctx, engine.MessageRequest{From: "alice", To: "+33600000000", Text: "hello"}))
	clk.Advance(time.Millisecond) // the far end refuses the text
	want := []string{
		"call/" + id + "@1 call.created", "call/" + id + "@4 call.ended",
		"message/" + inside.ID + "@1 message.sent", "message/" + inside.ID + "@2 message.delivered",
		"message/" + out.ID + "@1 message.sent", "message/" + out.ID + "@2 message.failed",
	}
	waitUntil(t, "every delivery", func() bool { return len(all.delivered()) >= len(want) && len(ended.delivered()) >= 1 && caughtUp(h.e) })
	if got := all.delivered(); !slices.Equal(got, want) {
		t.Fatalf("deliveries:\n got  %q\n want %q", got, want)
	}
	if got := ended.delivered(); !slices.Equal(got, []string{"call/" + id + "@4 call.ended"}) {
		t.Fatalf("call.ended only: %q", got)
	}
	reqs := all.requests()
	var dialed events.CallDialed
	if err := json.Unmarshal(reqs[0].d.Data, &dialed); err != nil || dialed.Caller.Client != "alice" || dialed.Callee.Client != "bob" {
		t.Fatalf("call.created data %s: %v", reqs[0].d.Data, err)
	}
	var endedEv events.CallEnded
	if err := json.Unmarshal(reqs[1].d.Data, &endedEv); err != nil || endedEv.Reason != events.Hangup || endedEv.By != events.Callee {
		t.Fatalf("call.ended data %s: %v", reqs[1].d.Data, err)
	}
	if !reqs[1].d.Time.Equal(start) || reqs[1].d.Type != "CallEnded" || reqs[1].d.Stream != "call/"+id {
		t.Fatalf("call.ended delivery %+v", reqs[1].d)
	}
	var failed events.MessageFailed
	if err := json.Unmarshal(reqs[5].d.Data, &failed); err != nil || failed.Reason != "unreachable" {
		t.Fatalf("message.failed data %s: %v", reqs[5].d.Data, err)
	}
	// Every delivery of a text message carries the message and its text,
	// the outcomes too.
	for i, want := range []struct{ id, to, text string }{
		{inside.ID, "102", "lunch?"}, {inside.ID, "102", "lunch?"},
		{out.ID, "+33600000000", "hello"}, {out.ID, "+33600000000", "hello"},
	} {
		m := reqs[2+i].d.Message
		if m == nil || m.ID != want.id || m.To != want.to || m.Text != want.text || m.From.Client != "alice" {
			t.Fatalf("%s delivery: message %+v, want %+v from alice", reqs[2+i].d.Kind, m, want)
		}
	}
	if reqs[0].d.Message != nil || reqs[1].d.Message != nil {
		t.Fatalf("a call's delivery carries a message: %+v", reqs[0].d.Message)
	}
	last := h.e.Journal().LastSeq()
	st := h.e.WebhookStats()
	if len(st) != 2 || st[0].Delivered != 6 || st[1].Delivered != 1 || st[0].Cursor != last || st[1].Cursor != last || st[0].Dead+st[0].Retried != 0 {
		t.Fatalf("stats %+v", st)
	}
	if err := h.e.Close(); err != nil {
		t.Fatal(err)
	}
	if st := h.e.WebhookStats(); st != nil {
		t.Fatalf("stats of a closed engine: %+v", st)
	}
}

func TestWebhookRetriedOnTheEngineClock(t *testing.T) {
	clk := clock.NewVirtual(start)
	r := newHookReceiver(t, "k", clk.Now)
	r.respond = func(_ *http.Request, n int, _ webhooks.Delivery) int {
		if n < 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	}
	h := newHookEngine(t, clk, r.endpoint(webhooks.KindCallCreated))
	h.register("alice", "bob")
	c := must[engine.Call](t)(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"})) // rings: a 30 s timer
	for i, wait := range []time.Duration{time.Second, 2 * time.Second} {
		waitUntil(t, fmt.Sprintf("backoff %d", i+1), func() bool {
			due, ok := clk.NextDue()
			return ok && due.Equal(clk.Now().Add(wait)) && len(r.requests()) == i+1
		})
		clk.Advance(wait)
	}
	waitUntil(t, "delivered", func() bool { return len(r.delivered()) == 1 && caughtUp(h.e) })
	reqs := r.requests()
	if len(reqs) != 3 || reqs[0].d.ID != "call/"+c.ID+"@1" || reqs[2].d.ID != reqs[0].d.ID {
		t.Fatalf("requests %+v", reqs)
	}
	if s := h.e.WebhookStats()[0]; s.Delivered != 1 || s.Retried != 2 || s.Dead != 0 {
		t.Fatalf("stats %+v", s)
	}
	// The call itself never waited: it still rings, its timer untouched.
	if got := must[engine.Call](t)(h.e.Call(ctx, c.ID)); got.State != engine.Ringing || !got.RingDeadline.Equal(start.Add(30*time.Second)) {
		t.Fatalf("call %s, deadline %v", got.State, got.RingDeadline)
	}
}

func TestWebhookDeadOrSlowEndpointDoesNotSlowCalls(t *testing.T) {
	clk := clock.NewVirtual(start)
	// A dead endpoint: nothing listens at its address.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := l.Addr().String()
	l.Close()
	dead := webhooks.Endpoint{ID: "dead", URL: "http://" + deadAddr + "/hook", Secret: []byte("dead-secret")}
	// A slow endpoint: it does not answer until released.
	release := make(chan struct{})
	slow := newHookReceiver(t, "slow-secret", clk.Now)
	slow.respond = func(req *http.Request, _ int, _ webhooks.Delivery) int {
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
	})
	h := &hookEngine{t: t, cfg: engine.Config{
		DataDir: t.TempDir(), Clock: clk, IDs: &ids.Sequence{Prefix: "c"},
		Webhooks:       []webhooks.Endpoint{dead, slow.endpoint()},
		WebhookOptions: webhooks.Options{MaxAttempts: 1000, MaxBackoff: 4 * time.Second},
	}}
	h.open()
	t.Cleanup(func() { h.e.Close() })
	h.register("alice", "bob")

	const calls = 20
	first := h.e.Journal().LastSeq()
	var slowest time.Duration
	began := time.Now()
	for range calls {
		t0 := time.Now()
		h.call()
		slowest = max(slowest, time.Since(t0))
	}
	took := time.Since(began)
	if got := h.e.Journal().LastSeq() - first; got != 4*calls {
		t.Fatalf("%d events journaled, want %d", got, 4*calls)
	}
	if n := len(slow.requests()); n != 1 {
		t.Fatalf("the slow endpoint got %d requests, want its first still hanging", n)
	}
	st := h.e.WebhookStats()
	if st[0].Lag < 4*calls-1 || st[1].Lag < 4*calls-1 || st[0].Delivered+st[1].Delivered != 0 {
		t.Fatalf("stats while blocked: %+v", st)
	}
	// The same calls on an engine without webhooks, for the log.
	plain := &hookEngine{t: t, cfg: engine.Config{DataDir: t.TempDir(), Clock: clk, IDs: &ids.Sequence{Prefix: "p"}}}
	plain.open()
	defer plain.e.Close()
	plain.register("alice", "bob")
	began = time.Now()
	for range calls {
		plain.call()
	}
	t.Logf("%d calls (%d events) in %v, slowest %v, with one endpoint down and one hanging; %v without webhooks",
		calls, 4*calls, took, slowest, time.Since(began))

	// Release both: the slow endpoint answers; the dead one comes up at its
	// address, and its next retry (on the engine's clock) gets through.
	close(release)
	revived := newHookReceiverAt(t, deadAddr, "dead-secret", clk.Now)
	waitUntil(t, "both endpoints caught up", func() bool {
		clk.Advance(4 * time.Second) // MaxBackoff: fires the dead endpoint's retry
		return caughtUp(h.e)
	})
	// Advancing the clock may also time the slow endpoint's first try out
	// just as it answers: at least once, so compare unique ids.
	expected := expectedHookIDs(t, h.e.Journal(), webhooks.Kinds()...)
	if len(expected) != 2*calls {
		t.Fatalf("%d events to deliver, want %d", len(expected), 2*calls)
	}
	checkAtLeastOnce(t, expected, slow.delivered())
	checkAtLeastOnce(t, expected, revived.delivered())
	if st := h.e.WebhookStats(); st[0].Delivered != 2*calls || st[0].Retried == 0 || st[0].Dead != 0 {
		t.Fatalf("dead endpoint: %+v", st[0])
	}

	// Close returns promptly while a request hangs.
	release2 := make(chan struct{})
	defer close(release2)
	slow.mu.Lock()
	slow.respond = func(req *http.Request, _ int, _ webhooks.Delivery) int {
		select {
		case <-release2:
		case <-req.Context().Done():
		}
		return http.StatusOK
	}
	slow.mu.Unlock()
	n := len(slow.requests())
	h.call()
	waitUntil(t, "a request in flight", func() bool { return len(slow.requests()) > n })
	began = time.Now()
	if err := h.e.Close(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 2*time.Second {
		t.Fatalf("Close took %v with a webhook request hanging", took)
	}
}

// expectedHookIDs lists the ids of the events of kinds in the journal of
// dir's engine, in journal order.
func expectedHookIDs(t *testing.T, j *journal.Journal, kinds ...string) []string {
	t.Helper()
	var out []string
	err := j.Scan(1, func(r journal.Record) error {
		env := events.Envelope{Seq: r.Seq, Stream: r.Stream, Version: r.Version}
		if err := events.DecodeBody(r.Data, &env); err != nil {
			return err
		}
		if k := webhooks.KindOf(env.Type); k != "" && slices.Contains(kinds, k) {
			out = append(out, webhooks.EventID(r.Stream, r.Version)+" "+k)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkAtLeastOnce fails unless every expected id was answered 2xx at least
// once, in journal order of first delivery; it returns how many 2xx answers
// were duplicates.
func checkAtLeastOnce(t *testing.T, expected, delivered []string) int {
	t.Helper()
	var first []string
	seen := map[string]bool{}
	for _, id := range delivered {
		if !seen[id] {
			seen[id] = true
			first = append(first, id)
		}
	}
	if !slices.Equal(first, expected) {
		var missing []string
		for _, id := range expected {
			if !seen[id] {
				missing = append(missing, id)
			}
		}
		t.Fatalf("delivered (first of each id) %d, expected %d; missing %q", len(first), len(expected), missing)
	}
	return len(delivered) - len(first)
}

func TestWebhookRestartMidDeliveryLosesNothing(t *testing.T) {
	clk := clock.NewVirtual(start)
	gate := make(chan struct{})
	t.Cleanup(func() {
		select {
		case <-gate:
		default:
			close(gate)
		}
	})
	r := newHookReceiver(t, "k", clk.Now)
	r.respond = func(req *http.Request, n int, _ webhooks.Delivery) int {
		if n >= 3 { // the fourth request and later wait for the gate
			select {
			case <-gate:
			case <-req.Context().Done():
			}
		}
		return http.StatusOK
	}
	h := newHookEngine(t, clk, r.endpoint(webhooks.KindCallCreated, webhooks.KindCallEnded))
	h.register("alice", "bob")
	for range 10 {
		h.call()
	}
	waitUntil(t, "a request in flight behind the gate", func() bool { return len(r.requests()) == 4 })
	if lag := h.e.WebhookStats()[0].Lag; lag == 0 {
		t.Fatal("no backlog at close")
	}
	if err := h.e.Close(); err != nil { // cuts the fourth request off
		t.Fatal(err)
	}
	h.open()
	for range 5 {
		h.call()
	}
	close(gate)
	waitUntil(t, "caught up after the restart", func() bool { return caughtUp(h.e) })

	expected := expectedHookIDs(t, h.e.Journal(), webhooks.KindCallCreated, webhooks.KindCallEnded)
	if len(expected) != 2*15 {
		t.Fatalf("%d events to deliver, want 30", len(expected))
	}
	dups := checkAtLeastOnce(t, expected, r.delivered())
	reqs := r.requests()
	if reqs[3].status != 499 || reqs[4].d.ID != reqs[3].d.ID {
		t.Fatalf("the request cut off by Close (%s, %d) is not the first sent after Open (%s)", reqs[3].d.ID, reqs[3].status, reqs[4].d.ID)
	}
	t.Logf("%d requests, %d events, %d delivered twice", len(reqs), len(expected), dups)
}

func TestWebhookInvalidEndpointRefusesOpen(t *testing.T) {
	dir := t.TempDir()
	for _, ep := range []webhooks.Endpoint{
		{URL: "ftp://127.0.0.1/hook", Secret: []byte("k")},
		{URL: "http://127.0.0.1/hook"},
		{URL: "http://127.0.0.1/hook", Secret: []byte("k"), Events: []string{"call.ringing"}},
	} {
		_, err := engine.Open(ctx, engine.Config{DataDir: dir, Webhooks: []webhooks.Endpoint{ep}, LockTimeout: 100 * time.Millisecond})
		wantCode(t, err, errcode.InvalidParams)
	}
	// The refused Open released the journal.
	e, err := engine.Open(ctx, engine.Config{DataDir: dir, LockTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if st := e.WebhookStats(); st != nil {
		t.Fatalf("stats without webhooks: %+v", st)
	}
	e.Close()
}

// The SIGKILL test: a child process runs calls with a webhook endpoint and
// is killed mid-delivery; the parent reopens its data dir and checks that
// every event reaches the receiver at least once.

const webhookCrashEnv = "CALLENGINE_WEBHOOK_CRASH_CHILD"

func init() {
	// The child never gets to TestMain.
	if spec := os.Getenv(webhookCrashEnv); spec != "" {
		os.Exit(webhookCrashChild(spec))
	}
}

func webhookCrashConfig(dir, url string) engine.Config {
	return engine.Config{
		DataDir: dir, RingTimeout: time.Hour,
		Webhooks: []webhooks.Endpoint{{ID: "crm", URL: url, Secret: []byte("crash-secret")}},
	}
}

// webhookCrashChild runs calls until it is killed; spec is "<dir> <url>".
func webhookCrashChild(spec string) int {
	dir, url, _ := strings.Cut(spec, " ")
	e, err := engine.Open(ctx, webhookCrashConfig(dir, url))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		return 1
	}
	for _, spec := range []engine.ClientSpec{
		{ID: "alice", Extensions: []string{"101"}, Devices: []engine.Device{{ID: "alice-desk"}}},
		{ID: "bob", Extensions: []string{"102"}, Devices: []engine.Device{{ID: "bob-desk"}}},
	} {
		if _, err := e.RegisterClient(ctx, spec); err != nil {
			fmt.Fprintln(os.Stderr, "child register:", err)
			return 1
		}
	}
	for {
		c, err := e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"})
		if err == nil {
			_, err = e.Answer(ctx, c.ID, "bob-desk")
		}
		if err == nil {
			_, err = e.Hangup(ctx, c.ID, engine.Caller)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "child call:", err)
			return 1
		}
		fmt.Println("ack", c.ID)
	}
}

func TestWebhookSIGKILLMidDeliveryLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	r := newHookReceiver(t, "crash-secret", time.Now)
	r.respond = func(req *http.Request, _ int, _ webhooks.Delivery) int {
		select { // a little slower than the calls: a backlog builds
		case <-time.After(3 * time.Millisecond):
		case <-req.Context().Done():
		}
		return http.StatusOK
	}
	url := r.endpoint().URL
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), webhookCrashEnv+"="+dir+" "+url)
	cmd.Stderr = os.Stderr
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "deliveries from the child", func() bool { return len(r.requests()) >= 40 })
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	before := len(r.requests())

	e, err := engine.Open(ctx, webhookCrashConfig(dir, url))
	if err != nil {
		t.Fatalf("reopen after SIGKILL: %v", err)
	}
	defer e.Close()
	waitUntil(t, "caught up after the crash", func() bool { return caughtUp(e) })
	expected := expectedHookIDs(t, e.Journal(), webhooks.Kinds()...)
	dups := checkAtLeastOnce(t, expected, r.delivered())
	t.Logf("killed after %d requests; %d events in the journal to deliver, %d delivered twice", before, len(expected), dups)
}
