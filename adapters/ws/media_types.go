package ws

import "github.com/callengine/callengine/media"

// The relay's small types, as the Media interface uses them. *media.Relay
// implements Media.
type (
	ICECandidate  = media.ICECandidate
	LegState      = media.LegState
	LegEvents     = media.LegEvents
	OfferOptions  = media.OfferOptions
	AnswerOptions = media.AnswerOptions
)

var _ Media = (*media.Relay)(nil)
