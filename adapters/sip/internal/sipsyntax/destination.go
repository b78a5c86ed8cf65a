package sipsyntax

import (
	"errors"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/callengine/callengine/fsm"
)

// ErrBadDestination: a Request-URI that names nothing the engine dials.
var ErrBadDestination = errors.New("sip: the Request-URI names no destination")

// Destination turns an INVITE's Request-URI into what the engine dials
// (engine.DialRequest.To): a tel: URI's number; the user part of a sip:
// URI as an E.164 number ("+…") or an extension (2 to 6 digits) — other digit strings are refused; any other
// user as sip:user@domain, the engine's SIP domain (a client id, a number
// or an extension at it). It never panics on any input
// (FuzzDestination).
func Destination(u *sip.Uri, domain string) (string, error) {
	switch u.Scheme {
	case "tel":
		num, _, _ := strings.Cut(u.Raw(), ";")
		if n, ok := fsm.NormalizeNumber(num); ok {
			return n, nil
		}
		return "", ErrBadDestination
	case "sip", "sips":
	default:
		return "", ErrBadDestination
	}
	user, _, _ := strings.Cut(u.User, ";") // user parameters (;phone-context=…)
	if user == "" || len(user) > 128 {
		return "", ErrBadDestination
	}
	if strings.HasPrefix(user, "+") {
		if n, ok := fsm.NormalizeNumber(user); ok {
			return n, nil
		}
		return "", ErrBadDestination
	}
	if fsm.ValidExtension(user) {
		return user, nil
	}
	if fsm.IsDigits(user) {
		return "", ErrBadDestination // a number that is neither E.164 nor an extension
	}
	if domain == "" {
		domain = u.Host
	}
	to := "sip:" + user + "@" + domain
	if _, err := fsm.ParseDestination(to); err != nil {
		return "", ErrBadDestination
	}
	return to, nil
}
