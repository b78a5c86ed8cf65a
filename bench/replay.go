package bench

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/journal"
)

// ReplayConfig bounds and observes a Replay run.
type ReplayConfig struct {
	// Passes is how many times every journal is scanned and folded from
	// scratch (the count bound); default 1.
	Passes int
	// Duration bounds the run in time: the pass under way stops when it has
	// passed, and the events folded so far are counted. 0: no bound besides
	// the context.
	Duration time.Duration
	Interval time.Duration // throughput sampling interval; default 250 ms
	Progress ProgressFunc
}

// ReplayResult is what Replay measured.
type ReplayResult struct {
	Events       int64  // events scanned, decoded and folded, over every pass
	Passes       int    // passes completed
	Stopped      string // "count" or "duration"
	Streams      int    // streams folded in one pass
	Calls        int    // call streams in one pass
	LiveCalls    int    // calls that had not ended at the end of the journal
	Clients      int    // client streams in one pass
	Elapsed      time.Duration
	EventsPerSec float64
	Throughput   []Sample // events folded per sampling interval
}

// errStop ends a Scan early when the time bound is reached; errFolder when a
// folder failed (its error is returned instead).
var (
	errStop   = errors.New("bench: replay: time bound reached")
	errFolder = errors.New("bench: replay: fold failed")
)

// folder folds one pass over journals into per-stream states.
type folder struct {
	calls   map[string]*fsm.Call
	clients map[string]*fsm.Client
}

func newFolder(streams int) *folder {
	return &folder{calls: make(map[string]*fsm.Call, streams), clients: make(map[string]*fsm.Client)}
}

// fold decodes one record and applies it to its stream's state, checking
// that the versions follow each other.
func (f *folder) fold(r journal.Record) error {
	env := events.Envelope{Seq: r.Seq, Stream: r.Stream, Version: r.Version}
	if err := events.DecodeBody(r.Data, &env); err != nil {
		return fmt.Errorf("replay: event %d of %s: %w", r.Version, r.Stream, err)
	}
	switch {
	case strings.HasPrefix(r.Stream, events.CallStreamPrefix):
		c := f.calls[r.Stream]
		if c == nil {
			c = &fsm.Call{ID: r.Stream[len(events.CallStreamPrefix):]}
			f.calls[r.Stream] = c
		}
		if c.Version+1 != r.Version {
			return fmt.Errorf("replay: %s version %d after %d", r.Stream, r.Version, c.Version)
		}
		if err := fsm.ApplyCall(c, env.Event, env.Time); err != nil {
			return fmt.Errorf("replay: seq %d: %w", r.Seq, err)
		}
	case strings.HasPrefix(r.Stream, events.ClientStreamPrefix):
		c := f.clients[r.Stream]
		if c == nil {
			c = &fsm.Client{ID: r.Stream[len(events.ClientStreamPrefix):]}
			f.clients[r.Stream] = c
		}
		if c.Version+1 != r.Version {
			return fmt.Errorf("replay: %s version %d after %d", r.Stream, r.Version, c.Version)
		}
		if err := fsm.ApplyClient(c, env.Event, env.Time); err != nil {
			return fmt.Errorf("replay: seq %d: %w", r.Seq, err)
		}
	}
	return nil
}

// Replay scans every record of the journals from the start, decodes each
// body and folds the call streams with fsm.ApplyCall (and the client streams
// with fsm.ApplyClient) into per-stream states, cfg.Passes times, and
// measures the events folded per second. The journals may be in use: Scan
// reads committed records.
//
// One goroutine scans; GOMAXPROCS goroutines decode and fold, each the
// streams that hash to it, so that every stream is folded in order by one of
// them (streams are independent of each other, as in engine.Open).
func Replay(ctx context.Context, js []*journal.Journal, cfg ReplayConfig) (ReplayResult, error) {
	passes := max(cfg.Passes, 1)
	var total uint64
	for _, j := range js {
		total += j.LastSeq()
	}
	var deadline time.Time
	if cfg.Duration > 0 {
		deadline = time.Now().Add(cfg.Duration)
	}
	r := ReplayResult{Stopped: "count"}
	s := startSampler(cfg.Interval, Progress{Workload: "replay", Phase: "fold", Total: int64(total) * int64(passes), Unit: "events"}, cfg.Progress)
	for pass := 0; pass < passes && r.Stopped == "count"; pass++ {
		var streams, calls, clients, live int
		for _, j := range js {
			// Each journal is folded into states of its own: the same stream
			// name in two journals is two streams.
			p, err := replayPass(ctx, j, deadline, s)
			if err != nil {
				s.stop()
				return ReplayResult{}, err
			}
			r.Events += p.events
			if p.stopped {
				r.Stopped = "duration"
				break
			}
			streams += p.calls + p.clients
			calls, clients, live = calls+p.calls, clients+p.clients, live+p.live
		}
		if r.Stopped == "count" {
			r.Passes++
			r.Streams, r.Calls, r.Clients, r.LiveCalls = streams, calls, clients, live
		}
	}
	r.Elapsed = s.elapsed()
	r.Throughput = s.stop()
	if r.Elapsed > 0 {
		r.EventsPerSec = float64(r.Events) / r.Elapsed.Seconds()
	}
	finish(cfg.Progress, "replay", "fold", r.Elapsed, fmt.Sprintf("%s events folded in %s: %s events/s (%d pass(es) over %s streams)",
		count(r.Events), seconds(r.Elapsed), count(int64(r.EventsPerSec)), r.Passes, count(int64(r.Streams))))
	return r, nil
}

