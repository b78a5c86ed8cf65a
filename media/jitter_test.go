package media

import (
	"testing"
	"time"
)

// The jitter estimate, packet by packet: none for a steady stream; for
// arrivals that alternate 10 ms early and late around a 20 ms pace, it
// climbs toward the 20 ms swing of transit (|D| each packet); a new source
// starts it again; the timestamps' wrap is not a jump.
func TestJitter(t *testing.T) {
	var e jitter
	start := time.Unix(1000, 0)
	var j time.Duration
	for i := range 50 {
		j = e.add(1, uint32(i*160), 8000, start.Add(time.Duration(i)*20*time.Millisecond))
	}
	if j != 0 {
		t.Errorf("a steady stream: jitter %s", j)
	}
	for i := 50; i < 250; i++ {
		at := start.Add(time.Duration(i) * 20 * time.Millisecond)
		if i%2 == 1 {
			at = at.Add(20 * time.Millisecond)
		}
		j = e.add(1, uint32(i*160), 8000, at)
	}
	if j < 19*time.Millisecond || j > 21*time.Millisecond {
		t.Errorf("arrivals swinging 20 ms: jitter %s", j)
	}
	if j = e.add(2, 5, 8000, start.Add(time.Hour)); j != 0 {
		t.Errorf("a new source: jitter %s", j)
	}
	var w jitter
	base := uint32(1<<32 - 320)
	for i := range 10 {
		j = w.add(3, base+uint32(i*160), 8000, start.Add(time.Duration(i)*20*time.Millisecond))
	}
	if j != 0 {
		t.Errorf("across the timestamps' wrap: jitter %s", j)
	}
}
