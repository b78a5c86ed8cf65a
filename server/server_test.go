package server

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callengine/callengine/engine"
)

// running is a Server running in the test on 127.0.0.1:0.
type running struct {
	s    *Server
	url  string
	out  *syncBuffer
	done chan error
	stop context.CancelFunc
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// start runs s with data in dir and waits until it is ready.
func start(t *testing.T, s *Server, dir string) *running {
	t.Helper()
	s.Config.Data = dir
	s.Config.HTTP = "127.0.0.1:0"
	if s.Config.LogLevel == "" {
		s.Config.LogLevel = "warn"
	}
	out := &syncBuffer{}
	s.Stdout = out
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{s: s, out: out, done: make(chan error, 1), stop: cancel}
	go func() { r.done <- s.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for !s.Ready() {
		select {
		case err := <-r.done:
			t.Fatalf("Run returned before it was ready: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatal("the server was not ready after 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.url = "http://" + s.Addr()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after the context ended")
		}
	})
	return r
}

// shutdown ends the run and returns Run's result.
func (r *running) shutdown(t *testing.T) error {
	t.Helper()
	r.stop()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the context ended")
		return nil
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestEndpoints(t *testing.T) {
	dir := t.TempDir()
	r := start(t, &Server{}, dir)
	if line := r.out.String(); line != "callengine serve: "+r.url+"/ (data "+dir+")\n" {
		t.Errorf("start line %q", line)
	}
	for _, tc := range []struct {
		path string
		code int
		body string
	}{
		{"/", 200, "callengine softphone"},
		{"/index.html", 301, ""}, // the file server sends it to /
		{"/healthz", 200, "ok"},
		{"/readyz", 200, "ready"},
		{"/ws", 426, "WebSocket"}, // the protocol's handler: a plain GET is no upgrade
		{"/nothing-here", 404, ""},
		{"/metrics", 200, "callengine_live_calls 0"},
	} {
		client := http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Get(r.url + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.body) {
			t.Errorf("GET %s: %d %q, want %d with %q", tc.path, resp.StatusCode, b, tc.code, tc.body)
		}
	}
	if err := r.shutdown(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	// After the drain: not ready, draining, /ws refused.
	for path, want := range map[string]string{"/readyz": "draining", "/ws": "draining", "/healthz": "ok"} {
		rec := httptest.NewRecorder()
		r.s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("after the drain %s: %d %q, want %q", path, rec.Code, rec.Body, want)
		}
	}
	if !r.s.Draining() || r.s.Ready() || r.s.Engine() != nil {
		t.Errorf("after the drain: draining %v ready %v engine %v", r.s.Draining(), r.s.Ready(), r.s.Engine())
	}
}

// OnOpen can wire the WebSocket handler once the engine is open; /ws then
// reaches it, and is refused while draining.
func TestWebSocketHandlerFromOnOpen(t *testing.T) {
	s := &Server{}
	var seen *engine.Engine
	s.OnOpen = func(ctx context.Context, e *engine.Engine) error {
		seen = e
		s.WebSocket = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("upgrade here"))
		})
		return nil
	}
	r := start(t, s, t.TempDir())
	if seen == nil || seen != s.Engine() {
		t.Fatal("OnOpen did not get the engine")
	}
	if code, body := get(t, r.url+"/ws"); code != 200 || body != "upgrade here" {
		t.Errorf("/ws: %d %q", code, body)
	}
}

