package sip

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"
)

// A driver for baresip (Debian package baresip-core, 1.0.0), a real
// softphone, as a registered phone of the harness's adapter: a config
// directory from testdata/baresip (loopback only, audio from a generated
// WAV file, played to nowhere), driven over its ctrl_tcp module (JSON in
// netstrings: commands in, responses and events out). Every run is bounded
// by baresip's -t and by a context; cleanup kills it.

// baresipPath finds baresip or fails the test: the test command installs it.
func baresipPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("baresip")
	if err != nil {
		t.Fatal("baresip is not installed: the test command installs it (apt-get install -y --no-install-recommends baresip-core)")
	}
	return p
}

// baresipEvent is an event baresip pushes over ctrl_tcp.
type baresipEvent struct {
	Event     bool   `json:"event"`
	Type      string `json:"type"`
	Class     string `json:"class"`
	AOR       string `json:"accountaor"`
	Direction string `json:"direction"`
	PeerURI   string `json:"peeruri"`
	ID        string `json:"id"`
	Param     string `json:"param"`
}

// baresipResponse answers a command (same token).
type baresipResponse struct {
	Response bool   `json:"response"`
	OK       bool   `json:"ok"`
	Data     string `json:"data"`
	Token    string `json:"token"`
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Bytes returns a copy of what was written so far.
func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

// baresipPhone is one running baresip with one account.
type baresipPhone struct {
	t       *testing.T
	name    string // the client id, the account's user
	sipPort int
	cmd     *exec.Cmd
	out     lockedBuffer
	exited  chan struct{}
	conn    net.Conn
	wmu     sync.Mutex
	token   int
	resp    chan baresipResponse
	evc     chan baresipEvent
	evs     []baresipEvent // events seen so far
	readErr error          // why the reader stopped; read after evc is closed
}

// baresipOptions are the per-phone choices.
type baresipOptions struct {
	AnswerMode string // auto (default) or manual
	// MediaEnc is the account's media encryption (baresip's mediaenc:
	// "srtp-mand", SDES-SRTP only, with its srtp module); "": plain RTP.
	MediaEnc string
}

// writeWAV writes seconds of a 440 Hz sine tone, 8 kHz mono s16 (PCM WAV).
func writeWAV(t *testing.T, path string, seconds int) {
	t.Helper()
	const rate = 8000
	n := rate * seconds
	var b bytes.Buffer
	b.Grow(44 + 2*n)
	le := binary.LittleEndian
	b.WriteString("RIFF")
	binary.Write(&b, le, uint32(36+2*n))
	b.WriteString("WAVEfmt ")
	binary.Write(&b, le, uint32(16))   // fmt chunk size
	binary.Write(&b, le, uint16(1))    // PCM
	binary.Write(&b, le, uint16(1))    // mono
	binary.Write(&b, le, uint32(rate)) // sample rate
	binary.Write(&b, le, uint32(2*rate))
	binary.Write(&b, le, uint16(2))  // block align
	binary.Write(&b, le, uint16(16)) // bits per sample
	b.WriteString("data")
	binary.Write(&b, le, uint32(2*n))
	for i := range n {
		v := int16(8000 * math.Sin(2*math.Pi*440*float64(i)/rate))
		binary.Write(&b, le, v)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// toneWAV is a 30 s tone in the test's temp dir, for every phone of it.
func toneWAV(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tone.wav")
	writeWAV(t, p, 30)
	return p
}

// freeTCPPort returns a TCP port free on 127.0.0.1 now.
func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// freeSIPPort is a port free for both UDP and TCP (baresip listens on both).
func freeSIPPort(t *testing.T) int {
	t.Helper()
	for range 20 {
		p := freePort(t)
		if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p)); err == nil {
			l.Close()
			return p
		}
	}
	t.Fatal("no port free for UDP and TCP")
	return 0
}

// fillTemplate renders testdata/baresip/<name> into dir.
func fillTemplate(t *testing.T, name, dir string, data any) {
	t.Helper()
	tmpl, err := template.ParseFiles(filepath.Join("testdata", "baresip", name))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := tmpl.Execute(f, data); err != nil {
		t.Fatal(err)
	}
}

// startBaresip starts a baresip registered (or registering) as client at
// the harness's adapter, audio from wav, and connects to its ctrl_tcp.
func (h *harness) startBaresip(client, wav string, opt baresipOptions) *baresipPhone {
	t := h.t
	t.Helper()
	bin := baresipPath(t)
	if opt.AnswerMode == "" {
		opt.AnswerMode = "auto"
	}
	dir := t.TempDir()
	p := &baresipPhone{t: t, name: client, sipPort: freeSIPPort(t), exited: make(chan struct{}),
		resp: make(chan baresipResponse, 16), evc: make(chan baresipEvent, 256)}
	ctrl := freeTCPPort(t)
	fillTemplate(t, "config", dir, map[string]any{"SIPPort": p.sipPort, "WAV": wav, "CtrlPort": ctrl, "SRTP": opt.MediaEnc != ""})
	fillTemplate(t, "accounts", dir, map[string]any{"User": client, "EnginePort": h.port(), "Password": password(client), "AnswerMode": opt.AnswerMode, "MediaEnc": opt.MediaEnc})

	// The run's bound: baresip's own -t, and a context that kills it.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	args := []string{"-f", dir, "-t", "45", "-v"}
	if os.Getenv("SIP_TEST_LOG") != "" {
		args = append(args, "-s") // its SIP trace
	}
	p.cmd = exec.CommandContext(ctx, bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		if p.conn != nil {
			p.conn.Close()
		}
		p.cmd.Process.Kill()
		<-p.exited
		cancel()
		if os.Getenv("SIP_TEST_LOG") != "" {
			t.Logf("baresip %s events: %s", client, p.seen())
		}
		if t.Failed() {
			out := p.out.String()
			if os.Getenv("SIP_TEST_LOG") == "" {
				out = tail([]byte(out))
			}
			t.Logf("baresip %s (SIP 127.0.0.1:%d) output:\n%s", client, p.sipPort, out)
		}
	})

	// ctrl_tcp listens once its module is loaded: a few tries.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(ctrl), time.Second)
		if err == nil {
			p.conn = c
			break
		}
		select {
		case <-p.exited:
			t.Fatalf("baresip %s exited at start:\n%s", client, tail([]byte(p.out.String())))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("baresip %s: no ctrl_tcp on port %d: %v\n%s", client, ctrl, err, tail([]byte(p.out.String())))
		}
		time.Sleep(50 * time.Millisecond)
	}
	go p.read()
	return p
}

