package fsm_test

import (
	"testing"
	"time"

	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

// BenchmarkDecideApplyLifecycle decides and applies a whole outbound call per
// iteration: dial, ring, answer, hold, resume, hangup (6 commands, 6 events).
func BenchmarkDecideApplyLifecycle(b *testing.B) {
	cmds := []fsm.CallCommand{
		fsm.Dial{
			Caller: events.Party{Client: "alice"}, Callee: events.Party{Number: "+14155550123"},
			CallerDevice: "alice-desk", Direction: events.Outbound,
		},
		fsm.Ring{Timeout: 30 * time.Second},
		fsm.Answer{},
		fsm.Hold{By: events.Caller},
		fsm.Resume{By: events.Caller},
		fsm.Hangup{By: events.Callee},
	}
	b.ReportAllocs()
	for b.Loop() {
		c := fsm.Call{ID: "bench"}
		now := start
		for _, cmd := range cmds {
			now += int64(time.Second)
			evs, err := fsm.DecideCall(&c, cmd, now)
			if err != nil {
				b.Fatal(err)
			}
			for _, ev := range evs {
				if err := fsm.ApplyCall(&c, ev, now); err != nil {
					b.Fatal(err)
				}
			}
		}
		if c.Status != fsm.Ended {
			b.Fatalf("status %s", c.Status)
		}
	}
}
