package fsm

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
)

// CallStatus is the state of a call (FEATURES C2).
type CallStatus string

const (
	NoCall     CallStatus = ""
	Connecting CallStatus = "connecting"
	Ringing    CallStatus = "ringing"
	Connected  CallStatus = "connected"
	Held       CallStatus = "held"
	Ended      CallStatus = "ended"
)

// Live reports whether the status is one of a call that has not ended.
func (s CallStatus) Live() bool { return s != NoCall && s != Ended }

// Call is the state of one call. Its zero value is a call that does not exist
// yet: the only command it accepts is Dial.
type Call struct {
	ID      string
	Version uint64 // events applied
	Status  CallStatus
	Prev    CallStatus // status before the last change of status

	Caller       events.Party
	Callee       events.Party
	CallerDevice string
	CallerID     string
	Destination  string
	Direction    events.Direction

	Ringing []string // callee devices alerted now
	Ignored bool     // the callee ignored the call (C4)
	// IgnoredDevices are the devices that rang when the callee ignored the
	// call: what its caller still sees ringing (the caller is not told).
	IgnoredDevices []string
	RingDeadline   int64 // engine-clock Unix ns of the ring timeout, 0 for none
	AnsweredDevice string

	HeldByCaller, HeldByCallee bool
	MutedCaller, MutedCallee   bool
	SetupAt, RingingAt         int64 // Unix ns
	ConnectAt, ReleaseAt       int64 // Unix ns, 0 until it happens
	Reason                     events.Reason
	EndedBy                    events.Side
	Missed                     bool

	Group     string // the group the callee was reached through (T6)
	Transfer  string // the transfer that placed the call
	CallerLeg string // far-end leg the caller continues (see CallDialed)
	CalleeLeg string
	Origin    string

	Recording    bool   // RECORDING (C11)
	RecordingRef string // the current or last recording
	ParkSlot     string // the slot the call is parked in, "" when not parked (T5)
	ParkedSide   events.Side
	Conference   string // the conference the call was merged into (T4)
	Peer         string // the other call of the conference
	Digits       int    // DTMF tones sent so far (C10)
	// RangMembers are the members a ring-all group call rang: they keep
	// hearing of it after one answered or it ended (T6).
	RangMembers []string
	// Tried are the members a round-robin group call rang before its
	// callee, in order: each did not answer within the ring time and the
	// call moved on (RingNext, T6).
	Tried []string

	// VoicemailLimit is the callee's voicemail box limit (ns), 0 for a call
	// that does not go to voicemail (C7). VoicemailAt is when the caller
	// was connected to the box, VoicemailDeadline when the box stops,
	// VoicemailReason why the call went there, VoicemailLength the message's
	// length once left.
	VoicemailLimit    int64
	VoicemailAt       int64
	VoicemailDeadline int64
	VoicemailReason   events.Reason
	VoicemailLength   int64

	// Legs are the latest leg record of each side an adapter journaled
	// (CallLegRecorded, issue 14), in side order; at most one per side.
	Legs []events.CallLegRecorded
}

// clientCallee reports whether the callee is a client of the engine, or a
// group of them.
func (c *Call) clientCallee() bool { return c.Callee.Client != "" || c.Group != "" }

// LegOf returns the far-end leg of side s: the id of the call where the
// external party's leg was created, or "" when the side is a client or, for
// a click-to-call, the engine itself.
func (c *Call) LegOf(s events.Side) string {
	p := c.Party(s)
	if p.Client != "" {
		return ""
	}
	if s == events.Caller {
		if c.Origin == events.OriginClickToCall {
			return ""
		}
		if c.CallerLeg != "" {
			return c.CallerLeg
		}
	} else if c.CalleeLeg != "" {
		return c.CalleeLeg
	}
	return c.ID
}

// DeviceOf returns the device the client on side s uses in the call: the
// caller's device, or the device that answered.
func (c *Call) DeviceOf(s events.Side) string {
	if s == events.Caller {
		return c.CallerDevice
	}
	return c.AnsweredDevice
}

// Answered reports whether the callee ever answered.
func (c *Call) Answered() bool { return c.ConnectAt != 0 }

// HeldBy reports whether side holds the call.
func (c *Call) HeldBy(s events.Side) bool {
	if s == events.Caller {
		return c.HeldByCaller
	}
	return s == events.Callee && c.HeldByCallee
}

