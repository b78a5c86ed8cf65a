package events

import (
	"encoding/json"
	"math"
	"time"

	"github.com/callengine/callengine/errcode"
)

type envelopeJSON struct {
	Seq     uint64          `json:"seq"`
	Stream  string          `json:"stream"`
	Version uint64          `json:"version"`
	Type    string          `json:"type"`
	Time    string          `json:"time"`
	Schema  uint16          `json:"schema"`
	Data    json.RawMessage `json:"data"`
}

// MarshalJSON writes the envelope for people: the type by name, the time in
// RFC 3339 with nanoseconds, and the payload under "data".
func (e Envelope) MarshalJSON() ([]byte, error) {
	data, err := json.Marshal(e.Event)
	if err != nil {
		return nil, err
	}
	return json.Marshal(envelopeJSON{
		Seq: e.Seq, Stream: e.Stream, Version: e.Version, Type: e.Type.String(),
		Time: e.At().Format(time.RFC3339Nano), Schema: e.Schema, Data: data,
	})
}

// UnmarshalJSON reads what MarshalJSON wrote. Unknown types, bad times and
// payloads that do not fit their type give an error with code malformed.
func (e *Envelope) UnmarshalJSON(b []byte) error {
	var j envelopeJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return errcode.Wrap(errcode.Malformed, err, "event: bad JSON envelope")
	}
	t, ok := ParseType(j.Type)
	if !ok {
		return errcode.Newf(errcode.Malformed, "event: unknown type %q", j.Type)
	}
	at, err := time.Parse(time.RFC3339Nano, j.Time)
	if err != nil {
		return errcode.Wrap(errcode.Malformed, err, "event: bad time")
	}
	if at.Before(minTime) || at.After(maxTime) {
		return errcode.Newf(errcode.Malformed, "event: time %s out of range", j.Time)
	}
	ev, err := decodeJSONPayload(t, j.Data)
	if err == nil {
		err = checkJSONPayload(ev)
	}
	if err != nil {
		return errcode.Wrap(errcode.Malformed, err, "event: bad "+j.Type+" payload")
	}
	*e = Envelope{Seq: j.Seq, Stream: j.Stream, Version: j.Version, Type: t, Time: at.UnixNano(), Schema: j.Schema, Event: ev}
	return nil
}

// minTime and maxTime bound the instants an Envelope's Time can hold.
var minTime, maxTime = time.Unix(0, math.MinInt64), time.Unix(0, math.MaxInt64)

