package fsm

import (
	"github.com/callengine/callengine/events"
)

// Intent is what the transferring party asked of a transfer in progress. It
// is not journaled: its effects are (a hung-up consultation, a new call), and
// NextTransferStep reads the outcome off them after a restart.
type Intent uint8

const (
	NoIntent Intent = iota
	CompleteIntent
	CancelIntent
	// FailIntent: a call the transfer had to place could not be placed;
	// the transfer gives the original call back and records TransferFailed.
	FailIntent
)

// StepKind says what a transfer does next.
type StepKind uint8

const (
	StepWait    StepKind = iota // nothing until a call changes, a timer fires or a command comes
	StepDial                    // place call Step.Call as Step.Dial says
	StepCommand                 // send Step.Command to call Step.Call
	StepRecord                  // journal Step.Event on the transfer's stream
)

// Step is one thing a transfer does to move on.
type Step struct {
	Kind    StepKind
	Call    string
	Command CallCommand
	Dial    DialPlan
	Event   events.Event
}

// DialPlan is a call a transfer places. The engine routes the callee (its
// devices, its group) unless the call is born connected.
type DialPlan struct {
	Caller         events.Party
	CallerDevice   string
	CallerLeg      string
	Callee         events.Party
	CalleeLeg      string
	Group          string
	Destination    string
	Origin         string
	Connected      bool // both legs are up: the call is answered at once
	AnsweredDevice string
	Devices        []string // ring only these devices of a client callee (nil: all)
}

// CallLookup returns a call's state, and false for a call that was never
// placed.
type CallLookup func(id string) (*Call, bool)

// NextTransferStep decides what transfer t does next, from its state, the
// states of its calls, the transferring party's intent and the time. It is
// pure: the transfer actor runs the step, and asks again when the step is
// done or something changed. Every effect comes before the event that
// records the outcome, so a restart between the two finds the effect in the
// journal and records the same outcome.
func NextTransferStep(t *Transfer, calls CallLookup, intent Intent, now int64) Step {
	if t.Status == NoTransfer || t.Status.Done() {
		return Step{}
	}
	if t.Kind == events.Blind {
		return blindStep(t, calls)
	}
	if t.Kind == events.ClickToCall {
		return clickStep(t, calls, intent)
	}
	return consultStep(t, calls, intent, now)
}

func record(ev events.Event) Step { return Step{Kind: StepRecord, Event: ev} }

func command(id string, cmd CallCommand) Step { return Step{Kind: StepCommand, Call: id, Command: cmd} }

// keptLeg returns the plan's caller: the kept party of call x, on its device
// or leg.
func keptParty(x *Call, kept events.Side) (events.Party, string, string) {
	return x.Party(kept), x.DeviceOf(kept), x.LegOf(kept)
}

func (t *Transfer) targetPlan(caller events.Party, device, leg string) DialPlan {
	return DialPlan{
		Caller: caller, CallerDevice: device, CallerLeg: leg,
		Callee: t.Target, Group: t.Group, Destination: t.Destination,
	}
}

func blindStep(t *Transfer, calls CallLookup) Step {
	x, _ := calls(t.Call)
	if _, placed := calls(t.NewCall); !placed {
		if x == nil || !x.established() || x.ParkSlot != "" {
			return record(events.TransferFailed{Reason: "the call ended before the transfer"})
		}
		p, dev, leg := keptParty(x, t.Kept)
		return Step{Kind: StepDial, Call: t.NewCall, Dial: t.targetPlan(p, dev, leg)}
	}
	if x != nil && x.Status.Live() {
		return command(t.Call, TransferAway{By: t.TransferorSide()})
	}
	return record(events.TransferCompleted{})
}

func clickStep(t *Transfer, calls CallLookup, intent Intent) Step {
	first, placed := calls(t.Consult)
	if !placed {
		caller := events.Party{Number: t.Target.Number, Name: t.Target.Name}
		if caller.Number == "" {
			caller.Number = t.Destination
		}
		return Step{Kind: StepDial, Call: t.Consult, Dial: DialPlan{
			Caller: caller,
			Callee: t.First, Destination: t.First.Number, Origin: events.OriginClickToCall,
			Devices: deviceList(t.FirstDevice),
		}}
	}
	if _, bridged := calls(t.NewCall); bridged {
		if first.Status.Live() {
			return command(t.Consult, TransferAway{By: events.Caller})
		}
		return record(events.TransferCompleted{})
	}
	if !first.Status.Live() {
		// Before the bridge only the transfer hangs the first leg up from
		// its caller side (the engine): it failed, intent or not (restart).
		if intent == FailIntent || first.EndedBy == events.Caller {
			return record(events.TransferFailed{})
		}
		if !first.Answered() {
			return record(events.TransferNotAnswered{Reason: first.Reason.String()})
		}
		return record(events.TransferNotCompleted{Reason: "the first party hung up"})
	}
	if intent == FailIntent {
		return command(t.Consult, Hangup{By: events.Caller})
	}
	if !first.Answered() {
		return Step{}
	}
	if t.Status == Consulting {
		return record(events.TransferAnswered{})
	}
	p, dev, leg := keptParty(first, events.Callee)
	return Step{Kind: StepDial, Call: t.NewCall, Dial: t.targetPlan(p, dev, leg)}
}

