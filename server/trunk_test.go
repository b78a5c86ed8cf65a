package server

import (
	"log/slog"
	"testing"

	"github.com/callengine/callengine/adapters/loopback"
	sipadapter "github.com/callengine/callengine/adapters/sip"
)

// With sip.trunks the engine's far end is the trunks (linked to the SIP
// adapter by buildSIP); without, the loopback far end stays.
func TestFarEndIsTheTrunkWhenConfigured(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler)}
	far, err := s.farEnd(Default())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := far.(*loopback.Adapter); !ok || s.trunks != nil {
		t.Fatalf("default far end is %T (trunks %v), want the loopback", far, s.trunks)
	}
	cfg := Default()
	cfg.SIP.Trunks = []Trunk{{Name: "up", Address: "192.0.2.1:5060", Username: "acme", Password: "x", InboundAddresses: []string{"192.0.2.0/24"}}}
	far, err = s.farEnd(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if ts, ok := far.(*sipadapter.Trunks); !ok || ts != s.trunks {
		t.Fatalf("far end with a trunk is %T, want *sip.Trunks", far)
	}
	cfg.SIP.Disabled = true
	if far, _ = s.farEnd(cfg); s.trunks != nil {
		t.Fatalf("with sip.disabled the far end is %T", far)
	}
}
