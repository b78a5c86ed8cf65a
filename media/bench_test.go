package media_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/callengine/callengine/media/mediatest"
)

// BenchmarkRelayCall runs N relayed calls at once, 20 ms Opus-sized packets
// both ways for 2 s (peers and relay in this one process, on loopback), and
// reports the packets delivered per second, the loss, the setup time per
// call and the CPU used (of one core; peers included).
func BenchmarkRelayCall(b *testing.B) {
	for _, calls := range []int{1, 10, 50, 100} {
		b.Run(fmt.Sprintf("calls=%d", calls), func(b *testing.B) {
			r := newRelay(b)
			var pps, sent, loss, setup, cpu float64
			var misrouted uint64
			for i := 0; i < b.N; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				c0 := cpuTime()
				res, err := mediatest.RunCalls(ctx, r, mediatest.CallsSettings{
					Calls:    calls,
					Duration: 2 * time.Second,
					Peer:     mediatest.Settings{Media: loopback},
					Prefix:   fmt.Sprintf("i%d-", i),
				})
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				pps += res.PacketsPerSecond
				sent += float64(res.Sent) / res.Duration.Seconds()
				loss += res.Loss
				setup += res.Setup.Seconds() * 1000 / float64(calls)
				cpu += (cpuTime() - c0).Seconds() / (res.Setup + res.Duration + 200*time.Millisecond).Seconds()
				misrouted += res.Misrouted
			}
			n := float64(b.N)
			b.ReportMetric(float64(calls), "calls")
			b.ReportMetric(pps/n, "pkts/s")
			b.ReportMetric(sent/n, "sent-pkts/s")
			b.ReportMetric(100*loss/n, "loss%")
			b.ReportMetric(setup/n, "setup-ms/call")
			b.ReportMetric(100*cpu/n, "cpu%")
			if misrouted > 0 {
				b.Errorf("%d packets reached the wrong call", misrouted)
			}
		})
	}
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
