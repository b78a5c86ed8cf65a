package journal

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

const (
	benchRecordSize    = 64
	benchConcurrentN   = 200_000 // appends per iteration of BenchmarkAppendConcurrent1000
	benchSingleWriterN = 2_000   // appends per iteration of BenchmarkAppendSingleWriter
)

// BenchmarkAppendConcurrent1000: 1,000 goroutines, each making 1-record
// appends of 64 bytes to its own stream; one iteration is benchConcurrentN
// durable appends into a fresh journal.
func BenchmarkAppendConcurrent1000(b *testing.B) {
	benchMeasureAppend(b, 1000, benchConcurrentN)
}

// BenchmarkAppendSingleWriter: one goroutine making 1-record appends (one
// fsync per append); one iteration is benchSingleWriterN appends.
func BenchmarkAppendSingleWriter(b *testing.B) {
	benchMeasureAppend(b, 1, benchSingleWriterN)
}

func benchMeasureAppend(b *testing.B, writers, total int) {
	var sum float64
	for i := 0; i < b.N; i++ {
		r, err := MeasureAppend(context.Background(), b.TempDir(), writers, total, benchRecordSize)
		if err != nil {
			b.Fatal(err)
		}
		sum += r
	}
	b.ReportMetric(sum/float64(b.N), "events/s")
}

// BenchmarkRawBoltPuts1000PerTx: the bbolt ceiling, 1,000 puts of 64-byte
// values with sequential keys per Update; one iteration is benchConcurrentN puts.
func BenchmarkRawBoltPuts1000PerTx(b *testing.B) {
	var sum float64
	for i := 0; i < b.N; i++ {
		r, err := MeasureRawBolt(b.TempDir(), benchConcurrentN, 1000, benchRecordSize)
		if err != nil {
			b.Fatal(err)
		}
		sum += r
	}
	b.ReportMetric(sum/float64(b.N), "events/s")
}

// benchJournal fills a journal with streams × perStream 64-byte records,
// appended in batches of 100 records per call.
func benchJournal(b *testing.B, streams, perStream int) *Journal {
	b.Helper()
	j, err := Open(filepath.Join(b.TempDir(), "bench.journal"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { j.Close() })
	rec := make([]byte, benchRecordSize)
	recs := make([][]byte, 100)
	for i := range recs {
		recs[i] = rec
	}
	for s := 0; s < streams; s++ {
		name := fmt.Sprintf("call/%016x", s)
		for v := 0; v < perStream; v += len(recs) {
			if _, err := j.Append(context.Background(), name, uint64(v), recs[:min(len(recs), perStream-v)], false); err != nil {
				b.Fatal(err)
			}
		}
	}
	return j
}

// BenchmarkReadStream reads one 1,000-record stream out of 100 such streams
// per iteration.
func BenchmarkReadStream(b *testing.B) {
	j := benchJournal(b, 100, 1000)
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		err := j.ReadStream(fmt.Sprintf("call/%016x", i%100), 0, func(Record) error { n++; return nil })
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkScan scans a 100,000-record journal per iteration.
func BenchmarkScan(b *testing.B) {
	j := benchJournal(b, 100, 1000)
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		if err := j.Scan(1, func(Record) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}
