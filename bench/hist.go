package bench

import (
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in microseconds, from 1 µs to 10 minutes, with 3
// significant digits: a value is kept within 0.1 % of what was recorded (and
// exactly below 2,048 µs).
const (
	histLowest  = 1
	histHighest = int64(10 * time.Minute / time.Microsecond)
	histDigits  = 3
	// latencyShards spreads concurrent recorders over several histograms so
	// that a thousand callers do not queue on one lock.
	latencyShards = 16
)

// NewHistogram returns an empty HDR histogram of latencies in microseconds,
// the kind Latency records into.
func NewHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(histLowest, histHighest, histDigits)
}

// Latency records durations from many goroutines into HDR histograms (one per
// shard, each behind its own lock). The zero value is not usable: call
// NewLatency.
type Latency struct {
	shards [latencyShards]latencyShard
}

type latencyShard struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
	_  [40]byte // keep shards on separate cache lines
}

// NewLatency returns an empty recorder.
func NewLatency() *Latency {
	l := &Latency{}
	for i := range l.shards {
		l.shards[i].h = NewHistogram()
	}
	return l
}

// Record adds one duration. key picks the shard (a worker number, say);
// any value works. Durations are clamped to the histogram's range.
func (l *Latency) Record(key int, d time.Duration) {
	us := max(int64(d/time.Microsecond), histLowest)
	us = min(us, histHighest)
	s := &l.shards[uint(key)%latencyShards]
	s.mu.Lock()
	_ = s.h.RecordValue(us) // cannot fail: us is within range
	s.mu.Unlock()
}

// Histogram returns a merged copy of everything recorded so far.
func (l *Latency) Histogram() *hdrhistogram.Histogram {
	h := NewHistogram()
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		h.Merge(s.h)
		s.mu.Unlock()
	}
	return h
}

// Quantile returns the value at quantile q (0..1) of a histogram of
// microseconds, as a duration; 0 for an empty histogram.
func Quantile(h *hdrhistogram.Histogram, q float64) time.Duration {
	if h == nil || h.TotalCount() == 0 {
		return 0
	}
	return time.Duration(h.ValueAtPercentile(q*100)) * time.Microsecond
}

// PercentilePoint is the latency at one percentile.
type PercentilePoint struct {
	Percentile float64 `json:"percentile"` // 0..100
	Ms         float64 `json:"ms"`
}

// curvePercentiles are the points of a percentile curve: dense where tails
// live.
var curvePercentiles = []float64{
	0, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 92.5, 95, 96, 97, 98, 99,
	99.25, 99.5, 99.75, 99.9, 99.95, 99.99, 99.995, 99.999, 100,
}

// PercentileCurve returns the latency (ms) at a fixed list of percentiles
// from 0 to 100, for plots and reports; nil for an empty histogram.
func PercentileCurve(h *hdrhistogram.Histogram) []PercentilePoint {
	if h == nil || h.TotalCount() == 0 {
		return nil
	}
	pts := make([]PercentilePoint, 0, len(curvePercentiles))
	for _, p := range curvePercentiles {
		var v int64
		if p == 100 {
			v = h.Max()
		} else {
			v = h.ValueAtPercentile(p)
		}
		pts = append(pts, PercentilePoint{Percentile: p, Ms: float64(v) / 1000})
	}
	return pts
}
