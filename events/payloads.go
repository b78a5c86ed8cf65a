package events

// Event is the payload of an envelope: one of the event structs of this
// package. The set is closed: only this package implements it.
type Event interface {
	Type() Type
	appendBinary(b []byte) []byte
}

// Party is one side of a call: a client of the engine, or a number reached
// through an adapter (Client is empty then).
type Party struct {
	Client string `json:"client,omitempty"` // client id, empty for an external party
	Number string `json:"number,omitempty"` // E.164 number, extension or URI
	Name   string `json:"name,omitempty"`   // display name
}

// Device is one endpoint of a client: a SIP phone, a browser tab, a loopback
// test device.
type Device struct {
	ID      string `json:"id"`
	Kind    string `json:"kind,omitempty"`    // "sip", "webrtc", "loopback", …
	Contact string `json:"contact,omitempty"` // adapter-specific address
}

// ClientRegistered: a client (agent, softphone user) exists with its numbers,
// extensions and devices (FEATURES CL1, CL2, CL7).
type ClientRegistered struct {
	Name          string   `json:"name,omitempty"`
	Numbers       []string `json:"numbers,omitempty"`
	Extensions    []string `json:"extensions,omitempty"`
	Devices       []Device `json:"devices,omitempty"`
	AcceptInbound bool     `json:"accept_inbound"`
	// Permissions the client holds, e.g. PermissionRecord (schema 2).
	Permissions []string `json:"permissions,omitempty"`
}

// PermissionRecord lets a client start and stop recordings (FEATURES C11).
const PermissionRecord = "record"

// ClientUnregistered: the client is gone; its stream ends.
type ClientUnregistered struct{}

// DeviceAdded: a device joined a registered client.
type DeviceAdded struct {
	Device Device `json:"device"`
}

// DeviceRemoved: a device left a client.
type DeviceRemoved struct {
	ID string `json:"id"`
}

// ClientUpdated: the client's settings changed.
type ClientUpdated struct {
	Name          string `json:"name,omitempty"`
	AcceptInbound bool   `json:"accept_inbound"`
}

// CallDialed: a call exists, in state connecting (FEATURES C1).
type CallDialed struct {
	Caller       Party     `json:"caller"`
	Callee       Party     `json:"callee"`
	CallerDevice string    `json:"caller_device,omitempty"`
	CallerID     string    `json:"caller_id,omitempty"`   // number presented to the callee
	Destination  string    `json:"destination,omitempty"` // as dialed
	Direction    Direction `json:"direction"`

	// Schema 2. Group is the group the callee was reached through (T6).
	// Transfer is the transfer that placed the call. CallerLeg and
	// CalleeLeg name the far-end leg of an external side that continues
	// from another call (a transferred party): the id of the call where the
	// leg was created; empty for a side that starts with this call. Origin
	// is OriginClickToCall when the engine itself places the call (C14):
	// the caller side is then no party's leg.
	Group     string `json:"group,omitempty"`
	Transfer  string `json:"transfer,omitempty"`
	CallerLeg string `json:"caller_leg,omitempty"`
	CalleeLeg string `json:"callee_leg,omitempty"`
	Origin    string `json:"origin,omitempty"`

	// Schema 3. VoicemailLimit is the longest message the callee's
	// voicemail box takes, in nanoseconds; 0 when the call does not go to
	// voicemail (FEATURES C7).
	VoicemailLimit int64 `json:"voicemail_limit_ns,omitempty"`
}

// OriginClickToCall marks a call the engine places for a click-to-call (C14).
const OriginClickToCall = "click-to-call"

// CallRinging: the callee is alerted; Devices are the client devices that ring
// (empty for an external callee); Deadline is when the ring timeout fires, in
// engine-clock Unix nanoseconds (0: no timeout).
type CallRinging struct {
	Devices  []string `json:"devices,omitempty"`
	Deadline int64    `json:"deadline,omitempty"`
}

// CallAnswered: the callee answered, from Device when the callee is a client;
// every other device stops ringing (FEATURES CL2).
type CallAnswered struct {
	Device string `json:"device,omitempty"`
}

// CallHeld: side By put the call on hold (FEATURES C8).
type CallHeld struct {
	By Side `json:"by"`
}

// CallResumed: side By took its hold off.
type CallResumed struct {
	By Side `json:"by"`
}

// CallMuted: the engine stops forwarding Side's audio (FEATURES C9).
type CallMuted struct {
	Side Side `json:"side"`
}

// CallUnmuted: Side's audio flows again.
type CallUnmuted struct {
	Side Side `json:"side"`
}

// CallIgnored: the callee's devices stop ringing but the caller is not told; the
// call rings on until the ring timeout or the caller gives up (FEATURES C4).
type CallIgnored struct{}

// CallEnded: the call is over. By is the side whose action ended it (NoSide for
// a timeout or a failure); Missed is true when the callee never answered.
type CallEnded struct {
	Reason Reason `json:"reason"`
	By     Side   `json:"by,omitempty"`
	Missed bool   `json:"missed,omitempty"`
}

func (ClientRegistered) Type() Type   { return TypeClientRegistered }
func (ClientUnregistered) Type() Type { return TypeClientUnregistered }
func (DeviceAdded) Type() Type        { return TypeDeviceAdded }
func (DeviceRemoved) Type() Type      { return TypeDeviceRemoved }
func (ClientUpdated) Type() Type      { return TypeClientUpdated }
func (CallDialed) Type() Type         { return TypeCallDialed }
func (CallRinging) Type() Type        { return TypeCallRinging }
func (CallAnswered) Type() Type       { return TypeCallAnswered }
func (CallHeld) Type() Type           { return TypeCallHeld }
func (CallResumed) Type() Type        { return TypeCallResumed }
func (CallMuted) Type() Type          { return TypeCallMuted }
func (CallUnmuted) Type() Type        { return TypeCallUnmuted }
func (CallIgnored) Type() Type        { return TypeCallIgnored }
func (CallEnded) Type() Type          { return TypeCallEnded }

// Ends reports whether e ends its stream: after it no event follows.
func Ends(e Event) bool {
	switch e.(type) {
	case CallEnded, ClientUnregistered, GroupRemoved, MessageDelivered, MessageFailed, SessionDestroyed:
		return true
	}
	if t, ok := e.(transferEvent); ok {
		return t.endsTransfer()
	}
	return false
}
