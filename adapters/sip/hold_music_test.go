package sip

import (
	"context"
	"testing"
	"time"

	"github.com/callengine/callengine/engine"
)

// relayHoldMusic is the hold music of the relay harnesses' relays (none
// but in TestSIPHoldMusic).
var relayHoldMusic []int16

// Music on hold between two relayed phones: alice holds the call (the
// engine's Hold by her side), bob's phone — the held party — hears the
// relay's hold music (a constant level here), alice's hears nothing; when
// she resumes, bob hears her again on the same stream.
func TestSIPHoldMusic(t *testing.T) {
	music := make([]int16, 1600)
	for i := range music {
		music[i] = 6000
	}
	relayHoldMusic = music
	t.Cleanup(func() { relayHoldMusic = nil })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h := newRelayHarness(t, t.TempDir(), "")
	ps := relayPhones(t, ctx, h, "alice", "bob")
	alice, bob := ps[0], ps[1]
	relayedCall(t, ctx, alice, bob)
	calls, err := h.eng.Calls(ctx, "alice")
	if err != nil || len(calls) != 1 {
		t.Fatalf("alice's calls: %+v, %v", calls, err)
	}
	id := calls[0].ID
	if _, err := h.eng.Hold(ctx, id, engine.Caller); err != nil {
		t.Fatal(err)
	}
	eventuallyTrue(t, "bob hears the hold music", func() bool { return bob.rtp.Heard() > 4000 })
	if rtpFlowing(alice.rtp, "BOB") || rtpFlowing(bob.rtp, "ALICE") {
		t.Error("audio flows on hold")
	}
	before := alice.rtp.Received().Packets
	time.Sleep(300 * time.Millisecond)
	if n := alice.rtp.Received().Packets - before; n > 2 {
		t.Errorf("alice, who holds, received %d packets (music for her too?)", n)
	}
	if _, err := h.eng.Resume(ctx, id, engine.Caller); err != nil {
		t.Fatal(err)
	}
	eventuallyTrue(t, "bob hears alice again", func() bool { return rtpFlowing(bob.rtp, "ALICE") })
	if rc := bob.rtp.Received(); rc.SSRCs != 1 || rc.Backwards != 0 {
		t.Errorf("bob's stream across the hold: %+v", rc)
	}
	if st, _ := h.relay.LegStats(id + "/caller"); st.Held {
		t.Errorf("alice's leg still held: %+v", st)
	}
}
