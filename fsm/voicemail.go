package fsm

import (
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
)

// Voicemail (FEATURES C7). A call placed straight to a client that has a
// voicemail box carries the box's limit (Dial.VoicemailLimit). When the
// callee rejects it, or it rings out, the caller is connected to the box
// (CallToVoicemail) instead of hearing the call end. The message ends when
// the caller hangs up or the box's deadline passes: VoicemailLeft, then
// CallEnded with reason voicemail.

// VoicemailTimeout: the voicemail box's deadline passed. Stale (nothing
// happens) unless the call is in voicemail and the deadline is due.
type VoicemailTimeout struct{}

func (VoicemailTimeout) callCommand() {}

// HoldReasonVoicemail: a call connected to a voicemail box cannot be held.
const HoldReasonVoicemail = "the call is in voicemail"

// InVoicemail reports whether the caller is connected to the callee's
// voicemail box now.
func (c *Call) InVoicemail() bool { return c.VoicemailAt != 0 && c.Status.Live() }

// WentToVoicemail reports whether the call reached the callee's voicemail
// box (now or before it ended).
func (c *Call) WentToVoicemail() bool { return c.VoicemailAt != 0 }

// divertsToVoicemail reports whether a call that the callee declines, or
// that rings out, goes to the callee's voicemail box instead of ending.
func (c *Call) divertsToVoicemail() bool {
	return c.VoicemailLimit > 0 && c.Callee.Client != "" && c.Group == "" && c.Transfer == "" &&
		!c.Answered() && c.VoicemailAt == 0 && (c.Status == Connecting || c.Status == Ringing)
}

func toVoicemail(c *Call, why events.Reason, now int64) []events.Event {
	return []events.Event{events.CallToVoicemail{Reason: why, Deadline: now + c.VoicemailLimit}}
}

// leaveVoicemail ends a call in voicemail: the message is recorded.
func leaveVoicemail(c *Call, by events.Side, now int64) []events.Event {
	end := now
	if c.VoicemailDeadline != 0 && end > c.VoicemailDeadline {
		end = c.VoicemailDeadline // the box stopped recording at its deadline
	}
	d := max(end-c.VoicemailAt, 0)
	return []events.Event{
		events.VoicemailLeft{Client: c.Callee.Client, From: c.Caller, Duration: d},
		events.CallEnded{Reason: events.Voicemail, By: by, Missed: true},
	}
}

// decideVoicemail handles every command to a call in voicemail: only the
// caller acts on it, by hanging up, sending tones or muting.
func decideVoicemail(c *Call, cmd CallCommand, now int64) ([]events.Event, error) {
	switch cmd := cmd.(type) {
	case Hangup:
		if !cmd.By.Valid() {
			return nil, badSide(cmd.By)
		}
		if cmd.By != events.Caller {
			return nil, errcode.Newf(errcode.InvalidState, "cannot hang up: the callee of call %s is not on it (the caller is leaving a voicemail)", c.ID)
		}
		return leaveVoicemail(c, events.Caller, now), nil
	case Fail:
		if cmd.Reason != events.Failed {
			return nil, invalidState(c, "end with "+cmd.Reason.String())
		}
		return leaveVoicemail(c, events.NoSide, now), nil
	case VoicemailTimeout:
		if now < c.VoicemailDeadline {
			return nil, nil
		}
		return leaveVoicemail(c, events.NoSide, now), nil
	case RingTimeout:
		return nil, nil // stale
	case Hold:
		if !cmd.By.Valid() {
			return nil, badSide(cmd.By)
		}
		return nil, errcode.Wrap(errcode.HoldNotAvailable, &HoldNotAvailable{By: cmd.By, Reason: HoldReasonVoicemail}, "cannot hold call "+c.ID)
	case SendDigits:
		if cmd.Side == events.Callee {
			return nil, errcode.Newf(errcode.InvalidState, "cannot send DTMF: the callee of call %s is not on it", c.ID)
		}
		return nil, nil // decided as on any call
	case Mute:
		if cmd.Side == events.Callee {
			return nil, errcode.Newf(errcode.InvalidState, "cannot mute: the callee of call %s is not on it", c.ID)
		}
		return nil, nil
	case Unmute:
		if cmd.Side == events.Callee {
			return nil, errcode.Newf(errcode.InvalidState, "cannot unmute: the callee of call %s is not on it", c.ID)
		}
		return nil, nil
	}
	return nil, errcode.Newf(errcode.InvalidState, "cannot %s: call %s is in voicemail", commandName(cmd), c.ID)
}

func commandName(cmd CallCommand) string {
	switch cmd.(type) {
	case Answer:
		return "answer"
	case Reject:
		return "reject"
	case Ignore:
		return "ignore"
	case Resume:
		return "resume"
	case StartRecording, StopRecording:
		return "record"
	case Park:
		return "park"
	case Unpark:
		return "unpark"
	case Join:
		return "merge"
	case LeaveConference:
		return "leave the conference"
	case TransferAway:
		return "transfer"
	case Ring:
		return "ring"
	}
	return "control"
}
