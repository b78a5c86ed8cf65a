package engine

import (
	"context"
	"slices"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/fsm"
)

// Swap makes call callID the client's active call (call waiting and swap,
// C13): every other call the client is connected on is put on hold by the
// client's side, then callID is answered — when it rings for the client,
// from device, or by default from the device the client talks on, else its
// first ringing device — or resumed, when the client holds it. Nothing is
// changed when a check fails: a call that cannot be held (a conference) or a
// callID that is neither ringing for the client nor held by it is an error.
func (e *Engine) Swap(ctx context.Context, clientID, callID, device string) (Call, error) {
	if err := e.checkOpen(); err != nil {
		return Call{}, err
	}
	if err := e.authorizeClient(ctx, clientID); err != nil {
		return Call{}, err
	}
	c := e.dir.get(clientID)
	if c == nil || !c.Registered() {
		return Call{}, errcode.Newf(errcode.NotFound, "client %s is not registered", clientID)
	}
	target, err := e.Call(ctx, callID)
	if err != nil {
		return Call{}, err
	}
	side := target.SideOf(clientID)
	ringing := target.State == Ringing && (side == Callee || target.Group != "" && ringsFor(&target, clientID))
	if side == 0 && !ringing {
		return Call{}, errcode.Newf(errcode.InvalidParams, "client %s is not on call %s", clientID, callID)
	}
	if target.InVoicemail {
		return Call{}, errcode.Newf(errcode.InvalidState, "cannot swap to call %s: it is in voicemail", callID)
	}
	if target.ParkSlot != "" {
		return Call{}, errcode.Newf(errcode.InvalidState, "cannot swap to call %s: it is parked in slot %s (unpark it)", callID, target.ParkSlot)
	}
	switch {
	case ringing, target.State == Held && target.HeldBy(side), target.State == Connected:
	default:
		return Call{}, errcode.Newf(errcode.InvalidState, "cannot swap to call %s: it is %s", callID, target.State)
	}
	var others []Call
	talkingOn := ""
	ids := e.live.callsOf(clientID)
	slices.Sort(ids) // hold in the same order on every run
	for _, id := range ids {
		if id == callID {
			continue
		}
		o, err := e.Call(ctx, id)
		// A call the other party holds is still one the client would be
		// connected on when that party resumes: hold it on our side too.
		if err != nil || (o.State != Connected && o.State != Held) || o.HeldBy(o.SideOf(clientID)) || o.SideOf(clientID) == 0 {
			continue
		}
		if o.Conference != "" || o.ParkSlot != "" || o.InVoicemail {
			return Call{}, errcode.Newf(errcode.InvalidState, "cannot swap: call %s cannot be held (%s)", o.ID, "conference, park or voicemail")
		}
		if talkingOn == "" && o.State == Connected {
			s := o.SideOf(clientID)
			talkingOn = o.CallerDevice
			if s == Callee {
				talkingOn = o.AnsweredDevice
			}
		}
		others = append(others, o)
	}
	answerFrom := ""
	if ringing {
		answerFrom = pickDevice(&target, clientID, device, talkingOn)
		if answerFrom == "" {
			return Call{}, errcode.Newf(errcode.InvalidParams, "no device of client %s rings for call %s", clientID, callID)
		}
	}
	for _, o := range others {
		if _, err := e.Hold(ctx, o.ID, o.SideOf(clientID)); err != nil {
			return Call{}, err
		}
	}
	switch {
	case ringing:
		var answered Call
		err := e.command(ctx, callID, fsm.Answer{Device: answerFrom}, &answered)
		return answered, err
	case target.State == Held:
		return e.Resume(ctx, callID, side)
	}
	return e.Call(ctx, callID)
}

// ringsFor reports whether a ring-all group call rings a device of client.
func ringsFor(c *Call, client string) bool {
	return slices.ContainsFunc(c.RingingDevices, func(d string) bool {
		m, _, ok := fsm.SplitMemberDevice(d)
		return ok && m == client
	})
}

// pickDevice chooses the ringing entry to answer call c from: want if it
// rings, else the device the client talks on, else its first ringing one.
func pickDevice(c *Call, client, want, talkingOn string) string {
	entry := func(d string) string {
		if c.Group != "" && c.Callee.Client == "" {
			return client + "/" + d
		}
		return d
	}
	if want != "" {
		if slices.Contains(c.RingingDevices, entry(want)) {
			return entry(want)
		}
		return ""
	}
	if talkingOn != "" && slices.Contains(c.RingingDevices, entry(talkingOn)) {
		return entry(talkingOn)
	}
	for _, d := range c.RingingDevices {
		if c.Group == "" || c.Callee.Client != "" {
			return d
		}
		if m, _, ok := fsm.SplitMemberDevice(d); ok && m == client {
			return d
		}
	}
	return ""
}
