package engine_test

import (
	"context"
	"os"
	"runtime"
	"runtime/pprof"
	"syscall"
	"testing"
	"time"

	"github.com/callengine/callengine/engine"
)

// BenchmarkRestoreJournal measures engine.Open on the data directory
// $CALLENGINE_RESTORE_DIR (one a `callengine bench --workload soak` left,
// e.g. DATA/soak); it is skipped when that is not set. Profile it with
// -cpuprofile / -memprofile.
func BenchmarkRestoreJournal(b *testing.B) {
	dir := os.Getenv("CALLENGINE_RESTORE_DIR")
	if dir == "" {
		b.Skip("CALLENGINE_RESTORE_DIR not set")
	}
	// As callengine serve opens its engine: the collector paused during a
	// large restore (CALLENGINE_RESTORE_GC=on measures it running).
	cfg := engine.Config{DataDir: dir, RingTimeout: time.Hour, NoHistory: true, RestorePausesGC: os.Getenv("CALLENGINE_RESTORE_GC") != "on"}
	for b.Loop() {
		var m0, m1 runtime.MemStats
		var r0, r1 syscall.Rusage
		runtime.ReadMemStats(&m0)
		syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
		e, err := engine.Open(context.Background(), cfg)
		syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
		runtime.ReadMemStats(&m1)
		cpu := time.Duration(r1.Utime.Nano() + r1.Stime.Nano() - r0.Utime.Nano() - r0.Stime.Nano())
		b.ReportMetric(cpu.Seconds(), "cpu-s/open")
		if err != nil {
			b.Fatal(err)
		}
		calls := e.LiveCalls()
		b.ReportMetric(float64(runtime.NumGoroutine()), "goroutines")
		if path := os.Getenv("CALLENGINE_RESTORE_HEAP"); path != "" {
			// The live heap of the restored engine, for go tool pprof.
			runtime.GC()
			f, err := os.Create(path)
			if err != nil {
				b.Fatal(err)
			}
			if err := pprof.WriteHeapProfile(f); err != nil {
				b.Fatal(err)
			}
			f.Close()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(ms.HeapAlloc)/float64(calls), "heapB/call")
		}
		b.ReportMetric(float64(e.Restored().Duration.Seconds()), "s/open")
		b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/float64(calls), "B/call")
		b.StopTimer()
		e.Close()
		runtime.GC()
		b.StartTimer()
	}
}
