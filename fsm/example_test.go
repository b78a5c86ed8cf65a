package fsm_test

import (
	"fmt"
	"time"

	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

// Alice calls Bob, who has two devices; Bob answers from his browser and
// hangs up a minute later. Each command is decided against the current state,
// and the events it yields are folded into the state with ApplyCall — the same
// pair of functions serves live traffic and replay.
func ExampleDecideCall() {
	t0 := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC).UnixNano()
	call := fsm.Call{ID: "c1"}

	run := func(cmd fsm.CallCommand, at time.Duration) {
		now := t0 + int64(at)
		evs, err := fsm.DecideCall(&call, cmd, now)
		if err != nil {
			fmt.Println("refused:", err)
			return
		}
		for _, ev := range evs {
			if err := fsm.ApplyCall(&call, ev, now); err != nil {
				panic(err)
			}
			fmt.Printf("%-12s → %s\n", ev.Type(), call.Status)
		}
	}

	run(fsm.Dial{
		Caller:      events.Party{Client: "alice"},
		Callee:      events.Party{Client: "bob"},
		Devices:     []string{"bob-desk", "bob-web"},
		RingTimeout: 30 * time.Second,
	}, 0)
	run(fsm.Answer{Device: "bob-web"}, 4*time.Second)
	run(fsm.Answer{Device: "bob-desk"}, 5*time.Second) // too late: first answer wins
	run(fsm.Hangup{By: events.Callee}, 64*time.Second)

	fmt.Println("answered on:", call.AnsweredDevice)
	fmt.Println("rang for:", call.RingingDuration())
	fmt.Println("talked for:", call.Duration(0))
	fmt.Println("ended:", call.Reason, "by", call.EndedBy)
	// Output:
	// CallDialed   → connecting
	// CallRinging  → ringing
	// CallAnswered → connected
	// refused: invalid_state: cannot answer: call c1 is connected
	// CallEnded    → ended
	// answered on: bob-web
	// rang for: 4s
	// talked for: 1m0s
	// ended: hangup by callee
}
