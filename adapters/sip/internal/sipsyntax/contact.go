package sipsyntax

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// maxContactLen bounds a contact URI we bind.
const maxContactLen = 1024

// BindingContact is the Device.Contact of a binding; ice: its REGISTER's
// Contact had the +sip.ice feature tag (RFC 5768), kept as ";+sip.ice"
// after the expiry.
func BindingContact(uri string, expiresAt time.Time, ice bool) string {
	s := "<" + uri + ">;expires-at=" + expiresAt.UTC().Format(time.RFC3339)
	if ice {
		s += iceTag
	}
	return s
}

// iceTag marks a binding registered with +sip.ice.
const iceTag = ";+sip.ice"

// ErrBadBinding refuses a binding contact or a contact URI.
var ErrBadBinding = errors.New("sip: malformed binding contact")

// Binding is a device's contact, decoded.
type Binding struct {
	URI       sip.Uri
	Raw       string // the URI as registered
	ExpiresAt time.Time
	// ICE: registered with the +sip.ice feature tag (RFC 5768), as JsSIP
	// does: a WebRTC endpoint (ICE, DTLS-SRTP), not plain RTP.
	ICE bool
}

// ParseBinding decodes a Device.Contact written by BindingContact. It never
// panics on any input (FuzzParseBinding).
func ParseBinding(s string) (Binding, error) {
	if len(s) > maxContactLen+64 || !strings.HasPrefix(s, "<") {
		return Binding{}, ErrBadBinding
	}
	end := strings.IndexByte(s, '>')
	if end < 2 {
		return Binding{}, ErrBadBinding
	}
	raw, rest := s[1:end], s[end+1:]
	at, ok := strings.CutPrefix(rest, ";expires-at=")
	if !ok {
		return Binding{}, ErrBadBinding
	}
	at, ice := strings.CutSuffix(at, iceTag)
	t, err := time.Parse(time.RFC3339, at)
	if err != nil {
		return Binding{}, ErrBadBinding
	}
	var u sip.Uri
	if err := ParseContactURI(raw, &u); err != nil {
		return Binding{}, err
	}
	return Binding{URI: u, Raw: raw, ExpiresAt: t, ICE: ice}, nil
}

// ParseContactURI parses a contact URI we can send requests to: sip or
// sips, with a host.
func ParseContactURI(raw string, u *sip.Uri) (err error) {
	if raw == "" || len(raw) > maxContactLen || strings.ContainsAny(raw, "<>\r\n ") {
		return ErrBadBinding
	}
	defer func() { // the parser is not ours: a panic is a refusal
		if recover() != nil {
			err = ErrBadBinding
		}
	}()
	if err := sip.ParseUri(raw, u); err != nil || (u.Scheme != "sip" && u.Scheme != "sips") || u.Host == "" || u.Wildcard {
		return ErrBadBinding
	}
	return nil
}

// ErrBadExpires refuses an expires parameter or header.
var ErrBadExpires = errors.New("sip: malformed expires")

// RequestedExpiry is the lifetime a REGISTER asks for one contact: its
// ;expires parameter, else the Expires header, else def. It never panics
// (FuzzRequestedExpiry).
func RequestedExpiry(param string, hasParam bool, header string, hasHeader bool, def time.Duration) (time.Duration, error) {
	v, ok := param, hasParam
	if !ok {
		v, ok = header, hasHeader
	}
	if !ok {
		return def, nil
	}
	v = strings.TrimSpace(v)
	if v == "" || len(v) > 10 {
		return 0, ErrBadExpires
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		return 0, ErrBadExpires
	}
	return time.Duration(n) * time.Second, nil
}
