package history

import (
	"encoding/binary"

	"github.com/callengine/callengine/events"
)

// The event types the fold reads, by stream: a record of any other type the
// events package knows is passed over without being decoded (most of a
// client's stream: registrations, devices, presence; a call's mutes, digits,
// recordings). A record whose type cannot be read, or is unknown, is decoded
// as any other: DecodeBody says what is wrong with it (Stats.Skipped).
var (
	callTypes = typeSet(events.TypeCallDialed, events.TypeCallRinging, events.TypeCallAnswered,
		events.TypeCallHeld, events.TypeCallResumed, events.TypeCallParked, events.TypeCallUnparked,
		events.TypeCallToVoicemail, events.TypeVoicemailLeft, events.TypeCallEnded)
	clientTypes = typeSet(events.TypeHistoryDeleted, events.TypeVoicemailHeard, events.TypeVoicemailDeleted)
	knownTypes  = func() (known [256]bool) {
		for t := range known {
			_, known[t] = events.ParseType(events.Type(t).String())
		}
		return known
	}()
)

func typeSet(ts ...events.Type) (set [256]bool) {
	for _, t := range ts {
		set[t] = true
	}
	return set
}

// bodyMagic is the first byte of an encoded event body (events.EncodeBody).
const bodyMagic = 0xCE

// passOver reports whether the record data of a stream whose types the fold
// reads are in used can be passed over undecoded: an event body of a type
// the events package knows and the fold does not read.
func passOver(data []byte, used *[256]bool) bool {
	if len(data) < 3 || data[0] != bodyMagic {
		return false
	}
	schema, n := binary.Uvarint(data[1:])
	if n <= 0 || schema == 0 || schema > events.SchemaVersion {
		return false
	}
	t, m := binary.Uvarint(data[1+n:])
	if m <= 0 || t >= uint64(len(used)) {
		return false
	}
	return knownTypes[t] && !used[t]
}
