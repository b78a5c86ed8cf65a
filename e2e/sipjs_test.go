package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// A browser SIP stack against callengine serve: JsSIP 3.13.8 in two tabs
// of Chromium, over SIP over WebSocket (sip.ws), with digest; the media is
// the browsers' WebRTC, peer to peer (the SDP passes through the engine's
// two SIP legs).
//
// The JsSIP bundle is built by e2e/sipjs/build.sh (npm and esbuild, which
// need the npm registry): test.sh builds it before entering the network
// namespace and passes it in CALLENGINE_SIPJS_BUNDLE. Without that
// variable the test builds it itself.

// sipjsBundle returns the path of the JsSIP bundle.
func sipjsBundle(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CALLENGINE_SIPJS_BUNDLE"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("CALLENGINE_SIPJS_BUNDLE: %v", err)
		}
		return p
	}
	out := filepath.Join(t.TempDir(), "jssip.js")
	cmd := exec.Command("sh", filepath.Join(sipjsDir(t), "build.sh"), out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("no CALLENGINE_SIPJS_BUNDLE, and e2e/sipjs/build.sh failed (it needs node, npm and the npm registry: run it outside the network namespace and set CALLENGINE_SIPJS_BUNDLE): %v\n%s", err, b)
	}
	return out
}

func sipjsDir(t *testing.T) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "e2e", "sipjs")
}

// startSIPServer runs callengine serve with SIP over WebSocket on a free
// port of 127.0.0.1 (UDP and TCP on free ports too); it returns the server
// and the ws URL.
func startSIPServer(t *testing.T) (*server, string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wsAddr := l.Addr().String()
	l.Close()
	s := startServerWith(t, serveConfig+fmt.Sprintf("sip:\n  udp: 127.0.0.1:0\n  tcp: 127.0.0.1:0\n  ws: %s\n", wsAddr))
	if !strings.Contains(s.log.String(), "ws="+wsAddr) {
		t.Fatalf("serve does not listen for SIP over WebSocket on %s:\n%s", wsAddr, tail(s.log.String(), 20))
	}
	return s, "ws://" + wsAddr
}

// sipPhone is a tab with the JsSIP page (e2e/sipjs/phone.html).
type sipPhone struct{ *person }

func openSIPPhone(t *testing.T, pageURL, name string) sipPhone {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	p := &person{t: t, name: name, ctx: ctx, log: &syncBuffer{}}
	sp := sipPhone{p}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s: console:\n%s", name, tail(p.log.String(), 30))
			t.Logf("%s: state: %s", name, sp.state())
		}
		c, cl := context.WithTimeout(ctx, 2*time.Second)
		_, _ = chromedp.Run(c, chromedp.Evaluate[bool](`phone.stop(), true`))
		cl()
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
	if err := chromedp.Do(ctx, chromedp.Navigate(pageURL)); err != nil {
		t.Fatalf("%s: load %s: %v", name, pageURL, err)
	}
	p.waitJS("JsSIP loaded", `window.JsSIP && window.phone`)
	return sp
}

func (p sipPhone) run(js string) {
	p.t.Helper()
	if _, err := eval[bool](p.person, "("+js+"), true"); err != nil {
		p.t.Fatalf("%s: %s: %v", p.name, js, err)
	}
}

func (p sipPhone) state() string {
	v, err := eval[json.RawMessage](p.person, `phone.state()`)
	if err != nil {
		return err.Error()
	}
	return string(v)
}

type sipStats struct {
	Inbound  int64 `json:"inbound"`
	Outbound int64 `json:"outbound"`
}

// audioFlows waits until the tab's session receives audio: its inbound-rtp
// bytes grow by more than 2 kB from a first reading.
func (p sipPhone) audioFlows() sipStats {
	p.t.Helper()
	var base, last sipStats
	var err error
	haveBase := false
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		last, err = eval[sipStats](p.person, `phone.stats()`)
		if err != nil || last.Inbound < 0 {
			continue
		}
		if !haveBase {
			base, haveBase = last, true
			continue
		}
		if last.Inbound > base.Inbound+2000 && last.Outbound > base.Outbound {
			return last
		}
	}
	p.t.Fatalf("%s: no audio received within %v: first %+v, last %+v (err %v); state %s", p.name, wait, base, last, err, p.state())
	return last
}

