package journal

import (
	"fmt"
	"reflect"
	"testing"
)

// ScanBatch reads what Scan reads, a batch at a time.
func TestScanBatch(t *testing.T) {
	j := mustOpen(t, tempPath(t), Options{})
	for i := 0; i < 3000; i++ {
		stream := fmt.Sprintf("s%d", i%7)
		if i%5 == 0 {
			stream = fmt.Sprintf("one/%d", i)
		}
		v, err := j.StreamVersion(stream)
		if err != nil {
			t.Fatal(err)
		}
		mustAppend(t, j, stream, v, false, fmt.Sprintf("r%d", i))
	}
	for _, from := range []uint64{0, 1, 1500, 3000, 3001} {
		var want []Record
		if err := j.Scan(from, func(r Record) error { want = append(want, r); return nil }); err != nil {
			t.Fatal(err)
		}
		for _, limit := range []int{1, 7, 1000, 5000} {
			var got []Record
			next := max(from, 1)
			for {
				n := len(got)
				var err error
				if got, err = j.ScanBatch(next, limit, got); err != nil {
					t.Fatal(err)
				}
				if len(got)-n > min(limit, chunkRecords) {
					t.Fatalf("from %d max %d: %d records in a batch", next, limit, len(got)-n)
				}
				if len(got) == n {
					break
				}
				next = got[len(got)-1].Seq + 1
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("from %d, max %d: %d records, Scan %d", from, limit, len(got), len(want))
			}
		}
	}
}