// MutedSide reports whether side is muted.
func (c *Call) MutedSide(s events.Side) bool {
	if s == events.Caller {
		return c.MutedCaller
	}
	return s == events.Callee && c.MutedCallee
}

// Party returns the party on side s.
func (c *Call) Party(s events.Side) events.Party {
	if s == events.Callee {
		return c.Callee
	}
	return c.Caller
}

// SideOf returns the side that client is on, or NoSide.
func (c *Call) SideOf(client string) events.Side {
	switch {
	case client == "":
		return events.NoSide
	case c.Caller.Client == client:
		return events.Caller
	case c.Callee.Client == client:
		return events.Callee
	}
	return events.NoSide
}

// ReasonFor is the end reason as side s sees it: a callee that never answered
// a call that was given up or timed out sees "missed" (FEATURES C5).
func (c *Call) ReasonFor(s events.Side) events.Reason {
	if s == events.Callee && c.Missed {
		return events.Missed
	}
	return c.Reason
}

// RingingDuration is how long the call rang: from ringing to answer or end.
func (c *Call) RingingDuration() time.Duration {
	if c.RingingAt == 0 {
		return 0
	}
	end := c.ConnectAt
	if end == 0 {
		end = c.ReleaseAt
	}
	if end == 0 {
		return 0
	}
	return time.Duration(end - c.RingingAt)
}

// Duration is how long the call was connected (to the release, or to now for a
// call still up).
func (c *Call) Duration(now int64) time.Duration {
	if c.ConnectAt == 0 {
		return 0
	}
	end := c.ReleaseAt
	if end == 0 {
		end = now
	}
	return time.Duration(end - c.ConnectAt)
}

// Clone returns a deep copy.
func (c *Call) Clone() Call {
	cp := *c
	cp.Ringing = slices.Clone(c.Ringing)
	cp.RangMembers = slices.Clone(c.RangMembers)
	cp.Tried = slices.Clone(c.Tried)
	cp.Legs = slices.Clone(c.Legs)
	return cp
}

// CallCommand is a command addressed to one call.
type CallCommand interface{ callCommand() }

// Dial creates the call (FEATURES C1). For a client callee, Devices lists the
// devices to ring and the call rings at once; an empty list ends the call
// failed (nothing can ring). For an external callee the call stays connecting
// until the far end reports.
type Dial struct {
	Caller       events.Party
	Callee       events.Party
	CallerDevice string
	CallerID     string
	Destination  string
	Direction    events.Direction
	Devices      []string      // client callee only; the CallRinging event shares it: not written into after the dial
	RingTimeout  time.Duration // client callee only; 0: no timeout

	Group     string
	Transfer  string
	CallerLeg string
	CalleeLeg string
	Origin    string
	// VoicemailLimit: the callee's voicemail box takes messages up to this
	// long (ns); 0 when the call does not go to voicemail (C7).
	VoicemailLimit int64
	// Connected: both parties are already up (an attended transfer's new
	// call): the call is answered at once, from AnsweredDevice.
	Connected      bool
	AnsweredDevice string
}

// Ring: the far end alerts (an adapter reports 180). Timeout 0 means no ring
// timeout.
type Ring struct{ Timeout time.Duration }

// Answer: the callee answers, from Device when it is a client.
type Answer struct{ Device string }

// Reject: the callee declines; Busy sends a busy signal instead (C4).
type Reject struct{ Busy bool }

// Ignore: the callee stops ringing without telling the caller (C4).
type Ignore struct{}

// Hangup: side By hangs up. Before an answer, the caller's hangup cancels the
// call and the callee's rejects it.
type Hangup struct{ By events.Side }

// Hold: side By puts the call on hold (C8).
type Hold struct{ By events.Side }

// Resume: side By takes its hold off.
type Resume struct{ By events.Side }

// Mute: the engine stops forwarding Side's audio (C9).
type Mute struct{ Side events.Side }

// Unmute: Side's audio flows again.
type Unmute struct{ Side events.Side }

// Fail: the far end reports an outcome that ends the call — busy, failed, or
// no-answer when the upstream gives up ringing. By is the side it came from.
type Fail struct {
	Reason events.Reason
	By     events.Side
}

// RingTimeout: the ring timer fired. It ends the call no-answer if the call
// still rings and its deadline has passed; otherwise it is stale and yields
// nothing.
type RingTimeout struct{}

