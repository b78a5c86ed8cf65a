package sip

import (
	"context"
	"testing"
	"time"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
)

// delayedAnswers is the engine's far end with each FarAnswered held back:
// what a busy engine does to the trunk's answer. The trunk's BYE, sent
// right after its ACK, then comes while the answer is on its way.
type delayedAnswers struct {
	engine.FarEnd
	delay time.Duration
}

func (d delayedAnswers) FarAnswered(ctx context.Context, id string) (engine.Call, error) {
	time.Sleep(d.delay)
	return d.FarEnd.FarAnswered(ctx, id)
}

// The trunk answers and hangs up at once, while its answer is still on
// its way to the engine: the hangup waits for the answer (the call's
// commands run in order), so the call is answered, then ended by the far
// end's hangup — not ended while ringing with the answer refused.
func TestTrunkByeRightAfterItsAnswerEndsTheAnsweredCall(t *testing.T) {
	trunkPort := freePortOn(t, trunkIP)
	h := newTrunkHarness(t, trunkPort, "", "")
	ts := h.ad.trunks
	ts.Attach(delayedAnswers{FarEnd: ts.farEnd(), delay: 300 * time.Millisecond})
	trunk := runSippOn(t, trunkIP, "uas_answer_bye.xml", trunkPort, "", "-d", "0")
	phone := h.daveCalls("uac_wait_bye.xml", outside)
	trunk.wait(t, "trunk")
	phone.wait(t, "phone")
	h.waitEvent("CallAnswered", func(ev *engine.Event) bool { return ev.Type == events.TypeCallAnswered })
	c := h.callEnded()
	if c.Reason != events.Hangup || c.EndedBy != engine.Callee || c.ConnectAt.IsZero() {
		t.Fatalf("ended call: reason %s by %s connected %v", c.Reason, c.EndedBy, c.ConnectAt)
	}
}