// consultSide is the side of consultation z that the transferring party
// is on: the caller when the transfer placed it, either side when the
// transfer adopted an existing call of the transferring party
// (Engine.TransferToCall: the target may have called it).
func consultSide(t *Transfer, z *Call) events.Side {
	if z != nil && t.Transferor.Client != "" && z.Caller.Client != t.Transferor.Client && z.Callee.Client == t.Transferor.Client {
		return events.Callee
	}
	return events.Caller
}

func consultStep(t *Transfer, calls CallLookup, intent Intent, now int64) Step {
	x, _ := calls(t.Call)
	by := t.TransferorSide()
	xLive := x != nil && x.Status.Live()
	heldByUs := xLive && x.HeldBy(by)
	if _, completing := calls(t.NewCall); completing {
		z, _ := calls(t.Consult)
		switch {
		case xLive:
			return command(t.Call, TransferAway{By: by})
		case z != nil && z.Status.Live():
			return command(t.Consult, TransferAway{By: consultSide(t, z)})
		}
		return record(events.TransferCompleted{})
	}
	z, placed := calls(t.Consult)
	zBy := consultSide(t, z)
	if !placed {
		switch {
		case intent == CancelIntent || intent == FailIntent:
			if heldByUs {
				return command(t.Call, Resume{By: by})
			}
			if intent == FailIntent {
				return record(events.TransferFailed{})
			}
			return record(events.TransferCanceled{})
		case !xLive:
			return record(events.TransferNotCompleted{Reason: "the original call ended"})
		case !x.HeldBy(by):
			if x.Status != Connected && x.Status != Held {
				return record(events.TransferFailed{Reason: "the original call is " + string(x.Status)})
			}
			return command(t.Call, Hold{By: by})
		}
		p, dev, _ := keptParty(x, by)
		plan := t.targetPlan(p, dev, "")
		return Step{Kind: StepDial, Call: t.Consult, Dial: plan}
	}
	if !z.Status.Live() {
		// The consultation is over: give the original call back, then say
		// how it went.
		if heldByUs {
			return command(t.Call, Resume{By: by})
		}
		transferorEnded := z.EndedBy == zBy && (z.Reason == events.Canceled || z.Reason == events.Hangup)
		timedOut := t.Deadline != 0 && z.ReleaseAt >= t.Deadline && !z.Answered()
		failed := z.Reason == events.Failed && z.EndedBy == zBy // the fail intent's own hang-up
		switch {
		case intent == FailIntent || failed:
			return record(events.TransferFailed{})
		case timedOut:
			return record(events.TransferNotAnswered{Reason: "invite-timeout"})
		case transferorEnded:
			return record(events.TransferCanceled{})
		case !z.Answered():
			return record(events.TransferNotAnswered{Reason: z.Reason.String()})
		}
		return record(events.TransferNotCompleted{Reason: "the target hung up"})
	}
	if !xLive {
		return record(events.TransferNotCompleted{Reason: "the original call ended"})
	}
	if intent == FailIntent {
		// Ended "failed" from the transferor's side, so that the outcome
		// reads off the journal after a restart (not "canceled").
		return command(t.Consult, Fail{Reason: events.Failed, By: zBy})
	}
	if intent == CancelIntent {
		return command(t.Consult, Hangup{By: zBy})
	}
	if !z.Answered() {
		if t.Deadline != 0 && now >= t.Deadline {
			return command(t.Consult, Hangup{By: zBy})
		}
		return Step{}
	}
	if t.Status == Consulting {
		return record(events.TransferAnswered{})
	}
	if intent == CompleteIntent || t.Kind == events.Supervised {
		if x.ParkSlot != "" || x.Conference != "" || z.ParkSlot != "" || z.Conference != "" {
			return Step{}
		}
		p, dev, leg := keptParty(x, t.Kept)
		target := zBy.Other()
		group := z.Group
		if target == events.Caller {
			group = ""
		}
		return Step{Kind: StepDial, Call: t.NewCall, Dial: DialPlan{
			Caller: p, CallerDevice: dev, CallerLeg: leg,
			Callee: z.Party(target), CalleeLeg: z.LegOf(target), Group: group, Destination: t.Destination,
			Connected: true, AnsweredDevice: z.DeviceOf(target),
		}}
	}
	return Step{}
}

func deviceList(d string) []string {
	if d == "" {
		return nil
	}
	return []string{d}
}

// PartiesDirection is the direction of a call between these parties: a side
// is outside the engine when it is no client, no group, and (for the caller)
// not the engine placing a click-to-call.
func PartiesDirection(caller, callee events.Party, group, origin string) events.Direction {
	callerOut := caller.Client == "" && origin == ""
	calleeOut := callee.Client == "" && group == ""
	switch {
	case callerOut && calleeOut:
		return events.Transit
	case callerOut:
		return events.Inbound
	case calleeOut:
		return events.Outbound
	}
	return events.Internal
}
