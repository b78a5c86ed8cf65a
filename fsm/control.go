package fsm

import (
	"fmt"
	"strings"
	"time"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
)

// DTMF defaults (FEATURES C10).
const (
	DefaultToneDuration = 100 * time.Millisecond
	DefaultToneGap      = 70 * time.Millisecond
	MaxDigits           = 64 // tones in one SendDigits
)

// SendDigits: Side sends DTMF tones (C10). Zero Duration and Gap take the
// defaults.
type SendDigits struct {
	Side     events.Side
	Digits   string
	Duration time.Duration
	Gap      time.Duration
}

// StartRecording: side By starts recording the call under Ref (C11). The
// engine checks the permission before it sends the command.
type StartRecording struct {
	By  events.Side
	Ref string
}

// StopRecording: side By stops the recording.
type StopRecording struct{ By events.Side }

// Park: side By parks the party on the other side in Slot (T5).
type Park struct {
	By   events.Side
	Slot string
}

// Unpark: Party, from Device, takes the parked call.
type Unpark struct {
	Party  events.Party
	Device string
}

// Join: the call is merged with call Peer into Conference (T4).
type Join struct {
	Conference string
	Peer       string
}

// LeaveConference: Peer, the other call of the call's conference, ended:
// the call leaves the conference and is an ordinary two-party call again
// (T4). The engine sends it when it sees the peer end.
type LeaveConference struct{ Peer string }

// TransferAway: side By leaves the call for a transfer; the call ends with
// reason transferred (T1, T2).
type TransferAway struct{ By events.Side }

// HoldNotAvailable is the cause of a hold_not_available error: why side By
// cannot hold the call now (C8).
type HoldNotAvailable struct {
	By     events.Side
	Reason string
}

func (h *HoldNotAvailable) Error() string { return h.Reason }

// Reasons a hold is not available.
const (
	HoldReasonNotEstablished = "the call is not established"
	HoldReasonParked         = "the call is parked"
	HoldReasonConference     = "the call is in a conference"
)

// holdUnavailable says why a live call cannot be held now, or "".
func holdUnavailable(c *Call) string {
	switch {
	case c.Status == Connecting || c.Status == Ringing:
		return HoldReasonNotEstablished
	case c.InVoicemail():
		return HoldReasonVoicemail
	case c.ParkSlot != "":
		return HoldReasonParked
	case c.Conference != "":
		return HoldReasonConference
	}
	return ""
}

// ValidDigits checks a DTMF string: 0-9, *, #, A-D and ',' for a pause.
func ValidDigits(s string) error {
	if s == "" {
		return errcode.New(errcode.MissingParameter, "no DTMF digits")
	}
	if len(s) > MaxDigits {
		return errcode.Newf(errcode.InvalidParams, "%d DTMF digits at once (at most %d)", len(s), MaxDigits)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c == '*' || c == '#' || c == ',' || c >= 'A' && c <= 'D') {
			return errcode.Newf(errcode.InvalidParams, "%q is not a DTMF tone (0-9 * # A-D ,)", c)
		}
	}
	return nil
}

// SplitMemberDevice splits a ring-all group call's ringing entry
// "member/device".
func SplitMemberDevice(s string) (member, device string, ok bool) {
	member, device, ok = strings.Cut(s, "/")
	return member, device, ok && member != "" && device != ""
}

// established reports whether the call is connected or held.
func (c *Call) established() bool { return c.Status == Connected || c.Status == Held }

