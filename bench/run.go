package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/callengine/callengine/engine"
)

// Workloads lists the workloads in the order "all" runs them.
var Workloads = []string{"lifecycle", "journal", "soak", "restore", "replay", "webrtc", "sip"}

// Options configure Run. Every load is bounded in count (Calls, Records,
// ReplayPasses) and in time (Duration).
type Options struct {
	Workload    string // "all" or one of Workloads
	Calls       int    // lifecycle: complete calls; soak: live calls held (then restored)
	Concurrency int    // callers of lifecycle and soak; appenders of journal
	Records     int    // journal: durable 1-record appends, and as many raw bbolt puts
	RecordSize  int    // journal: bytes per record; default 64
	// Duration caps each workload's measured loop: when it has passed, no new
	// work starts and what was done is measured. Setup and closing are bounded
	// by a hard deadline of twice Duration plus 30 s. Default 60 s.
	Duration     time.Duration
	Interval     time.Duration // throughput sampling interval; default 250 ms
	ReplayPasses int           // replay: folds of every journal; default 1
	// ReplayJournals, if set, are the journal files replay folds (opened
	// read-only); otherwise it folds the journals the lifecycle and soak
	// workloads left in DataDir, running a lifecycle first if there are none.
	ReplayJournals []string
	// DataDir holds the workloads' journals, one subdirectory each. It must
	// be empty, or one that an earlier run used (it holds the marker file
	// .callengine-bench); lifecycle, journal and soak replace their
	// subdirectory.
	DataDir string
	Quick   bool // recorded in the report
	// History runs the engines with the call history projection (H1) on.
	// Off by default: the workloads measure the engine, and the projection
	// — a reader that follows the journal behind the calls — competes with
	// it for the CPU; `callengine bench --history` measures the two
	// together. Recorded in the report.
	History bool
	// Callers, if set, are the callers of each lifecycle pass, in order
	// (`--callers 1000,5000`): the first pass gives the report's lifecycle
	// figures, the others are listed beside them, and a pass at 1,000 and
	// one at 5,000 callers judge the scaling target. Default: one pass at
	// Concurrency.
	Callers []int
	// HistoryPass runs one more lifecycle pass, at the first pass's callers,
	// with the call history the other way than History: the two judge the
	// history's cost.
	HistoryPass bool
	// LiveCalls are the live calls the soak holds and restore reopens;
	// default Calls.
	LiveCalls int
	// RawProbe is how long the raw bbolt probe runs when the run measured
	// no raw bbolt of its own (no journal workload); default 1 s.
	RawProbe time.Duration
	// WebRTCCalls are the relayed calls the webrtc workload holds at once
	// (default 200), WebRTCDuration its measured window of audio (default
	// 20 s). ServeCommand runs its server (see WebRTCConfig.ServeCommand;
	// default this program's executable, "serve").
	WebRTCCalls    int
	WebRTCDuration time.Duration
	// SIPRate is the calls per second the sip workload's phone (sipp)
	// starts, for SIPDuration, each held SIPHold (defaults 200 calls/s, 10
	// s, 1 s). Sipp is the sipp program (default "sipp" in PATH).
	SIPRate      int
	SIPDuration  time.Duration
	SIPHold      time.Duration
	Sipp         string
	ServeCommand []string
	Progress     ProgressFunc
}

// rawProbe names the raw bbolt probe in Report.Errors and progress.
const rawProbe = "rawbolt"

// marker is the file that tells a data directory is the bench's own.
const marker = ".callengine-bench"

