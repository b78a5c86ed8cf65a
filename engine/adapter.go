package engine

import (
	"context"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

// Adapter carries calls to and from parties outside the engine: SIP trunks,
// WebRTC gateways, or the in-process loopback of package adapters/loopback.
// Adapters translate; they decide nothing (ARCHITECTURE principle 5).
//
// The engine calls Attach once from Open, before any event is delivered, with
// the handle through which the adapter reports what the far end does. Then,
// for every call that has an external party, it calls HandleEvent with each
// durable event of the call, in order — a CallDialed with Direction outbound
// is the order to place the call. HandleEvent must not block and must not
// call back into the engine before it returns (report from another goroutine
// or a clock timer).
type Adapter interface {
	Attach(far FarEnd)
	HandleEvent(ev Event)
}

// FarEnd is how an adapter reports what the external party of a call does.
// *Engine implements it.
type FarEnd interface {
	// FarRinging: the far end alerts (SIP 180).
	FarRinging(ctx context.Context, callID string) (Call, error)
	// FarAnswered: the far end answered (SIP 200 to the INVITE).
	FarAnswered(ctx context.Context, callID string) (Call, error)
	// FarEnded: the far end ended the call — hangup, busy, rejected, failed
	// or no-answer (the upstream gave up ringing).
	FarEnded(ctx context.Context, callID string, reason Reason) (Call, error)
	// FarHold and FarResume: the far end holds or resumes (re-INVITE).
	FarHold(ctx context.Context, callID string) (Call, error)
	FarResume(ctx context.Context, callID string) (Call, error)
	// Inbound: a call from outside for one of the engine's clients.
	Inbound(ctx context.Context, req InboundRequest) (Call, error)
}

// MessageReporter is how an adapter that carries text messages reports their
// delivery (C15); *Engine implements it. An adapter given a FarEnd checks
// for it with a type assertion.
type MessageReporter interface {
	FarMessageResult(ctx context.Context, id string, delivered bool, reason string) (Message, error)
}

var _ MessageReporter = (*Engine)(nil)

var _ FarEnd = (*Engine)(nil)

// externalSide returns the side of c that an adapter plays.
func externalSide(c *fsm.Call) (events.Side, error) {
	switch c.Direction {
	case events.Outbound, events.Transit:
		return events.Callee, nil
	case events.Inbound:
		return events.Caller, nil
	}
	return events.NoSide, errcode.Newf(errcode.InvalidState, "call %s has no external party", c.ID)
}

// farCommand runs a far end's report on the call its leg is in now. A far
// end names its leg by the id of the call the leg was created with; after a
// transfer the leg goes on in another call, on the side recorded there
// (CallDialed.CallerLeg, CalleeLeg), and its reports follow it.
func (e *Engine) farCommand(ctx context.Context, leg string, decide func(c *fsm.Call, side events.Side) (fsm.CallCommand, error)) (view Call, err error) {
	callID, side := leg, events.NoSide
	if ref, ok := e.xfer.leg(leg); ok {
		callID, side = ref.call, ref.side
	}
	err = e.resolveCall(ctx, callID, func(c *fsm.Call) (fsm.CallCommand, error) {
		s := side
		if s == events.NoSide {
			var err error
			if s, err = externalSide(c); err != nil {
				return nil, err
			}
		}
		return decide(c, s)
	}, &view)
	return view, err
}

// FarRinging reports that the far end of an outbound call alerts; the
// engine's ring timeout starts.
func (e *Engine) FarRinging(ctx context.Context, callID string) (Call, error) {
	return e.farCommand(ctx, callID, func(c *fsm.Call, s events.Side) (fsm.CallCommand, error) {
		if s != events.Callee {
			return nil, errcode.Newf(errcode.InvalidState, "call %s: only the far end of an outbound call rings", c.ID)
		}
		return fsm.Ring{Timeout: e.cfg.RingTimeout}, nil
	})
}

// FarAnswered reports that the far end of an outbound call answered.
func (e *Engine) FarAnswered(ctx context.Context, callID string) (Call, error) {
	return e.farCommand(ctx, callID, func(c *fsm.Call, s events.Side) (fsm.CallCommand, error) {
		if s != events.Callee {
			return nil, errcode.Newf(errcode.InvalidState, "call %s: only the far end of an outbound call answers", c.ID)
		}
		return fsm.Answer{}, nil
	})
}

// FarEnded reports that the far end ended the call with reason: Hangup,
// Busy, Rejected, Failed or NoAnswer.
func (e *Engine) FarEnded(ctx context.Context, callID string, reason Reason) (Call, error) {
	return e.farCommand(ctx, callID, func(c *fsm.Call, side events.Side) (fsm.CallCommand, error) {
		switch reason {
		case events.Hangup:
			return fsm.Hangup{By: side}, nil
		case events.Rejected, events.Busy:
			if side != events.Callee {
				return fsm.Hangup{By: side}, nil
			}
			return fsm.Reject{Busy: reason == events.Busy}, nil
		case events.Failed, events.NoAnswer:
			return fsm.Fail{Reason: reason, By: side}, nil
		}
		return nil, errcode.Newf(errcode.InvalidParams, "a far end cannot end a call with reason %q", reason)
	})
}

// FarHold reports that the far end put the call on hold.
func (e *Engine) FarHold(ctx context.Context, callID string) (Call, error) {
	c, err := e.farCommand(ctx, callID, func(c *fsm.Call, side events.Side) (fsm.CallCommand, error) {
		return fsm.Hold{By: side}, nil
	})
	if ref, ok := e.xfer.leg(callID); ok {
		callID = ref.call
	}
	e.holdNotAvailable(ctx, callID, err)
	return c, err
}

// FarResume reports that the far end took its hold off.
func (e *Engine) FarResume(ctx context.Context, callID string) (Call, error) {
	return e.farCommand(ctx, callID, func(c *fsm.Call, side events.Side) (fsm.CallCommand, error) {
		return fsm.Resume{By: side}, nil
	})
}