func decideControl(c *Call, cmd CallCommand) ([]events.Event, error, bool) {
	switch cmd := cmd.(type) {
	case SendDigits:
		if !cmd.Side.Valid() {
			return nil, badSide(cmd.Side), true
		}
		if err := ValidDigits(cmd.Digits); err != nil {
			return nil, err, true
		}
		if cmd.Duration < 0 || cmd.Gap < 0 || cmd.Duration > 10*time.Second || cmd.Gap > 10*time.Second {
			return nil, errcode.New(errcode.InvalidParams, "tone duration and gap must be between 0 and 10s"), true
		}
		if !c.established() {
			return nil, invalidState(c, "send DTMF"), true
		}
		d, g := cmd.Duration, cmd.Gap
		if d == 0 {
			d = DefaultToneDuration
		}
		if g == 0 {
			g = DefaultToneGap
		}
		return []events.Event{events.CallDigits{Side: cmd.Side, Digits: cmd.Digits, Duration: int64(d), Gap: int64(g)}}, nil, true
	case StartRecording:
		if !cmd.By.Valid() {
			return nil, badSide(cmd.By), true
		}
		if cmd.Ref == "" {
			return nil, errcode.New(errcode.MissingParameter, "a recording needs a reference"), true
		}
		if !c.established() {
			return nil, errcode.Wrap(errcode.RecordingNotAvailable, invalidState(c, "record"), "recording not available"), true
		}
		if c.Recording {
			return nil, errcode.Newf(errcode.InvalidState, "call %s is already recorded", c.ID), true
		}
		return []events.Event{events.CallRecordingStarted{By: cmd.By, Ref: cmd.Ref}}, nil, true
	case StopRecording:
		if !cmd.By.Valid() {
			return nil, badSide(cmd.By), true
		}
		if !c.Status.Live() {
			return nil, invalidState(c, "stop recording"), true
		}
		if !c.Recording {
			return nil, errcode.Newf(errcode.InvalidState, "call %s is not recorded", c.ID), true
		}
		return []events.Event{events.CallRecordingStopped{By: cmd.By}}, nil, true
	case Park:
		if !cmd.By.Valid() {
			return nil, badSide(cmd.By), true
		}
		if cmd.Slot == "" {
			return nil, errcode.New(errcode.MissingParameter, "park needs a slot"), true
		}
		if !c.established() {
			return nil, invalidState(c, "park"), true
		}
		if c.ParkSlot != "" {
			return nil, errcode.Newf(errcode.InvalidState, "call %s is already parked in slot %s", c.ID, c.ParkSlot), true
		}
		if c.Conference != "" {
			return nil, errcode.Newf(errcode.InvalidState, "call %s is in a conference", c.ID), true
		}
		if c.Party(cmd.By).Client == "" {
			return nil, errcode.Newf(errcode.InvalidParams, "only a client parks a call: the %s of call %s is external", cmd.By, c.ID), true
		}
		return []events.Event{events.CallParked{Side: cmd.By.Other(), By: cmd.By, Slot: cmd.Slot}}, nil, true
	case Unpark:
		if cmd.Party.Client == "" {
			return nil, errcode.New(errcode.MissingParameter, "unpark needs the client that takes the call"), true
		}
		if !c.Status.Live() {
			return nil, invalidState(c, "unpark"), true
		}
		if c.ParkSlot == "" {
			return nil, errcode.Newf(errcode.InvalidState, "call %s is not parked", c.ID), true
		}
		if c.Party(c.ParkedSide).Client == cmd.Party.Client {
			return nil, errcode.Newf(errcode.InvalidParams, "client %s is the parked party of call %s", cmd.Party.Client, c.ID), true
		}
		return []events.Event{events.CallUnparked{Party: cmd.Party, Device: cmd.Device}}, nil, true
	case Join:
		if cmd.Conference == "" || cmd.Peer == "" {
			return nil, errcode.New(errcode.MissingParameter, "join needs a conference and a peer call"), true
		}
		if cmd.Peer == c.ID {
			return nil, errcode.New(errcode.InvalidParams, "a call cannot be merged with itself"), true
		}
		if c.Status != Held {
			if !c.Status.Live() {
				return nil, invalidState(c, "merge"), true
			}
			return nil, errcode.Newf(errcode.InvalidState, "cannot merge: call %s is %s, not held", c.ID, c.Status), true
		}
		if c.ParkSlot != "" || c.Conference != "" {
			return nil, errcode.Newf(errcode.InvalidState, "cannot merge: call %s is parked or already in a conference", c.ID), true
		}
		return []events.Event{events.CallJoined{Conference: cmd.Conference, Peer: cmd.Peer}}, nil, true
	case LeaveConference:
		if cmd.Peer == "" {
			return nil, errcode.New(errcode.MissingParameter, "leaving a conference needs the peer call that ended"), true
		}
		if !c.Status.Live() {
			return nil, invalidState(c, "leave the conference"), true
		}
		if c.Conference == "" || c.Peer != cmd.Peer {
			return nil, errcode.Newf(errcode.InvalidState, "call %s is not in a conference with call %s", c.ID, cmd.Peer), true
		}
		return []events.Event{events.CallLeftConference{Conference: c.Conference, Peer: c.Peer}}, nil, true
	case TransferAway:
		if !cmd.By.Valid() {
			return nil, badSide(cmd.By), true
		}
		if !c.established() {
			return nil, invalidState(c, "transfer"), true
		}
		if c.ParkSlot != "" {
			return nil, errcode.Newf(errcode.InvalidState, "cannot transfer: call %s is parked", c.ID), true
		}
		return []events.Event{events.CallEnded{Reason: events.Transferred, By: cmd.By}}, nil, true
	}
	return nil, nil, false
}

