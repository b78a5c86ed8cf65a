package sip

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// A registered binding is a device of its client: engine.Device{ID:
// "sip-<hash>", Kind: "sip", Contact: "<contact URI>;expires-at=<RFC3339>"}.
// The Contact field holds everything the adapter needs after a restart: the
// URI to send INVITEs to and when the binding lapses.

// DeviceKind is the engine.Device Kind of a SIP binding.
const DeviceKind = "sip"

// maxContactLen bounds a contact URI we bind.
const maxContactLen = 1024

// deviceID is the stable device id of a contact URI: "sip-" and the first
// 12 hex digits of its SHA-256.
func deviceID(contact string) string {
	h := sha256.Sum256([]byte(contact))
	return "sip-" + hex.EncodeToString(h[:6])
}

// bindingContact is the Device.Contact of a binding.
func bindingContact(uri string, expiresAt time.Time) string {
	return "<" + uri + ">;expires-at=" + expiresAt.UTC().Format(time.RFC3339)
}

var errBadBinding = errors.New("sip: malformed binding contact")

// binding is a device's contact, decoded.
type binding struct {
	URI       sip.Uri
	Raw       string // the URI as registered
	ExpiresAt time.Time
}

// parseBinding decodes a Device.Contact written by bindingContact. It never
// panics on any input (FuzzParseBinding).
func parseBinding(s string) (binding, error) {
	if len(s) > maxContactLen+64 || !strings.HasPrefix(s, "<") {
		return binding{}, errBadBinding
	}
	end := strings.IndexByte(s, '>')
	if end < 2 {
		return binding{}, errBadBinding
	}
	raw, rest := s[1:end], s[end+1:]
	at, ok := strings.CutPrefix(rest, ";expires-at=")
	if !ok {
		return binding{}, errBadBinding
	}
	t, err := time.Parse(time.RFC3339, at)
	if err != nil {
		return binding{}, errBadBinding
	}
	var u sip.Uri
	if err := parseContactURI(raw, &u); err != nil {
		return binding{}, err
	}
	return binding{URI: u, Raw: raw, ExpiresAt: t}, nil
}

// parseContactURI parses a contact URI we can send requests to: sip or
// sips, with a host.
func parseContactURI(raw string, u *sip.Uri) (err error) {
	if raw == "" || len(raw) > maxContactLen || strings.ContainsAny(raw, "<>\r\n ") {
		return errBadBinding
	}
	defer func() { // the parser is not ours: a panic is a refusal
		if recover() != nil {
			err = errBadBinding
		}
	}()
	if err := sip.ParseUri(raw, u); err != nil || (u.Scheme != "sip" && u.Scheme != "sips") || u.Host == "" || u.Wildcard {
		return errBadBinding
	}
	return nil
}

var errBadExpires = errors.New("sip: malformed expires")

// requestedExpiry is the lifetime a REGISTER asks for one contact: its
// ;expires parameter, else the Expires header, else def. It never panics
// (FuzzRequestedExpiry).
func requestedExpiry(param string, hasParam bool, header string, hasHeader bool, def time.Duration) (time.Duration, error) {
	v, ok := param, hasParam
	if !ok {
		v, ok = header, hasHeader
	}
	if !ok {
		return def, nil
	}
	v = strings.TrimSpace(v)
	if v == "" || len(v) > 10 {
		return 0, errBadExpires
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		return 0, errBadExpires
	}
	return time.Duration(n) * time.Second, nil
}