// RingNext: the ring timer of a round-robin group call fired and the engine
// picked the next available member (T6): the call stops ringing its callee
// and rings Member's Devices for Timeout (0: no timeout). The caller keeps
// hearing ringback; the member that did not answer joins Tried.
type RingNext struct {
	Member  string
	Devices []string
	Timeout time.Duration
}

// RoundRobin reports whether the call is a round-robin group call still
// ringing a member: a group call whose callee was picked when it was placed.
func (c *Call) RoundRobin() bool {
	return c.Status == Ringing && c.Group != "" && c.Callee.Client != "" && !c.Answered()
}

func (Dial) callCommand()            {}
func (Ring) callCommand()            {}
func (Answer) callCommand()          {}
func (Reject) callCommand()          {}
func (Ignore) callCommand()          {}
func (Hangup) callCommand()          {}
func (Hold) callCommand()            {}
func (Resume) callCommand()          {}
func (Mute) callCommand()            {}
func (Unmute) callCommand()          {}
func (Fail) callCommand()            {}
func (RingTimeout) callCommand()     {}
func (RingNext) callCommand()        {}
func (SendDigits) callCommand()      {}
func (StartRecording) callCommand()  {}
func (StopRecording) callCommand()   {}
func (Park) callCommand()            {}
func (Unpark) callCommand()          {}
func (Join) callCommand()            {}
func (LeaveConference) callCommand() {}
func (TransferAway) callCommand()    {}

func invalidState(c *Call, what string) error {
	st := c.Status
	if st == NoCall {
		return errcode.Newf(errcode.NotFound, "call %s does not exist", c.ID)
	}
	return errcode.Newf(errcode.InvalidState, "cannot %s: call %s is %s", what, c.ID, st)
}

func badSide(s events.Side) error {
	return errcode.Newf(errcode.InvalidParams, "side must be caller or callee, not %d", s)
}

// DecideCall turns a command into the events it causes, or an error; it never
// changes c. now is the engine-clock time in Unix nanoseconds.
func DecideCall(c *Call, cmd CallCommand, now int64) ([]events.Event, error) {
	return DecideCallInto(nil, c, cmd, now)
}

// DecideCallInto is DecideCall with buf as space for the events: the result
// may alias buf (its length is ignored), so that a caller that reuses buf
// decides without allocating a slice per command.
func DecideCallInto(buf []events.Event, c *Call, cmd CallCommand, now int64) ([]events.Event, error) {
	if _, ok := cmd.(Dial); ok {
		return decideDial(buf, c, cmd, now)
	}
	return decideOnCall(buf, c, cmd, now)
}

