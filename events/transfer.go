package events

import (
	"encoding/binary"
	"strconv"
)

// TransferKind says how a transfer connects the kept party to the target.
type TransferKind uint8

const (
	// Blind: the kept party is sent to the target at once; the
	// transferring party's call ends with reason transferred (T1).
	Blind TransferKind = 1
	// Attended: the original call is held and a consultation call placed;
	// the transferring party completes or cancels it (T2).
	Attended TransferKind = 2
	// Supervised: like Attended, but the engine completes the transfer by
	// itself as soon as the target answers, and cancels it when the invite
	// timer runs out first (T3).
	Supervised TransferKind = 3
	// ClickToCall: the engine calls the first party, then bridges it to the
	// second (C14).
	ClickToCall TransferKind = 4
)

var transferKindNames = [...]string{"", "blind", "attended", "supervised", "click-to-call"}

// String returns "blind", "attended", "supervised" or "click-to-call".
func (k TransferKind) String() string {
	if int(k) < len(transferKindNames) && k != 0 {
		return transferKindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// ParseTransferKind parses a kind as String spells it.
func ParseTransferKind(s string) (TransferKind, bool) {
	for i, n := range transferKindNames {
		if i > 0 && n == s {
			return TransferKind(i), true
		}
	}
	return 0, false
}

// MarshalText writes the kind as String spells it.
func (k TransferKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads a kind as String spells it.
func (k *TransferKind) UnmarshalText(b []byte) error {
	v, ok := ParseTransferKind(string(b))
	if !ok {
		return malformedf("bad transfer kind %q", b)
	}
	*k = v
	return nil
}

// TransferInitiated starts a transfer (TRANSFER_BLIND_INIT, WARM_INIT). Call
// is the original call and Kept the side of it whose party is transferred;
// the other side is the transferring party. Target is where the kept party
// goes (Group set when it is a group). Consult is the id of the consultation
// call (attended, supervised; for click-to-call the call to the first party)
// and NewCall the id of the call that will join the kept party and the
// target. Deadline is the supervised transfer's invite timer, engine-clock
// Unix ns (0: no limit).
type TransferInitiated struct {
	Kind        TransferKind `json:"kind"`
	Call        string       `json:"call,omitempty"`
	Kept        Side         `json:"kept,omitempty"`
	First       Party        `json:"first,omitzero"`         // click-to-call only
	FirstDevice string       `json:"first_device,omitempty"` // click-to-call: the one device to ring
	Target      Party        `json:"target"`
	Group       string       `json:"group,omitempty"`
	Destination string       `json:"destination,omitempty"`
	Consult     string       `json:"consult,omitempty"`
	NewCall     string       `json:"new_call"`
	Deadline    int64        `json:"deadline,omitempty"`
	// The parties of the original call when the transfer started: who
	// transfers, and who is transferred (empty for a click-to-call).
	Transferor Party `json:"transferor,omitzero"`
	Transferee Party `json:"transferee,omitzero"`
}

// TransferAnswered: the target answered the consultation (WARM_ANSWERED); for
// click-to-call, the first party answered.
type TransferAnswered struct{}

// TransferNotAnswered: the consultation ended before the target answered —
// busy, no answer, rejected, or the invite timer ran out; the original call
// was resumed (WARM_NOT_ANSWERED).
type TransferNotAnswered struct {
	Reason string `json:"reason"`
}

// TransferCompleted: the kept party and the target are connected in NewCall;
// the transferring party's calls ended with reason transferred
// (WARM_COMPLETED; for a blind transfer, the call to the target is placed).
type TransferCompleted struct{}

// TransferNotCompleted: the transfer cannot complete any more — a party hung
// up after the target answered, or the original call ended
// (WARM_NOT_COMPLETED).
type TransferNotCompleted struct {
	Reason string `json:"reason"`
}

// TransferCanceled: the transferring party canceled; the consultation was
// hung up and the original call resumed (WARM_CANCELED).
type TransferCanceled struct{}

// TransferFailed: the transfer could not be carried out (TRANSFER_FAILED),
// e.g. the original call ended before the new call was placed.
type TransferFailed struct {
	Reason string `json:"reason"`
}

func (TransferInitiated) Type() Type    { return TypeTransferInitiated }
func (TransferAnswered) Type() Type     { return TypeTransferAnswered }
func (TransferNotAnswered) Type() Type  { return TypeTransferNotAnswered }
func (TransferCompleted) Type() Type    { return TypeTransferCompleted }
func (TransferNotCompleted) Type() Type { return TypeTransferNotCompleted }
func (TransferCanceled) Type() Type     { return TypeTransferCanceled }
func (TransferFailed) Type() Type       { return TypeTransferFailed }

// transferEvent is implemented by the transfer events; the outcomes end the
// transfer's stream.
type transferEvent interface{ endsTransfer() bool }

func (TransferInitiated) endsTransfer() bool    { return false }
func (TransferAnswered) endsTransfer() bool     { return false }
func (TransferNotAnswered) endsTransfer() bool  { return true }
func (TransferCompleted) endsTransfer() bool    { return true }
func (TransferNotCompleted) endsTransfer() bool { return true }
func (TransferCanceled) endsTransfer() bool     { return true }
func (TransferFailed) endsTransfer() bool       { return true }

// SDKName returns the name the client SDKs give the event (FEATURES T1, T2),
// e.g. "WARM_INIT", or "" for an event that is not a transfer event.
func SDKName(ev Event) string {
	switch e := ev.(type) {
	case TransferInitiated:
		if e.Kind == Blind {
			return "TRANSFER_BLIND_INIT"
		}
		return "WARM_INIT"
	case TransferAnswered:
		return "WARM_ANSWERED"
	case TransferNotAnswered:
		return "WARM_NOT_ANSWERED"
	case TransferCompleted:
		return "WARM_COMPLETED"
	case TransferNotCompleted:
		return "WARM_NOT_COMPLETED"
	case TransferCanceled:
		return "WARM_CANCELED"
	case TransferFailed:
		return "TRANSFER_FAILED"
	case CallHoldNotAvailable:
		return "HOLD_NOT_AVAILABLE"
	case CallRecordingStarted:
		return "RECORDING"
	case CallRecordingStopped:
		return "NOT_RECORDING"
	}
	return ""
}

func (e TransferInitiated) appendBinary(b []byte) []byte {
	b = append(b, byte(e.Kind))
	b = appendString(b, e.Call)
	b = append(b, byte(e.Kept))
	b = appendParty(b, e.First)
	b = appendString(b, e.FirstDevice)
	b = appendParty(b, e.Target)
	b = appendString(b, e.Group)
	b = appendString(b, e.Destination)
	b = appendString(b, e.Consult)
	b = appendString(b, e.NewCall)
	b = binary.AppendVarint(b, e.Deadline)
	b = appendParty(b, e.Transferor)
	return appendParty(b, e.Transferee)
}
func (TransferAnswered) appendBinary(b []byte) []byte       { return b }
func (e TransferNotAnswered) appendBinary(b []byte) []byte  { return appendString(b, e.Reason) }
func (TransferCompleted) appendBinary(b []byte) []byte      { return b }
func (e TransferNotCompleted) appendBinary(b []byte) []byte { return appendString(b, e.Reason) }
func (TransferCanceled) appendBinary(b []byte) []byte       { return b }
func (e TransferFailed) appendBinary(b []byte) []byte       { return appendString(b, e.Reason) }

func (d *decoder) transferPayload(t Type) Event {
	switch t {
	case TypeTransferInitiated:
		var e TransferInitiated
		e.Kind = TransferKind(d.byte())
		if d.err == nil && (e.Kind == 0 || e.Kind > ClickToCall) {
			d.fail("unknown transfer kind %d", e.Kind)
		}
		e.Call = d.string()
		e.Kept = Side(d.byte())
		if e.Kept > Callee {
			d.fail("unknown side %d", e.Kept)
		}
		e.First = d.party()
		e.FirstDevice = d.string()
		e.Target = d.party()
		e.Group = d.string()
		e.Destination = d.string()
		e.Consult = d.string()
		e.NewCall = d.string()
		e.Deadline = d.varint()
		e.Transferor = d.party()
		e.Transferee = d.party()
		return e
	case TypeTransferAnswered:
		return TransferAnswered{}
	case TypeTransferNotAnswered:
		return TransferNotAnswered{Reason: d.string()}
	case TypeTransferCompleted:
		return TransferCompleted{}
	case TypeTransferNotCompleted:
		return TransferNotCompleted{Reason: d.string()}
	case TypeTransferCanceled:
		return TransferCanceled{}
	case TypeTransferFailed:
		return TransferFailed{Reason: d.string()}
	}
	return nil
}
