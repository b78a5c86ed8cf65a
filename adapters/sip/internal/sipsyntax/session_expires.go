package sipsyntax

import (
	"errors"
	"strconv"
	"strings"
)

// ErrSessionExpires is returned for a Session-Expires or Min-SE value that
// is not delta-seconds (with, for Session-Expires, parameters).
var ErrSessionExpires = errors.New("sipsyntax: malformed Session-Expires")

// maxSessionSeconds bounds a session interval: a day (RFC 4028 sets no
// bound; a larger value is not a timer anyone runs).
const maxSessionSeconds = 86400

// SessionExpires is a Session-Expires header (RFC 4028 §4): the session
// interval in seconds and who refreshes, "uac", "uas" or "" (not said).
type SessionExpires struct {
	Seconds   int
	Refresher string
}

// ParseSessionExpires parses "delta-seconds *(;param)": the refresher
// parameter, when there, must be uac or uas (case-insensitive); other
// parameters are ignored. Seconds are 1 to 86400.
func ParseSessionExpires(v string) (SessionExpires, error) {
	parts := strings.Split(v, ";")
	n, err := DeltaSeconds(parts[0])
	if err != nil {
		return SessionExpires{}, err
	}
	se := SessionExpires{Seconds: n}
	for _, p := range parts[1:] {
		name, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		if !strings.EqualFold(strings.TrimSpace(name), "refresher") {
			continue
		}
		switch r := strings.ToLower(strings.TrimSpace(val)); r {
		case "uac", "uas":
			se.Refresher = r
		default:
			return SessionExpires{}, ErrSessionExpires
		}
	}
	return se, nil
}

// DeltaSeconds parses a Min-SE value or a Session-Expires' number: 1 to
// 86400 seconds (parameters after ';' are ignored).
func DeltaSeconds(v string) (int, error) {
	v, _, _ = strings.Cut(v, ";")
	v = strings.TrimSpace(v)
	if v == "" || len(v) > 9 {
		return 0, ErrSessionExpires
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, ErrSessionExpires
		}
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxSessionSeconds {
		return 0, ErrSessionExpires
	}
	return n, nil
}

// String is the header value: "1800;refresher=uac".
func (s SessionExpires) String() string {
	v := strconv.Itoa(s.Seconds)
	if s.Refresher != "" {
		v += ";refresher=" + s.Refresher
	}
	return v
}
