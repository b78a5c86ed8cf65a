package engine

import (
	"context"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

// TransferToCallRequest asks to connect the kept party of one call to the
// other party of a second call of the same transferring client: an
// attended transfer whose consultation the client placed (or took) by
// itself, as a SIP phone does before a REFER with Replaces (RFC 5589).
type TransferToCallRequest struct {
	Call string
	// Side is the side of Call whose party is transferred (the kept
	// party); the other side — a client — is the transferring party.
	Side Side
	// Consult is the transferring client's other call, answered: its
	// other party is the target. The client may be its caller or callee.
	Consult string
}

// TransferToCall completes an attended transfer between two existing
// calls of one client (T2): it journals TransferInitiated (kind attended,
// Consult naming the existing call, the target its other party), then
// TransferAnswered, and completes it as CompleteTransfer does — the new
// call joins the kept party and the target, connected; both of the
// transferring client's calls end transferred; TransferCompleted. It
// returns when the transfer is over. The refusals are those of
// AttendedTransfer, and: no Consult is missing_parameter; a consultation
// that is the call itself, or where the transferring client is not a
// party, is invalid_params; one that is not connected or held, or is
// parked or in a conference, is invalid_state; one already in a transfer
// is conflict. Nothing is journaled when it is refused.
func (e *Engine) TransferToCall(ctx context.Context, req TransferToCallRequest) (Transfer, error) {
	if err := e.checkOpen(); err != nil {
		return Transfer{}, err
	}
	if req.Side.Valid() {
		if err := e.authorizeCall(ctx, req.Call, req.Side.Other(), "transfer"); err != nil {
			return Transfer{}, err
		}
	}
	if req.Call == "" || req.Consult == "" {
		return Transfer{}, errcode.New(errcode.MissingParameter, "a transfer to a call needs the call and the consultation")
	}
	if !req.Side.Valid() {
		return Transfer{}, errcode.Newf(errcode.InvalidParams, "side must be caller or callee, not %d", req.Side)
	}
	if req.Call == req.Consult {
		return Transfer{}, errcode.New(errcode.InvalidParams, "the consultation must be another call")
	}
	x, err := e.callState(ctx, req.Call)
	if err != nil {
		return Transfer{}, err
	}
	z, err := e.callState(ctx, req.Consult)
	if err != nil {
		return Transfer{}, err
	}
	for _, c := range []*fsm.Call{&x, &z} {
		if c.Status != fsm.Connected && c.Status != fsm.Held {
			return Transfer{}, errcode.Newf(errcode.InvalidState, "cannot transfer: call %s is %s", c.ID, c.Status)
		}
		if c.ParkSlot != "" || c.Conference != "" || c.InVoicemail() {
			return Transfer{}, errcode.Newf(errcode.InvalidState, "cannot transfer: call %s is parked, in a conference or in voicemail", c.ID)
		}
	}
	by := req.Side.Other()
	transferor, kept := x.Party(by), x.Party(req.Side)
	if transferor.Client == "" {
		return Transfer{}, errcode.Newf(errcode.InvalidParams, "the %s of call %s is outside the engine: only a client transfers", by, x.ID)
	}
	zBy := z.SideOf(transferor.Client)
	if zBy == events.NoSide || z.Party(zBy.Other()).Client == transferor.Client {
		return Transfer{}, errcode.Newf(errcode.InvalidParams, "client %s is not one party of call %s", transferor.Client, z.ID)
	}
	if err := e.authorizeCall(ctx, z.ID, zBy, "transfer"); err != nil {
		return Transfer{}, err
	}
	target := z.Party(zBy.Other())
	if target.Client != "" && target.Client == kept.Client {
		return Transfer{}, errcode.Wrap(errcode.TransferFailed, errcode.Newf(errcode.InvalidParams, "client %s is already on call %s", target.Client, x.ID), "transfer failed")
	}
	ev := events.TransferInitiated{
		Kind: events.Attended, Call: x.ID, Kept: req.Side, Target: target, Destination: z.Destination,
		Consult: z.ID, Transferor: transferor, Transferee: kept,
	}
	if zBy == events.Caller {
		ev.Group = z.Group
	} else {
		ev.Destination = ""
	}
	if ev.Target.Client == "" && ev.Target.Number == "" && ev.Group == "" {
		return Transfer{}, errcode.Newf(errcode.InvalidParams, "the other party of call %s has no client or number", z.ID)
	}
	t, err := e.startTransfer(ctx, ev)
	if err != nil {
		return t, err
	}
	if t.Status != fsm.Answered {
		return t, errcode.Newf(errcode.InvalidState, "transfer %s is %s", t.ID, t.Status)
	}
	return e.CompleteTransfer(ctx, t.ID)
}
