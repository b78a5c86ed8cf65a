package bench

import (
	"bufio"
	"context"
	"embed"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/journal"
)

// The sip workload: SIPp (the sipp program of Debian's sip-tester) as a SIP
// phone calling a number outside through a real `callengine serve` child,
// which carries every call out on a SIP trunk to a second sipp that answers:
//
//	sipp UAC (127.0.0.1) ──INVITE…BYE──▶ serve (127.0.0.1, UDP) ──trunk──▶ sipp UAS (127.0.0.2)
//
// This is the path a deployment takes for a phone dialing out: the phone
// is a client of the engine with a password, every INVITE is challenged
// (407) and authenticated by digest, the engine dials the number, the trunk
// adapter places the call on the trunk, the trunk's 200 answers the call,
// the phone's dialog is journaled when it is confirmed (CallLegRecorded),
// and the phone's BYE ends the call and is carried to the trunk. The trunk's
// address (127.0.0.2) is the only one whose INVITEs the engine takes from
// outside; the phone dials from 127.0.0.1 and is challenged like any phone.

// sippScenarios are the sipp scenarios of the workload (see their comments).
//
//go:embed sipp/uac.xml sipp/uas.xml
var sippScenarios embed.FS

// SIPConfig shapes a SIP run.
type SIPConfig struct {
	// Rate is the calls started per second (sipp -r), Duration how long
	// calls are started: Rate × Duration calls in all (sipp -m).
	Rate     int
	Duration time.Duration
	// Hold is how long each call stays up, from the phone's ACK to its
	// BYE (sipp -d); default 1 s. The live calls are about Rate × Hold.
	Hold time.Duration
	// Dir receives the serve configuration, the server's data and sipp's
	// files; it must exist.
	Dir string
	// ServeCommand runs the server, as WebRTCConfig.ServeCommand.
	ServeCommand []string
	// Sipp is the sipp program; default "sipp" found in PATH.
	Sipp     string
	Progress ProgressFunc
}

// SIPResult is what SIP measured.
type SIPResult struct {
	Rate     int
	Duration time.Duration
	Hold     time.Duration
	Calls    int // offered: Rate × Duration
	// Successful calls went through the whole scenario (INVITE, 407, ACK,
	// INVITE, 100, 180, 200, ACK, hold, BYE, 200) by the phone's sipp;
	// Failed ones did not (an unexpected message, a timeout; a call not
	// placed or not over when sipp's -timeout came): Calls − Successful.
	// Errors are the first entries of sipp's error logs.
	Successful, Failed int
	Errors             []string
	// Elapsed is the phone's sipp from its start to its exit (its last call
	// ended). CallsPerSec is the rate the calls were answered at, from the
	// first 200 to the last, as sipp timed them: (answered − 1) ÷ (last −
	// first). Every call is held the same time, so this is also the rate of
	// their BYEs; a server that falls behind answers late, stretching the
	// span. sipp's start and the last call's hold, which a rate over Elapsed
	// counts, are not the server's: over Elapsed, even a perfect server
	// comes out under the rate offered.
	Elapsed     time.Duration
	CallsPerSec float64
	// AnsweredSpan is the time from the first answer to the last.
	AnsweredSpan time.Duration
	// Setup times, the phone's first INVITE to the 200 (the 407 round trip
	// included), as sipp measures them (1 ms resolution): Setups is how many.
	Setups                       int
	SetupP50, SetupP99, SetupMax time.Duration
	// CPU (user + system) while the phone's sipp ran: the serve child, the
	// phone's sipp (UAC) and the trunk's sipp (UAS).
	HaveCPU                          bool
	ServerCPU, UACCPU, UASCPU        time.Duration
	HaveHeap                         bool
	LiveCalls                        float64 // callengine_live_calls, mean of the samples taken while calls were started
	HeapBefore                       uint64  // callengine_go_heap_live_bytes before the calls
	HeapDuring                       float64 // mean of the same samples
	HeapPerLiveCall                  float64 // (HeapDuring − HeapBefore) ÷ LiveCalls
	Journaled, LegsJournaled, Dialed int     // in the journal after the run: calls ended by a hangup, CallLegRecorded events, calls dialed
	Load1                            float64 // /proc/loadavg, 1 minute, when the phone's sipp ended (-1: unknown)
	// The journal's commits and the events they carried while the phone's
	// sipp ran (callengine_journal_batches_total and _records_total).
	HaveCommits      bool
	Commits, Records float64
}

