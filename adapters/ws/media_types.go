package ws

// The small types of package media (the relay, written in parallel),
// declared here with the same names and fields until it lands on main.
// When it does, this file becomes aliases:
//
//	type ICECandidate = media.ICECandidate
//	type LegState = media.LegState
//	type LegEvents = media.LegEvents
//	type OfferOptions = media.OfferOptions
//
// and the rest of the package is unchanged.

// ICECandidate is a trickled candidate, as RTCIceCandidateInit.
type ICECandidate struct {
	Candidate     string  `json:"candidate"`
	SDPMid        *string `json:"sdpMid,omitempty"`
	SDPMLineIndex *uint16 `json:"sdpMLineIndex,omitempty"`
}

// LegState is the connection state of a leg.
type LegState string

// LegEvents are the relay's callbacks for one leg.
type LegEvents struct {
	Candidate     func(ICECandidate)
	GatheringDone func()
	DTMF          func(digit rune)
	State         func(LegState)
}

// OfferOptions shape an offer: MatchLeg names the leg whose codecs the
// offer should match.
type OfferOptions struct {
	MatchLeg string
}
