package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/callengine/callengine/internal/browsertest"
)

// wait bounds every single wait of the tests.
const wait = 20 * time.Second

var (
	binPath    string          // the callengine binary under test
	browser    context.Context // the one Chromium; each person is a tab of it
	browserLog syncBuffer
)

func TestMain(m *testing.M) { os.Exit(mainRun(m)) }

func mainRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "callengine-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if binPath, err = buildBinary(dir); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build callengine:", err)
		return 1
	}
	chromium := os.Getenv("CALLENGINE_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %s is missing (%v): apt-get install -y chromium, or set CALLENGINE_CHROMIUM\n", chromium, err)
		return 1
	}
	opts := browsertest.Options(chromium, browsertest.Media...)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), append(opts,
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		// every person is a tab: none of them may be slowed down for being in the background
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.WindowSize(1300, 900),
		chromedp.CombinedOutput(&browserLog),
	)...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: start chromium: %v\n%s", err, browserLog.String())
		return 1
	}
	browser = bctx
	return m.Run()
}

// buildBinary builds cmd/callengine into dir, or takes CALLENGINE_BIN.
func buildBinary(dir string) (string, error) {
	if p := os.Getenv("CALLENGINE_BIN"); p != "" {
		return p, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "callengine")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/callengine")
	cmd.Dir = root
	// The module cache holds what the test binary was built from; never
	// reach for the network (inside a namespace there is none).
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=readonly")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v\n%s", err, b)
	}
	return out, nil
}

