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
var Workloads = []string{"lifecycle", "journal", "soak", "restore", "replay"}

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
	History  bool
	Progress ProgressFunc
}

// marker is the file that tells a data directory is the bench's own.
const marker = ".callengine-bench"

func (o *Options) defaults() error {
	if o.Workload == "" {
		o.Workload = "all"
	}
	if o.Workload != "all" && !slices.Contains(Workloads, o.Workload) {
		return fmt.Errorf("unknown workload %q (want all, lifecycle, journal, soak, restore or replay)", o.Workload)
	}
	if o.Calls < 1 || o.Concurrency < 1 || o.Records < 1 || o.RecordSize < 0 {
		return fmt.Errorf("calls, concurrency and records must be at least 1 (got %d, %d, %d)", o.Calls, o.Concurrency, o.Records)
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
		wctx, cancel := context.WithTimeout(ctx, 2*o.Duration+30*time.Second)
		err := runWorkload(wctx, name, &o, rep)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			} else if errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("hard time bound (%v) reached: %w", 2*o.Duration+30*time.Second, err)
			}
			rep.fail(name, err)
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			finish(o.Progress, name, "failed", 0, err.Error())
		}
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	rep.ElapsedSeconds = time.Since(begin).Seconds()
	rep.judge()
	return rep, errors.Join(errs...)
}

func runWorkload(ctx context.Context, name string, o *Options, rep *Report) error {
	switch name {
	case "lifecycle":
		r, err := runLifecycle(ctx, o, o.Progress)
		if err != nil {
			return err
		}
		if r.Calls == 0 {
			return fmt.Errorf("no call completed within %v", o.Duration)
		}
		rep.setLifecycle(r)
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
			if _, err := runLifecycle(ctx, o, o.Progress); err != nil {
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
	}
	return nil
}

func engineConfig(dir string, o Options) engine.Config {
	return engine.Config{DataDir: dir, RingTimeout: time.Hour, NoHistory: !o.History}
}

// runLifecycle runs the lifecycle workload on a fresh engine in
// DataDir/lifecycle, and closes it.
func runLifecycle(ctx context.Context, o *Options, report ProgressFunc) (r LifecycleResult, err error) {
	dir, err := freshSub(o.DataDir, "lifecycle")
	if err != nil {
		return r, err
	}
	runtime.GC()
	e, err := engine.Open(ctx, engineConfig(dir, *o))
	if err != nil {
		return r, err
	}
	defer func() { err = errors.Join(err, e.Close()) }()
	return RunLifecycle(ctx, e, LifecycleConfig{
		Calls: o.Calls, Concurrency: o.Concurrency, Duration: o.Duration, Interval: o.Interval, Progress: report,
	})
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
		Calls: o.Calls, Concurrency: o.Concurrency, Duration: o.Duration, Interval: o.Interval, Progress: report,
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