// decideOnCall decides every command but a dial. Apart from DecideCallInto:
// its many cases take a stack frame of over a kilobyte, which a dial — the
// deepest path of a command, the actor's spawn included — does without.
func decideOnCall(buf []events.Event, c *Call, cmd CallCommand, now int64) ([]events.Event, error) {
	if c.Status == NoCall {
		return nil, invalidState(c, "control")
	}
	if c.InVoicemail() {
		evs, err := decideVoicemail(c, cmd, now)
		if evs != nil || err != nil {
			return evs, err
		}
		switch cmd.(type) {
		case SendDigits, Mute, Unmute, RecordLeg:
		default:
			return nil, nil
		}
	} else if _, ok := cmd.(VoicemailTimeout); ok {
		return nil, nil // stale
	}
	switch cmd := cmd.(type) {
	case RecordLeg:
		return decideRecordLeg(c, cmd)
	case Ring:
		if c.Status != Connecting || !CallMachine.can(string(c.Status), evRing) {
			return nil, invalidState(c, "ring")
		}
		if cmd.Timeout < 0 {
			return nil, errcode.New(errcode.InvalidParams, "ring timeout must not be negative")
		}
		return append(buf[:0], events.CallRinging{Deadline: deadline(now, cmd.Timeout)}), nil
	case Answer:
		if !CallMachine.can(string(c.Status), evAnswer) {
			return nil, invalidState(c, "answer")
		}
		if c.Ignored {
			return nil, errcode.Newf(errcode.InvalidState, "cannot answer: the callee ignored call %s", c.ID)
		}
		if c.clientCallee() {
			if cmd.Device == "" && len(c.Ringing) > 0 {
				return nil, errcode.New(errcode.MissingParameter, "answer needs the device that answers")
			}
			if cmd.Device != "" && !slices.Contains(c.Ringing, cmd.Device) {
				return nil, errcode.Newf(errcode.InvalidState, "device %q is not ringing for call %s", cmd.Device, c.ID)
			}
		} else if cmd.Device != "" {
			return nil, errcode.Newf(errcode.InvalidParams, "the callee of call %s is external: it answers without a device, not from %q", c.ID, cmd.Device)
		}
		return append(buf[:0], events.CallAnswered{Device: cmd.Device}), nil
	case Reject:
		if c.Status != Connecting && c.Status != Ringing {
			return nil, invalidState(c, "reject")
		}
		r := events.Rejected
		if cmd.Busy {
			r = events.Busy
		} else if c.divertsToVoicemail() {
			return toVoicemail(c, events.Rejected, now), nil
		}
		return append(buf[:0], events.CallEnded{Reason: r, By: events.Callee}), nil
	case Ignore:
		if c.Status != Ringing || !c.clientCallee() || c.Ignored {
			return nil, invalidState(c, "ignore")
		}
		return append(buf[:0], events.CallIgnored{}), nil
	case Hangup:
		if !cmd.By.Valid() {
			return nil, badSide(cmd.By)
		}
		switch c.Status {
		case Connecting, Ringing:
			if cmd.By == events.Callee {
				if c.divertsToVoicemail() {
					return toVoicemail(c, events.Rejected, now), nil
				}
				return append(buf[:0], events.CallEnded{Reason: events.Rejected, By: events.Callee}), nil
			}
			return append(buf[:0], events.CallEnded{Reason: events.Canceled, By: events.Caller, Missed: c.clientCallee()}), nil
		case Connected, Held:
			return append(buf[:0], events.CallEnded{Reason: events.Hangup, By: cmd.By}), nil
		}
		return nil, invalidState(c, "hang up")
	case Hold:
		if !cmd.By.Valid() {
			return nil, badSide(cmd.By)
		}
		if !c.Status.Live() {
			return nil, invalidState(c, "hold")
		}
		if reason := holdUnavailable(c); reason != "" {
			return nil, errcode.Wrap(errcode.HoldNotAvailable, &HoldNotAvailable{By: cmd.By, Reason: reason}, "cannot hold call "+c.ID)
		}
		if c.HeldBy(cmd.By) {
			return nil, errcode.Newf(errcode.InvalidState, "cannot hold: the %s already holds call %s", cmd.By, c.ID)
		}
		return append(buf[:0], events.CallHeld{By: cmd.By}), nil
	case Resume:
		if !cmd.By.Valid() {
			return nil, badSide(cmd.By)
		}
		if c.Status != Held || !c.HeldBy(cmd.By) {
			if !c.Status.Live() {
				return nil, invalidState(c, "resume")
			}
			return nil, errcode.Newf(errcode.InvalidState, "cannot resume: the %s does not hold call %s (it is %s)", cmd.By, c.ID, c.Status)
		}
		if c.ParkSlot != "" && cmd.By == c.ParkedSide.Other() {
			return nil, errcode.Newf(errcode.InvalidState, "cannot resume: call %s is parked in slot %s (unpark it)", c.ID, c.ParkSlot)
		}
		return append(buf[:0], events.CallResumed{By: cmd.By}), nil
	case Mute:
		if !cmd.Side.Valid() {
			return nil, badSide(cmd.Side)
		}
		if !c.Status.Live() {
			return nil, invalidState(c, "mute the "+cmd.Side.String())
		}
		if c.MutedSide(cmd.Side) {
			return nil, errcode.Newf(errcode.InvalidState, "cannot mute the %s: already muted on call %s", cmd.Side, c.ID)
		}
		return append(buf[:0], events.CallMuted{Side: cmd.Side}), nil
	case Unmute:
		if !cmd.Side.Valid() {
			return nil, badSide(cmd.Side)
		}
		if !c.Status.Live() {
			return nil, invalidState(c, "unmute the "+cmd.Side.String())
		}
		if !c.MutedSide(cmd.Side) {
			return nil, errcode.Newf(errcode.InvalidState, "cannot unmute the %s: not muted on call %s", cmd.Side, c.ID)
		}
		return append(buf[:0], events.CallUnmuted{Side: cmd.Side}), nil
	case Fail:
		switch cmd.Reason {
		case events.Busy, events.Failed, events.NoAnswer:
		default:
			return nil, errcode.Newf(errcode.InvalidParams, "a far end cannot end a call with reason %s", cmd.Reason)
		}
		if cmd.By != events.NoSide && !cmd.By.Valid() {
			return nil, badSide(cmd.By)
		}
		if !c.Status.Live() {
			return nil, invalidState(c, "fail")
		}
		if c.Status == Connected || c.Status == Held {
			if cmd.Reason != events.Failed {
				return nil, invalidState(c, "end with "+cmd.Reason.String())
			}
		}
		missed := cmd.Reason == events.NoAnswer && c.clientCallee() && c.ConnectAt == 0
		return append(buf[:0], events.CallEnded{Reason: cmd.Reason, By: cmd.By, Missed: missed}), nil
	case RingNext:
		if cmd.Member == "" || len(cmd.Devices) == 0 {
			return nil, errcode.New(errcode.MissingParameter, "ringing the next member needs the member and its devices")
		}
		if cmd.Timeout < 0 {
			return nil, errcode.New(errcode.InvalidParams, "ring timeout must not be negative")
		}
		if !c.RoundRobin() {
			return nil, errcode.Newf(errcode.InvalidState, "call %s is not a round-robin group call that rings", c.ID)
		}
		if cmd.Member == c.Callee.Client || slices.Contains(c.Tried, cmd.Member) || cmd.Member == c.Caller.Client {
			return nil, errcode.Newf(errcode.InvalidParams, "call %s already rang %s", c.ID, cmd.Member)
		}
		if c.RingDeadline == 0 || now < c.RingDeadline {
			return nil, nil // its ring time has not run out: stale
		}
		devices := make([]string, len(cmd.Devices))
		for i, d := range cmd.Devices {
			if d == "" || strings.Contains(d, "/") {
				return nil, errcode.Newf(errcode.InvalidParams, "device %q of member %s", d, cmd.Member)
			}
			devices[i] = cmd.Member + "/" + d
		}
		return append(buf[:0], events.CallRinging{Devices: devices, Deadline: deadline(now, cmd.Timeout)}), nil
	case RingTimeout:
		if c.Status != Ringing || c.RingDeadline == 0 || now < c.RingDeadline {
			return nil, nil // stale timer: nothing happens
		}
		if c.divertsToVoicemail() {
			return toVoicemail(c, events.NoAnswer, now), nil
		}
		return append(buf[:0], events.CallEnded{Reason: events.NoAnswer, Missed: c.clientCallee()}), nil
	}
	if evs, err, ok := decideControl(c, cmd); ok {
		return evs, err
	}
	return nil, errcode.Newf(errcode.InvalidParams, "unknown call command %T", cmd)
}

