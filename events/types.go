package events

import "strconv"

// Type identifies the kind of an event. Numbers are stable: they are written to
// the journal.
type Type uint16

// Client events.
const (
	TypeClientRegistered   Type = 1
	TypeClientUnregistered Type = 2
	TypeDeviceAdded        Type = 3
	TypeDeviceRemoved      Type = 4
	TypeClientUpdated      Type = 5
)

// Client events of schema 3 (FEATURES CL8, C7, H1).
const (
	TypeClientPresenceSet  Type = 6
	TypeClientVoicemailSet Type = 7
	TypeHistoryDeleted     Type = 8
	TypeVoicemailHeard     Type = 9
	TypeVoicemailDeleted   Type = 10
	// TypePresenceChanged is a notice, never journaled: subscribers hear it
	// when the presence others see of a client changes (CL8).
	TypePresenceChanged Type = 11
	// TypeClientPasswordSet joined schema 3 with `callengine serve`
	// (network login, M2): readers built before it report an unknown type.
	TypeClientPasswordSet Type = 12
)

// Call events.
const (
	TypeCallDialed   Type = 20
	TypeCallRinging  Type = 21
	TypeCallAnswered Type = 22
	TypeCallHeld     Type = 23
	TypeCallResumed  Type = 24
	TypeCallMuted    Type = 25
	TypeCallUnmuted  Type = 26
	TypeCallIgnored  Type = 27
	TypeCallEnded    Type = 28
)

// Call control events (schema 2).
const (
	TypeCallDigits           Type = 29
	TypeCallRecordingStarted Type = 30
	TypeCallRecordingStopped Type = 31
	TypeCallParked           Type = 32
	TypeCallUnparked         Type = 33
	TypeCallJoined           Type = 34
	// TypeCallHoldNotAvailable is a notice, never journaled: subscribers
	// hear it when a hold is refused (FEATURES C8).
	TypeCallHoldNotAvailable Type = 35
)

// Voicemail events of a call (schema 3, FEATURES C7).
const (
	TypeCallToVoicemail Type = 36
	TypeVoicemailLeft   Type = 37
)

// TypeCallLegRecorded joined schema 3 with journaled SIP dialogs (issue 14):
// readers built before it report an unknown type.
const TypeCallLegRecorded Type = 38

// TypeCallLeftConference joined schema 3 with conferences that drop back to
// two parties (T4): readers built before it report an unknown type.
const TypeCallLeftConference Type = 39

// Transfer events (schema 2); a transfer's stream is "transfer/<id>".
const (
	TypeTransferInitiated    Type = 40
	TypeTransferAnswered     Type = 41
	TypeTransferNotAnswered  Type = 42
	TypeTransferCompleted    Type = 43
	TypeTransferNotCompleted Type = 44
	TypeTransferCanceled     Type = 45
	TypeTransferFailed       Type = 46
)

// Group events (schema 2); a group's stream is "group/<id>".
const (
	TypeGroupDefined      Type = 60
	TypeGroupRemoved      Type = 61
	TypeGroupMemberPicked Type = 62
)

// Text message events (schema 2); a message's stream is "message/<id>".
const (
	TypeMessageSent      Type = 70
	TypeMessageDelivered Type = 71
	TypeMessageFailed    Type = 72
)

// Session events (schema 3); a session's stream is "session/<id>".
const (
	TypeSessionCreated          Type = 80
	TypeSessionRestored         Type = 81
	TypeSessionConnectionClosed Type = 82
	TypeSessionDestroyed        Type = 83
	TypeSessionSubscribed       Type = 84
	TypeSessionUnsubscribed     Type = 85
	TypeSessionAutoAnswerSet    Type = 86
)