// metric waits until the server's /metrics has the line.
func (s *server) metric(line string) {
	s.t.Helper()
	var body string
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		resp, err := http.Get(s.url + "metrics")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		for l := range strings.SplitSeq(body, "\n") {
			if l == line {
				return
			}
		}
	}
	s.t.Fatalf("/metrics has no line %q within %v:\n%s", line, wait, grepLines(body, "callengine_calls"))
}

func grepLines(s, sub string) string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// Two JsSIP phones register over SIP over WebSocket with digest; alice
// calls bob's extension, bob answers with the fake microphone, both see
// the session confirmed and receive audio (through serve's relay, which
// terminates each browser's WebRTC: relay_phones is serve's default);
// alice's BYE ends the call in the
// engine (/metrics while it runs, the journal after it stops).
func TestJsSIPCallOverWebSocket(t *testing.T) {
	bundle := sipjsBundle(t)
	s, wsURL := startSIPServer(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/jssip.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		http.ServeFile(w, r, bundle)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join(sipjsDir(t), "phone.html"))
	})
	page := httptest.NewServer(mux)
	t.Cleanup(page.Close)

	alice := openSIPPhone(t, page.URL+"/", "alice")
	bob := openSIPPhone(t, page.URL+"/", "bob")
	for _, p := range []sipPhone{alice, bob} {
		p.run(fmt.Sprintf(`phone.start(%q, %q, %q)`, wsURL, p.name, passwords[p.name]))
	}
	for _, p := range []sipPhone{alice, bob} {
		p.waitJS("registered", `phone.state().registered`)
	}

	alice.run(fmt.Sprintf(`phone.call(%q)`, "sip:"+extensions["bob"]+"@callengine"))
	bob.waitJS("ringing", `phone.state().session === 'incoming'`)
	bob.run(`phone.answer()`)
	alice.waitJS("confirmed", `phone.state().session === 'confirmed'`)
	bob.waitJS("confirmed", `phone.state().session === 'confirmed'`)

	a, b := alice.audioFlows(), bob.audioFlows()
	t.Logf("audio: alice received %d bytes, sent %d; bob received %d, sent %d", a.Inbound, a.Outbound, b.Inbound, b.Outbound)

	alice.run(`phone.hangup()`)
	alice.waitJS("ended", `phone.state().session === 'ended'`)
	bob.waitJS("ended by alice", `phone.state().session === 'ended' && phone.state().end_originator === 'remote'`)
	s.metric(`callengine_calls_ended_total{reason="hangup"} 1`)

	// The journal says the same: the one call, alice → bob, answered and
	// hung up.
	s.stop()
	out, err := exec.Command(binPath, "replay", s.data, "--json").CombinedOutput()
	if err != nil {
		t.Fatalf("callengine replay: %v\n%s", err, out)
	}
	var journal struct {
		Calls []struct {
			Caller, Callee struct{ Client string }
			State, Reason  string
			EndedBy        string `json:"ended_by"`
			AnsweredDevice string `json:"answered_device"`
			ConnectAt      string `json:"connect_at"`
		}
	}
	if err := json.Unmarshal(out, &journal); err != nil {
		t.Fatalf("callengine replay --json: %v\n%s", err, out)
	}
	if n := len(journal.Calls); n != 1 {
		t.Fatalf("the journal has %d calls, want 1:\n%s", n, out)
	}
	c := journal.Calls[0]
	if c.Caller.Client != "alice" || c.Callee.Client != "bob" || c.State != "ended" || c.Reason != "hangup" ||
		c.EndedBy != "caller" || c.ConnectAt == "" || !strings.HasPrefix(c.AnsweredDevice, "sip-") {
		t.Fatalf("the journal's call: %+v\n%s", c, out)
	}
}
