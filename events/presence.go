package events

import (
	"encoding/binary"
	"strconv"
)

// Presence is what a client shows others (FEATURES CL8).
type Presence uint8

const (
	NoPresence        Presence = 0
	PresenceAvailable Presence = 1
	PresenceBusy      Presence = 2 // set by the client, or derived while it is on a call
	PresenceAway      Presence = 3
	PresenceOffline   Presence = 4
)

var presenceNames = [...]string{"", "available", "busy", "away", "offline"}

// String returns "available", "busy", "away" or "offline".
func (p Presence) String() string {
	if int(p) < len(presenceNames) && p != NoPresence {
		return presenceNames[p]
	}
	return "presence(" + strconv.Itoa(int(p)) + ")"
}

// Valid reports whether p is one of the four presences.
func (p Presence) Valid() bool { return p >= PresenceAvailable && p <= PresenceOffline }

// ParsePresence parses a presence as String spells it.
func ParsePresence(s string) (Presence, bool) {
	for i, n := range presenceNames {
		if i > 0 && n == s {
			return Presence(i), true
		}
	}
	return NoPresence, false
}

// MarshalText writes the presence as String spells it.
func (p Presence) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText reads a presence as String spells it.
func (p *Presence) UnmarshalText(b []byte) error {
	v, ok := ParsePresence(string(b))
	if !ok {
		return malformedf("bad presence %q", b)
	}
	*p = v
	return nil
}

// ClientPresenceSet: the client set its presence and activity text
// (FEATURES CL8, schema 3). The presence others see may still be busy,
// derived from the client's calls: see PresenceChanged.
type ClientPresenceSet struct {
	Presence Presence `json:"presence"`
	Activity string   `json:"activity,omitempty"`
}

// ClientVoicemailSet: the client's voicemail box was switched on or off
// (FEATURES C7, schema 3). MaxLength bounds one message, in nanoseconds.
type ClientVoicemailSet struct {
	Enabled   bool  `json:"enabled"`
	MaxLength int64 `json:"max_length_ns,omitempty"`
}

// HistoryDeleted: the client deleted calls from its call history (FEATURES
// H1, schema 3). The calls' own streams are untouched: history is a view.
type HistoryDeleted struct {
	Calls []string `json:"calls"`
}

// VoicemailHeard: the client listened to voicemail messages, named by the
// call that left them; they no longer count as new (C7, schema 3).
type VoicemailHeard struct {
	Calls []string `json:"calls"`
}

// VoicemailDeleted: the client deleted voicemail messages (C7, schema 3).
type VoicemailDeleted struct {
	Calls []string `json:"calls"`
}

// ClientPasswordSet: the client's password was set, or cleared with an
// empty Hash (M2). Hash is a salted, slow hash of it for network logins;
// Realm and DigestHA1 are what SIP digest authentication needs (M3):
// MD5(client ":" Realm ":" password), as a registrar stores it. Never the
// password itself.
type ClientPasswordSet struct {
	Hash      string `json:"hash,omitempty"`
	Realm     string `json:"realm,omitempty"`
	DigestHA1 string `json:"digest_ha1,omitempty"`
}

// PresenceChanged: the presence others see of a client changed — because
// it set it, or because a call made it busy or ended (CL8). It is a notice
// for subscribers, never journaled: it is derived from journaled events.
type PresenceChanged struct {
	Presence Presence `json:"presence"`
	Activity string   `json:"activity,omitempty"`
}

func (ClientPresenceSet) Type() Type  { return TypeClientPresenceSet }
func (ClientVoicemailSet) Type() Type { return TypeClientVoicemailSet }
func (HistoryDeleted) Type() Type     { return TypeHistoryDeleted }
func (VoicemailHeard) Type() Type     { return TypeVoicemailHeard }
func (VoicemailDeleted) Type() Type   { return TypeVoicemailDeleted }
func (PresenceChanged) Type() Type    { return TypePresenceChanged }
func (ClientPasswordSet) Type() Type  { return TypeClientPasswordSet }

func (e ClientPresenceSet) appendBinary(b []byte) []byte {
	return appendString(append(b, byte(e.Presence)), e.Activity)
}
func (e ClientVoicemailSet) appendBinary(b []byte) []byte {
	return binary.AppendVarint(appendBool(b, e.Enabled), e.MaxLength)
}
func (e HistoryDeleted) appendBinary(b []byte) []byte   { return appendStrings(b, e.Calls) }
func (e VoicemailHeard) appendBinary(b []byte) []byte   { return appendStrings(b, e.Calls) }
func (e VoicemailDeleted) appendBinary(b []byte) []byte { return appendStrings(b, e.Calls) }
func (e ClientPasswordSet) appendBinary(b []byte) []byte {
	return appendString(appendString(appendString(b, e.Hash), e.Realm), e.DigestHA1)
}
func (e PresenceChanged) appendBinary(b []byte) []byte {
	return appendString(append(b, byte(e.Presence)), e.Activity)
}

func (d *decoder) presence() Presence {
	p := Presence(d.byte())
	if d.err == nil && !p.Valid() {
		d.fail("bad presence %d", p)
	}
	return p
}

func (d *decoder) callList() []string {
	calls := d.strings()
	if d.err == nil && len(calls) == 0 {
		d.fail("no calls listed")
	}
	return calls
}

func (d *decoder) clientPayload(t Type) Event {
	switch t {
	case TypeClientPresenceSet:
		return ClientPresenceSet{Presence: d.presence(), Activity: d.string()}
	case TypeClientVoicemailSet:
		e := ClientVoicemailSet{Enabled: d.bool(), MaxLength: d.varint()}
		if e.MaxLength < 0 {
			d.fail("negative voicemail length")
		}
		return e
	case TypeHistoryDeleted:
		return HistoryDeleted{Calls: d.callList()}
	case TypeVoicemailHeard:
		return VoicemailHeard{Calls: d.callList()}
	case TypeVoicemailDeleted:
		return VoicemailDeleted{Calls: d.callList()}
	case TypePresenceChanged:
		return PresenceChanged{Presence: d.presence(), Activity: d.string()}
	case TypeClientPasswordSet:
		return ClientPasswordSet{Hash: d.string(), Realm: d.string(), DigestHA1: d.string()}
	}
	return nil
}