// moduleRoot finds the callengine module: up from the working directory
// (go test runs in e2e/), else from where this file was compiled.
func moduleRoot() (string, error) {
	isRoot := func(d string) bool {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		return err == nil && bytes.Contains(b, []byte("module github.com/callengine/callengine\n"))
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, d := range starts {
		for ; ; d = filepath.Dir(d) {
			if isRoot(d) {
				return d, nil
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return "", fmt.Errorf("no callengine module above %v: run from the repository or set CALLENGINE_BIN", starts)
}

// syncBuffer is a bytes.Buffer for several goroutines.
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

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("… %d lines before", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// ---- the server -------------------------------------------------------------

const serveConfig = `log_level: debug
ring_timeout: 30s
media:
  loopback_only: true
clients:
  - id: alice
    name: Alice
    password: alice-pw
    extensions: ["101"]
  - id: bob
    name: Bob
    password: bob-pw
    extensions: ["102"]
  - id: carol
    name: Carol
    password: carol-pw
    extensions: ["103"]
`

var passwords = map[string]string{"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw"}
var extensions = map[string]string{"alice": "101", "bob": "102", "carol": "103"}

type server struct {
	t            *testing.T
	data, config string
	addr, url    string
	log          *syncBuffer // stderr of every run, in order
	cmd          *exec.Cmd
	done         chan struct{}
	starts       int
}

// startServer runs callengine serve on a new data directory and a free
// port of 127.0.0.1; it is stopped when the test ends.
func startServer(t *testing.T) *server { return startServerWith(t, serveConfig) }

// startServerWith is startServer with another configuration.
func startServerWith(t *testing.T, config string) *server {
	dir := t.TempDir()
	s := &server{t: t, data: filepath.Join(dir, "data"), config: filepath.Join(dir, "serve.yaml"), addr: "127.0.0.1:0", log: &syncBuffer{}}
	if err := os.WriteFile(s.config, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	s.start()
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("server log (last lines):\n%s", tail(s.log.String(), 80))
		}
	})
	return s
}

// start runs the process and waits until it is ready.
func (s *server) start() {
	t := s.t
	s.starts++
	fmt.Fprintf(s.log, "---- start %d\n", s.starts)
	cmd := exec.Command(binPath, "serve", "--config", s.config, "--data", s.data, "--http", s.addr)
	cmd.Stderr = s.log
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start callengine serve: %v", err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	urls := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`https?://\S+`)
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			fmt.Fprintf(s.log, "stdout: %s\n", sc.Text())
			if u := re.FindString(sc.Text()); u != "" && !sent {
				urls <- u
				sent = true
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() { cmd.Wait(); close(s.done) }()
	select {
	case u := <-urls:
		s.url = strings.TrimSuffix(u, "/") + "/"
	case <-s.done:
		t.Fatalf("callengine serve exited before printing its URL: %v\n%s", cmd.ProcessState, s.log.String())
	case <-time.After(wait):
		t.Fatalf("callengine serve printed no URL in %v\n%s", wait, s.log.String())
	}
	host := strings.TrimPrefix(strings.TrimSuffix(s.url, "/"), "http://")
	if _, _, err := net.SplitHostPort(host); err != nil {
		t.Fatalf("cannot read the address of %q: %v", s.url, err)
	}
	s.addr = host // a restart listens on the same address
	deadline := time.Now().Add(wait)
	for {
		resp, err := http.Get(s.url + "readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%sreadyz not 200 within %v (last: %v)\n%s", s.url, wait, err, tail(s.log.String(), 40))
		}
		select {
		case <-s.done:
			t.Fatalf("callengine serve exited while starting: %v\n%s", s.cmd.ProcessState, tail(s.log.String(), 40))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// kill ends the process with SIGKILL: no drain, nothing closed cleanly.
func (s *server) kill() {
	fmt.Fprintln(s.log, "---- SIGKILL")
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// stop drains the process with SIGTERM (SIGKILL if it hangs).
func (s *server) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Signal(syscall.SIGKILL)
		<-s.done
	}
}

// ---- a person: one tab of the browser ----------------------------------------

type person struct {
	t    *testing.T
	name string
	ctx  context.Context
	log  *syncBuffer // the page's console and exceptions
}

// open gives name a tab on the softphone page, logged in.
func (s *server) open(name string) *person {
	t := s.t
	ctx, cancel := chromedp.NewContext(browser)
	p := &person{t: t, name: name, ctx: ctx, log: &syncBuffer{}}
	t.Cleanup(func() {
		if t.Failed() {
			p.dump()
		}
		cancel()
	})
	if err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *cdpruntime.EventExceptionThrown:
			msg := ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
			fmt.Fprintf(p.log, "exception: %s\n", msg)
		case *cdpruntime.EventConsoleAPICalled:
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			fmt.Fprintf(p.log, "console.%s: %s\n", ev.Type, strings.Join(args, " "))
		}
	}); err != nil {
		t.Fatalf("%s: open a tab: %v\n%s", name, err, browserLog.String())
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(s.url), chromedp.WaitVisible(chromedp.CSS("#login-submit"))); err != nil {
		t.Fatalf("%s: load %s: %v", name, s.url, err)
	}
	p.do("log in",
		chromedp.SetValue(chromedp.CSS("#login-client"), name),
		chromedp.SetValue(chromedp.CSS("#login-password"), passwords[name]),
		chromedp.Click(chromedp.CSS("#login-submit")),
	)
	p.waitJS("logged in", `softphone.state().authed`)
	return p
}

func (p *person) dump() {
	p.t.Logf("%s: console:\n%s", p.name, tail(p.log.String(), 30))
	ctx, cancel := context.WithTimeout(p.ctx, 3*time.Second)
	defer cancel()
	if v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({state: softphone.state(), calls: softphone.calls(), received: softphone.lastEvents.slice(-40), sent: softphone.sent.slice(-25)}, null, 1)`)); err == nil {
		p.t.Logf("%s: page:\n%s", p.name, v)
	} else {
		p.t.Logf("%s: page unreadable: %v", p.name, err)
	}
}

func (p *person) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, wait)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("%s: %s: %v", p.name, what, err)
	}
}

// click clicks the element as a person would (mouse events at its place).
func (p *person) click(sel string) {
	p.t.Helper()
	p.do("click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

func (p *person) fill(sel, text string) {
	p.t.Helper()
	p.do("fill "+sel, chromedp.SetValue(chromedp.CSS(sel), text))
}

func eval[T any](p *person, js string) (T, error) {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
}

// waitJS polls a JavaScript condition until it holds.
func (p *person) waitJS(what, js string) {
	p.t.Helper()
	var last error
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		ok, err := eval[bool](p, "!!("+js+")")
		if err == nil && ok {
			return
		}
		last = err
	}
	p.t.Fatalf("%s: not %s within %v (%s; last error %v)", p.name, what, wait, js, last)
}

type callView struct {
	CallID    string `json:"call_id"`
	State     string `json:"state"`
	Side      string `json:"side"`
	Direction string `json:"direction"`
	From      string `json:"from"`
	To        string `json:"to"`
	HeldBy    string `json:"held_by"`
	Muted     bool   `json:"muted"`
	DTMF      []struct {
		Digits string `json:"digits"`
		From   string `json:"from"`
	} `json:"dtmf"`
	Transfer *struct {
		ID    string `json:"id"`
		Kind  string `json:"kind"`
		State string `json:"state"`
		Mine  bool   `json:"mine"`
	} `json:"transfer"`
	Reason string `json:"reason"`
	Media  string `json:"media"` // the peer connection's state
}

func (p *person) calls() []callView {
	v, err := eval[[]callView](p, `softphone.calls()`)
	if err != nil {
		p.t.Logf("%s: calls: %v", p.name, err)
	}
	return v
}

// waitCall polls the page's calls until one matches.
func (p *person) waitCall(what string, match func(callView) bool) callView {
	p.t.Helper()
	var seen []callView
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		seen = p.calls()
		for _, c := range seen {
			if match(c) {
				return c
			}
		}
	}
	p.t.Fatalf("%s: no call %s within %v; calls: %+v", p.name, what, wait, seen)
	return callView{}
}

func (p *person) callByID(id string) (callView, bool) {
	for _, c := range p.calls() {
		if c.CallID == id {
			return c, true
		}
	}
	return callView{}, false
}

// btn is the selector of a button of a call's row.
func btn(callID, testid string) string {
	return fmt.Sprintf(`li[data-call-id=%q] [data-testid=%q]`, callID, testid)
}

type rtpStats struct {
	InboundBytes    int64  `json:"inboundBytes"`
	OutboundBytes   int64  `json:"outboundBytes"`
	InboundPackets  int64  `json:"inboundPackets"`
	OutboundPackets int64  `json:"outboundPackets"`
	ConnectionState string `json:"connectionState"`
}

func (p *person) stats(callID string) (rtpStats, error) {
	b, err := eval[[]byte](p, fmt.Sprintf(`softphone.stats(%q)`, callID))
	if err != nil {
		return rtpStats{}, err
	}
	var s rtpStats
	if string(b) == "null" {
		return s, fmt.Errorf("call %s has no media on the page", callID)
	}
	return s, json.Unmarshal(b, &s)
}

// audioFlows waits until the page receives audio on the call: its
// inbound-rtp bytes grow by more than 2 kB (≈ 10 packets of Opus at least)
// from a first reading.
func (p *person) audioFlows(callID string) {
	p.t.Helper()
	var base, last rtpStats
	var err error
	haveBase := false
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		last, err = p.stats(callID)
		if err != nil {
			continue
		}
		if !haveBase {
			base, haveBase = last, true
			continue
		}
		if last.InboundBytes > base.InboundBytes+2000 {
			return
		}
	}
	p.t.Fatalf("%s: no audio received on call %s within %v: first %+v, last %+v (err %v)", p.name, callID, wait, base, last, err)
}

// audioStops waits until the page's inbound bytes on the call stay the same
// for a whole second.
func (p *person) audioStops(callID string) {
	p.t.Helper()
	var prev, last rtpStats
	var err error
	havePrev := false
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(time.Second) {
		last, err = p.stats(callID)
		if err != nil {
			havePrev = false
			continue
		}
		if havePrev && last.InboundBytes == prev.InboundBytes {
			return
		}
		prev, havePrev = last, true
	}
	p.t.Fatalf("%s: audio on call %s still received after %v: %+v (err %v)", p.name, callID, wait, last, err)
}

// ---- steps shared by the tests -------------------------------------------------

func (p *person) dial(dest string) {
	p.t.Helper()
	p.fill("#dial-input", dest)
	p.click("#dial-button")
}

func connected(c callView) bool { return c.State == "active" && c.Media == "connected" }

// establish: from dials to's extension, to answers; both pages show the
// call connected. It returns the call's id.
func establish(from, to *person) string {
	from.t.Helper()
	from.dial(extensions[to.name])
	in := to.waitCall("ringing in", func(c callView) bool { return c.State == "ringing" && c.Side == "callee" })
	to.click(btn(in.CallID, "answer"))
	to.waitCall("connected", func(c callView) bool { return c.CallID == in.CallID && connected(c) })
	from.waitCall("connected", func(c callView) bool { return c.CallID == in.CallID && connected(c) })
	return in.CallID
}

// hangupAll ends the person's calls from the page.
func (p *person) hangupAll() {
	for _, c := range p.calls() {
		if c.State != "ended" {
			ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
			_ = chromedp.Do(ctx, chromedp.Click(chromedp.CSS(btn(c.CallID, "hangup"))))
			cancel()
		}
	}
}