func (o *Options) defaults() error {
	if o.Workload == "" {
		o.Workload = "all"
	}
	if o.Workload != "all" && !slices.Contains(Workloads, o.Workload) {
		return fmt.Errorf("unknown workload %q (want all, lifecycle, journal, soak, restore, replay, webrtc or sip)", o.Workload)
	}
	if o.Calls < 1 || o.Concurrency < 1 || o.Records < 1 || o.RecordSize < 0 || o.LiveCalls < 0 {
		return fmt.Errorf("calls, concurrency and records must be at least 1 (got %d, %d, %d)", o.Calls, o.Concurrency, o.Records)
	}
	for _, n := range o.Callers {
		if n < 1 {
			return fmt.Errorf("callers must be at least 1 (got %d)", n)
		}
	}
	if o.LiveCalls == 0 {
		o.LiveCalls = o.Calls
	}
	if o.WebRTCCalls < 0 || o.WebRTCCalls > maxWebRTCCalls {
		return fmt.Errorf("webrtc calls must be between 1 and %s (got %d)", count(maxWebRTCCalls), o.WebRTCCalls)
	}
	if o.WebRTCCalls == 0 {
		o.WebRTCCalls = 200
	}
	if o.WebRTCDuration <= 0 {
		o.WebRTCDuration = 20 * time.Second
	}
	if o.SIPRate < 0 || o.SIPRate > maxSIPRate {
		return fmt.Errorf("sip rate must be between 1 and %s calls/s (got %d)", count(maxSIPRate), o.SIPRate)
	}
	if o.SIPRate == 0 {
		o.SIPRate = 200
	}
	if o.SIPDuration <= 0 {
		o.SIPDuration = 10 * time.Second
	}
	if o.SIPHold <= 0 {
		o.SIPHold = time.Second
	}
	if o.RawProbe <= 0 {
		o.RawProbe = time.Second
	}
	if o.RecordSize == 0 {
		o.RecordSize = 64
	}
	if o.Duration <= 0 {
		o.Duration = 60 * time.Second
	}
	if o.Interval <= 0 {
		o.Interval = 250 * time.Millisecond
	}
	o.ReplayPasses = max(o.ReplayPasses, 1)
	if o.DataDir == "" {
		return errors.New("no data directory")
	}
	return nil
}

// Run runs the selected workloads in sequence against in-process engines
// with real journals under o.DataDir, and returns their report. A workload
// that fails is recorded in Report.Errors and the next one runs; the error
// returned joins them (or is the reason nothing could run). A cancelled ctx
// stops the sequence.
func Run(ctx context.Context, o Options) (*Report, error) {
	rep := newReport(o)
	if err := o.defaults(); err != nil {
		return rep, err
	}
	rep.Workload = o.Workload
	rep.Params = paramsOf(o)
	if err := prepareDataDir(o.DataDir); err != nil {
		return rep, err
	}
	begin := time.Now()
	var errs []error
	for _, name := range Workloads {
		if o.Workload != "all" && o.Workload != name {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		bound := o.bound(name)
		wctx, cancel := context.WithTimeout(ctx, bound)
		err := runWorkload(wctx, name, &o, rep)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			} else if errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("hard time bound (%v) reached: %w", bound, err)
			}
			rep.fail(name, err)
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			finish(o.Progress, name, "failed", 0, err.Error())
		}
	}
	if rep.RawBboltEventsPerSec == nil && ctx.Err() == nil &&
		(rep.CallsPerSec != nil || rep.RestoreSeconds != nil || rep.ReplayEventsPerSec != nil) {
		// No journal workload, so no raw bbolt of the run's own: measure it,
		// for the ratio targets.
		if err := probeRaw(ctx, &o, rep); err != nil {
			rep.fail(rawProbe, err)
			errs = append(errs, fmt.Errorf("%s: %w", rawProbe, err))
		}
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	rep.ElapsedSeconds = time.Since(begin).Seconds()
	rep.judge()
	return rep, errors.Join(errs...)
}

// maxWebRTCCalls bounds Options.WebRTCCalls: two clients and four DTLS
// sessions each, on one machine.
const maxWebRTCCalls = 5000

// bound is the hard time bound of workload name: twice its time cap plus
// 30 s; for webrtc, whose setup grows with the calls (a password hash per
// client at the server's start, a login, four DTLS handshakes per call),
// twice the window plus 60 s plus 300 ms per call; for sip, twice its
// calls' time (the duration and one hold) plus 60 s.
func (o *Options) bound(name string) time.Duration {
	switch name {
	case "webrtc":
		return 2*o.WebRTCDuration + 60*time.Second + time.Duration(o.WebRTCCalls)*300*time.Millisecond
	case "sip":
		return 2*(o.SIPDuration+o.SIPHold) + 60*time.Second
	}
	return 2*o.Duration + 30*time.Second
}

