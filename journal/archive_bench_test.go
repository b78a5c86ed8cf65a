package journal

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// archiveTemplate is a journal of 10,000 ended calls of 6 records each
// (about 120 bytes a record, appended 2 by 2 by 64 concurrent writers, so
// that calls interleave as they do in an engine) plus 200 live clients and
// 200 live calls.
type archiveTemplate struct {
	path  string
	calls []string
	err   error
}

const benchEndedCalls = 10000

func buildArchiveTemplate(b *testing.B) (string, []string) {
	t := &archiveTemplate{}
	func() {
		t.path = filepath.Join(b.TempDir(), "journal.db")
		j, err := Open(t.path, Options{})
		if err != nil {
			t.err = err
			return
		}
		defer j.Close()
		rec := func(i, k int) []byte {
			return fmt.Appendf(nil, "%-120s", fmt.Sprintf("event %d of call %d", k, i))
		}
		t.calls = make([]string, benchEndedCalls)
		var wg sync.WaitGroup
		var mu sync.Mutex
		for w := 0; w < 64; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				fail := func(err error) {
					mu.Lock()
					t.err = err
					mu.Unlock()
				}
				for i := w; i < benchEndedCalls; i += 64 {
					s := fmt.Sprintf("call/%016x", i)
					t.calls[i] = s
					for k := 0; k < 6; k += 2 {
						if _, err := j.Append(bg, s, uint64(k), [][]byte{rec(i, k), rec(i, k+1)}, k == 4); err != nil {
							fail(err)
							return
						}
					}
					if i%50 == 0 { // live streams among them
						for _, p := range []string{"client/", "call/live-"} {
							if _, err := j.Append(bg, fmt.Sprintf("%s%d", p, i), 0, [][]byte{rec(i, 0)}, false); err != nil {
								fail(err)
								return
							}
						}
					}
				}
			}(w)
		}
		wg.Wait()
		if t.err == nil {
			_, t.err = j.Append(bg, "client/last", 0, [][]byte{rec(0, 0)}, false)
		}
	}()
	if t.err != nil {
		b.Fatal(t.err)
	}
	return t.path, t.calls
}

// BenchmarkArchive10kEndedCalls archives 10,000 ended calls (60,000 records)
// out of a journal that also holds live streams, then compacts it. Metrics:
// records/s of Archive, and the journal's file size and bbolt in-use bytes
// before, after Archive, and after Compact.
func BenchmarkArchive10kEndedCalls(b *testing.B) {
	b.StopTimer()
	tpl, calls := buildArchiveTemplate(b)
	b.StartTimer()
	var info ArchiveInfo
	var ci CompactInfo
	var archiveTime, compactTime, maxStall time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := b.TempDir()
		path := filepath.Join(dir, "journal.db")
		copyFile(b, tpl, path)
		j, err := Open(path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		// One writer appends all along: its slowest append is how long
		// Archive held appends back (the delete transactions run in the
		// journal's writer).
		stop := make(chan struct{})
		stall := make(chan time.Duration, 1)
		go func() {
			var worst time.Duration
			for v := uint64(0); ; v++ {
				select {
				case <-stop:
					stall <- worst
					return
				default:
				}
				t0 := time.Now()
				if _, err := j.Append(bg, "client/busy", v, [][]byte{[]byte("x")}, false); err != nil {
					b.Error(err)
				}
				worst = max(worst, time.Since(t0))
			}
		}()
		b.StartTimer()
		t0 := time.Now()
		info, err = j.Archive(bg, calls, filepath.Join(dir, "archive.db"))
		archiveTime += time.Since(t0)
		b.StopTimer()
		close(stop)
		maxStall = max(maxStall, <-stall)
		if err != nil {
			b.Fatal(err)
		}
		if info.Records != 6*benchEndedCalls || len(info.HeldBack) != 0 {
			b.Fatalf("archived %+v", info)
		}
		must(b, j.Close())
		t0 = time.Now()
		ci, err = Compact(bg, path, filepath.Join(dir, "compact.db"))
		compactTime += time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(float64(info.Records)*n/archiveTime.Seconds(), "records/s")
	b.ReportMetric(compactTime.Seconds()*1000/n, "compact-ms")
	b.ReportMetric(maxStall.Seconds()*1000, "max-append-ms")
	mb := func(x int64) float64 { return float64(x) / (1 << 20) }
	b.ReportMetric(mb(info.Before.FileBytes), "file-MiB-before")
	b.ReportMetric(mb(info.Before.InUseBytes), "inuse-MiB-before")
	b.ReportMetric(mb(info.After.FileBytes), "file-MiB-archived")
	b.ReportMetric(mb(info.After.InUseBytes), "inuse-MiB-archived")
	b.ReportMetric(mb(ci.After.FileBytes), "file-MiB-compacted")
	b.ReportMetric(mb(ci.After.InUseBytes), "inuse-MiB-compacted")
}