func applyControl(c *Call, ev events.Event) error {
	switch e := ev.(type) {
	case events.CallDigits:
		if !c.established() || !e.Side.Valid() {
			return fmt.Errorf("call %s: DTMF while %s", c.ID, c.Status)
		}
		c.Digits += len(e.Digits)
	case events.CallRecordingStarted:
		if !c.established() || c.Recording {
			return fmt.Errorf("call %s: recording started while %s", c.ID, c.Status)
		}
		c.Recording, c.RecordingRef = true, e.Ref
	case events.CallRecordingStopped:
		if !c.Status.Live() || !c.Recording {
			return fmt.Errorf("call %s: recording stopped while not recording", c.ID)
		}
		c.Recording = false
	case events.CallParked:
		if !c.established() || c.ParkSlot != "" || !e.By.Valid() || e.Side != e.By.Other() || e.Slot == "" {
			return fmt.Errorf("call %s: parked while %s", c.ID, c.Status)
		}
		if c.Status == Connected {
			if err := c.transition(evHold); err != nil {
				return err
			}
		}
		c.setHeld(e.By, true)
		c.ParkSlot, c.ParkedSide = e.Slot, e.Side
		if e.By == events.Caller {
			c.CallerDevice = ""
		} else {
			c.AnsweredDevice = ""
		}
	case events.CallUnparked:
		if c.ParkSlot == "" || e.Party.Client == "" || !c.Status.Live() {
			return fmt.Errorf("call %s: unparked while not parked", c.ID)
		}
		by := c.ParkedSide.Other()
		if by == events.Caller {
			c.Caller, c.CallerDevice, c.CallerLeg = e.Party, e.Device, ""
		} else {
			c.Callee, c.AnsweredDevice, c.CalleeLeg = e.Party, e.Device, ""
		}
		c.ParkSlot, c.ParkedSide = "", events.NoSide
		c.setHeld(by, false)
		if !c.HeldByCaller && !c.HeldByCallee {
			if err := c.transition(evResume); err != nil {
				return err
			}
		}
	case events.CallJoined:
		if c.Status != Held || c.Conference != "" || e.Conference == "" {
			return fmt.Errorf("call %s: joined while %s", c.ID, c.Status)
		}
		if err := c.transition(evResume); err != nil {
			return err
		}
		c.HeldByCaller, c.HeldByCallee = false, false
		c.Conference, c.Peer = e.Conference, e.Peer
	case events.CallLeftConference:
		if !c.Status.Live() || c.Conference == "" || e.Conference != c.Conference || e.Peer != c.Peer {
			return fmt.Errorf("call %s: left conference %s while in %q", c.ID, e.Conference, c.Conference)
		}
		c.Conference, c.Peer = "", ""
	default:
		return fmt.Errorf("call %s: %s is not a call event", c.ID, ev.Type())
	}
	return nil
}