func runWorkload(ctx context.Context, name string, o *Options, rep *Report) error {
	switch name {
	case "lifecycle":
		passes := o.lifecyclePasses()
		for i, p := range passes {
			sub := "lifecycle"
			if i > 0 {
				sub = fmt.Sprintf("lifecycle-%d", i+1)
			}
			if len(passes) > 1 {
				phase(o.Progress, "lifecycle", fmt.Sprintf("pass %d of %d: %s callers, call history %s",
					i+1, len(passes), count(int64(p.callers)), onOff(p.history)))
			}
			r, err := runLifecycle(ctx, o, p, sub, o.Progress)
			if err != nil {
				return err
			}
			if r.Calls == 0 {
				return fmt.Errorf("no call completed within %v", o.Duration)
			}
			rep.setLifecycle(r, p.history)
		}
	case "journal":
		dir, err := freshSub(o.DataDir, "journal")
		if err != nil {
			return err
		}
		r, err := Appends(ctx, dir, AppendsConfig{
			Writers: o.Concurrency, Records: o.Records, RecordSize: o.RecordSize, RawPerTx: 1000,
			Duration: o.Duration, Progress: o.Progress,
		})
		if err != nil {
			return err
		}
		rep.setAppends(r)
	case "soak":
		r, err := runSoak(ctx, o, o.Progress)
		if err != nil {
			return err
		}
		rep.setSoak(r)
	case "restore":
		dir := filepath.Join(o.DataDir, "soak")
		if _, failed := rep.Errors["soak"]; failed {
			return errors.New("skipped: the soak failed, its journal is not a full one")
		}
		if !exists(filepath.Join(dir, "journal.db")) {
			// Nothing to restore yet: a soak leaves the live calls (its own
			// figures are not reported by this workload).
			phase(o.Progress, "restore", "preparing: a soak leaves the live calls to restore")
			if _, err := runSoak(ctx, o, o.Progress); err != nil {
				return err
			}
		}
		phase(o.Progress, "restore", "engine.Open")
		runtime.GC()
		r, err := Restore(ctx, engineConfig(dir, *o))
		if err != nil {
			return err
		}
		finish(o.Progress, "restore", "engine.Open", r.Elapsed, fmt.Sprintf("%s live calls and %s clients (%s events) restored in %s",
			count(int64(r.LiveCalls)), count(int64(r.Clients)), count(int64(r.Events)), seconds(r.Elapsed)))
		rep.setRestore(r)
	case "replay":
		paths := o.ReplayJournals
		if len(paths) == 0 {
			for _, sub := range []string{"lifecycle", "soak"} {
				if p := filepath.Join(o.DataDir, sub, "journal.db"); exists(p) {
					paths = append(paths, p)
				}
			}
		}
		if len(paths) == 0 {
			phase(o.Progress, "replay", "preparing: a lifecycle run writes the journal to fold")
			if _, err := runLifecycle(ctx, o, o.lifecyclePasses()[0], "lifecycle", o.Progress); err != nil {
				return err
			}
			paths = []string{filepath.Join(o.DataDir, "lifecycle", "journal.db")}
		}
		runtime.GC()
		r, err := ReplayFiles(ctx, paths, ReplayConfig{
			Passes: o.ReplayPasses, Duration: o.Duration, Interval: o.Interval, Progress: o.Progress,
		})
		if err != nil {
			return err
		}
		rep.setReplay(r, paths)
	case "webrtc":
		dir, err := freshSub(o.DataDir, "webrtc")
		if err != nil {
			return err
		}
		r, err := WebRTC(ctx, WebRTCConfig{
			Calls: o.WebRTCCalls, Duration: o.WebRTCDuration, Dir: dir, ServeCommand: o.ServeCommand, Progress: o.Progress,
		})
		if err != nil {
			return err
		}
		rep.setWebRTC(r)
	case "sip":
		dir, err := freshSub(o.DataDir, "sip")
		if err != nil {
			return err
		}
		r, err := SIP(ctx, SIPConfig{
			Rate: o.SIPRate, Duration: o.SIPDuration, Hold: o.SIPHold, Dir: dir,
			ServeCommand: o.ServeCommand, Sipp: o.Sipp, Progress: o.Progress,
		})
		rep.setSIP(r)
		if err != nil {
			return err
		}
	}
	return nil
}

