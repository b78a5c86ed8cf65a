package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/callengine/callengine/adapters/ws/wsclient"
	"github.com/callengine/callengine/media"
	"github.com/callengine/callengine/media/mediatest"
)

// TestAsMainEnv is the environment variable the webrtc workload adds to the
// serve child: a test binary that finds it set runs as the callengine
// program (its TestMain), so that `go test` can run the workload with the
// test binary as the server.
const TestAsMainEnv = "CALLENGINE_TEST_AS_MAIN"

// WebRTCConfig shapes a WebRTC run.
type WebRTCConfig struct {
	Calls int // relayed calls held at once (2 clients each)
	// Concurrency is how many calls are set up at a time (and logins made);
	// default 8.
	Concurrency int
	// Duration is the measured window of audio; default 3 s. Warmup, before
	// it, lets the streams settle; default 1 s.
	Duration time.Duration
	Warmup   time.Duration
	// Dir receives the serve configuration and the server's data; it must
	// exist.
	Dir string
	// ServeCommand runs the server: the configuration's path is added as
	// --config FILE, and TestAsMainEnv=1 to its environment. Default: this
	// program's own executable, "serve".
	ServeCommand []string
	Progress     ProgressFunc
}

// WebRTCResult is what WebRTC measured. The server is a separate process,
// so its CPU and memory are read from /proc (Linux; elsewhere they are
// zero and Have* false).
type WebRTCResult struct {
	Calls int // calls asked for
	// SetUp calls were set up (both peers connected); Failed ones were not
	// (Errors gives the first reasons). Carried calls are set-up calls
	// whose own loss in the window (both directions together) was < 1 %.
	SetUp, Failed, Carried int
	Errors                 []string
	// Setup phase: wall time to set up the calls (logins excluded), the
	// calls per second it gives, and each call's time from the caller's
	// offer (call.create) until both peers were connected.
	Setup                           time.Duration
	SetupsPerSec                    float64
	SetupP50, SetupP99, SetupMax    time.Duration
	Window                          time.Duration // the measured window
	Sent, Received                  uint64        // audio packets the peers sent in the window, and received from their call's other side
	Loss                            float64       // 1 − Received/Sent
	PacketsPerSec                   float64       // Received per second of the window: packets relayed end to end
	WorstCallLoss                   float64
	HaveCPU                         bool
	ServerCPU, ClientCPU            time.Duration // CPU time (user + system) in the window: the serve child, this process
	HaveRSS                         bool
	RSSBefore, RSSAfter             uint64 // the child's VmRSS after the logins, and at the end of the window
	HaveHeap                        bool
	HeapBefore, HeapAfter           uint64 // the child's callengine_go_heap_live_bytes, same instants
	HaveRelay                       bool
	RelayIn, RelayOut, RelayDropped uint64  // the relay's packet counters over the window (/metrics)
	RelayLost                       uint64  // packets missing in the sequences the relay received (lost before it)
	Load1                           float64 // /proc/loadavg, 1 minute, at the end of the window (-1: unknown)
}

// SentShare is the packets the peers sent in the window ÷ what 20 ms
// pacing gives (50 a second per direction): below 1 when the load
// generator did not get the CPU to keep its pace.
func (r WebRTCResult) SentShare() float64 {
	if r.SetUp == 0 || r.Window <= 0 {
		return 0
	}
	return float64(r.Sent) / (float64(2*r.SetUp) * 50 * r.Window.Seconds())
}

// CPUPerCallSecond is the server's CPU per call per second of the window,
// in seconds (0.01 = 10 ms of CPU per call-second = 1 % of one core).
func (r WebRTCResult) CPUPerCallSecond() float64 {
	if r.SetUp == 0 || r.Window <= 0 {
		return 0
	}
	return r.ServerCPU.Seconds() / r.Window.Seconds() / float64(r.SetUp)
}

func (c *WebRTCConfig) defaults() error {
	if c.Calls < 1 {
		return fmt.Errorf("bench: webrtc: %d calls", c.Calls)
	}
	if c.Calls > 400_000 {
		return fmt.Errorf("bench: webrtc: %d calls: at most 400,000", c.Calls)
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 8
	}
	if c.Duration <= 0 {
		c.Duration = 3 * time.Second
	}
	if c.Warmup <= 0 {
		c.Warmup = time.Second
	}
	if len(c.ServeCommand) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		c.ServeCommand = []string{exe, "serve"}
	}
	return nil
}