// NotJournaled is how many of the calls sipp completed the journal does not
// show ended (0 when every one is there).
func (r SIPResult) NotJournaled() int { return max(r.Successful-r.Journaled, 0) }

// CPUPerCall is the server's CPU per completed call.
func (r SIPResult) CPUPerCall() time.Duration {
	if r.Successful == 0 {
		return 0
	}
	return r.ServerCPU / time.Duration(r.Successful)
}

// sippBuffer is the socket buffer size of both sipps (-buff_size), as
// serve's (sip.udp_read_buffer): with sipp's default (64 KiB) a sipp that
// falls behind for a few milliseconds drops the server's messages, and
// the retransmissions that follow are load the server did not cause.
const sippBuffer = "4194304"

// maxSIPRate bounds SIPConfig.Rate.
const maxSIPRate = 20_000

func (c *SIPConfig) defaults() error {
	if c.Rate < 1 || c.Rate > maxSIPRate {
		return fmt.Errorf("bench: sip: rate %d calls/s: want 1 to %s", c.Rate, count(maxSIPRate))
	}
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.Hold <= 0 {
		c.Hold = time.Second
	}
	if c.calls() < 1 {
		return fmt.Errorf("bench: sip: %d calls/s for %v is no call", c.Rate, c.Duration)
	}
	if len(c.ServeCommand) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		c.ServeCommand = []string{exe, "serve"}
	}
	if c.Sipp == "" {
		c.Sipp = "sipp"
	}
	p, err := exec.LookPath(c.Sipp)
	if err != nil {
		return fmt.Errorf("bench: sip: %s is not installed (Debian: apt-get install -y --no-install-recommends sip-tester): %w", c.Sipp, err)
	}
	c.Sipp = p
	return nil
}

func (c *SIPConfig) calls() int { return int(float64(c.Rate) * c.Duration.Seconds()) }

// The phone (a client of the engine), the number it dials and the trunk's
// address.
const (
	sipPhone    = "bench"
	sipPassword = "bench-phone-secret"
	sipNumber   = "+15550100000" // the phone's own number (its caller id)
	sipDialed   = "+15557770000" // a number outside, carried by the trunk
	sipPhoneIP  = "127.0.0.1"
	sipTrunkIP  = "127.0.0.2"
)

// writeSIPServeConfig writes the serve configuration of a SIP run into dir.
func writeSIPServeConfig(dir string, sipPort, trunkPort int) (string, error) {
	var b strings.Builder
	b.WriteString("# written by callengine bench --workload sip\n")
	fmt.Fprintf(&b, "data: %q\nhttp: 127.0.0.1:0\nlog_level: warn\nring_timeout: 1m\n", filepath.Join(dir, "data"))
	b.WriteString("media:\n  loopback_only: true\necho:\n  disabled: true\n")
	fmt.Fprintf(&b, "sip:\n  udp: %s\n  tcp: \"\"\n  trunks:\n    - name: bench\n      address: %s\n",
		net.JoinHostPort(sipPhoneIP, strconv.Itoa(sipPort)), net.JoinHostPort(sipTrunkIP, strconv.Itoa(trunkPort)))
	fmt.Fprintf(&b, "clients:\n  - id: %s\n    password: %s\n    numbers: [%q]\n", sipPhone, sipPassword, sipNumber)
	path := filepath.Join(dir, "serve.yaml")
	return path, os.WriteFile(path, []byte(b.String()), 0o600)
}

