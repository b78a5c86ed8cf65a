package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// The HDR histogram keeps every percentile within 0.1 % (3 significant
// digits) of the exact one, whatever the spread of the values: here from
// 20 µs to 2 s, recorded from 8 goroutines into the sharded recorder.
func TestLatencyPercentilesWithinAThousandth(t *testing.T) {
	l := NewLatency()
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 200_000
	values := make([]int64, n) // µs
	for i := range values {
		// Log-uniform from 20 µs to 2 s, plus a heavy tail.
		values[i] = int64(20 * math.Pow(10, 5*rng.Float64()))
	}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				l.Record(w, time.Duration(values[i])*time.Microsecond)
			}
		}(w)
	}
	wg.Wait()
	h := l.Histogram()
	if h.TotalCount() != n {
		t.Fatalf("%d values recorded, want %d", h.TotalCount(), n)
	}
	slices.Sort(values)
	for _, q := range []float64{0.001, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999} {
		rank := min(max(int(q*n+0.5), 1), n)
		exact := float64(values[rank-1])
		got := float64(Quantile(h, q) / time.Microsecond)
		if rel := math.Abs(got-exact) / exact; rel > 0.001 {
			t.Errorf("q%v: got %v µs, exact %v µs (relative error %.5f > 0.001)", q, got, exact, rel)
		}
	}
}

// Small values are exact; values outside the range are clamped, not lost.
func TestLatencyExactBelow2msAndClamped(t *testing.T) {
	l := NewLatency()
	for us := 1; us <= 1000; us++ {
		l.Record(us, time.Duration(us)*time.Microsecond)
	}
	h := l.Histogram()
	if got := Quantile(h, 0.5); got != 500*time.Microsecond {
		t.Errorf("p50 of 1..1000 µs = %v, want 500µs", got)
	}
	if got := Quantile(h, 0.99); got != 990*time.Microsecond {
		t.Errorf("p99 of 1..1000 µs = %v, want 990µs", got)
	}
	l = NewLatency()
	l.Record(0, -time.Second)
	l.Record(0, 0)
	l.Record(0, time.Hour)
	h = l.Histogram()
	if h.TotalCount() != 3 || Quantile(h, 0) != time.Microsecond {
		t.Errorf("clamped low: count %d, min %v", h.TotalCount(), Quantile(h, 0))
	}
	if max := time.Duration(h.Max()) * time.Microsecond; max < 10*time.Minute || max > 10*time.Minute+time.Second {
		t.Errorf("clamped high: max %v, want ≈ 10m", max)
	}
}

func TestPercentileCurve(t *testing.T) {
	if Quantile(NewHistogram(), 0.5) != 0 || PercentileCurve(NewHistogram()) != nil {
		t.Fatal("an empty histogram has no percentiles")
	}
	l := NewLatency()
	for i := 1; i <= 10_000; i++ {
		l.Record(i, time.Duration(i)*time.Microsecond)
	}
	h := l.Histogram()
	curve := PercentileCurve(h)
	if len(curve) != len(curvePercentiles) || curve[0].Percentile != 0 || curve[len(curve)-1].Percentile != 100 {
		t.Fatalf("curve %v", curve)
	}
	for i := 1; i < len(curve); i++ {
		if curve[i].Ms < curve[i-1].Ms || curve[i].Percentile <= curve[i-1].Percentile {
			t.Fatalf("curve not increasing at %d: %v", i, curve)
		}
	}
	if last := curve[len(curve)-1].Ms; math.Abs(last-10) > 0.01 {
		t.Errorf("p100 = %v ms, want 10 ms (the max)", last)
	}
}

// The samples count every unit, however the last interval falls.
func TestSamplerCountsEverything(t *testing.T) {
	for _, wait := range []time.Duration{0, time.Millisecond, 25 * time.Millisecond, 45 * time.Millisecond} {
		var reports int
		s := startSampler(20*time.Millisecond, Progress{Workload: "w"}, func(Progress) { reports++ })
		for i := 0; i < 10; i++ {
			s.add(3)
			time.Sleep(wait / 10)
		}
		samples := s.stop()
		var sum int64
		for i, x := range samples {
			sum += x.Count
			if i > 0 && x.At <= samples[i-1].At {
				t.Errorf("wait %v: samples out of order: %+v", wait, samples)
			}
		}
		if sum != 30 || len(samples) == 0 || reports == 0 {
			t.Errorf("wait %v: %d samples counting %d units, %d reports", wait, len(samples), sum, reports)
		}
	}
}