// webrtcClient names client i (1-based) of the run and its extension.
func webrtcClient(i int) (id, ext string) {
	return fmt.Sprintf("w%04d", i), strconv.Itoa(100000 + i)
}

// writeServeConfig writes the serve configuration of n calls into dir.
func writeServeConfig(dir string, n int) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "# written by callengine bench --workload webrtc\ndata: %q\nhttp: 127.0.0.1:0\nlog_level: warn\nring_timeout: 1h\n",
		filepath.Join(dir, "data"))
	b.WriteString("media:\n  loopback_only: true\necho:\n  disabled: true\nclients:\n")
	for i := 1; i <= 2*n; i++ {
		id, ext := webrtcClient(i)
		fmt.Fprintf(&b, "  - id: %s\n    password: %s\n    extensions: [%q]\n", id, webrtcPassword(id), ext)
	}
	path := filepath.Join(dir, "serve.yaml")
	return path, os.WriteFile(path, []byte(b.String()), 0o600)
}

func webrtcPassword(id string) string { return "bench-" + id + "-secret" }

// serveChild is a callengine serve process.
type serveChild struct {
	cmd    *exec.Cmd
	addr   string // host:port
	exited chan struct{}
	tail   *tailBuffer
}

// tailBuffer keeps the last bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 4096 {
		t.buf = slices.Clone(t.buf[len(t.buf)-4096:])
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}

// startServe starts the serve child and waits for its start line and for
// /readyz (the clients provisioned): bounded by ctx.
func startServe(ctx context.Context, command []string, config string) (*serveChild, error) {
	args := append(slices.Clone(command[1:]), "--config", config)
	cmd := exec.Command(command[0], args...)
	// The configuration file rules: CALLENGINE_* settings of this
	// environment are not passed on.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CALLENGINE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, TestAsMainEnv+"=1")
	cmd.SysProcAttr = childProcAttr()
	c := &serveChild{cmd: cmd, exited: make(chan struct{}), tail: &tailBuffer{}}
	cmd.Stderr = c.tail
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", strings.Join(command, " "), err)
	}
	go func() { _ = cmd.Wait(); close(c.exited) }()
	lines := make(chan string, 1)
	go func() {
		r := bufio.NewReader(out)
		line, err := r.ReadString('\n')
		if err == nil {
			lines <- line
		}
		close(lines)
		_, _ = io.Copy(io.Discard, r)
	}()
	fail := func(err error) (*serveChild, error) {
		c.stop()
		if t := c.tail.String(); t != "" {
			err = fmt.Errorf("%w; its stderr: %s", err, t)
		}
		return nil, err
	}
	const prefix = "callengine serve: http://"
	select {
	case line, ok := <-lines:
		if !ok || !strings.HasPrefix(line, prefix) {
			return fail(fmt.Errorf("serve printed no start line (got %q)", strings.TrimSpace(line)))
		}
		c.addr, _, _ = strings.Cut(strings.TrimPrefix(line, prefix), "/")
	case <-ctx.Done():
		return fail(fmt.Errorf("waiting for serve's start line: %w", ctx.Err()))
	}
	for {
		resp, err := http.Get("http://" + c.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c, nil
			}
		}
		select {
		case <-c.exited:
			return fail(fmt.Errorf("serve exited while starting: %v", c.cmd.ProcessState))
		case <-ctx.Done():
			return fail(fmt.Errorf("waiting for serve to be ready: %w", ctx.Err()))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stop ends the child: SIGTERM (it drains), then SIGKILL after 10 s.
func (c *serveChild) stop() { stopChild(c.cmd, c.exited, syscall.SIGTERM, 10*time.Second) }

// stopChild ends the child process cmd, whose end closes exited: sig,
// then SIGKILL when it has not ended within grace. It returns once the
// child ended; at once if it had.
func stopChild(cmd *exec.Cmd, exited <-chan struct{}, sig os.Signal, grace time.Duration) {
	select {
	case <-exited:
		return
	default:
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// metrics scrapes the child's /metrics: the series without labels.
func (c *serveChild) metrics(ctx context.Context) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+c.addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			out[name] = f
		}
	}
	return out, sc.Err()
}

// procCPU is the user + system CPU time of process pid ("self" for this
// one), from /proc/PID/stat (in clock ticks of 1/100 s, Linux's USER_HZ).
func procCPU(pid string) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("bench: /proc stat without a command")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, errors.New("bench: short /proc stat")
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// procRSS is the resident memory of process pid, from /proc/PID/status.
func procRSS(pid string) (uint64, error) {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("bench: no VmRSS")
}

