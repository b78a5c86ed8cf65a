package sip

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
)

// The test harness: an engine on a bbolt file in t.TempDir(), the adapter on
// 127.0.0.1 with free ports, clients with passwords, and sipp as the phones.

type harness struct {
	t   *testing.T
	udp string // the UDP address the adapter listens on; "" for a free port
	eng *engine.Engine
	ad  *Adapter
	sub *engine.Subscription
	evs []engine.Event

	trunks *Trunks         // the engine's far end, or nil (newHarnessTrunks)
	tune   func(*Settings) // changes the adapter's settings before it starts; nil for none
}

// clients every harness provisions: alice 1001, bob 1002, carol 1003.
var testClients = []engine.ClientSpec{
	{ID: "alice", Name: "Alice", Extensions: []string{"1001"}, Password: "alice-secret", Permissions: []string{events.PermissionRecord}},
	{ID: "bob", Name: "Bob", Extensions: []string{"1002"}, Password: "bob-secret"},
	{ID: "carol", Name: "Carol", Extensions: []string{"1003"}, Password: "carol-secret"},
}

func password(id string) string {
	if id == dave.ID {
		return dave.Password
	}
	for _, c := range testClients {
		if c.ID == id {
			return c.Password
		}
	}
	return ""
}

func newHarness(t *testing.T, dir string, c clock.Clock) *harness {
	t.Helper()
	return newHarnessAt(t, dir, "", c)
}

// newHarnessAt is newHarness with the adapter's UDP address (a restart
// listens where the phones know the engine).
func newHarnessAt(t *testing.T, dir, udp string, c clock.Clock) *harness {
	t.Helper()
	return newHarnessTrunks(t, dir, udp, c, nil)
}

// newHarnessTrunks is newHarnessAt whose engine's far end is trunks (nil:
// the loopback); with trunks, dave is provisioned too.
func newHarnessTrunks(t *testing.T, dir, udp string, c clock.Clock, trunks []Trunk, tune ...func(*Settings)) *harness {
	t.Helper()
	ctx := context.Background()
	if dir == "" {
		dir = t.TempDir()
	}
	cfg := engine.Config{DataDir: dir, Domain: DefaultRealm, RingTimeout: 20 * time.Second, NoHistory: true}
	clients := testClients
	var ts *Trunks
	if trunks != nil {
		var err error
		if ts, err = NewTrunks(trunks); err != nil {
			t.Fatal(err)
		}
		cfg.Adapter = ts
		clients = append(append([]engine.ClientSpec(nil), testClients...), dave)
	}
	eng, err := engine.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	for _, spec := range clients {
		if _, err := eng.Client(ctx, spec.ID); err == nil {
			continue
		}
		if _, err := eng.RegisterClient(ctx, spec); err != nil {
			t.Fatal(err)
		}
	}
	h := &harness{t: t, eng: eng, udp: udp, trunks: ts}
	if len(tune) > 0 {
		h.tune = tune[0]
	}
	h.sub, err = eng.Subscribe(ctx, engine.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	h.start(c)
	return h
}

func (h *harness) start(c clock.Clock) {
	h.t.Helper()
	udp := h.udp
	if udp == "" {
		udp = "127.0.0.1:0"
	}
	set := Settings{UDP: udp, TCP: "127.0.0.1:0", WS: "127.0.0.1:0", Clock: c, RingTimeout: 20 * time.Second, Logger: testLogger()}
	if h.tune != nil {
		h.tune(&set)
	}
	ad, err := New(h.eng, set)
	if err != nil {
		h.t.Fatal(err)
	}
	if h.trunks != nil {
		ad.SetTrunks(h.trunks)
	}
	if err := ad.Start(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { ad.Close() })
	h.ad = ad
}

func TestMain(m *testing.M) {
	sip.SetDefaultLogger(testLogger()) // sipgo's own logs (the test phones')
	os.Exit(m.Run())
}

// testLogger discards the adapter's logs unless SIP_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("SIP_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func (h *harness) port() int { // the UDP port
	_, p, _ := net.SplitHostPort(h.ad.Addr("udp"))
	n, _ := strconv.Atoi(p)
	return n
}

// waitEvent waits for an event that matches.
func (h *harness) waitEvent(what string, match func(*engine.Event) bool) engine.Event {
	h.t.Helper()
	for _, ev := range h.evs {
		if match(&ev) {
			return ev
		}
	}
	deadline := time.After(15 * time.Second)
	for {
		select {
		case ev := <-h.sub.Events():
			h.evs = append(h.evs, ev)
			if match(&ev) {
				return ev
			}
		case <-deadline:
			h.t.Fatalf("no %s event; saw %s", what, h.seen())
			return engine.Event{}
		}
	}
}

func (h *harness) seen() string {
	var b bytes.Buffer
	for _, ev := range h.evs {
		fmt.Fprintf(&b, "\n  %s %s", ev.Stream, ev.Type)
		if ev.Call != nil {
			fmt.Fprintf(&b, " state=%s reason=%s by=%s devices=%v answered=%s", ev.Call.State, ev.Call.Reason, ev.Call.EndedBy, ev.Call.RingingDevices, ev.Call.AnsweredDevice)
		}
	}
	return b.String()
}

// callEnded waits for the end of a call and returns it.
func (h *harness) callEnded() *engine.Call {
	h.t.Helper()
	ev := h.waitEvent("CallEnded", func(ev *engine.Event) bool { return ev.Type == events.TypeCallEnded })
	return ev.Call
}

