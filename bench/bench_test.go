package bench

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/callengine/callengine/engine"
)

// openEngine opens the engine the benchmarks measure: the call history
// projection off, as `callengine bench` runs it by default (see Options).
func openEngine(b *testing.B, dir string) *engine.Engine {
	b.Helper()
	e, err := engine.Open(context.Background(), engine.Config{DataDir: dir, RingTimeout: time.Hour, NoHistory: true})
	if err != nil {
		b.Fatal(err)
	}
	return e
}

// BenchmarkLifecycle: complete durable call life cycles (dial, ringing,
// answer, hold, resume, hang up) from 1,000 concurrent callers. Targets
// (Targets, judged by `callengine bench`): life cycle events/s ≥ 0.30 × raw
// bbolt (BenchmarkRawBoltPuts1000PerTx in ./journal), ≤ 60 allocations per
// call.
func BenchmarkLifecycle(b *testing.B) {
	e := openEngine(b, b.TempDir())
	defer e.Close()
	b.ResetTimer()
	r, err := Lifecycle(context.Background(), e, max(b.N, 1000), 1000)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(r.CallsPerSec, "calls/s")
	b.ReportMetric(r.EventsPerSec, "events/s")
	b.ReportMetric(float64(r.P50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(r.P99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(r.P999.Microseconds())/1000, "p999-ms")
	b.ReportMetric(r.AllocsPerCall, "allocs/call")
}

// BenchmarkSoakHeapPerCall: live heap per connected call with 100,000
// concurrent calls, then the time Open takes to restore them all and what
// it allocates. The targets are set at 1,000,000 calls (≤ 2,048 B per call;
// ≤ 5 s and ≤ 2.5 KiB allocated per restored call): `callengine bench
// --live-calls 1000000` judges them. Run with -benchtime=1x.
func BenchmarkSoakHeapPerCall(b *testing.B) {
	const calls = 100_000
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		e := openEngine(b, dir)
		s, err := Soak(context.Background(), e, calls, 1000)
		if err != nil {
			e.Close()
			b.Fatal(err)
		}
		e.Close()
		r, err := Restore(context.Background(), engine.Config{DataDir: dir, RingTimeout: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		if r.LiveCalls != calls {
			b.Fatalf("restored %d live calls, want %d", r.LiveCalls, calls)
		}
		b.ReportMetric(s.HeapBytesPerCall, "heap-B/call")
		b.ReportMetric(float64(s.LiveCalls), "live-calls")
		b.ReportMetric(r.Elapsed.Seconds(), "restore-s")
		b.ReportMetric(r.AllocBytesPerCall(), "restore-alloc-B/call")
	}
}

// BenchmarkReplay: scan, decode and fold a journal of 20,000 complete life
// cycles and 20,000 live calls (182,000 events). Target ≥ 1,000,000
// events/s.
func BenchmarkReplay(b *testing.B) {
	dir := b.TempDir()
	e := openEngine(b, dir)
	if _, err := Lifecycle(context.Background(), e, 20_000, 1000); err != nil {
		e.Close()
		b.Fatal(err)
	}
	if _, err := Soak(context.Background(), e, 20_000, 1000); err != nil {
		e.Close()
		b.Fatal(err)
	}
	if err := e.Close(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var events int64
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		r, err := ReplayFiles(context.Background(), []string{filepath.Join(dir, "journal.db")}, ReplayConfig{})
		if err != nil {
			b.Fatal(err)
		}
		events += r.Events
		elapsed += r.Elapsed
	}
	b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(events)/float64(b.N), "events/op")
}