// loadAvg1 is the 1-minute load average, or -1.
func loadAvg1() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// drainWait is how long the packets in flight at the end of the window are
// waited for.
const drainWait = 300 * time.Millisecond

// webrtcCall is one call of the run: caller (odd client) and callee.
type webrtcCall struct {
	caller, callee         *wsclient.Client
	callerPeer, calleePeer *mediatest.TestPeer
	callerMark, calleeMark string
	calleeExt              string
	setup                  time.Duration
	ok                     bool
}

// counts are a call's packet counters at an instant.
type counts struct{ sentA, sentB, recvB, recvA uint64 }

func (c *webrtcCall) counts() counts {
	return counts{
		sentA: c.callerPeer.Sent(), sentB: c.calleePeer.Sent(),
		recvB: c.calleePeer.ReceivedFrom(c.callerMark), recvA: c.callerPeer.ReceivedFrom(c.calleeMark),
	}
}

// WebRTC runs the webrtc workload: a real `callengine serve` child on
// loopback, and from this process cfg.Calls calls between Go WebRTC peers
// (package mediatest) that log in and call each other through the
// WebSocket protocol (package wsclient); the relay carries 20 ms audio
// packets both ways, DTLS-SRTP on. It logs every client in, sets the calls
// up cfg.Concurrency at a time, starts the audio, waits cfg.Warmup, then
// counts over cfg.Duration what every peer sent and what it received from
// the other side of its call, and reads the server's CPU and memory. A call
// that cannot be set up is counted and the others go on; a failure of the
// server or of every call is an error.
func WebRTC(ctx context.Context, cfg WebRTCConfig) (r WebRTCResult, err error) {
	if err := cfg.defaults(); err != nil {
		return r, err
	}
	r.Calls, r.Load1 = cfg.Calls, -1
	report := cfg.Progress
	config, err := writeServeConfig(cfg.Dir, cfg.Calls)
	if err != nil {
		return r, err
	}
	phase(report, "webrtc", fmt.Sprintf("serve: starting %s with %s clients", filepath.Base(cfg.ServeCommand[0]), count(int64(2*cfg.Calls))))
	t0 := time.Now()
	child, err := startServe(ctx, cfg.ServeCommand, config)
	if err != nil {
		return r, fmt.Errorf("serve: %w", err)
	}
	defer func() {
		phase(report, "webrtc", "stopping serve")
		child.stop()
		if st := child.cmd.ProcessState; err == nil && st != nil && !st.Success() {
			err = fmt.Errorf("serve exited with %v: %s", st, child.tail.String())
		}
	}()
	pid := strconv.Itoa(child.cmd.Process.Pid)
	finish(report, "webrtc", "serve", time.Since(t0), fmt.Sprintf("serve ready on %s (%s clients provisioned) in %s",
		child.addr, count(int64(2*cfg.Calls)), seconds(time.Since(t0))))

	calls := make([]*webrtcCall, cfg.Calls)
	for i := range calls {
		_, ext := webrtcClient(2*i + 2)
		calls[i] = &webrtcCall{callerMark: fmt.Sprintf("a%07d", i), calleeMark: fmt.Sprintf("b%07d", i), calleeExt: ext}
	}
	defer func() {
		phase(report, "webrtc", "hanging up")
		closeCalls(calls, cfg.Concurrency)
	}()

	// Logins (PBKDF2 on the server: setup, not measured).
	url := "ws://" + child.addr + "/ws"
	s := startSampler(0, Progress{Workload: "webrtc", Phase: "login", Total: int64(2 * cfg.Calls), Unit: "clients"}, report)
	err = parallel(ctx, 2*cfg.Calls, cfg.Concurrency, func(ctx context.Context, k int) error {
		id, _ := webrtcClient(k + 1)
		ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		c, err := wsclient.Dial(ctx, url, wsclient.Options{})
		if err != nil {
			return fmt.Errorf("%s: dial: %w", id, err)
		}
		if k%2 == 0 {
			calls[k/2].caller = c
		} else {
			calls[k/2].callee = c
		}
		if _, err := c.Login(ctx, id, webrtcPassword(id), ""); err != nil {
			return fmt.Errorf("%s: login: %w", id, err)
		}
		s.add(1)
		return nil
	})
	s.stop()
	if err != nil {
		return r, err
	}
	finish(report, "webrtc", "login", s.elapsed(), fmt.Sprintf("%s clients logged in in %s", count(int64(2*cfg.Calls)), seconds(s.elapsed())))

	before, metricsErr := child.metrics(ctx)
	rssBefore, rssErr := procRSS(pid)

	// Call setups.
	s = startSampler(0, Progress{Workload: "webrtc", Phase: "setup", Total: int64(cfg.Calls), Unit: "calls"}, report)
	var mu sync.Mutex
	_ = parallel(ctx, cfg.Calls, cfg.Concurrency, func(ctx context.Context, i int) error {
		if err := setupCall(ctx, calls[i]); err != nil {
			mu.Lock()
			r.Failed++
			if len(r.Errors) < 5 {
				r.Errors = append(r.Errors, fmt.Sprintf("call %d: %v", i, err))
			}
			mu.Unlock()
			return nil
		}
		s.add(1)
		return nil
	})
	r.Setup = s.elapsed()
	s.stop()
	if err := ctx.Err(); err != nil {
		return r, err
	}
	var setups []time.Duration
	var up []*webrtcCall
	for _, c := range calls {
		if c.ok {
			setups = append(setups, c.setup)
			up = append(up, c)
		}
	}
	r.SetUp = len(up)
	if r.SetUp == 0 {
		return r, fmt.Errorf("no call could be set up: %s", strings.Join(r.Errors, "; "))
	}
	slices.Sort(setups)
	r.SetupsPerSec = float64(r.SetUp) / r.Setup.Seconds()
	r.SetupP50, r.SetupP99, r.SetupMax = pick(setups, 0.50), pick(setups, 0.99), setups[len(setups)-1]
	finish(report, "webrtc", "setup", r.Setup, fmt.Sprintf("%s calls set up (%s failed) in %s: %.1f setups/s, p50 %s, p99 %s",
		count(int64(r.SetUp)), count(int64(r.Failed)), seconds(r.Setup), r.SetupsPerSec, millis(r.SetupP50), millis(r.SetupP99)))

	// Audio: warm up, then the window.
	for _, c := range up {
		c.callerPeer.Start()
		c.calleePeer.Start()
	}
	phase(report, "webrtc", fmt.Sprintf("audio: %s calls, 20 ms packets both ways; warm-up %v, then %v measured", count(int64(r.SetUp)), cfg.Warmup, cfg.Duration))
	if err := sleep(ctx, cfg.Warmup); err != nil {
		return r, err
	}
	m0, m0Err := child.metrics(ctx)
	cpu0, cpuErr0 := procCPU(pid)
	self0, selfErr0 := procCPU("self")
	start := time.Now()
	c0 := make([]counts, len(up))
	for i, c := range up {
		c0[i] = c.counts()
	}
	if err := sleep(ctx, cfg.Duration); err != nil {
		return r, err
	}
	// The window ends when the peers stop sending; what is in flight then
	// still counts: the counters are read once it has arrived.
	for _, c := range up {
		c.callerPeer.Stop()
		c.calleePeer.Stop()
	}
	r.Window = time.Since(start)
	cpu1, cpuErr1 := procCPU(pid)
	self1, selfErr1 := procCPU("self")
	rssAfter, rssErr2 := procRSS(pid)
	r.Load1 = loadAvg1()
	if err := sleep(ctx, drainWait); err != nil {
		return r, err
	}
	c1 := make([]counts, len(up))
	for i, c := range up {
		c1[i] = c.counts()
	}
	m1, m1Err := child.metrics(ctx)

	for i := range up {
		// A packet in flight when the window opens counts as received in
		// it but was sent before it: a direction never counts more
		// received than sent (the loss reads at worst a packet high).
		a, b := c0[i], c1[i]
		sentA, sentB := b.sentA-a.sentA, b.sentB-a.sentB
		sent := sentA + sentB
		recv := min(b.recvB-a.recvB, sentA) + min(b.recvA-a.recvA, sentB)
		r.Sent += sent
		r.Received += recv
		loss := 1.0
		if sent > 0 {
			loss = 1 - float64(recv)/float64(sent)
		}
		r.WorstCallLoss = max(r.WorstCallLoss, loss)
		if loss < 0.01 {
			r.Carried++
		}
	}
	if r.Sent > 0 {
		r.Loss = 1 - float64(r.Received)/float64(r.Sent)
	}
	r.PacketsPerSec = float64(r.Received) / r.Window.Seconds()
	if errors.Join(cpuErr0, cpuErr1, selfErr0, selfErr1) == nil {
		r.HaveCPU, r.ServerCPU, r.ClientCPU = true, cpu1-cpu0, self1-self0
	}
	if errors.Join(rssErr, rssErr2) == nil {
		r.HaveRSS, r.RSSBefore, r.RSSAfter = true, rssBefore, rssAfter
	}
	const heap = "callengine_go_heap_live_bytes"
	if errors.Join(metricsErr, m1Err) == nil && before[heap] > 0 && m1[heap] > 0 {
		r.HaveHeap, r.HeapBefore, r.HeapAfter = true, uint64(before[heap]), uint64(m1[heap])
	}
	if errors.Join(m0Err, m1Err) == nil {
		d := func(name string) uint64 { return uint64(max(m1[name]-m0[name], 0)) }
		r.HaveRelay = true
		r.RelayIn, r.RelayOut, r.RelayDropped = d("callengine_media_packets_in_total"), d("callengine_media_packets_out_total"), d("callengine_media_packets_dropped_total")
		r.RelayLost = d("callengine_media_packets_lost_total")
	}
	msg := fmt.Sprintf("%s calls carried with < 1 %% loss of %s set up; loss %.3f %% (%s of %s packets); %s packets/s relayed",
		count(int64(r.Carried)), count(int64(r.SetUp)), 100*r.Loss, count(int64(r.Sent-min(r.Received, r.Sent))), count(int64(r.Sent)), count(int64(r.PacketsPerSec)))
	if r.HaveCPU {
		msg += fmt.Sprintf("; serve CPU %.2f cores (%.2f ms per call-second), load generator %.2f cores",
			r.ServerCPU.Seconds()/r.Window.Seconds(), 1000*r.CPUPerCallSecond(), r.ClientCPU.Seconds()/r.Window.Seconds())
	}
	finish(report, "webrtc", "audio", r.Window, msg)
	return r, nil
}

