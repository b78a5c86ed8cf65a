package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/callengine/callengine/adapters/ws/wsclient"
	"github.com/callengine/callengine/engine"
)

// buildCallengine builds this command into a temporary directory.
func buildCallengine(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary and runs it as a child process")
	}
	bin := filepath.Join(t.TempDir(), "callengine")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// serveProcess is callengine serve running as a child process.
type serveProcess struct {
	cmd    *exec.Cmd
	url    string // http://127.0.0.1:PORT
	stderr *lockedBuffer
	done   chan error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

var startLine = regexp.MustCompile(`^callengine serve: (http://127\.0\.0\.1:\d+)/ \(data (.+)\)$`)

// startServe starts bin serve with args and reads its start line.
func startServe(t *testing.T, bin, dir string, args ...string) *serveProcess {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--data", dir, "--http", "127.0.0.1:0", "--log-level", "info"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &serveProcess{cmd: cmd, stderr: &lockedBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.done
		}
	})
	lines := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		line, _ := r.ReadString('\n')
		lines <- strings.TrimSuffix(line, "\n")
		io.Copy(io.Discard, r)
		p.done <- cmd.Wait()
	}()
	select {
	case line := <-lines:
		m := startLine.FindStringSubmatch(line)
		if m == nil || m[2] != dir {
			t.Fatalf("start line %q; stderr:\n%s", line, p.stderr)
		}
		p.url = m[1]
	case <-time.After(20 * time.Second):
		t.Fatalf("no start line after 20 s; stderr:\n%s", p.stderr)
	}
	return p
}

// waitReady polls /readyz until it answers 200.
func (p *serveProcess) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, _ := httpGet(p.url + "/readyz")
		if code == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz %d after 20 s; stderr:\n%s", code, p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *serveProcess) wait(t *testing.T) int {
	t.Helper()
	select {
	case err := <-p.done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				return -int(ws.Signal())
			}
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(30 * time.Second):
		t.Fatalf("still running 30 s later; stderr:\n%s", p.stderr)
		return -1
	}
}

