package sip

import (
	"context"
	"testing"
	"time"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
)

// Qualifying phones (Settings.QualifyPhones, 200 ms here): bob's phone (a
// sipgo phone: it answers OPTIONS with 405, a SIP stack is there) keeps its
// binding through many rounds; carol's binding names a port where nothing
// listens — after three probes in a row unanswered it is removed as an
// expiry would (DeviceRemoved journaled): carol has no SIP device left to
// ring. Counted in Stats.PhonesUnreachable.
func TestQualifyPhonesRemovesUnreachable(t *testing.T) {
	h := newHarnessTrunks(t, "", "", nil, nil, func(s *Settings) { s.QualifyPhones = 200 * time.Millisecond })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bob := newGoPhone(t, ctx, h.ad.Addr("udp"), "bob", "BOB")
	bob.register(ctx)
	h.register("carol", freePort(t), 300)
	start := time.Now()
	h.waitEvent("carol's binding removed", func(ev *engine.Event) bool {
		return ev.Type == events.TypeDeviceRemoved && ev.Stream == "client/carol"
	})
	if took := time.Since(start); took < 2*200*time.Millisecond {
		t.Errorf("carol's binding was removed after %v: before three probes", took)
	}
	time.Sleep(time.Second) // five more rounds for bob
	for client, want := range map[string]int{"bob": 1, "carol": 0} {
		if n := len(h.sipDevices(client)); n != want {
			t.Errorf("%s has %d SIP devices, want %d", client, n, want)
		}
	}
	if n := h.ad.Stats().PhonesUnreachable; n != 1 {
		t.Errorf("phones unreachable: %d, want 1", n)
	}
}