func deadline(now int64, d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return now + int64(d)
}

// decideDial decides cmd, a Dial.
func decideDial(buf []events.Event, c *Call, cmd CallCommand, now int64) ([]events.Event, error) {
	d := cmd.(Dial)
	if c.Status != NoCall {
		return nil, errcode.Newf(errcode.AlreadyExists, "call %s already exists", c.ID)
	}
	if d.Caller.Client == "" && d.Caller.Number == "" {
		return nil, errcode.New(errcode.MissingParameter, "dial needs a caller")
	}
	if d.Callee.Client == "" && d.Callee.Number == "" {
		return nil, errcode.New(errcode.MissingParameter, "dial needs a callee")
	}
	if d.RingTimeout < 0 {
		return nil, errcode.New(errcode.InvalidParams, "ring timeout must not be negative")
	}
	if d.VoicemailLimit < 0 || d.VoicemailLimit > 0 && d.Callee.Client == "" {
		return nil, errcode.New(errcode.InvalidParams, "only a client callee has a voicemail box, with a positive limit")
	}
	if d.Direction > events.Transit {
		return nil, errcode.Newf(errcode.InvalidParams, "unknown direction %d", d.Direction)
	}
	if d.Group != "" && d.Callee.Client == "" {
		devices := d.Devices
		if d.Connected {
			devices = []string{d.AnsweredDevice}
		}
		for _, dev := range devices {
			if _, _, ok := SplitMemberDevice(dev); !ok {
				return nil, errcode.Newf(errcode.InvalidParams, "a ring-all group call rings member/device, not %q", dev)
			}
		}
	}
	dialed := events.CallDialed{
		Caller: d.Caller, Callee: d.Callee, CallerDevice: d.CallerDevice,
		CallerID: d.CallerID, Destination: d.Destination, Direction: d.Direction,
		Group: d.Group, Transfer: d.Transfer, CallerLeg: d.CallerLeg, CalleeLeg: d.CalleeLeg, Origin: d.Origin,
		VoicemailLimit: d.VoicemailLimit,
	}
	if d.Connected {
		if d.Callee.Client == "" && d.CalleeLeg == "" || d.Callee.Client != "" && d.AnsweredDevice == "" {
			return nil, errcode.New(errcode.InvalidParams, "a call born connected needs the callee's device or leg")
		}
		return append(buf[:0], dialed, events.CallAnswered{Device: d.AnsweredDevice}), nil
	}
	if d.Callee.Client == "" && d.Group == "" {
		return append(buf[:0], dialed), nil
	}
	if len(d.Devices) == 0 {
		if d.VoicemailLimit > 0 && d.Group == "" && d.Transfer == "" {
			// Nothing can ring (the callee takes no inbound calls, or has
			// no device): straight to its voicemail box.
			return append(buf[:0], dialed, events.CallToVoicemail{Reason: events.NoAnswer, Deadline: now + d.VoicemailLimit}), nil
		}
		return append(buf[:0], dialed, events.CallEnded{Reason: events.Failed}), nil
	}
	ringing := events.CallRinging{Devices: d.Devices, Deadline: deadline(now, d.RingTimeout)}
	return append(buf[:0], dialed, ringing), nil
}