var typeNames = map[Type]string{
	TypeClientRegistered:   "ClientRegistered",
	TypeClientUnregistered: "ClientUnregistered",
	TypeDeviceAdded:        "DeviceAdded",
	TypeDeviceRemoved:      "DeviceRemoved",
	TypeClientUpdated:      "ClientUpdated",
	TypeClientPresenceSet:  "ClientPresenceSet",
	TypeClientVoicemailSet: "ClientVoicemailSet",
	TypeHistoryDeleted:     "HistoryDeleted",
	TypeVoicemailHeard:     "VoicemailHeard",
	TypeVoicemailDeleted:   "VoicemailDeleted",
	TypePresenceChanged:    "PresenceChanged",
	TypeClientPasswordSet:  "ClientPasswordSet",
	TypeCallDialed:         "CallDialed",
	TypeCallRinging:        "CallRinging",
	TypeCallAnswered:       "CallAnswered",
	TypeCallHeld:           "CallHeld",
	TypeCallResumed:        "CallResumed",
	TypeCallMuted:          "CallMuted",
	TypeCallUnmuted:        "CallUnmuted",
	TypeCallIgnored:        "CallIgnored",
	TypeCallEnded:          "CallEnded",

	TypeCallDigits:           "CallDigits",
	TypeCallRecordingStarted: "CallRecordingStarted",
	TypeCallRecordingStopped: "CallRecordingStopped",
	TypeCallParked:           "CallParked",
	TypeCallUnparked:         "CallUnparked",
	TypeCallJoined:           "CallJoined",
	TypeCallHoldNotAvailable: "CallHoldNotAvailable",

	TypeCallToVoicemail: "CallToVoicemail",
	TypeVoicemailLeft:   "VoicemailLeft",
	TypeCallLegRecorded: "CallLegRecorded",

	TypeCallLeftConference: "CallLeftConference",

	TypeSessionCreated:          "SessionCreated",
	TypeSessionRestored:         "SessionRestored",
	TypeSessionConnectionClosed: "SessionConnectionClosed",
	TypeSessionDestroyed:        "SessionDestroyed",
	TypeSessionSubscribed:       "SessionSubscribed",
	TypeSessionUnsubscribed:     "SessionUnsubscribed",
	TypeSessionAutoAnswerSet:    "SessionAutoAnswerSet",

	TypeTransferInitiated:    "TransferInitiated",
	TypeTransferAnswered:     "TransferAnswered",
	TypeTransferNotAnswered:  "TransferNotAnswered",
	TypeTransferCompleted:    "TransferCompleted",
	TypeTransferNotCompleted: "TransferNotCompleted",
	TypeTransferCanceled:     "TransferCanceled",
	TypeTransferFailed:       "TransferFailed",

	TypeGroupDefined:      "GroupDefined",
	TypeGroupRemoved:      "GroupRemoved",
	TypeGroupMemberPicked: "GroupMemberPicked",

	TypeMessageSent:      "MessageSent",
	TypeMessageDelivered: "MessageDelivered",
	TypeMessageFailed:    "MessageFailed",
}

var typeByName = func() map[string]Type {
	m := make(map[string]Type, len(typeNames))
	for t, n := range typeNames {
		m[n] = t
	}
	return m
}()

// String returns the event type's name, e.g. "CallDialed".
func (t Type) String() string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// ParseType returns the type with the given name.
func ParseType(name string) (Type, bool) {
	t, ok := typeByName[name]
	return t, ok
}

// Side names one side of a call: the party that placed it (Caller) or the one it
// was placed to (Callee).
type Side uint8

const (
	NoSide Side = 0
	Caller Side = 1
	Callee Side = 2
)

// String returns "caller", "callee" or "".
func (s Side) String() string {
	switch s {
	case Caller:
		return "caller"
	case Callee:
		return "callee"
	}
	return ""
}

// Other returns the opposite side.
func (s Side) Other() Side {
	switch s {
	case Caller:
		return Callee
	case Callee:
		return Caller
	}
	return NoSide
}

// Valid reports whether s is Caller or Callee.
func (s Side) Valid() bool { return s == Caller || s == Callee }

// ParseSide parses "caller" or "callee".
func ParseSide(s string) (Side, bool) {
	switch s {
	case "caller":
		return Caller, true
	case "callee":
		return Callee, true
	}
	return NoSide, false
}

// Reason is why a call ended (FEATURES C5).
type Reason uint8

const (
	NoReason    Reason = 0
	Hangup      Reason = 1 // normal hangup by either party
	Busy        Reason = 2 // the destination was busy
	NoAnswer    Reason = 3 // nobody answered before the ring timeout
	Failed      Reason = 4 // setup failed (network, invalid number at the far end)
	Transferred Reason = 5 // the call was transferred away
	Rejected    Reason = 6 // the callee declined
	Canceled    Reason = 7 // the caller gave up while it rang
	Missed      Reason = 8 // the call ended before the callee ever answered (the callee's view)
	// Voicemail: the caller left a message in the callee's voicemail box
	// (schema 3, FEATURES C7).
	Voicemail Reason = 9
)

var reasonNames = [...]string{"", "hangup", "busy", "no-answer", "failed", "transferred", "rejected", "canceled", "missed", "voicemail"}

// String returns the reason as the SDKs spell it, e.g. "no-answer".
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "reason(" + strconv.Itoa(int(r)) + ")"
}

// ParseReason parses a reason as String spells it.
func ParseReason(s string) (Reason, bool) {
	for i, n := range reasonNames {
		if i > 0 && n == s {
			return Reason(i), true
		}
	}
	return NoReason, false
}

// Direction tells where the parties of a call are.
type Direction uint8

const (
	Internal Direction = 0 // client to client
	Outbound Direction = 1 // client to a number reached through an adapter
	Inbound  Direction = 2 // from an adapter to a client
	// Transit: both parties are outside the engine — a call from outside
	// transferred to a number outside (schema 2).
	Transit Direction = 3
)

var directionNames = [...]string{"internal", "outbound", "inbound", "transit"}

// String returns "internal", "outbound" or "inbound".
func (d Direction) String() string {
	if int(d) < len(directionNames) {
		return directionNames[d]
	}
	return "direction(" + strconv.Itoa(int(d)) + ")"
}

// ParseDirection parses a direction as String spells it.
func ParseDirection(s string) (Direction, bool) {
	for i, n := range directionNames {
		if n == s {
			return Direction(i), true
		}
	}
	return 0, false
}
