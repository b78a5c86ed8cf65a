package events

import "encoding/binary"

// CallToVoicemail: the callee rejected the call, or it rang unanswered, and
// the callee has a voicemail box: the caller is now connected to the box
// instead of hearing the call end (FEATURES C7, schema 3). Reason is why
// (rejected or no-answer); Deadline is when the box stops recording, in
// engine-clock Unix nanoseconds.
type CallToVoicemail struct {
	Reason   Reason `json:"reason"`
	Deadline int64  `json:"deadline"`
}

// VoicemailLeft: a voicemail message was left for Client by From, Duration
// nanoseconds long (C7, schema 3). It comes right before the CallEnded of a
// call that went to voicemail; the message is named by the call's id.
type VoicemailLeft struct {
	Client   string `json:"client"`
	From     Party  `json:"from"`
	Duration int64  `json:"duration_ns"`
}

func (CallToVoicemail) Type() Type { return TypeCallToVoicemail }
func (VoicemailLeft) Type() Type   { return TypeVoicemailLeft }

func (e CallToVoicemail) appendBinary(b []byte) []byte {
	return binary.AppendVarint(append(b, byte(e.Reason)), e.Deadline)
}
func (e VoicemailLeft) appendBinary(b []byte) []byte {
	return binary.AppendVarint(appendParty(appendString(b, e.Client), e.From), e.Duration)
}

func (d *decoder) voicemailPayload(t Type) Event {
	switch t {
	case TypeCallToVoicemail:
		e := CallToVoicemail{Reason: Reason(d.byte()), Deadline: d.varint()}
		if d.err == nil && e.Reason != Rejected && e.Reason != NoAnswer {
			d.fail("voicemail after %s", e.Reason)
		}
		return e
	case TypeVoicemailLeft:
		e := VoicemailLeft{Client: d.string(), From: d.party(), Duration: d.varint()}
		if d.err == nil && (e.Client == "" || e.Duration < 0) {
			d.fail("voicemail without a client or with a negative length")
		}
		return e
	}
	return nil
}
