package bench

import (
	"context"
	"testing"
	"time"
)

// A few relayed calls through a real serve child (this test binary, see
// TestMain): every call is set up and carried, the packets counted both
// ways, the server's CPU and memory read.
func TestWebRTCCarriesCalls(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	r, err := WebRTC(ctx, WebRTCConfig{Calls: 3, Duration: time.Second, Warmup: 500 * time.Millisecond, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", r)
	if r.SetUp != 3 || r.Failed != 0 || r.Carried != 3 {
		t.Fatalf("set up %d, failed %d (%v), carried %d", r.SetUp, r.Failed, r.Errors, r.Carried)
	}
	// 3 calls, 2 directions, 50 packets/s, about 1 s: 300 packets when the
	// peers keep their pace. A loaded machine slows their tickers (a speed
	// is a benchmark's to judge, not a test's): packets flowed on every
	// leg, and what was sent arrived.
	if r.Sent < 30 || r.Received < 30 || r.Loss > 0.05 || r.PacketsPerSec <= 0 {
		t.Errorf("sent %d, received %d, loss %v, %v packets/s", r.Sent, r.Received, r.Loss, r.PacketsPerSec)
	}
	if r.SetupsPerSec <= 0 || r.SetupP50 <= 0 || r.SetupP99 < r.SetupP50 || r.SetupMax < r.SetupP99 {
		t.Errorf("setups/s %v, p50 %v, p99 %v, max %v", r.SetupsPerSec, r.SetupP50, r.SetupP99, r.SetupMax)
	}
	if !r.HaveCPU || !r.HaveRSS || !r.HaveHeap || !r.HaveRelay {
		t.Errorf("cpu %v, rss %v, heap %v, relay %v", r.HaveCPU, r.HaveRSS, r.HaveHeap, r.HaveRelay)
	}
	if r.RelayIn == 0 || r.RelayOut == 0 || r.RSSAfter == 0 {
		t.Errorf("relay in %d, out %d; rss %d", r.RelayIn, r.RelayOut, r.RSSAfter)
	}
}
