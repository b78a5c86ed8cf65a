package events

import "encoding/binary"

// CallDigits: Side sent DTMF tones (FEATURES C10). Digits holds 0-9, *, #,
// A-D and ',' (a pause); Duration is each tone's length and Gap the silence
// between two tones.
type CallDigits struct {
	Side     Side   `json:"side"`
	Digits   string `json:"digits"`
	Duration int64  `json:"duration_ns"`
	Gap      int64  `json:"gap_ns"`
}

// CallRecordingStarted: the call is recorded (RECORDING, FEATURES C11). Ref
// is the recording's reference: where the adapter writes the audio.
type CallRecordingStarted struct {
	By  Side   `json:"by"`
	Ref string `json:"ref"`
}

// CallRecordingStopped: the recording stopped (NOT_RECORDING).
type CallRecordingStopped struct {
	By Side `json:"by"`
}

// CallParked: side By parked the party on Side in Slot (FEATURES T5). The
// parking party leaves the call; the parked one waits on hold until a
// client unparks it.
type CallParked struct {
	Side Side   `json:"side"`
	By   Side   `json:"by"`
	Slot string `json:"slot"`
}

// CallUnparked: Party, from Device, took the parked call: it is now the party
// on the side that parked it, and the call is connected again.
type CallUnparked struct {
	Party  Party  `json:"party"`
	Device string `json:"device,omitempty"`
}

// CallJoined: the call was merged with call Peer into Conference, a
// conference of three parties (FEATURES T4). Both calls are connected again.
type CallJoined struct {
	Conference string `json:"conference"`
	Peer       string `json:"peer"`
}

// CallLeftConference: Peer, the other call of Conference, ended, so the
// conference dropped to the two parties of this call: it is an ordinary
// two-party call again, no longer in a conference (FEATURES T4, schema 3).
type CallLeftConference struct {
	Conference string `json:"conference"`
	Peer       string `json:"peer"`
}

// CallHoldNotAvailable: side By asked for a hold that cannot apply now —
// Reason says why (FEATURES C8). It is a notice for subscribers, never
// journaled: a refused command changes nothing.
type CallHoldNotAvailable struct {
	By     Side   `json:"by"`
	Reason string `json:"reason"`
}

func (CallDigits) Type() Type           { return TypeCallDigits }
func (CallRecordingStarted) Type() Type { return TypeCallRecordingStarted }
func (CallRecordingStopped) Type() Type { return TypeCallRecordingStopped }
func (CallParked) Type() Type           { return TypeCallParked }
func (CallUnparked) Type() Type         { return TypeCallUnparked }
func (CallJoined) Type() Type           { return TypeCallJoined }
func (CallLeftConference) Type() Type   { return TypeCallLeftConference }
func (CallHoldNotAvailable) Type() Type { return TypeCallHoldNotAvailable }

func (e CallDigits) appendBinary(b []byte) []byte {
	b = appendString(append(b, byte(e.Side)), e.Digits)
	b = binary.AppendVarint(b, e.Duration)
	return binary.AppendVarint(b, e.Gap)
}
func (e CallRecordingStarted) appendBinary(b []byte) []byte {
	return appendString(append(b, byte(e.By)), e.Ref)
}
func (e CallRecordingStopped) appendBinary(b []byte) []byte { return append(b, byte(e.By)) }
func (e CallParked) appendBinary(b []byte) []byte {
	return appendString(append(b, byte(e.Side), byte(e.By)), e.Slot)
}
func (e CallUnparked) appendBinary(b []byte) []byte {
	return appendString(appendParty(b, e.Party), e.Device)
}
func (e CallJoined) appendBinary(b []byte) []byte {
	return appendString(appendString(b, e.Conference), e.Peer)
}
func (e CallLeftConference) appendBinary(b []byte) []byte {
	return appendString(appendString(b, e.Conference), e.Peer)
}
func (e CallHoldNotAvailable) appendBinary(b []byte) []byte {
	return appendString(append(b, byte(e.By)), e.Reason)
}

// controlPayload decodes the call control events of schema 2.
func (d *decoder) controlPayload(t Type) Event {
	switch t {
	case TypeCallDigits:
		e := CallDigits{Side: d.side(), Digits: d.string()}
		e.Duration, e.Gap = d.varint(), d.varint()
		if d.err == nil && (e.Duration < 0 || e.Gap < 0) {
			d.fail("negative tone duration or gap")
		}
		return e
	case TypeCallRecordingStarted:
		return CallRecordingStarted{By: d.side(), Ref: d.string()}
	case TypeCallRecordingStopped:
		return CallRecordingStopped{By: d.side()}
	case TypeCallParked:
		return CallParked{Side: d.side(), By: d.side(), Slot: d.string()}
	case TypeCallUnparked:
		return CallUnparked{Party: d.party(), Device: d.string()}
	case TypeCallJoined:
		return CallJoined{Conference: d.string(), Peer: d.string()}
	case TypeCallHoldNotAvailable:
		return CallHoldNotAvailable{By: d.side(), Reason: d.string()}
	}
	return nil
}