// passResult is what one replay pass folded.
type passResult struct {
	events               int64
	calls, clients, live int
	stopped              bool // the time bound ended it
}

// replayBatch is how many records the scanner hands to the folders at once.
const replayBatch = 1024

// replayPass folds a journal once, from scratch.
func replayPass(ctx context.Context, j *journal.Journal, deadline time.Time, s *sampler) (passResult, error) {
	workers := max(runtime.GOMAXPROCS(0), 1)
	feeds := make([]chan []journal.Record, workers)
	folders := make([]*folder, workers)
	errs := make([]error, workers)
	counts := make([]int64, workers)
	var failed atomic.Bool
	var wg sync.WaitGroup
	seed := maphash.MakeSeed()
	for w := range feeds {
		feeds[w] = make(chan []journal.Record, 8)
		// Streams are about a third of the events in call workloads.
		folders[w] = newFolder(int(j.LastSeq() / uint64(3*workers)))
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			f := folders[w]
			for batch := range feeds[w] {
				if failed.Load() {
					continue // drain
				}
				n := 0
				for i := range batch {
					if workers > 1 && int(maphash.String(seed, batch[i].Stream)%uint64(workers)) != w {
						continue
					}
					if err := f.fold(batch[i]); err != nil {
						errs[w] = err
						failed.Store(true)
						break
					}
					n++
				}
				counts[w] += int64(n)
				s.add(int64(n))
			}
		}(w)
	}
	var stopped bool
	batch := make([]journal.Record, 0, replayBatch)
	send := func() error {
		for _, feed := range feeds {
			feed <- batch
		}
		batch = make([]journal.Record, 0, replayBatch)
		if failed.Load() {
			return errFolder
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !deadline.IsZero() && time.Now().After(deadline) {
			stopped = true
			return errStop
		}
		return nil
	}
	scanErr := j.Scan(1, func(rec journal.Record) error {
		batch = append(batch, rec)
		if len(batch) == replayBatch {
			return send()
		}
		return nil
	})
	if scanErr == nil && len(batch) > 0 {
		scanErr = send()
	}
	for _, feed := range feeds {
		close(feed)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return passResult{}, err
	}
	if scanErr != nil && !errors.Is(scanErr, errStop) {
		return passResult{}, scanErr
	}
	var p passResult
	p.stopped = stopped
	for w, f := range folders {
		p.events += counts[w]
		p.calls += len(f.calls)
		p.clients += len(f.clients)
		for _, c := range f.calls {
			if c.Status.Live() {
				p.live++
			}
		}
	}
	return p, nil
}

// ReplayFiles opens each journal file read-only (it must not be held by a
// writer: a live journal is read through a hot copy, see
// journal.Journal.BackupFile), replays them with Replay, and closes them.
func ReplayFiles(ctx context.Context, paths []string, cfg ReplayConfig) (ReplayResult, error) {
	var js []*journal.Journal
	defer func() {
		for _, j := range js {
			_ = j.Close()
		}
	}()
	for _, p := range paths {
		j, err := journal.Open(p, journal.Options{ReadOnly: true, Timeout: 2 * time.Second})
		if err != nil {
			return ReplayResult{}, err
		}
		js = append(js, j)
	}
	return Replay(ctx, js, cfg)
}