func (h *harness) sipDevices(client string) []engine.Device {
	h.t.Helper()
	cl, err := h.eng.Client(context.Background(), client)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []engine.Device
	for _, d := range cl.Devices {
		if d.Kind == DeviceKind {
			out = append(out, d)
		}
	}
	return out
}

// freePort returns a UDP port free on 127.0.0.1 now.
func freePort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// sippPath finds sipp or fails the test: the test command installs it.
func sippPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("sipp")
	if err != nil {
		t.Fatal("sipp is not installed: the test command installs it (apt-get install -y --no-install-recommends sip-tester)")
	}
	return p
}

// sipp is one run of sipp on loopback, bounded by -m 1 and -timeout.
type sipp struct {
	cmd     *exec.Cmd
	out     lockedBuffer // sipp's output, written by exec's copier
	err     chan error
	errFile string
}

// runSipp starts sipp with scenario file (under testdata/sipp), on local
// port, with keys; remote is "" for a UAS.
func runSipp(t *testing.T, scenario string, port int, remote string, args ...string) *sipp {
	t.Helper()
	return runSippOn(t, "127.0.0.1", scenario, port, remote, args...)
}

// freeMediaPorts is a base port for sipp's media (-mp) whose four UDP
// ports are free: sipp binds the audio and video RTP sockets at base and
// base+2, and one taken by another socket (a harness's SIP port) fails
// the scenario at start.
func freeMediaPorts(t *testing.T, ip string) int {
	t.Helper()
	for range 50 {
		base := freePortOn(t, ip) &^ 1
		free := true
		for p := base; p < base+4 && free; p++ {
			c, err := net.ListenPacket("udp", net.JoinHostPort(ip, strconv.Itoa(p)))
			if err != nil {
				free = false
				continue
			}
			c.Close()
		}
		if free {
			return base
		}
	}
	t.Fatal("no four free UDP ports in a row for sipp's media")
	return 0
}

// runSippOn is runSipp on another loopback address. The process is killed
// at the end of the test if it still runs; its exit is seen through a
// channel only (reading cmd.ProcessState beside cmd.Wait is a data race).
func runSippOn(t *testing.T, ip, scenario string, port int, remote string, args ...string) *sipp {
	t.Helper()
	bin := sippPath(t)
	dir := t.TempDir()
	all := []string{"-sf", filepath.Join("testdata", "sipp", scenario), "-i", ip, "-p", strconv.Itoa(port),
		"-m", "1", "-timeout", "20s", "-timeout_error", "-nostdin", "-trace_err", "-error_file", filepath.Join(dir, "err.log"),
		"-mp", strconv.Itoa(freeMediaPorts(t, ip))}
	all = append(all, args...)
	if remote != "" {
		all = append(all, remote)
	}
	s := &sipp{cmd: exec.Command(bin, all...), err: make(chan error, 1), errFile: filepath.Join(dir, "err.log")}
	s.cmd.Dir = "."
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { s.err <- s.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			s.cmd.Process.Kill()
			<-exited
		}
	})
	return s
}

// listening waits until a UDP socket is bound to ip:port (a sipp UAS or
// registrar that must answer the first request the adapter sends: a
// REGISTER left unanswered is tried again only after RegisterRetry), as
// /proc/net/udp tells; it fails the test after 10 s.
func (s *sipp) listening(t *testing.T, ip string, port int) {
	t.Helper()
	a := net.ParseIP(ip).To4()
	want := fmt.Sprintf("%02X%02X%02X%02X:%04X", a[3], a[2], a[1], a[0], port)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile("/proc/net/udp"); err == nil && strings.Contains(string(b), " "+want+" ") {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s:%d after 10 s\n%s", ip, port, tail(s.out.Bytes()))
}

// wait waits for sipp to exit and fails the test unless it exited 0.
func (s *sipp) wait(t *testing.T, name string) {
	t.Helper()
	select {
	case err := <-s.err:
		if err != nil {
			t.Fatalf("sipp %s: %v\n%s\n%s", name, err, tail(s.out.Bytes()), readFile(s.errFile))
		}
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		t.Fatalf("sipp %s did not end\n%s", name, tail(s.out.Bytes()))
	}
}

func readFile(name string) string {
	b, _ := os.ReadFile(name)
	return tail(b)
}

func tail(b []byte) string {
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// register registers client with a sipp UAC whose Contact is the port of
// a sipp UAS (contactPort).
func (h *harness) register(client string, contactPort int, expires int) {
	h.t.Helper()
	registerPhone(h.t, h.ad.Addr("udp"), client, contactPort, expires)
}

// registerPhone registers client at the adapter on addr (UDP) with a sipp
// UAC, digest authenticated, for expires seconds; its Contact names
// contactPort (where a sipp UAS answers, or nothing listens).
func registerPhone(t *testing.T, addr, client string, contactPort, expires int) {
	t.Helper()
	s := runSipp(t, "register.xml", freePort(t), addr, "-s", client, "-au", client, "-ap", password(client),
		"-key", "contact_port", strconv.Itoa(contactPort), "-key", "expires", strconv.Itoa(expires))
	s.wait(t, "register "+client)
}

// uac runs a sipp UAC calling service as caller.
func (h *harness) uac(scenario, caller, service string, keys ...string) *sipp {
	h.t.Helper()
	args := []string{"-s", service, "-au", caller, "-ap", password(caller), "-key", "caller", caller}
	return runSipp(h.t, scenario, freePort(h.t), h.ad.Addr("udp"), append(args, keys...)...)
}

func has(list []string, s string) bool { return slices.Contains(list, s) }