// ApplyCall folds one event into the call. at is the event's engine-clock time.
// An event that does not fit the state is an error (a journal that the current
// code cannot fold: replay reports it as a divergence); c is then unchanged.
func ApplyCall(c *Call, ev events.Event, at int64) error {
	next := *c
	if err := FoldCall(&next, ev, at); err != nil {
		return err
	}
	*c = next
	return nil
}

// FoldCall is ApplyCall for a state that is thrown away when an event does
// not fold: on an error it may leave *c half changed. It saves ApplyCall's
// copy of the call, for a fold on a copy already (the engine's write path)
// and for a fold from the journal that fails as a whole.
func FoldCall(c *Call, ev events.Event, at int64) error {
	if err := applyCall(c, ev, at); err != nil {
		return err
	}
	c.Version++
	return nil
}

func (c *Call) transition(event string) error {
	to, err := CallMachine.fire(string(c.Status), event)
	if err != nil {
		return fmt.Errorf("call %s: %s in state %s: %w", c.ID, event, c.Status, err)
	}
	c.Prev, c.Status = c.Status, CallStatus(to)
	return nil
}

func applyCall(c *Call, ev events.Event, at int64) error {
	if _, ok := ev.(events.CallDialed); !ok && c.Status == NoCall {
		return fmt.Errorf("call %s: %s before CallDialed", c.ID, ev.Type())
	}
	switch e := ev.(type) {
	case events.CallDialed:
		if c.Status != NoCall {
			return fmt.Errorf("call %s: dialed twice", c.ID)
		}
		c.Status = Connecting
		c.Caller, c.Callee = e.Caller, e.Callee
		c.CallerDevice, c.CallerID, c.Destination, c.Direction = e.CallerDevice, e.CallerID, e.Destination, e.Direction
		c.Group, c.Transfer, c.CallerLeg, c.CalleeLeg, c.Origin = e.Group, e.Transfer, e.CallerLeg, e.CalleeLeg, e.Origin
		c.VoicemailLimit = e.VoicemailLimit
		c.SetupAt = at
	case events.CallRinging:
		if c.Status == Ringing {
			return c.ringNext(e)
		}
		if err := c.transition(evRing); err != nil {
			return err
		}
		c.Ringing = e.Devices // events are read-only: the state shares their slices
		c.RingDeadline = e.Deadline
		c.RingingAt = at
		if c.Group != "" && c.Callee.Client == "" {
			c.RangMembers = nil
			for _, d := range e.Devices {
				if m, _, ok := SplitMemberDevice(d); ok && !slices.Contains(c.RangMembers, m) {
					c.RangMembers = append(c.RangMembers, m)
				}
			}
		}
	case events.CallAnswered:
		if err := c.transition(evAnswer); err != nil {
			return err
		}
		c.AnsweredDevice = e.Device
		if c.Group != "" && c.Callee.Client == "" {
			// A ring-all group call: the member whose device answered
			// becomes the callee.
			member, device, ok := SplitMemberDevice(e.Device)
			if !ok {
				return fmt.Errorf("call %s: group call answered from %q, not member/device", c.ID, e.Device)
			}
			c.Callee.Client, c.AnsweredDevice = member, device
		}
		c.Ringing = nil
		c.RingDeadline = 0
		c.ConnectAt = at
	case events.CallHeld:
		if c.HeldBy(e.By) || !e.By.Valid() {
			return fmt.Errorf("call %s: held twice by %s", c.ID, e.By)
		}
		if c.Status == Connected {
			if err := c.transition(evHold); err != nil {
				return err
			}
		} else if c.Status != Held {
			return fmt.Errorf("call %s: held while %s", c.ID, c.Status)
		}
		c.setHeld(e.By, true)
	case events.CallResumed:
		if !c.HeldBy(e.By) {
			return fmt.Errorf("call %s: resumed by %s that does not hold it", c.ID, e.By)
		}
		c.setHeld(e.By, false)
		if !c.HeldByCaller && !c.HeldByCallee {
			if err := c.transition(evResume); err != nil {
				return err
			}
		}
	case events.CallMuted:
		if !c.Status.Live() || !e.Side.Valid() {
			return fmt.Errorf("call %s: muted while %s", c.ID, c.Status)
		}
		c.setMuted(e.Side, true)
	case events.CallUnmuted:
		if !c.Status.Live() || !e.Side.Valid() {
			return fmt.Errorf("call %s: unmuted while %s", c.ID, c.Status)
		}
		c.setMuted(e.Side, false)
	case events.CallIgnored:
		if c.Status != Ringing {
			return fmt.Errorf("call %s: ignored while %s", c.ID, c.Status)
		}
		c.Ignored = true
		c.IgnoredDevices = c.Ringing
		c.Ringing = nil
	case events.CallEnded:
		if err := c.transition(evEnd); err != nil {
			return err
		}
		c.Reason, c.EndedBy, c.Missed = e.Reason, e.By, e.Missed
		c.ReleaseAt = at
		c.Ringing = nil
		c.RingDeadline = 0
		c.VoicemailDeadline = 0
		c.Recording = false
	case events.CallToVoicemail:
		if c.VoicemailLimit <= 0 || c.VoicemailAt != 0 || c.Answered() {
			return fmt.Errorf("call %s: to voicemail without a box, twice or after an answer", c.ID)
		}
		if err := c.transition(evAnswer); err != nil {
			return err
		}
		c.VoicemailAt, c.VoicemailDeadline, c.VoicemailReason = at, e.Deadline, e.Reason
		c.Ringing = nil
		c.RingDeadline = 0
	case events.VoicemailLeft:
		if !c.InVoicemail() || e.Client != c.Callee.Client {
			return fmt.Errorf("call %s: voicemail left while not in voicemail", c.ID)
		}
		c.VoicemailLength = e.Duration
	case events.CallLegRecorded:
		return applyRecordLeg(c, e)
	default:
		if err := applyControl(c, ev); err != nil {
			return err
		}
	}
	return nil
}

