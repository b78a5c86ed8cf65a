package sip

import (
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/callengine/callengine/adapters/sip/internal/sipsyntax"
)

// When the relay offers SRTP to the phones that ring, by mode and by the
// transports of their bindings.
func TestSRTPModeOffers(t *testing.T) {
	device := func(uri string) sipDevice {
		var u sip.Uri
		if err := sip.ParseUri(uri, &u); err != nil {
			t.Fatal(err)
		}
		return sipDevice{id: uri, binding: sipsyntax.Binding{URI: u}}
	}
	tls := device("sip:alice@alice-phone.invalid:5061;transport=tls")
	wss := device("sip:alice@alice-web.invalid;transport=wss")
	udp := device("sip:alice@127.0.0.1:5070")
	for _, tc := range []struct {
		mode    string
		devices []sipDevice
		want    bool
	}{
		{"", []sipDevice{tls}, false},
		{"off", []sipDevice{tls}, false},
		{"always", []sipDevice{udp}, true},
		{"tls", []sipDevice{tls, wss}, true},
		{"tls", []sipDevice{tls, udp}, false}, // one offer rings them all
		{"tls", []sipDevice{udp}, false},
		{"tls", nil, false},
	} {
		m, err := ParseSRTPMode(tc.mode)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.offersSRTP(tc.devices); got != tc.want {
			t.Errorf("mode %q, %d devices: SRTP %v, want %v", tc.mode, len(tc.devices), got, tc.want)
		}
	}
	for _, bad := range []string{"yes", "true", "TLS ", "sdes"} {
		if _, err := ParseSRTPMode(bad); err == nil {
			t.Errorf("mode %q accepted", bad)
		}
	}
}
