package sipsyntax

import (
	"errors"
	"net/url"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// ErrBadReferTo refuses a Refer-To value.
var ErrBadReferTo = errors.New("sip: malformed Refer-To")

// maxReferTo bounds a Refer-To header we read.
const maxReferTo = 2048

// ParseReferTo reads a Refer-To value (name-addr or addr-spec, RFC 3515
// §2.1): the URI, and whether it carries a Replaces header (attended
// transfer). Only sip:, sips: and tel: URIs are accepted. It never panics
// (FuzzReferTo).
func ParseReferTo(v string) (u sip.Uri, replaces bool, err error) {
	v = strings.TrimSpace(v)
	if v == "" || len(v) > maxReferTo {
		return u, false, ErrBadReferTo
	}
	raw := v
	if i := strings.IndexByte(v, '<'); i >= 0 {
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			return u, false, ErrBadReferTo
		}
		raw = v[i+1 : i+j]
	} else if i := strings.IndexByte(v, ';'); i >= 0 {
		raw = v[:i] // addr-spec: what follows ';' are header parameters
	}
	raw = strings.TrimSpace(raw)
	if strings.ContainsAny(raw, " \t\r\n<>\"") {
		return u, false, ErrBadReferTo
	}
	lower := strings.ToLower(raw)
	if !strings.HasPrefix(lower, "sip:") && !strings.HasPrefix(lower, "sips:") && !strings.HasPrefix(lower, "tel:") {
		return u, false, ErrBadReferTo
	}
	if i := strings.IndexByte(raw, '?'); i >= 0 {
		replaces = strings.Contains(strings.ToLower(raw[i:]), "replaces=")
		raw = raw[:i]
	}
	if err := ParseContactURI(raw, &u); err != nil {
		return sip.Uri{}, false, ErrBadReferTo
	}
	if u.Scheme != "tel" && u.Host == "" {
		return sip.Uri{}, false, ErrBadReferTo
	}
	return u, replaces, nil
}

// ErrBadReplaces refuses a Replaces value, or a Refer-To without one.
var ErrBadReplaces = errors.New("sip: malformed Replaces")

// Replaces names the dialog a Replaces header replaces: its Call-ID,
// and the tags as the phone that sent it sees them (to-tag the remote
// one, ours; from-tag its own).
type Replaces struct {
	CallID, ToTag, FromTag string
	EarlyOnly              bool
}

// ParseReplaces reads a Replaces value (RFC 3891 §6.1):
// callid;to-tag=…;from-tag=…[;early-only]. It never panics
// (FuzzReplaces).
func ParseReplaces(v string) (Replaces, error) {
	var r Replaces
	v = strings.TrimSpace(v)
	if v == "" || len(v) > maxReferTo {
		return r, ErrBadReplaces
	}
	parts := strings.Split(v, ";")
	r.CallID = strings.TrimSpace(parts[0])
	if r.CallID == "" || strings.ContainsAny(r.CallID, " \t\r\n<>\"") {
		return Replaces{}, ErrBadReplaces
	}
	for _, p := range parts[1:] {
		name, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "to-tag":
			r.ToTag = strings.TrimSpace(val)
		case "from-tag":
			r.FromTag = strings.TrimSpace(val)
		case "early-only":
			r.EarlyOnly = true
		}
	}
	if r.ToTag == "" || r.FromTag == "" || strings.ContainsAny(r.ToTag+r.FromTag, " \t\r\n<>\"") {
		return Replaces{}, ErrBadReplaces
	}
	return r, nil
}

// ReferToReplaces finds the Replaces header among the headers of a
// Refer-To URI (…?Replaces=<escaped value>&…) and parses it.
func ReferToReplaces(v string) (Replaces, error) {
	raw := v
	if i := strings.IndexByte(v, '<'); i >= 0 {
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			return Replaces{}, ErrBadReplaces
		}
		raw = v[i+1 : i+j]
	}
	_, hdrs, ok := strings.Cut(raw, "?")
	if !ok {
		return Replaces{}, ErrBadReplaces
	}
	for _, h := range strings.Split(hdrs, "&") {
		name, val, _ := strings.Cut(h, "=")
		if !strings.EqualFold(name, "replaces") {
			continue
		}
		u, err := url.PathUnescape(val)
		if err != nil {
			return Replaces{}, ErrBadReplaces
		}
		return ParseReplaces(u)
	}
	return Replaces{}, ErrBadReplaces
}