// setupCall sets call c up: the caller offers (call.create), the callee
// takes call.incoming and answers, both peers connect.
func setupCall(ctx context.Context, c *webrtcCall) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	opt := media.Settings{LoopbackOnly: true}
	var err error
	if c.callerPeer, err = mediatest.NewTestPeer(ctx, mediatest.Settings{Media: opt, Marker: c.callerMark}); err != nil {
		return err
	}
	if c.calleePeer, err = mediatest.NewTestPeer(ctx, mediatest.Settings{Media: opt, Marker: c.calleeMark}); err != nil {
		return err
	}
	t0 := time.Now()
	answered := make(chan error, 1)
	go func() {
		in, err := c.callee.Next(ctx, wsclient.Is("call.incoming", ""))
		if err == nil {
			err = c.callee.Answer(ctx, in, c.calleePeer)
		}
		if err != nil {
			err = fmt.Errorf("callee: %w", err)
		}
		answered <- err
	}()
	if _, err := c.caller.Call(ctx, c.calleeExt, c.callerPeer); err != nil {
		return fmt.Errorf("caller: %w", err)
	}
	if err := <-answered; err != nil {
		return err
	}
	for _, p := range []*mediatest.TestPeer{c.callerPeer, c.calleePeer} {
		if err := p.WaitConnected(ctx); err != nil {
			return err
		}
	}
	c.setup, c.ok = time.Since(t0), true
	return nil
}

// closeCalls closes every peer and connection, n at a time.
func closeCalls(calls []*webrtcCall, n int) {
	_ = parallel(context.Background(), len(calls), n, func(_ context.Context, i int) error {
		c := calls[i]
		for _, p := range []*mediatest.TestPeer{c.callerPeer, c.calleePeer} {
			if p != nil {
				p.Stop()
				_ = p.Close()
			}
		}
		for _, w := range []*wsclient.Client{c.caller, c.callee} {
			if w != nil {
				_ = w.Close()
			}
		}
		return nil
	})
}

// parallel runs f(0) … f(n-1), at most width at a time; the first error
// stops new work and is returned.
func parallel(ctx context.Context, n, width int, f func(context.Context, int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, max(width, 1))
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := f(ctx, i); err != nil {
				cancel(err)
			}
		}()
	}
	wg.Wait()
	return context.Cause(ctx)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pick is the q-quantile of sorted durations (nearest rank).
func pick(sorted []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
