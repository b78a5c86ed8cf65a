package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/callengine/callengine/journal"
)

// AppendsConfig sizes the journal workload.
type AppendsConfig struct {
	Writers    int // concurrent appenders, each to its own stream
	Records    int // 1-record appends in all (the count bound); raw bbolt writes as many
	RecordSize int // bytes per record; default 64
	RawPerTx   int // raw bbolt puts per transaction; default 1,000
	// Duration bounds the appends in time: appends not done by then fail the
	// workload (journal.MeasureAppend gives no partial figure). 0: no bound
	// besides the context.
	Duration time.Duration
	Progress ProgressFunc
}

// AppendsResult is what the journal workload measured.
type AppendsResult struct {
	Records         int
	Writers         int
	RecordSize      int
	RawPerTx        int
	EventsPerSec    float64 // durable 1-record appends per second
	RawEventsPerSec float64 // raw bbolt puts per second, RawPerTx per transaction
	Ratio           float64 // EventsPerSec / RawEventsPerSec
	Elapsed         time.Duration
}

// Appends measures durable journal appends (journal.MeasureAppend) and, in
// the same run on the same disk, raw bbolt with RawPerTx puts per
// transaction (journal.MeasureRawBolt) as the ceiling, and their ratio. Both
// write fresh files in temporary directories under dir and remove them. The
// appends stop with an error when ctx ends or cfg.Duration has passed; the
// raw bbolt loop is bounded by its count only, and is not started once ctx
// has ended.
func Appends(ctx context.Context, dir string, cfg AppendsConfig) (AppendsResult, error) {
	if cfg.Records < 1 || cfg.Writers < 1 {
		return AppendsResult{}, fmt.Errorf("bench: journal: %d records from %d writers", cfg.Records, cfg.Writers)
	}
	if cfg.RecordSize <= 0 {
		cfg.RecordSize = 64
	}
	if cfg.RawPerTx <= 0 {
		cfg.RawPerTx = 1000
	}
	r := AppendsResult{Records: cfg.Records, Writers: min(cfg.Writers, cfg.Records), RecordSize: cfg.RecordSize, RawPerTx: cfg.RawPerTx}
	begin := time.Now()
	phase(cfg.Progress, "journal", fmt.Sprintf("appends: %s records from %s writers", count(int64(cfg.Records)), count(int64(r.Writers))))
	actx, cancel := ctx, context.CancelFunc(func() {})
	if cfg.Duration > 0 {
		actx, cancel = context.WithTimeout(ctx, cfg.Duration)
	}
	eps, err := journal.MeasureAppend(actx, dir, cfg.Writers, cfg.Records, cfg.RecordSize)
	timedOut := ctx.Err() == nil && actx.Err() != nil
	cancel()
	if err != nil {
		if timedOut {
			return AppendsResult{}, fmt.Errorf("journal appends: %s records not appended within %v: lower the records or raise the duration",
				count(int64(cfg.Records)), cfg.Duration)
		}
		return AppendsResult{}, fmt.Errorf("journal appends: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return AppendsResult{}, err
	}
	phase(cfg.Progress, "journal", fmt.Sprintf("raw bbolt: %s puts, %s per transaction", count(int64(cfg.Records)), count(int64(cfg.RawPerTx))))
	raw, err := journal.MeasureRawBolt(dir, cfg.Records, cfg.RawPerTx, cfg.RecordSize)
	if err != nil {
		return AppendsResult{}, fmt.Errorf("raw bbolt: %w", err)
	}
	r.EventsPerSec, r.RawEventsPerSec, r.Ratio = eps, raw, eps/raw
	r.Elapsed = time.Since(begin)
	finish(cfg.Progress, "journal", "appends", r.Elapsed, fmt.Sprintf("%s durable appends/s; raw bbolt %s puts/s; ratio %.2f",
		count(int64(eps)), count(int64(raw)), r.Ratio))
	return r, nil
}
