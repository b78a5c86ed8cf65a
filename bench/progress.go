package bench

import (
	"sync"
	"sync/atomic"
	"time"
)

// Progress tells an observer how a workload is doing. Workloads send one
// when a phase starts, one per sample interval while it runs, and one with
// Final set when it ends.
type Progress struct {
	Workload string        // "lifecycle", "soak", "journal", "restore", "replay"
	Phase    string        // what it is doing: "setup", "calls", "appends", "raw bbolt", …
	Done     int64         // units done so far in this phase
	Total    int64         // units planned; 0 when unknown
	Unit     string        // "calls", "events", "records", "clients"
	Rate     float64       // units per second over the last interval; 0 when unknown
	Elapsed  time.Duration // since the phase started
	Final    bool          // the phase is over; Message sums it up
	Message  string
}

// ProgressFunc receives progress reports. It is called from one goroutine at
// a time and must not block for long.
type ProgressFunc func(Progress)

// Sample is the throughput of one interval.
type Sample struct {
	At    float64 `json:"t"`     // seconds since the workload's loop started, at the end of the interval
	Count int64   `json:"count"` // units completed in the interval
	Rate  float64 `json:"rate"`  // units per second in the interval
}

// sampler counts completed units and, every interval, records a Sample and
// reports Progress. Start it with startSampler and stop it with stop.
type sampler struct {
	done     atomic.Int64
	interval time.Duration
	begin    time.Time
	base     Progress
	report   ProgressFunc

	mu      sync.Mutex
	samples []Sample
	last    int64
	lastAt  time.Time

	quit    chan struct{}
	stopped chan struct{}
}

// startSampler starts a sampler. base gives Workload, Phase, Unit and Total
// of the progress reports; report may be nil.
func startSampler(interval time.Duration, base Progress, report ProgressFunc) *sampler {
	if interval <= 0 {
		interval = 250 * time.Millisecond
	}
	now := time.Now()
	s := &sampler{
		interval: interval, begin: now, base: base, report: report, lastAt: now,
		quit: make(chan struct{}), stopped: make(chan struct{}),
	}
	if report != nil {
		p := base
		report(p)
	}
	go s.loop()
	return s
}

func (s *sampler) add(n int64) { s.done.Add(n) }

func (s *sampler) loop() {
	defer close(s.stopped)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case now := <-t.C:
			s.tick(now, false)
		}
	}
}

// tick closes the current interval at now. A final interval shorter than a
// tenth of the interval is merged into the one before (its own rate would be
// noise), so that the samples always count every unit.
func (s *sampler) tick(now time.Time, final bool) {
	done := s.done.Load()
	s.mu.Lock()
	span := now.Sub(s.lastAt)
	n := done - s.last
	var rate float64
	if span > 0 {
		rate = float64(n) / span.Seconds()
	}
	at := now.Sub(s.begin).Seconds()
	if l := len(s.samples); final && span < s.interval/10 && l > 0 {
		start := 0.0
		if l > 1 {
			start = s.samples[l-2].At
		}
		last := &s.samples[l-1]
		last.At, last.Count = at, last.Count+n
		if at > start {
			last.Rate = float64(last.Count) / (at - start)
		}
	} else {
		s.samples = append(s.samples, Sample{At: at, Count: n, Rate: rate})
	}
	s.last, s.lastAt = done, now
	s.mu.Unlock()
	if s.report != nil && !final {
		p := s.base
		p.Done, p.Rate, p.Elapsed = done, rate, now.Sub(s.begin)
		s.report(p)
	}
}

// stop ends the sampling, records the last (partial) interval and returns
// the samples.
func (s *sampler) stop() []Sample {
	close(s.quit)
	<-s.stopped
	s.tick(time.Now(), true)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.samples
}

// elapsed is the time since the sampler started.
func (s *sampler) elapsed() time.Duration { return time.Since(s.begin) }

// phase reports the start of a phase without counting.
func phase(report ProgressFunc, workload, name string) {
	if report != nil {
		report(Progress{Workload: workload, Phase: name})
	}
}

// finish reports the end of a phase.
func finish(report ProgressFunc, workload, name string, elapsed time.Duration, msg string) {
	if report != nil {
		report(Progress{Workload: workload, Phase: name, Elapsed: elapsed, Final: true, Message: msg})
	}
}