func (c *Call) setHeld(s events.Side, v bool) {
	if s == events.Caller {
		c.HeldByCaller = v
	} else {
		c.HeldByCallee = v
	}
}

func (c *Call) setMuted(s events.Side, v bool) {
	if s == events.Caller {
		c.MutedCaller = v
	} else {
		c.MutedCallee = v
	}
}

// ringNext folds the CallRinging of a round-robin group call that moves on
// to the next member: its entries are "member/device", all of one member.
func (c *Call) ringNext(e events.CallRinging) error {
	if !c.RoundRobin() || len(e.Devices) == 0 {
		return fmt.Errorf("call %s: rings again while %s", c.ID, c.Status)
	}
	member := ""
	devices := make([]string, 0, len(e.Devices))
	for _, d := range e.Devices {
		m, dev, ok := SplitMemberDevice(d)
		if !ok || member != "" && m != member {
			return fmt.Errorf("call %s: moves on to %q, not one member's devices", c.ID, d)
		}
		member = m
		devices = append(devices, dev)
	}
	if member == c.Callee.Client || slices.Contains(c.Tried, member) {
		return fmt.Errorf("call %s: moves on to %s, which it rang already", c.ID, member)
	}
	c.Tried = append(c.Tried, c.Callee.Client)
	c.Callee = events.Party{Client: member, Number: c.Callee.Number}
	c.Ringing = devices
	c.RingDeadline = e.Deadline
	c.Ignored = false
	return nil
}