func decodeJSONPayload(t Type, data json.RawMessage) (Event, error) {
	if len(data) == 0 {
		data = json.RawMessage("{}")
	}
	switch t {
	case TypeClientRegistered:
		return jsonAs[ClientRegistered](data)
	case TypeClientUnregistered:
		return jsonAs[ClientUnregistered](data)
	case TypeDeviceAdded:
		return jsonAs[DeviceAdded](data)
	case TypeDeviceRemoved:
		return jsonAs[DeviceRemoved](data)
	case TypeClientUpdated:
		return jsonAs[ClientUpdated](data)
	case TypeCallDialed:
		return jsonAs[CallDialed](data)
	case TypeCallRinging:
		return jsonAs[CallRinging](data)
	case TypeCallAnswered:
		return jsonAs[CallAnswered](data)
	case TypeCallHeld:
		return jsonAs[CallHeld](data)
	case TypeCallResumed:
		return jsonAs[CallResumed](data)
	case TypeCallMuted:
		return jsonAs[CallMuted](data)
	case TypeCallUnmuted:
		return jsonAs[CallUnmuted](data)
	case TypeCallIgnored:
		return jsonAs[CallIgnored](data)
	case TypeCallEnded:
		return jsonAs[CallEnded](data)
	case TypeCallDigits:
		return jsonAs[CallDigits](data)
	case TypeCallRecordingStarted:
		return jsonAs[CallRecordingStarted](data)
	case TypeCallRecordingStopped:
		return jsonAs[CallRecordingStopped](data)
	case TypeCallParked:
		return jsonAs[CallParked](data)
	case TypeCallUnparked:
		return jsonAs[CallUnparked](data)
	case TypeCallJoined:
		return jsonAs[CallJoined](data)
	case TypeCallHoldNotAvailable:
		return jsonAs[CallHoldNotAvailable](data)
	case TypeTransferInitiated:
		return jsonAs[TransferInitiated](data)
	case TypeTransferAnswered:
		return jsonAs[TransferAnswered](data)
	case TypeTransferNotAnswered:
		return jsonAs[TransferNotAnswered](data)
	case TypeTransferCompleted:
		return jsonAs[TransferCompleted](data)
	case TypeTransferNotCompleted:
		return jsonAs[TransferNotCompleted](data)
	case TypeTransferCanceled:
		return jsonAs[TransferCanceled](data)
	case TypeTransferFailed:
		return jsonAs[TransferFailed](data)
	case TypeGroupDefined:
		return jsonAs[GroupDefined](data)
	case TypeGroupRemoved:
		return jsonAs[GroupRemoved](data)
	case TypeGroupMemberPicked:
		return jsonAs[GroupMemberPicked](data)
	case TypeMessageSent:
		return jsonAs[MessageSent](data)
	case TypeMessageDelivered:
		return jsonAs[MessageDelivered](data)
	case TypeClientPresenceSet:
		return jsonAs[ClientPresenceSet](data)
	case TypeClientVoicemailSet:
		return jsonAs[ClientVoicemailSet](data)
	case TypeHistoryDeleted:
		return jsonAs[HistoryDeleted](data)
	case TypeVoicemailHeard:
		return jsonAs[VoicemailHeard](data)
	case TypeVoicemailDeleted:
		return jsonAs[VoicemailDeleted](data)
	case TypePresenceChanged:
		return jsonAs[PresenceChanged](data)
	case TypeClientPasswordSet:
		return jsonAs[ClientPasswordSet](data)
	case TypeCallToVoicemail:
		return jsonAs[CallToVoicemail](data)
	case TypeVoicemailLeft:
		return jsonAs[VoicemailLeft](data)
	case TypeCallLegRecorded:
		return jsonAs[CallLegRecorded](data)
	case TypeCallLeftConference:
		return jsonAs[CallLeftConference](data)
	case TypeSessionCreated:
		return jsonAs[SessionCreated](data)
	case TypeSessionRestored:
		return jsonAs[SessionRestored](data)
	case TypeSessionConnectionClosed:
		return jsonAs[SessionConnectionClosed](data)
	case TypeSessionDestroyed:
		return jsonAs[SessionDestroyed](data)
	case TypeSessionSubscribed:
		return jsonAs[SessionSubscribed](data)
	case TypeSessionUnsubscribed:
		return jsonAs[SessionUnsubscribed](data)
	case TypeSessionAutoAnswerSet:
		return jsonAs[SessionAutoAnswerSet](data)
	case TypeMessageFailed:
		return jsonAs[MessageFailed](data)
	}
	return nil, errcode.Newf(errcode.Malformed, "unknown type %d", t)
}

