package bench

import (
	"context"
	"testing"
	"time"

	"github.com/callengine/callengine/engine"
)

// The workloads count what they measure: a smoke run checks the counts, not
// the speed.
func TestWorkloadsCountWhatTheyDo(t *testing.T) {
	dir := t.TempDir()
	cfg := engine.Config{DataDir: dir, RingTimeout: time.Hour}
	e, err := engine.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Lifecycle(context.Background(), e, 200, 20)
	if err != nil {
		t.Fatal(err)
	}
	if r.Calls != 200 || r.Events != 200*6 || r.CallsPerSec <= 0 || r.P50 <= 0 || r.P999 < r.P50 {
		t.Fatalf("lifecycle: %+v", r)
	}
	if e.LiveCalls() != 0 {
		t.Fatalf("%d calls left live", e.LiveCalls())
	}
	s, err := Soak(context.Background(), e, 300, 10)
	if err != nil {
		t.Fatal(err)
	}
	if s.LiveCalls != 300 || s.HeapAfter <= s.HeapBefore {
		t.Fatalf("soak: %+v", s)
	}
	e.Close()
	rr, err := Restore(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rr.LiveCalls != 300 || rr.Events < 300*3 {
		t.Fatalf("restore: %+v", rr)
	}
}
