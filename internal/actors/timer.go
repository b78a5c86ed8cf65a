package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/callengine/callengine/clock"
)

func durationOf(ns int64) time.Duration {
	if ns < 0 {
		return 0
	}
	return time.Duration(ns)
}

// timerFired is what a deadlineTimer sends its actor. at is the clock's time
// when it fired: the timeout happens then, however late the actor gets to
// the message (with a virtual clock, exactly the deadline).
type timerFired struct{ deadline, at int64 }

// deadlineTimer keeps one clock timer on a deadline that the actor's state
// holds (timers are state): a ring timeout, an invite timer.
type deadlineTimer struct {
	timer clock.Timer
	at    int64
}

// set makes the timer match deadline want, engine-clock Unix ns (0: none).
// A deadline that already fired is not armed again.
func (t *deadlineTimer) set(ctx actor.Context, clk clock.Clock, want int64) {
	if want == t.at {
		return
	}
	t.stop()
	if want == 0 {
		return
	}
	self, sys := ctx.Self(), ctx.ActorSystem()
	t.at = want
	t.timer = clk.AfterFunc(durationOf(want-clk.Now().UnixNano()), func() {
		sys.Root.Send(self, timerFired{deadline: want, at: clk.Now().UnixNano()})
	})
}

// fired reports whether m comes from the timer now set (not from one
// stopped or replaced since).
func (t *deadlineTimer) fired(m timerFired) bool {
	if t.timer == nil || m.deadline != t.at {
		return false
	}
	t.timer = nil
	return true
}

func (t *deadlineTimer) stop() {
	if t.timer != nil {
		t.timer.Stop()
		t.timer = nil
	}
	t.at = 0
}
