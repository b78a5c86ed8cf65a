package media

import "errors"

// The errors of the relay. They are returned wrapped with context: test them
// with errors.Is.
var (
	// ErrNoLeg: no leg of that name.
	ErrNoLeg = errors.New("media: no such leg")
	// ErrLegExists: a leg of that name is already up.
	ErrLegExists = errors.New("media: leg exists")
	// ErrBadSDP: the session description is malformed or unusable (no audio,
	// no codec in common, not an offer where an offer is due). Nothing changed.
	ErrBadSDP = errors.New("media: bad session description")
	// ErrBadCandidate: an ICE candidate that does not parse.
	ErrBadCandidate = errors.New("media: bad ICE candidate")
	// ErrBadDigit: SendDTMF was given something other than 0-9 * # A-D.
	ErrBadDigit = errors.New("media: bad DTMF digit")
	// ErrNoCodec: the leg has not negotiated what the operation needs (no
	// audio codec yet for OfferOptions.MatchLeg, no telephone-event for
	// SendDTMF).
	ErrNoCodec = errors.New("media: codec not negotiated")
	// ErrNoRenegotiation: Join needs to add tracks to a leg that has no
	// LegEvents.Renegotiate to offer them with. Nothing changed.
	ErrNoRenegotiation = errors.New("media: leg cannot renegotiate")
	// ErrClosed: the relay is closed.
	ErrClosed = errors.New("media: relay closed")
)
