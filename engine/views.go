package engine

import (
	"slices"
	"time"

	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

// Party is one side of a call: a client of the engine or an external number.
type Party = events.Party

// Device is one endpoint of a client.
type Device = events.Device

// Side names one side of a call.
type Side = events.Side

// The sides of a call.
const (
	Caller = events.Caller
	Callee = events.Callee
)

// Reason is why a call ended (FEATURES C5).
type Reason = events.Reason

// CallState is the state of a call (FEATURES C2).
type CallState = fsm.CallStatus

// The call states.
const (
	Connecting = fsm.Connecting
	Ringing    = fsm.Ringing
	Connected  = fsm.Connected
	Held       = fsm.Held
	Ended      = fsm.Ended
)

// Call is a call as its parties see it.
type Call struct {
	ID        string
	State     CallState
	Prev      CallState // state before the last change of state
	Direction events.Direction
	Caller    Party
	Callee    Party

	CallerDevice string
	CallerID     string // number presented to the callee
	Destination  string // as dialled

	RingingDevices []string // callee devices that ring now
	Ignored        bool     // the callee ignored the call
	// ignoredDevices rang when the callee ignored the call: the caller's
	// view still shows them ringing (callerView).
	ignoredDevices []string
	RingDeadline   time.Time // when the ring timeout fires; zero for none
	AnsweredDevice string

	HeldByCaller, HeldByCallee bool
	MutedCaller, MutedCallee   bool

	SetupAt, RingingAt, ConnectAt, ReleaseAt time.Time // zero until they happen (C12)
	RingingDuration                          time.Duration
	Duration                                 time.Duration // connected time, to release or to now

	Reason  Reason // why it ended, as the caller sees it
	EndedBy Side   // the side whose action ended it; 0 for timeouts and failures
	Missed  bool   // it ended before the callee ever answered (the callee sees Reason "missed")
	Version uint64 // events in its stream

	Group     string // the group the callee was reached through (T6)
	Transfer  string // the transfer that placed this call, if any
	CallerLeg string // far-end leg an external caller continues from another call
	CalleeLeg string
	Origin    string // events.OriginClickToCall for the first leg of a click-to-call

	Recording    bool     // RECORDING (C11)
	RecordingRef string   // the current or last recording's reference
	ParkSlot     string   // the callpark slot, "" when not parked (T5)
	ParkedSide   Side     // the side that waits in the slot
	Conference   string   // the conference the call was merged into (T4)
	Peer         string   // the other call of that conference
	Digits       int      // DTMF tones sent so far (C10)
	RangMembers  []string // the members a ring-all group call rang (T6)
	// Tried are the members a round-robin group call rang before its
	// callee: each did not answer within the ring time (T6).
	Tried []string

	// Voicemail (C7): the caller reached the callee's box at VoicemailAt
	// (zero when it did not); InVoicemail while it leaves its message;
	// VoicemailLength once the message is left.
	VoicemailAt     time.Time
	InVoicemail     bool
	VoicemailLength time.Duration

	// Legs are the latest leg record of each side an adapter journaled
	// (RecordLeg), in side order.
	Legs []LegRecord
}

// HeldBy reports whether side s holds the call.
func (c *Call) HeldBy(s Side) bool {
	if s == Caller {
		return c.HeldByCaller
	}
	return s == Callee && c.HeldByCallee
}

// HearsHoldMusic reports whether the party on side s is held by the other
// and does not hold the call itself: the one the relay plays music on hold
// to (media.HoldMusician).
func (c *Call) HearsHoldMusic(s Side) bool {
	return c.State == Held && c.HeldBy(s.Other()) && !c.HeldBy(s)
}

// SideOf returns the side client is on, or 0.
func (c *Call) SideOf(client string) Side {
	switch {
	case client == "":
		return 0
	case c.Caller.Client == client:
		return Caller
	case c.Callee.Client == client:
		return Callee
	}
	return 0
}

// ReasonFor returns the end reason as side s sees it: a callee that never
// answered a call that was given up or timed out sees "missed".
func (c *Call) ReasonFor(s Side) Reason {
	if s == Callee && c.Missed {
		return events.Missed
	}
	return c.Reason
}

// HoldFlags returns whether the call is held locally (by side s) and remotely
// (by the other side), as the SDKs report it (C8).
func (c *Call) HoldFlags(s Side) (local, remote bool) {
	return c.HeldBy(s), c.HeldBy(s.Other())
}

func timeOf(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

func callView(c *fsm.Call, now int64) Call {
	var v Call
	callViewInto(&v, c, now)
	return v
}

// callViewInto is callView writing into *v.
func callViewInto(v *Call, c *fsm.Call, now int64) {
	*v = Call{
		ID: c.ID, State: c.Status, Prev: c.Prev, Direction: c.Direction,
		Caller: c.Caller, Callee: c.Callee,
		CallerDevice: c.CallerDevice, CallerID: c.CallerID, Destination: c.Destination,
		RingingDevices: slices.Clone(c.Ringing), Ignored: c.Ignored, ignoredDevices: c.IgnoredDevices,
		RingDeadline: timeOf(c.RingDeadline), AnsweredDevice: c.AnsweredDevice,
		HeldByCaller: c.HeldByCaller, HeldByCallee: c.HeldByCallee,
		MutedCaller: c.MutedCaller, MutedCallee: c.MutedCallee,
		SetupAt: timeOf(c.SetupAt), RingingAt: timeOf(c.RingingAt),
		ConnectAt: timeOf(c.ConnectAt), ReleaseAt: timeOf(c.ReleaseAt),
		RingingDuration: c.RingingDuration(), Duration: c.Duration(now),
		Reason: c.Reason, EndedBy: c.EndedBy, Missed: c.Missed, Version: c.Version,
		Group: c.Group, Transfer: c.Transfer, CallerLeg: c.CallerLeg, CalleeLeg: c.CalleeLeg, Origin: c.Origin,
		Recording: c.Recording, RecordingRef: c.RecordingRef, ParkSlot: c.ParkSlot, ParkedSide: c.ParkedSide,
		Conference: c.Conference, Peer: c.Peer, Digits: c.Digits, RangMembers: slices.Clone(c.RangMembers),
		Tried:       slices.Clone(c.Tried),
		VoicemailAt: timeOf(c.VoicemailAt), InVoicemail: c.InVoicemail(), VoicemailLength: time.Duration(c.VoicemailLength),
		Legs: legsView(c),
	}
}

// ActiveCall is one entry of a client's list of active calls (C13).
type ActiveCall struct {
	ID        string
	From      string // caller's number
	To        string // callee's number
	State     string // "active", "held", "ringing" or "connecting"
	Direction string // "inbound" or "outbound", as this client sees it
	Side      Side   // the client's side
}

func activeCall(c *Call, client string) ActiveCall {
	side := c.SideOf(client)
	a := ActiveCall{ID: c.ID, From: c.Caller.Number, To: c.Callee.Number, Side: side, Direction: "outbound"}
	if side == Callee {
		a.Direction = "inbound"
	}
	switch c.State {
	case Connected:
		a.State = "active"
	case Held:
		a.State = "held"
		if c.ParkSlot != "" {
			a.State = "parked"
		}
	default:
		a.State = string(c.State)
	}
	return a
}

// ClientState is a client's registration state.
type ClientState = fsm.ClientStatus

// Client is a registered client (agent, softphone user).
type Client struct {
	ID            string
	State         ClientState
	Name          string
	Numbers       []string
	Extensions    []string
	Devices       []Device
	AcceptInbound bool
	RegisteredAt  time.Time
	Version       uint64
	Permissions   []string // see Can

	// Presence is what others see (CL8): busy while the client is on a
	// call and has set itself available; SetPresence is what it set.
	Presence    events.Presence
	SetPresence events.Presence
	Activity    string
	// Voicemail: the client has a voicemail box taking messages up to
	// VoicemailMax long (C7).
	Voicemail    bool
	VoicemailMax time.Duration
}

func clientView(c *fsm.Client) Client {
	return Client{
		ID: c.ID, State: c.Status, Name: c.Name,
		Numbers: slices.Clone(c.Numbers), Extensions: slices.Clone(c.Extensions),
		Devices: slices.Clone(c.Devices), AcceptInbound: c.AcceptInbound,
		RegisteredAt: timeOf(c.RegisteredAt), Version: c.Version, Permissions: slices.Clone(c.Permissions),
		Presence: c.EffectivePresence(false), SetPresence: c.SetPresence(), Activity: c.Activity,
		Voicemail: c.Voicemail, VoicemailMax: time.Duration(c.VoicemailMax),
	}
}

// asCaller returns c as its caller sees it: the callee's ignore is not
// shown (C4) — the call is not marked ignored and the devices that rang
// still ring.
func (c Call) asCaller() Call {
	if c.Ignored {
		c.Ignored = false
		if c.State == fsm.Ringing {
			c.RingingDevices = slices.Clone(c.ignoredDevices)
		}
	}
	return c
}
