package engine

import (
	"context"
	"slices"

	"github.com/callengine/callengine/auth"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

// Access control (FEATURES CL3). A context may carry a Principal: the
// client a verified access token names (Authenticate puts it there). A
// command whose context carries one is checked before anything else:
//
//   - an agent controls only its own calls, on its own side — it answers
//     or rejects calls that ring it, holds, mutes, hangs up, records,
//     parks, transfers as the party it is — and only its own client
//     (presence, devices, voicemail, history, sessions);
//   - an agent takes any parked call (the callpark line is shared);
//   - a supervisor controls every call and every client, and alone
//     manages clients and groups.
//
// A refused command is errcode.Forbidden and journals nothing. A context
// without a Principal is the embedding program itself and is trusted.

// Role is a principal's role.
type Role = auth.Role

// Roles.
const (
	RoleAgent      = auth.RoleAgent
	RoleSupervisor = auth.RoleSupervisor
)

// Principal is who sends a command: an authenticated client.
type Principal struct {
	Client string
	Role   Role
	// Token is the id of the access token that authenticated it.
	Token string
}

type principalKey struct{}

// WithPrincipal returns a context that carries p: every command given that
// context is checked against p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalOf returns the principal ctx carries.
func PrincipalOf(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

func forbidden(p Principal, what string) error {
	return errcode.Newf(errcode.Forbidden, "client %s (%s) may not %s", p.Client, p.Role, what)
}

// authorizeClient lets a principal act on client id: itself, or any client
// for a supervisor.
func (e *Engine) authorizeClient(ctx context.Context, id string) error {
	p, ok := PrincipalOf(ctx)
	if !ok || p.Role == RoleSupervisor || p.Client == id {
		return nil
	}
	return forbidden(p, "act for client "+id)
}

// authorizeAdmin lets only a supervisor (or the embedding program) manage
// clients and groups.
func (e *Engine) authorizeAdmin(ctx context.Context, what string) error {
	p, ok := PrincipalOf(ctx)
	if !ok || p.Role == RoleSupervisor {
		return nil
	}
	return forbidden(p, what)
}

// authorizeSide lets a principal act as side s of call c; s == NoSide
// accepts either side.
func authorizeSide(p Principal, c *fsm.Call, s events.Side, what string) error {
	if p.Role == RoleSupervisor {
		return nil
	}
	mine := c.SideOf(p.Client)
	if c.ParkSlot != "" && mine == c.ParkedSide.Other() {
		mine = events.NoSide // the parking party left the call
	}
	if mine != events.NoSide && (s == events.NoSide || s == mine) {
		return nil
	}
	return forbidden(p, what+" call "+c.ID)
}

// authorizeCallCommand checks a command against the call's state, inside
// the call's actor: the check and the decision see the same state.
func authorizeCallCommand(p Principal, c *fsm.Call, cmd fsm.CallCommand) error {
	if p.Role == RoleSupervisor {
		return nil
	}
	switch cmd := cmd.(type) {
	case fsm.Answer:
		if c.Group != "" && c.Callee.Client == "" {
			// A ring-all group call: a member answers from its own
			// devices, named member/device.
			if member, _, ok := fsm.SplitMemberDevice(cmd.Device); ok && member == p.Client && slices.Contains(c.RangMembers, p.Client) {
				return nil
			}
			return forbidden(p, "answer call "+c.ID+" from "+cmd.Device)
		}
		if c.Callee.Client == p.Client {
			return nil
		}
		return forbidden(p, "answer call "+c.ID+": it does not ring it")
	case fsm.Reject, fsm.Ignore:
		if c.Callee.Client == p.Client || c.Status == fsm.Ringing && slices.Contains(c.RangMembers, p.Client) {
			return nil
		}
		return forbidden(p, "decline call "+c.ID+": it does not ring it")
	case fsm.Hangup:
		return authorizeSide(p, c, cmd.By, "hang up as the "+cmd.By.String()+" of")
	case fsm.Hold:
		return authorizeSide(p, c, cmd.By, "hold as the "+cmd.By.String()+" of")
	case fsm.Resume:
		return authorizeSide(p, c, cmd.By, "resume as the "+cmd.By.String()+" of")
	case fsm.Mute:
		return authorizeSide(p, c, cmd.Side, "mute the "+cmd.Side.String()+" of")
	case fsm.Unmute:
		return authorizeSide(p, c, cmd.Side, "unmute the "+cmd.Side.String()+" of")
	case fsm.SendDigits:
		return authorizeSide(p, c, cmd.Side, "send tones as the "+cmd.Side.String()+" of")
	case fsm.StartRecording:
		return authorizeSide(p, c, cmd.By, "record")
	case fsm.StopRecording:
		return authorizeSide(p, c, cmd.By, "stop recording")
	case fsm.Park:
		return authorizeSide(p, c, cmd.By, "park")
	case fsm.Unpark:
		if cmd.Party.Client == p.Client {
			return nil // any client takes a parked call
		}
		return forbidden(p, "unpark call "+c.ID+" for client "+cmd.Party.Client)
	case fsm.RecordLeg:
		return forbidden(p, "record a leg of call "+c.ID) // adapters only
	}
	return authorizeSide(p, c, events.NoSide, "control")
}

// authorizeCall checks, from the call's current view, that the principal
// may act as side s (NoSide: either) of call id.
func (e *Engine) authorizeCall(ctx context.Context, id string, s events.Side, what string) error {
	p, ok := PrincipalOf(ctx)
	if !ok || p.Role == RoleSupervisor {
		return nil
	}
	c, err := e.callState(ctx, id)
	if err != nil {
		return err
	}
	return authorizeSide(p, &c, s, what)
}

// authorizeTransfer lets the transferring party of transfer id (or a
// supervisor) complete or cancel it.
func (e *Engine) authorizeTransfer(ctx context.Context, id string) error {
	p, ok := PrincipalOf(ctx)
	if !ok || p.Role == RoleSupervisor {
		return nil
	}
	t, err := e.Transfer(ctx, id)
	if err != nil {
		return err
	}
	if t.Transferor.Client == p.Client || t.First.Client == p.Client {
		return nil
	}
	return forbidden(p, "complete or cancel transfer "+id)
}
