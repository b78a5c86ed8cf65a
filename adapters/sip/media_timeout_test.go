package sip

import (
	"context"
	"testing"
	"time"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
)

// RTP timeout: bob's phone stops sending RTP. While the call is held
// nothing happens; once it is resumed and bob stays silent for
// MediaTimeout, the call is hung up on bob's side and both phones get a
// BYE.
func TestRelayMediaTimeout(t *testing.T) {
	const timeout = 600 * time.Millisecond
	h := newRelayHarnessWith(t, t.TempDir(), "", nil, func(s *Settings) { s.MediaTimeout = timeout })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ph := relayPhones(t, ctx, h, "alice", "bob")
	alice, bob := ph[0], ph[1]
	relayedCall(t, ctx, alice, bob)
	calls, err := h.eng.Calls(ctx, "alice")
	if err != nil || len(calls) != 1 {
		t.Fatalf("alice's calls: %+v %v", calls, err)
	}
	id := calls[0].ID
	sub, err := h.eng.Subscribe(ctx, engine.Filter{Calls: []string{id}, Types: []events.Type{events.TypeCallEnded}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	// Held: bob's silence is not acted on.
	if _, err := h.eng.Hold(ctx, id, engine.Caller); err != nil {
		t.Fatal(err)
	}
	bob.rtp.Stop()
	time.Sleep(3 * timeout)
	if c, err := h.eng.Call(ctx, id); err != nil || c.State != engine.Held {
		t.Fatalf("the held call after %s of bob's silence: %+v %v", 3*timeout, c, err)
	}
	if n := h.ad.Stats().MediaTimeouts; n != 0 {
		t.Fatalf("media timeouts while held: %d", n)
	}

	// Resumed, bob still silent: hung up on his side.
	if _, err := h.eng.Resume(ctx, id, engine.Caller); err != nil {
		t.Fatal(err)
	}
	var ended *engine.Event
	for ended == nil {
		select {
		case ev := <-sub.Events():
			if ev.Type == events.TypeCallEnded {
				ended = &ev
			}
		case <-ctx.Done():
			t.Fatal("the call did not end")
		}
	}
	if ended.Call.EndedBy != engine.Callee || ended.Call.Reason != events.Hangup {
		t.Fatalf("ended: reason %s by %s, want hangup by the callee", ended.Call.Reason, ended.Call.EndedBy)
	}
	alice.waitBye(ctx)
	bob.waitBye(ctx)
	if n := h.ad.Stats().MediaTimeouts; n != 1 {
		t.Errorf("media timeouts: %d, want 1", n)
	}
}