// readNetstring reads one netstring ("<len>:<bytes>,").
func readNetstring(r *bufio.Reader) ([]byte, error) {
	head, err := r.ReadString(':')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(head, ":")))
	if err != nil || n < 0 || n > 1<<20 {
		return nil, fmt.Errorf("netstring length %q", head)
	}
	buf := make([]byte, n+1)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	if buf[n] != ',' {
		return nil, errors.New("netstring without its trailing comma")
	}
	return buf[:n], nil
}

func writeNetstring(w io.Writer, b []byte) error {
	_, err := fmt.Fprintf(w, "%d:%s,", len(b), b)
	return err
}

// read passes responses and events on until the connection ends.
func (p *baresipPhone) read() {
	defer close(p.evc)
	r := bufio.NewReader(p.conn)
	for {
		msg, err := readNetstring(r)
		if err != nil {
			p.readErr = err
			return
		}
		var probe struct {
			Event    bool `json:"event"`
			Response bool `json:"response"`
		}
		if err := json.Unmarshal(msg, &probe); err != nil {
			p.readErr = fmt.Errorf("ctrl_tcp message %q: %w", msg, err)
			return
		}
		switch {
		case probe.Response:
			var resp baresipResponse
			json.Unmarshal(msg, &resp)
			p.resp <- resp
		case probe.Event:
			var ev baresipEvent
			json.Unmarshal(msg, &ev)
			p.evc <- ev
		}
	}
}

// do sends a command (its params "" for none) and waits for its response;
// a response that is not ok fails the test.
func (p *baresipPhone) do(command, params string) string {
	p.t.Helper()
	p.wmu.Lock()
	p.token++
	tok := strconv.Itoa(p.token)
	b, _ := json.Marshal(map[string]string{"command": command, "params": params, "token": tok})
	err := writeNetstring(p.conn, b)
	p.wmu.Unlock()
	if err != nil {
		p.t.Fatalf("baresip %s: %s: %v", p.name, command, err)
	}
	timeout := time.After(5 * time.Second)
	for {
		select {
		case r := <-p.resp:
			if r.Token != tok {
				continue
			}
			if !r.OK {
				p.t.Fatalf("baresip %s: %s %s: not ok: %s", p.name, command, params, r.Data)
			}
			return r.Data
		case <-timeout:
			p.t.Fatalf("baresip %s: no response to %s %s\n%s", p.name, command, params, tail([]byte(p.out.String())))
			return ""
		}
	}
}

// waitEvent waits for an event of type typ (and param, when not "") from
// this phone, among those seen or to come, within 15 s.
func (p *baresipPhone) waitEvent(typ, param string) baresipEvent {
	p.t.Helper()
	return p.waitEventAfter(0, typ, param)
}

// mark drains the events already received and returns how many there
// are: waitEventAfter(mark, …) waits for a newer one.
func (p *baresipPhone) mark() int {
	for {
		select {
		case ev, ok := <-p.evc:
			if !ok {
				return len(p.evs)
			}
			p.evs = append(p.evs, ev)
		default:
			return len(p.evs)
		}
	}
}

// waitEventAfter is waitEvent for an event after the first mark ones.
func (p *baresipPhone) waitEventAfter(mark int, typ, param string) baresipEvent {
	p.t.Helper()
	match := func(ev baresipEvent) bool { return ev.Type == typ && (param == "" || ev.Param == param) }
	for _, ev := range p.evs[mark:] {
		if match(ev) {
			return ev
		}
	}
	deadline := time.After(15 * time.Second)
	for {
		select {
		case ev, ok := <-p.evc:
			if !ok {
				p.t.Fatalf("baresip %s: ctrl_tcp closed (%v) before %s; saw %s\n%s", p.name, p.readErr, typ, p.seen(), tail([]byte(p.out.String())))
			}
			p.evs = append(p.evs, ev)
			if match(ev) {
				return ev
			}
		case <-deadline:
			p.t.Fatalf("baresip %s: no %s %s event; saw %s\n%s", p.name, typ, param, p.seen(), tail([]byte(p.out.String())))
			return baresipEvent{}
		}
	}
}

func (p *baresipPhone) seen() string {
	var b strings.Builder
	for _, ev := range p.evs {
		fmt.Fprintf(&b, "\n  %s %s %q", ev.Class, ev.Type, ev.Param)
	}
	return b.String()
}

// uri is a SIP URI of the harness's adapter for user (a client id or an
// extension).
func (h *harness) uri(user string) string {
	return "sip:" + user + "@127.0.0.1:" + strconv.Itoa(h.port())
}