func engineConfig(dir string, o Options) engine.Config {
	return engine.Config{DataDir: dir, RingTimeout: time.Hour, NoHistory: !o.History}
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// lifecyclePass is one run of the lifecycle workload.
type lifecyclePass struct {
	callers int
	history bool
}

// lifecyclePasses lists the lifecycle passes o asks for: one per Callers
// (default one at Concurrency), then, with HistoryPass, one at the first
// pass's callers with the call history the other way.
func (o *Options) lifecyclePasses() []lifecyclePass {
	callers := o.Callers
	if len(callers) == 0 {
		callers = []int{o.Concurrency}
	}
	var passes []lifecyclePass
	for _, n := range callers {
		passes = append(passes, lifecyclePass{callers: n, history: o.History})
	}
	if o.HistoryPass {
		passes = append(passes, lifecyclePass{callers: callers[0], history: !o.History})
	}
	return passes
}

// runLifecycle runs a lifecycle pass on a fresh engine in DataDir/sub, and
// closes it.
func runLifecycle(ctx context.Context, o *Options, p lifecyclePass, sub string, report ProgressFunc) (r LifecycleResult, err error) {
	dir, err := freshSub(o.DataDir, sub)
	if err != nil {
		return r, err
	}
	runtime.GC()
	cfg := engineConfig(dir, *o)
	cfg.NoHistory = !p.history
	e, err := engine.Open(ctx, cfg)
	if err != nil {
		return r, err
	}
	defer func() { err = errors.Join(err, e.Close()) }()
	return RunLifecycle(ctx, e, LifecycleConfig{
		Calls: o.Calls, Concurrency: p.callers, Duration: o.Duration, Interval: o.Interval, Progress: report,
	})
}

// probeRaw measures raw bbolt for o.RawProbe (RawBoltProbe, 1,000 puts of
// RecordSize bytes per transaction) in DataDir/rawbolt, into rep.
func probeRaw(ctx context.Context, o *Options, rep *Report) error {
	dir, err := freshSub(o.DataDir, rawProbe)
	if err != nil {
		return err
	}
	phase(o.Progress, rawProbe, fmt.Sprintf("raw bbolt probe: 1,000 puts per transaction for %v", o.RawProbe))
	x, err := RawBoltProbe(ctx, dir, o.RawProbe, 1000, o.RecordSize)
	if err != nil {
		return err
	}
	finish(o.Progress, rawProbe, "probe", x.Elapsed, fmt.Sprintf("raw bbolt %s puts/s (%s puts, 1,000 per transaction)",
		count(int64(x.PutsPerSec)), count(int64(x.Puts))))
	rep.setRawProbe(x)
	return nil
}

// runSoak runs the soak on a fresh engine in DataDir/soak and closes it,
// leaving its calls live in the journal.
func runSoak(ctx context.Context, o *Options, report ProgressFunc) (r SoakResult, err error) {
	dir, err := freshSub(o.DataDir, "soak")
	if err != nil {
		return r, err
	}
	runtime.GC()
	e, err := engine.Open(ctx, engineConfig(dir, *o))
	if err != nil {
		return r, err
	}
	r, err = RunSoak(ctx, e, SoakConfig{
		Calls: o.LiveCalls, Concurrency: o.Concurrency, Duration: o.Duration, Interval: o.Interval, Progress: report,
	})
	phase(report, "soak", "closing the engine")
	return r, errors.Join(err, e.Close())
}

// prepareDataDir creates dir or checks that it is empty or the bench's own,
// and marks it.
func prepareDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(entries) > 0 && !exists(filepath.Join(dir, marker)) {
		return fmt.Errorf("data directory %s is not empty and was not written by callengine bench: choose a new or empty one", dir)
	}
	return os.WriteFile(filepath.Join(dir, marker), []byte("callengine bench data directory\n"), 0o644)
}

// freshSub empties and returns the subdirectory name of dir.
func freshSub(dir, name string) (string, error) {
	sub := filepath.Join(dir, name)
	if err := os.RemoveAll(sub); err != nil {
		return "", err
	}
	return sub, os.MkdirAll(sub, 0o755)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