// checkJSONPayload refuses what DecodeBody refuses, so that every event read
// from JSON can be journaled and read back: hold and mute events need a side,
// CallEnded needs a reason.
func checkJSONPayload(ev Event) error {
	side := Caller
	switch e := ev.(type) {
	case CallHeld:
		side = e.By
	case CallResumed:
		side = e.By
	case CallMuted:
		side = e.Side
	case CallUnmuted:
		side = e.Side
	case CallEnded:
		if e.Reason == NoReason {
			return errcode.New(errcode.Malformed, "no end reason")
		}
	case CallDigits:
		side = e.Side
		if e.Duration < 0 || e.Gap < 0 {
			return errcode.New(errcode.Malformed, "negative tone duration or gap")
		}
	case CallRecordingStarted:
		side = e.By
	case CallRecordingStopped:
		side = e.By
	case CallHoldNotAvailable:
		side = e.By
	case CallParked:
		if !e.By.Valid() {
			return errcode.New(errcode.Malformed, "no side")
		}
		side = e.Side
	case TransferInitiated:
		if e.Kind == 0 || e.Kind > ClickToCall {
			return errcode.New(errcode.Malformed, "no transfer kind")
		}
		if e.Kept > Callee {
			return errcode.New(errcode.Malformed, "bad side")
		}
	case GroupDefined:
		if e.Strategy == 0 || e.Strategy > RoundRobin {
			return errcode.New(errcode.Malformed, "no strategy")
		}
	case ClientPresenceSet:
		if !e.Presence.Valid() {
			return errcode.New(errcode.Malformed, "no presence")
		}
	case PresenceChanged:
		if !e.Presence.Valid() {
			return errcode.New(errcode.Malformed, "no presence")
		}
	case ClientVoicemailSet:
		if e.MaxLength < 0 {
			return errcode.New(errcode.Malformed, "negative voicemail length")
		}
	case HistoryDeleted:
		if len(e.Calls) == 0 {
			return errcode.New(errcode.Malformed, "no calls listed")
		}
	case VoicemailHeard:
		if len(e.Calls) == 0 {
			return errcode.New(errcode.Malformed, "no calls listed")
		}
	case VoicemailDeleted:
		if len(e.Calls) == 0 {
			return errcode.New(errcode.Malformed, "no calls listed")
		}
	case CallToVoicemail:
		if e.Reason != Rejected && e.Reason != NoAnswer {
			return errcode.New(errcode.Malformed, "voicemail reason must be rejected or no-answer")
		}
	case VoicemailLeft:
		if e.Client == "" || e.Duration < 0 {
			return errcode.New(errcode.Malformed, "voicemail without a client or with a negative length")
		}
	case CallLegRecorded:
		if msg := checkLeg(e); msg != "" {
			return errcode.New(errcode.Malformed, msg)
		}
	case CallLeftConference:
		if e.Conference == "" || e.Peer == "" {
			return errcode.New(errcode.Malformed, "left a conference without naming it and the peer call")
		}
	case SessionCreated:
		if e.Client == "" {
			return errcode.New(errcode.Malformed, "session without a client")
		}
	case SessionConnectionClosed:
		if e.Deadline < 0 {
			return errcode.New(errcode.Malformed, "negative deadline")
		}
	case SessionSubscribed:
		if e.Line == "" {
			return errcode.New(errcode.Malformed, "empty line")
		}
	case SessionUnsubscribed:
		if e.Line == "" {
			return errcode.New(errcode.Malformed, "empty line")
		}
	case CallDialed:
		if e.VoicemailLimit < 0 {
			return errcode.New(errcode.Malformed, "negative voicemail limit")
		}
		if e.Direction > Transit {
			return errcode.New(errcode.Malformed, "bad direction")
		}
	}
	if !side.Valid() {
		return errcode.New(errcode.Malformed, "no side")
	}
	return nil
}

func jsonAs[T Event](data json.RawMessage) (Event, error) {
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// MarshalText writes the side as "caller" or "callee".
func (s Side) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads "caller", "callee" or "".
func (s *Side) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*s = NoSide
		return nil
	}
	v, ok := ParseSide(string(b))
	if !ok {
		return errcode.Newf(errcode.Malformed, "bad side %q", b)
	}
	*s = v
	return nil
}

// MarshalText writes the reason as String spells it.
func (r Reason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads a reason as String spells it.
func (r *Reason) UnmarshalText(b []byte) error {
	v, ok := ParseReason(string(b))
	if !ok {
		return errcode.Newf(errcode.Malformed, "bad end reason %q", b)
	}
	*r = v
	return nil
}

// MarshalText writes the direction as String spells it.
func (d Direction) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a direction as String spells it.
func (d *Direction) UnmarshalText(b []byte) error {
	v, ok := ParseDirection(string(b))
	if !ok {
		return errcode.Newf(errcode.Malformed, "bad direction %q", b)
	}
	*d = v
	return nil
}