// freeUDPPort is a UDP port free on ip at the time of the call.
func freeUDPPort(ip string) (int, error) {
	c, err := net.ListenPacket("udp4", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

// sipPing sends OPTIONS to addr until a 200 comes back: the server's SIP
// adapter listens.
func sipPing(ctx context.Context, addr string, exited <-chan struct{}) error {
	c, err := net.ListenPacket("udp4", net.JoinHostPort(sipPhoneIP, "0"))
	if err != nil {
		return err
	}
	defer c.Close()
	to, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		return err
	}
	local := c.LocalAddr().(*net.UDPAddr)
	buf := make([]byte, 4096)
	for i := 1; ; i++ {
		msg := fmt.Sprintf("OPTIONS sip:%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-bench-ping-%d\r\n"+
			"From: <sip:ping@%s>;tag=bench%d\r\nTo: <sip:%s>\r\nCall-ID: bench-ping-%d@%s\r\nCSeq: %d OPTIONS\r\n"+
			"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n", addr, local, i, local.IP, i, addr, i, local.IP, i)
		if _, err := c.WriteTo([]byte(msg), to); err != nil {
			return err
		}
		_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, _, err := c.ReadFrom(buf)
		if err == nil && strings.HasPrefix(string(buf[:n]), "SIP/2.0 200") {
			return nil
		}
		select {
		case <-exited:
			return errors.New("serve exited")
		case <-ctx.Done():
			return fmt.Errorf("no answer to OPTIONS on %s: %w", addr, ctx.Err())
		default:
		}
	}
}

// sippRun is one sipp process.
type sippRun struct {
	name   string // "uac" or "uas"
	cmd    *exec.Cmd
	out    *tailBuffer
	dir    string
	exited chan struct{}
	err    error // Wait's
}

// startSipp starts sipp in dir (its files are written there) with the
// scenario name.xml.
func startSipp(bin, dir, name string, args ...string) (*sippRun, error) {
	scenario, err := sippScenarios.ReadFile("sipp/" + name + ".xml")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, name+".xml"), scenario, 0o644); err != nil {
		return nil, err
	}
	all := append([]string{"-sf", name + ".xml", "-nostdin", "-trace_err", "-error_file", name + "_errors.log",
		"-trace_stat", "-stf", name + "_stat.csv", "-fd", "1", "-buff_size", "2097152"}, args...)
	s := &sippRun{name: name, cmd: exec.Command(bin, all...), out: &tailBuffer{}, dir: dir, exited: make(chan struct{})}
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	s.cmd.SysProcAttr = childProcAttr()
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start sipp %s: %w", name, err)
	}
	go func() { s.err = s.cmd.Wait(); close(s.exited) }()
	return s, nil
}

// cpu is the CPU time (user + system) of an exited sipp.
func (s *sippRun) cpu() time.Duration {
	st := s.cmd.ProcessState
	if st == nil {
		return 0
	}
	return st.UserTime() + st.SystemTime()
}

// stop ends sipp: SIGUSR1 (sipp's own "quit"), then SIGKILL after 5 s.
func (s *sippRun) stop() { stopChild(s.cmd, s.exited, syscall.SIGUSR1, 5*time.Second) }

// sippEvent starts an entry of sipp's error log: its date, time and epoch.
var sippEvent = regexp.MustCompile(`\d{4}-\d{2}-\d{2}\t\d{2}:\d{2}:\d{2}\.\d+\t[\d.]+: `)

// errorLines are the first n entries of sipp's error log that say
// something (not its overload warnings, which tell of the machine), each
// cut to its first line.
func (s *sippRun) errorLines(n int) []string {
	b, err := os.ReadFile(filepath.Join(s.dir, s.name+"_errors.log"))
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range sippEvent.Split(string(b), -1)[1:] {
		line, _, _ := strings.Cut(e, "\n")
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "Overload warning") {
			continue
		}
		if len(line) > 240 {
			line = line[:240] + "…"
		}
		out = append(out, s.name+": "+line)
		if len(out) == n {
			break
		}
	}
	return out
}

