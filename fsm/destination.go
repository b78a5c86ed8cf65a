package fsm

import (
	"strings"

	"github.com/callengine/callengine/errcode"
)

// DestinationKind says how a dialled string addresses its target (FEATURES C1).
type DestinationKind uint8

const (
	DestE164      DestinationKind = iota + 1 // +14155551234
	DestExtension                            // 105
	DestSIPURI                               // sip:alice@example.com
	DestTelURI                               // tel:+14155551234
)

func (k DestinationKind) String() string {
	switch k {
	case DestE164:
		return "e164"
	case DestExtension:
		return "extension"
	case DestSIPURI:
		return "sip"
	case DestTelURI:
		return "tel"
	}
	return "unknown"
}

// Destination is a parsed dial string.
type Destination struct {
	Raw    string          // as dialled
	Kind   DestinationKind //
	Number string          // E.164 number or extension; for a SIP URI, the user part
	Host   string          // SIP URI host (with its port, if any), empty otherwise
	Scheme string          // "sip" or "sips" for a SIP URI, empty otherwise
}

// Hostname returns Host without its port.
func (d Destination) Hostname() string {
	h := d.Host
	if strings.HasPrefix(h, "[") { // [v6]:port
		if i := strings.IndexByte(h, ']'); i > 0 {
			return h[1:i]
		}
		return h
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		return h[:i]
	}
	return h
}

// ParseDestination parses an E.164 number (+ and 8 to 15 digits, the first not
// 0), an extension (2 to 6 digits), a SIP URI (sip: or sips:, user@host) or a
// TEL URI (tel: with an E.164 number). Visual separators (space, '-', '.', '(',
// ')') are allowed in numbers and removed. Anything else is invalid_params.
func ParseDestination(s string) (Destination, error) {
	raw := s
	s = strings.TrimSpace(s)
	if s == "" {
		return Destination{}, errcode.New(errcode.MissingParameter, "destination is empty")
	}
	switch {
	case hasScheme(s, "sip:") || hasScheme(s, "sips:"):
		rest := s[strings.IndexByte(s, ':')+1:]
		if i := strings.IndexAny(rest, ";?"); i >= 0 {
			rest = rest[:i]
		}
		user, host, ok := strings.Cut(rest, "@")
		if !ok || user == "" || !validHost(host) || !validSIPUser(user) {
			return Destination{}, errcode.Newf(errcode.InvalidParams, "destination %q is not a valid SIP URI", raw)
		}
		scheme := "sip"
		if hasScheme(s, "sips:") {
			scheme = "sips"
		}
		return Destination{Raw: raw, Kind: DestSIPURI, Number: user, Host: strings.ToLower(host), Scheme: scheme}, nil
	case hasScheme(s, "tel:"):
		num, ok := normalizeE164(s[4:])
		if !ok {
			return Destination{}, errcode.Newf(errcode.InvalidParams, "destination %q is not a valid TEL URI", raw)
		}
		return Destination{Raw: raw, Kind: DestTelURI, Number: num}, nil
	case strings.HasPrefix(s, "+"):
		num, ok := normalizeE164(s)
		if !ok {
			return Destination{}, errcode.Newf(errcode.InvalidParams, "destination %q is not an E.164 number", raw)
		}
		return Destination{Raw: raw, Kind: DestE164, Number: num}, nil
	}
	if IsDigits(s) && len(s) >= 2 && len(s) <= 6 {
		return Destination{Raw: raw, Kind: DestExtension, Number: s}, nil
	}
	return Destination{}, errcode.Newf(errcode.InvalidParams, "destination %q is neither an E.164 number, an extension, a SIP URI nor a TEL URI", raw)
}

// hasScheme reports whether s starts with the ASCII scheme, ignoring ASCII
// case only: a byte-length prefix of s can fold-equal an ASCII string only if
// it is ASCII itself (strings.ToLower(s) would turn "sİp:" into "sip:").
func hasScheme(s, scheme string) bool {
	return len(s) >= len(scheme) && strings.EqualFold(s[:len(scheme)], scheme)
}

// NormalizeNumber returns the E.164 form of a number, or ok=false.
func NormalizeNumber(s string) (string, bool) { return normalizeE164(s) }

// ValidExtension reports whether s is an extension: 2 to 6 digits.
func ValidExtension(s string) bool { return IsDigits(s) && len(s) >= 2 && len(s) <= 6 }

func normalizeE164(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, ';'); i >= 0 { // tel: parameters
		s = s[:i]
	}
	if !strings.HasPrefix(s, "+") {
		return "", false
	}
	var b strings.Builder
	b.WriteByte('+')
	for _, r := range s[1:] {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return "", false
		}
	}
	n := b.String()
	digits := len(n) - 1
	if digits < 8 || digits > 15 || n[1] == '0' {
		return "", false
	}
	return n, true
}

// IsDigits reports whether s is a non-empty run of ASCII digits.
func IsDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func validSIPUser(u string) bool {
	for _, r := range u {
		if r <= ' ' || r == '@' || r == '<' || r == '>' || r == '"' || r > 0x7e {
			return false
		}
	}
	return true
}

func validHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasSuffix(h, "]") {
		if !IsDigits(h[i+1:]) {
			return false
		}
		h = h[:i]
	}
	for _, r := range h {
		ok := r == '.' || r == '-' || r == '[' || r == ']' || r == ':' ||
			(r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !ok {
			return false
		}
	}
	return h != ""
}