// The echo client answers a call at once; the hook hears of the call
// before the answer, and again when it ends.
func TestEchoAnswers(t *testing.T) {
	answered := make(chan string, 4)
	ended := make(chan string, 4)
	s := &Server{OnEchoCall: func(id string, live bool) {
		if live {
			answered <- id
		} else {
			ended <- id
		}
	}}
	s.Config.Clients = []Client{{ID: "alice", Extensions: []string{"101"}}}
	start(t, s, t.TempDir())
	ctx := context.Background()
	e := s.Engine()
	if _, err := e.AddDevice(ctx, "alice", engine.Device{ID: "alice-web", Kind: "webrtc"}); err != nil {
		t.Fatal(err)
	}
	c, err := e.Dial(ctx, engine.DialRequest{From: "alice", Device: "alice-web", To: "600"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-answered:
		if id != c.ID {
			t.Errorf("answered %s, dialled %s", id, c.ID)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the echo client did not answer")
	}
	var got engine.Call
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if got, err = e.Call(ctx, c.ID); err != nil || got.State == engine.Connected {
			break
		}
	}
	if err != nil || got.State != engine.Connected || got.AnsweredDevice != "echo" || got.Callee.Client != "echo" {
		t.Errorf("call %+v, %v", got, err)
	}
	if _, err := e.Hangup(ctx, c.ID, engine.Caller); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-ended:
		if id != c.ID {
			t.Errorf("ended %s, dialled %s", id, c.ID)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the hook did not hear the end")
	}
}

// A drain leaves live calls in the journal; the next start restores them
// and the echo client answers one that was still ringing it.
func TestDrainKeepsLiveCalls(t *testing.T) {
	dir := t.TempDir()
	s := &Server{}
	s.Config.Echo.Disabled = true
	s.Config.Clients = []Client{{ID: "alice", Extensions: []string{"101"}}, {ID: "bob", Extensions: []string{"102"}}}
	r := start(t, s, dir)
	ctx := context.Background()
	e := s.Engine()
	for _, d := range []struct{ client, id string }{{"alice", "a1"}, {"bob", "b1"}} {
		if _, err := e.AddDevice(ctx, d.client, engine.Device{ID: d.id, Kind: "webrtc"}); err != nil {
			t.Fatal(err)
		}
	}
	c, err := e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"})
	if err != nil || c.State != engine.Ringing {
		t.Fatalf("dial: %+v %v", c, err)
	}
	if err := r.shutdown(t); err != nil {
		t.Fatal(err)
	}

	s2 := &Server{}
	s2.Config = s.Config
	start(t, s2, dir)
	if n := s2.Engine().Restored().Calls; n != 1 {
		t.Errorf("restored %d calls, want 1", n)
	}
	got, err := s2.Engine().Call(ctx, c.ID)
	if err != nil || got.State != engine.Ringing {
		t.Errorf("restored call %+v, %v", got, err)
	}
	if cl, err := s2.Engine().Client(ctx, "bob"); err != nil || len(cl.Devices) != 1 {
		t.Errorf("bob after the restart: %+v, %v", cl, err)
	}
}

// A journal another process holds is an *OpenError, after the start line.
func TestLockedJournalIsOpenError(t *testing.T) {
	dir := t.TempDir()
	e, err := engine.Open(context.Background(), engine.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s := &Server{Config: Config{Data: dir, HTTP: "127.0.0.1:0", LogLevel: "none"}, Stdout: io.Discard}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = s.Run(ctx)
	var oe *OpenError
	if !asOpenError(err, &oe) {
		t.Fatalf("Run: %v (%T), want *OpenError", err, err)
	}
}

func asOpenError(err error, target **OpenError) bool {
	for err != nil {
		if oe, ok := err.(*OpenError); ok {
			*target = oe
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				if asOpenError(x, target) {
					return true
				}
			}
			return false
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		default:
			return false
		}
	}
	return false
}

func TestTokenSecretIsKept(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	a, err := tokenSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := tokenSecret(dir)
	if err != nil || !bytes.Equal(a, b) || len(a) < 32 {
		t.Errorf("secret %q then %q, %v", a, b, err)
	}
}

// A signal before the server is ready is a drain like any other.
func TestStopWhileStarting(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := &Server{Config: Config{Data: t.TempDir(), HTTP: "127.0.0.1:0", LogLevel: "none"}, Stdout: io.Discard}
	if err := s.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !s.Draining() || s.Engine() != nil {
		t.Errorf("draining %v, engine %v", s.Draining(), s.Engine())
	}
}