// sippStat is the last line of sipp's statistics file (-trace_stat), by
// column name.
func (s *sippRun) stat() (map[string]string, error) {
	f, err := os.Open(filepath.Join(s.dir, s.name+"_stat.csv"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	var head, last string
	for sc.Scan() {
		if head == "" {
			head = sc.Text()
			continue
		}
		if t := sc.Text(); strings.TrimSpace(t) != "" {
			last = t
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if last == "" {
		return nil, errors.New("bench: sip: sipp wrote no statistics")
	}
	names, values := strings.Split(head, ";"), strings.Split(last, ";")
	m := make(map[string]string, len(names))
	for i, n := range names {
		if i < len(values) {
			m[n] = values[i]
		}
	}
	return m, nil
}

// statInt reads a counter of sipp's statistics.
func statInt(m map[string]string, name string) (int, error) {
	v, ok := m[name]
	if !ok {
		return 0, fmt.Errorf("bench: sip: sipp's statistics have no %s", name)
	}
	return strconv.Atoi(strings.TrimSpace(v))
}

// setupTimes reads the response times of the phone's sipp (-trace_rtt):
// one line per call, "date_ms;response_time_ms;rtd", the date in ms since
// sipp started, taken when the 200 came. It returns the setup times and
// the dates of the first and last answer.
func (s *sippRun) setupTimes() (setups []time.Duration, first, last time.Duration, err error) {
	paths, _ := filepath.Glob(filepath.Join(s.dir, s.name+"_*_rtt.csv"))
	if len(paths) != 1 {
		return nil, 0, 0, fmt.Errorf("bench: sip: %d response time files of sipp", len(paths))
	}
	b, err := os.ReadFile(paths[0])
	if err != nil {
		return nil, 0, 0, err
	}
	for i, line := range strings.Split(string(b), "\n") {
		f := strings.Split(strings.TrimSpace(line), ";")
		if i == 0 || len(f) < 3 {
			continue
		}
		at, err1 := strconv.ParseFloat(f[0], 64)
		v, err2 := strconv.ParseFloat(f[1], 64)
		if err := errors.Join(err1, err2); err != nil {
			return nil, 0, 0, fmt.Errorf("bench: sip: response time %q: %w", line, err)
		}
		when := time.Duration(at * float64(time.Millisecond))
		if len(setups) == 0 || when < first {
			first = when
		}
		last = max(last, when)
		setups = append(setups, time.Duration(v*float64(time.Millisecond)))
	}
	return setups, first, last, nil
}

// udpBound reports whether something listens on ip:port over UDP (from
// /proc/net/udp; Linux).
func udpBound(ip string, port int) bool {
	b, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return false
	}
	a := net.ParseIP(ip).To4()
	if a == nil {
		return false
	}
	// The address is the 32-bit value in the host's (little-endian) order.
	want := fmt.Sprintf("%02X%02X%02X%02X:%04X", a[3], a[2], a[1], a[0], port)
	for _, line := range strings.Split(string(b), "\n")[1:] {
		if f := strings.Fields(line); len(f) > 1 && f[1] == want {
			return true
		}
	}
	return false
}

// SIP runs the sip workload (see the comment at the top of this file): a
// serve child with the SIP adapter on 127.0.0.1 (a free UDP port), one
// trunk to the answering sipp on 127.0.0.2, and one phone; then the phone's
// sipp places cfg.Rate calls a second for cfg.Duration, each held for
// cfg.Hold. It reads the server's CPU from /proc and its heap and live
// calls from /metrics while the calls run, sipp's counts and response
// times when they are over, and last, once the server has stopped, the
// journal: every call sipp completed must be there, ended. Failed calls
// are counted, not an error; a server or sipp that cannot run is.
func SIP(ctx context.Context, cfg SIPConfig) (r SIPResult, err error) {
	if err := cfg.defaults(); err != nil {
		return r, err
	}
	n := cfg.calls()
	r.Rate, r.Duration, r.Hold, r.Calls, r.Load1 = cfg.Rate, cfg.Duration, cfg.Hold, n, -1
	report := cfg.Progress
	ports := map[string]int{}
	for _, p := range []struct{ name, ip string }{
		{"sip", sipPhoneIP}, {"uac", sipPhoneIP}, {"uac-media", sipPhoneIP}, {"uas", sipTrunkIP}, {"uas-media", sipTrunkIP},
	} {
		if ports[p.name], err = freeUDPPort(p.ip); err != nil {
			return r, fmt.Errorf("a UDP port on %s: %w", p.ip, err)
		}
	}
	config, err := writeSIPServeConfig(cfg.Dir, ports["sip"], ports["uas"])
	if err != nil {
		return r, err
	}
	sipAddr := net.JoinHostPort(sipPhoneIP, strconv.Itoa(ports["sip"]))

	phase(report, "sip", fmt.Sprintf("serve: starting %s, SIP on udp %s, a trunk to %s:%d", filepath.Base(cfg.ServeCommand[0]), sipAddr, sipTrunkIP, ports["uas"]))
	t0 := time.Now()
	child, err := startServe(ctx, cfg.ServeCommand, config)
	if err != nil {
		return r, fmt.Errorf("serve: %w", err)
	}
	stopped := false
	stopServe := func() error {
		if stopped {
			return nil
		}
		stopped = true
		phase(report, "sip", "stopping serve")
		child.stop()
		if st := child.cmd.ProcessState; st != nil && !st.Success() {
			return fmt.Errorf("serve exited with %v: %s", st, child.tail.String())
		}
		return nil
	}
	defer func() { err = errors.Join(err, stopServe()) }()
	pingCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	err = sipPing(pingCtx, sipAddr, child.exited)
	cancel()
	if err != nil {
		return r, fmt.Errorf("serve's SIP adapter: %w; its stderr: %s", err, child.tail.String())
	}
	pid := strconv.Itoa(child.cmd.Process.Pid)
	finish(report, "sip", "serve", time.Since(t0), fmt.Sprintf("serve ready on %s, SIP on udp %s, in %s", child.addr, sipAddr, seconds(time.Since(t0))))

	// The answering side first: sipp as the trunk.
	bound := cfg.Duration + cfg.Hold + 60*time.Second
	timeout := strconv.Itoa(int(bound.Seconds())) + "s"
	uas, err := startSipp(cfg.Sipp, cfg.Dir, "uas", "-i", sipTrunkIP, "-p", strconv.Itoa(ports["uas"]),
		"-mp", strconv.Itoa(ports["uas-media"]), "-m", strconv.Itoa(n), "-timeout", timeout, "-buff_size", sippBuffer)
	if err != nil {
		return r, err
	}
	defer uas.stop()
	for !udpBound(sipTrunkIP, ports["uas"]) {
		select {
		case <-uas.exited:
			return r, fmt.Errorf("sipp uas exited at its start (%v): %s %s", uas.err, uas.out.String(), strings.Join(uas.errorLines(3), "; "))
		case <-ctx.Done():
			return r, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}

	before, metricsErr := child.metrics(ctx)

	// The phone's sipp places the calls.
	phase(report, "sip", fmt.Sprintf("calls: %s calls/s for %v (%s calls), each held %v", count(int64(cfg.Rate)), cfg.Duration, count(int64(n)), cfg.Hold))
	cpu0, cpuErr0 := procCPU(pid)
	start := time.Now()
	uac, err := startSipp(cfg.Sipp, cfg.Dir, "uac", "-i", sipPhoneIP, "-p", strconv.Itoa(ports["uac"]),
		"-mp", strconv.Itoa(ports["uac-media"]), "-s", sipDialed, "-au", sipPhone, "-ap", sipPassword, "-key", "caller", sipPhone,
		"-r", strconv.Itoa(cfg.Rate), "-rp", "1000", "-m", strconv.Itoa(n), "-l", strconv.Itoa(max(4*cfg.Rate*int(cfg.Hold.Seconds()+2), 100)),
		"-d", strconv.FormatInt(cfg.Hold.Milliseconds(), 10), "-recv_timeout", "20000", "-timeout", timeout, "-timeout_error", "-buff_size", sippBuffer,
		"-trace_rtt", "-rtt_freq", "1", sipAddr)
	if err != nil {
		return r, err
	}
	defer uac.stop()

	// While it runs: progress from its statistics, and samples of the
	// server's heap and live calls while calls are started (after the
	// first ones ended: the live calls are steady).
	s := startSampler(time.Second, Progress{Workload: "sip", Phase: "calls", Total: int64(n), Unit: "calls"}, report)
	var heapSum, liveSum float64
	var samples int
	steadyFrom, steadyTo := start.Add(cfg.Hold+time.Second), start.Add(cfg.Duration)
	tick := time.NewTicker(time.Second)
	done := 0
	running := true
	for running {
		select {
		case <-uac.exited:
			running = false
		case <-ctx.Done():
			tick.Stop()
			s.stop()
			return r, ctx.Err()
		case now := <-tick.C:
			if st, err := uac.stat(); err == nil {
				if v, err := statInt(st, "SuccessfulCall(C)"); err == nil && v > done {
					s.add(int64(v - done))
					done = v
				}
			}
			if now.After(steadyFrom) && now.Before(steadyTo) {
				if m, err := child.metrics(ctx); err == nil && m["callengine_live_calls"] > 0 {
					heapSum += m["callengine_go_heap_live_bytes"]
					liveSum += m["callengine_live_calls"]
					samples++
				}
			}
		}
	}
	tick.Stop()
	r.Elapsed = time.Since(start)
	cpu1, cpuErr1 := procCPU(pid)
	if after, err := child.metrics(ctx); err == nil && metricsErr == nil {
		const batches, records = "callengine_journal_batches_total", "callengine_journal_records_total"
		r.HaveCommits = true
		r.Commits, r.Records = after[batches]-before[batches], after[records]-before[records]
	}
	r.Load1 = loadAvg1()
	s.stop()

	// The answering sipp ends by itself after its calls; what failed before
	// reaching it would keep it waiting.
	select {
	case <-uas.exited:
	case <-time.After(5 * time.Second):
		uas.stop()
	}
	st, err := uac.stat()
	if err != nil {
		return r, fmt.Errorf("sipp uac (%v): %w; %s", uac.err, err, uac.out.String())
	}
	if r.Successful, err = statInt(st, "SuccessfulCall(C)"); err != nil {
		return r, err
	}
	if r.Failed, err = statInt(st, "FailedCall(C)"); err != nil {
		return r, err
	}
	// Calls sipp never placed, or that were under way when its -timeout
	// came, failed too: every offered call completes or fails.
	r.Failed = max(r.Failed, n-r.Successful)
	r.Errors = append(uac.errorLines(3), uas.errorLines(2)...)
	if r.Successful == 0 {
		return r, fmt.Errorf("no call completed (sipp uac: %v): %s %s", uac.err, strings.Join(r.Errors, "; "), uac.out.String())
	}
	setups, first, last, err := uac.setupTimes()
	if err != nil {
		return r, err
	}
	if r.AnsweredSpan = last - first; len(setups) > 1 && r.AnsweredSpan > 0 {
		r.CallsPerSec = float64(len(setups)-1) / r.AnsweredSpan.Seconds()
	}
	if len(setups) > 0 {
		slices.Sort(setups)
		r.Setups = len(setups)
		r.SetupP50, r.SetupP99, r.SetupMax = pick(setups, 0.50), pick(setups, 0.99), setups[len(setups)-1]
	}
	if errors.Join(cpuErr0, cpuErr1) == nil {
		r.HaveCPU, r.ServerCPU, r.UACCPU, r.UASCPU = true, cpu1-cpu0, uac.cpu(), uas.cpu()
	}
	const heap = "callengine_go_heap_live_bytes"
	if metricsErr == nil && before[heap] > 0 && samples > 0 {
		r.HaveHeap, r.HeapBefore = true, uint64(before[heap])
		r.HeapDuring, r.LiveCalls = heapSum/float64(samples), liveSum/float64(samples)
		r.HeapPerLiveCall = (r.HeapDuring - float64(r.HeapBefore)) / r.LiveCalls
	}
	msg := fmt.Sprintf("%s calls completed, %s failed, in %s: %.0f calls/s; setup p50 %s, p99 %s",
		count(int64(r.Successful)), count(int64(r.Failed)), seconds(r.Elapsed), r.CallsPerSec, millis(r.SetupP50), millis(r.SetupP99))
	if r.HaveCPU {
		w := r.Elapsed.Seconds()
		msg += fmt.Sprintf("; CPU: serve %.2f cores, sipp uac %.2f, uas %.2f", r.ServerCPU.Seconds()/w, r.UACCPU.Seconds()/w, r.UASCPU.Seconds()/w)
	}
	finish(report, "sip", "calls", r.Elapsed, msg)

	// The journal, once the server has stopped (it holds the file).
	waitIdle(ctx, child)
	if err := stopServe(); err != nil {
		return r, err
	}
	phase(report, "sip", "reading the journal")
	t1 := time.Now()
	if r.Dialed, r.Journaled, r.LegsJournaled, err = countJournaled(ctx, filepath.Join(cfg.Dir, "data", "journal.db")); err != nil {
		return r, err
	}
	finish(report, "sip", "journal", time.Since(t1), fmt.Sprintf("journal: %s calls dialed, %s ended by a hangup, %s SIP dialogs recorded; %s of sipp's %s complete calls not there",
		count(int64(r.Dialed)), count(int64(r.Journaled)), count(int64(r.LegsJournaled)), count(int64(r.NotJournaled())), count(int64(r.Successful))))
	return r, nil
}

// waitIdle waits, at most 10 s, for the server's live calls to be none.
func waitIdle(ctx context.Context, child *serveChild) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m, err := child.metrics(ctx); err == nil && m["callengine_live_calls"] == 0 {
			return
		}
		if sleep(ctx, 100*time.Millisecond) != nil {
			return
		}
	}
}

// countJournaled reads the journal at path (read-only): the calls dialed,
// the calls ended by a hangup and the CallLegRecorded events.
func countJournaled(ctx context.Context, path string) (dialed, ended, legs int, err error) {
	j, err := journal.Open(path, journal.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		return 0, 0, 0, err
	}
	defer func() { err = errors.Join(err, j.Close()) }()
	err = j.Scan(1, func(rec journal.Record) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !strings.HasPrefix(rec.Stream, events.CallStreamPrefix) {
			return nil
		}
		env := events.Envelope{Seq: rec.Seq, Stream: rec.Stream, Version: rec.Version}
		if err := events.DecodeBody(rec.Data, &env); err != nil {
			return fmt.Errorf("journal: event %d of %s: %w", rec.Version, rec.Stream, err)
		}
		switch e := env.Event.(type) {
		case events.CallDialed:
			dialed++
		case events.CallEnded:
			if e.Reason == events.Hangup {
				ended++
			}
		case events.CallLegRecorded:
			legs++
		}
		return nil
	})
	return dialed, ended, legs, err
}