func httpGet(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// journalState opens the journal in dir (it must not be held) and returns the
// sequence number of its last event and its registered clients.
func journalState(t *testing.T, dir string) (uint64, []string) {
	t.Helper()
	e, err := engine.Open(context.Background(), engine.Config{DataDir: dir})
	if err != nil {
		t.Fatalf("the journal does not open after the server exited: %v", err)
	}
	defer e.Close()
	clients, err := e.Clients(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range clients {
		ids = append(ids, c.ID)
	}
	return e.Journal().LastSeq(), ids
}

const serveTestConfig = `# provisioned by the test
clients:
  - id: alice
    name: Alice
    password: alice-secret
    extensions: ["101"]
groups:
  - id: desk
    extensions: ["700"]
    members: [alice]
`

// A real child process: it serves, is ready, drains on SIGTERM with exit
// status 0, and leaves a journal that opens, with the provisioned clients;
// a second start with the same file journals nothing new.
func TestServeDrainsOnSIGTERM(t *testing.T) {
	bin := buildCallengine(t)
	dir := filepath.Join(t.TempDir(), "data")
	cfg := filepath.Join(t.TempDir(), "serve.yaml")
	if err := os.WriteFile(cfg, []byte(serveTestConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startServe(t, bin, dir, "--config", cfg)
	if code, body := httpGet(p.url + "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	p.waitReady(t)
	for path, want := range map[string]string{"/": "callengine softphone", "/metrics": "callengine_live_calls 0", "/ws": "WebSocket"} { // a plain GET on /ws: 426, no upgrade
		if _, body := httpGet(p.url + path); !strings.Contains(body, want) {
			t.Errorf("GET %s lacks %q: %s", path, want, body)
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit status %d after SIGTERM; stderr:\n%s", code, p.stderr)
	}
	if !strings.Contains(p.stderr.String(), "draining") {
		t.Errorf("the log does not say it drained:\n%s", p.stderr)
	}
	seq, clients := journalState(t, dir)
	if strings.Join(clients, ",") != "alice,echo" {
		t.Errorf("registered clients %v, want alice and echo", clients)
	}

	p = startServe(t, bin, dir, "--config", cfg)
	p.waitReady(t)
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t); code != 0 {
		t.Fatalf("second run: exit status %d after SIGINT; stderr:\n%s", code, p.stderr)
	}
	if again, _ := journalState(t, dir); again != seq {
		t.Errorf("the second start journaled %d events; provisioning must be idempotent", again-seq)
	}
}

// Killed with SIGKILL, the server starts again on the same data directory
// and is ready.
func TestServeRestartsAfterSIGKILL(t *testing.T) {
	bin := buildCallengine(t)
	dir := filepath.Join(t.TempDir(), "data")
	p := startServe(t, bin, dir)
	p.waitReady(t)
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t); code != -int(syscall.SIGKILL) {
		t.Fatalf("exit %d, want killed", code)
	}
	p = startServe(t, bin, dir)
	p.waitReady(t)
	if code, _ := httpGet(p.url + "/healthz"); code != 200 {
		t.Errorf("/healthz %d", code)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit status %d after SIGTERM; stderr:\n%s", code, p.stderr)
	}
	journalState(t, dir)
}

// An invalid configuration is exit 2 with the file, the line and the key.
func TestServeInvalidConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "serve.yaml")
	os.WriteFile(cfg, []byte("http: 127.0.0.1:0\nclients:\n  - id: alice\n    pasword: x\n  - id: alice\n"), 0o644)
	code, out, errs := runCLI("serve", "--config", cfg, "--data", dir)
	if code != 2 || out != "" || !strings.Contains(errs, cfg+":4: clients[0].pasword: unknown key") {
		t.Errorf("unknown key: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	os.WriteFile(cfg, []byte("clients:\n  - id: alice\n  - id: alice\n"), 0o644)
	if code, _, errs := runCLI("serve", "--config", cfg, "--data", dir); code != 2 ||
		!strings.Contains(errs, cfg+`:3: clients[1].id: client id "alice" is given twice (first at `+cfg+":2)") {
		t.Errorf("duplicate id: exit %d, stderr %q", code, errs)
	}
	if code, _, errs := runCLI("serve", "--http", "no-port", "--data", dir); code != 2 || !strings.Contains(errs, "flag --http: http:") {
		t.Errorf("bad --http: exit %d, stderr %q", code, errs)
	}
	t.Setenv("CALLENGINE_RING_TIMEOUT", "soon")
	if code, _, errs := runCLI("serve", "--data", dir); code != 2 || !strings.Contains(errs, "environment CALLENGINE_RING_TIMEOUT: ring_timeout:") {
		t.Errorf("bad environment: exit %d, stderr %q", code, errs)
	}
	if code, _, errs := runCLI("serve", "extra"); code != 2 || !strings.Contains(errs, `unexpected argument "extra"`) {
		t.Errorf("argument: exit %d, stderr %q", code, errs)
	}
}

// --print-config shows the layers merged: the file, then the environment,
// then the flags; passwords hidden. examples/serve.yaml loads.
func TestServePrintConfig(t *testing.T) {
	t.Setenv("CALLENGINE_HTTP", "127.0.0.1:9001")
	t.Setenv("CALLENGINE_RING_TIMEOUT", "45s")
	code, out, errs := runCLI("serve", "--config", filepath.Join("..", "..", "examples", "serve.yaml"), "--data", "/tmp/x", "--print-config")
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	for _, want := range []string{"data: /tmp/x\n", "http: 127.0.0.1:9001\n", "ring_timeout: 45s\n", "answer_after: 2s\n", "password: (hidden)", "- id: support"} {
		if !strings.Contains(out, want) {
			t.Errorf("--print-config lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "alice-secret") {
		t.Error("--print-config shows a password")
	}
	code, out, _ = runCLI("serve", "--print-config", "--json", "--http", "127.0.0.1:9002")
	if code != 0 || !strings.Contains(out, `"http": "127.0.0.1:9002"`) || !strings.Contains(out, `"drain_timeout": "10s"`) {
		t.Errorf("--json: exit %d\n%s", code, out)
	}
}

// On embedded defaults (no configuration) on loopback, serve provisions two
// demo clients: alice logs in over the WebSocket with her id as password
// and reaches the echo test; bob's password is not alice's.
func TestServeDemoClients(t *testing.T) {
	bin := buildCallengine(t)
	dir := filepath.Join(t.TempDir(), "data")
	p := startServe(t, bin, dir)
	p.waitReady(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := wsclient.Dial(ctx, "ws"+strings.TrimPrefix(p.url, "http")+"/ws", wsclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Login(ctx, "bob", "alice", ""); err == nil {
		t.Error("bob logged in with alice's password")
	}
	ok, err := c.Login(ctx, "alice", "alice", "")
	if err != nil || ok.ClientID != "alice" {
		t.Fatalf("login as alice: %+v, %v", ok, err)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit status %d after SIGTERM; stderr:\n%s", code, p.stderr)
	}
}
