package engine_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/webhooks"
)

// TestWebhookVoicemailFromTheEngine: a call that bob declines goes to his
// box; alice's message reaches the voicemail.left endpoint, signed, with
// the client, the caller and the length, and its call.ended says voicemail.
func TestWebhookVoicemailFromTheEngine(t *testing.T) {
	clk := clock.NewVirtual(start)
	rcv := newHookReceiver(t, "vm-secret", clk.Now)
	h := newHookEngine(t, clk, rcv.endpoint(webhooks.KindVoicemailLeft, webhooks.KindCallEnded))
	h.register("alice", "bob")
	ok := must[engine.Call](t)
	must[engine.Client](t)(h.e.SetVoicemail(ctx, "bob", true, time.Minute))
	c := ok(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	ok(h.e.Reject(ctx, c.ID, false))
	clk.Advance(12 * time.Second)
	ok(h.e.Hangup(ctx, c.ID, engine.Caller))
	waitUntil(t, "two deliveries", func() bool { return len(rcv.delivered()) == 2 })
	got := rcv.delivered()
	want := []string{"call/" + c.ID + "@4 voicemail.left", "call/" + c.ID + "@5 call.ended"} // dialled, ringing, to the box
	if !slices.Equal(got, want) {
		t.Fatalf("delivered %q, want %q", got, want)
	}
	var vm struct {
		Client   string `json:"client"`
		From     struct{ Client string }
		Duration int64 `json:"duration_ns"`
	}
	var end struct {
		Reason string `json:"reason"`
	}
	reqs := rcv.requests()
	if err := json.Unmarshal(reqs[0].d.Data, &vm); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(reqs[1].d.Data, &end); err != nil {
		t.Fatal(err)
	}
	if vm.Client != "bob" || vm.From.Client != "alice" || time.Duration(vm.Duration) != 12*time.Second || end.Reason != "voicemail" {
		t.Fatalf("voicemail %+v, end %+v", vm, end)
	}
}
