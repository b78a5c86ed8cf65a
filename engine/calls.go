package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/internal/actors"
	"github.com/callengine/callengine/internal/aggregate"
)

// DialRequest places a call from a client (C1).
type DialRequest struct {
	From     string // the calling client's id
	Device   string // the device it dials from; optional
	To       string // a client id, a group id, an E.164 number, an extension, a sip: or tel: URI
	CallerID string // optional number to present; one of the organisation's numbers
}

// InboundRequest is a call from outside for a client, reported by an adapter.
type InboundRequest struct {
	From     string // the caller's number (E.164) or URI
	FromName string // the caller's display name
	To       string // the called number, extension or URI
}

// Dial places a call. The destination is resolved before anything is
// journaled: an invalid or unknown destination is an error and no call exists.
// To names a client by its id (as for a transfer), a group by its id, or a
// destination: an E.164 number, an extension or a URI. A call to a client
// rings every device of the client at once; a call to a number outside the
// engine goes to the Adapter. It returns when the call is durable (state
// ringing for a client callee, connecting for an external one).
func (e *Engine) Dial(ctx context.Context, req DialRequest) (Call, error) {
	if err := e.checkOpen(); err != nil {
		return Call{}, err
	}
	if err := e.authorizeClient(ctx, req.From); err != nil {
		return Call{}, err
	}
	if req.From == "" {
		return Call{}, errcode.New(errcode.MissingParameter, "dial needs the calling client (From)")
	}
	caller := e.dir.get(req.From)
	if caller == nil || !caller.Registered() {
		return Call{}, errcode.Newf(errcode.NotFound, "client %s is not registered", req.From)
	}
	if req.Device != "" {
		if _, ok := caller.Device(req.Device); !ok {
			return Call{}, errcode.Newf(errcode.InvalidParams, "client %s has no device %q", req.From, req.Device)
		}
	}
	r := e.router()
	callee, dest, err := e.dialTarget(r, req.To)
	if err != nil {
		return Call{}, err
	}
	if callee == nil {
		if g := r.findGroup(dest.Number); g != nil && dest.Kind != fsm.DestSIPURI {
			return e.dialGroup(ctx, caller, req, dest.Number, g)
		}
		if callee, err = r.route(dest); err != nil {
			return Call{}, err
		}
	}
	callerID, err := r.callerID(caller, req.CallerID, callee == nil)
	if err != nil {
		return Call{}, err
	}
	cmd := fsm.Dial{
		Caller:       events.Party{Client: caller.ID, Number: callerID, Name: caller.Name},
		CallerDevice: req.Device, CallerID: callerID, Destination: req.To,
	}
	if callee != nil {
		if callee.ID == caller.ID {
			return Call{}, errcode.New(errcode.InvalidParams, "a client cannot call itself")
		}
		cmd.Direction = events.Internal
		cmd.Callee = events.Party{Client: callee.ID, Number: dest.Number, Name: callee.Name}
		cmd.Devices = ringableDevices(callee)
		cmd.RingTimeout = e.cfg.RingTimeout
		cmd.VoicemailLimit = callee.VoicemailMax
	} else {
		if e.cfg.Adapter == nil {
			return Call{}, errcode.Newf(errcode.Unavailable, "no adapter reaches %s", req.To)
		}
		cmd.Direction = events.Outbound
		number := dest.Number
		if dest.Kind == fsm.DestSIPURI {
			number = dest.Scheme + ":" + dest.Number + "@" + dest.Host
		}
		cmd.Callee = events.Party{Number: number}
	}
	return e.newCall(ctx, cmd)
}

// dialTarget finds what a Dial's To names, in the order a transfer's
// target is looked up: a client id names that client (the call presents its
// first number or extension; a client no longer registered is not_found),
// a group id that group (returned as a destination of the group's first
// extension or number); anything else is parsed as a destination.
func (e *Engine) dialTarget(r router, to string) (*fsm.Client, fsm.Destination, error) {
	if c := e.dir.get(to); c != nil {
		if !c.Registered() {
			return nil, fsm.Destination{}, errcode.Newf(errcode.NotFound, "client %s is not registered", c.ID)
		}
		return c, fsm.Destination{Raw: to, Kind: fsm.DestExtension, Number: firstOf(c.Numbers, c.Extensions, "")}, nil
	}
	if g := r.findGroup(to); g != nil && g.ID == to {
		// by its id only: a number or extension of the group is parsed
		// below, and the call keeps it as dialled
		return nil, fsm.Destination{Raw: to, Kind: fsm.DestExtension, Number: firstOf(g.Extensions, g.Numbers, to)}, nil
	}
	dest, err := parseDestination(to)
	return nil, dest, err
}

// Inbound places a call from outside to a client (C4). Adapters call it.
func (e *Engine) Inbound(ctx context.Context, req InboundRequest) (Call, error) {
	if err := e.checkOpen(); err != nil {
		return Call{}, err
	}
	if err := e.authorizeAdmin(ctx, "report inbound calls (adapters do)"); err != nil {
		return Call{}, err
	}
	if strings.TrimSpace(req.From) == "" {
		return Call{}, errcode.New(errcode.MissingParameter, "an inbound call needs a caller number")
	}
	dest, err := fsm.ParseDestination(req.To)
	if err != nil {
		return Call{}, err
	}
	from := req.From
	if n, ok := fsm.NormalizeNumber(from); ok {
		from = n
	}
	r := e.router()
	if g := r.findGroup(dest.Number); g != nil && dest.Kind != fsm.DestSIPURI {
		return e.placeGroupCall(ctx, g, fsm.Dial{
			Caller: events.Party{Number: from, Name: req.FromName}, Destination: req.To, Direction: events.Inbound,
			Callee: events.Party{Number: dest.Number, Name: g.Name},
		}, "")
	}
	callee, err := r.route(dest)
	if err != nil {
		return Call{}, err
	}
	if callee == nil {
		return Call{}, errcode.Newf(errcode.NotFound, "no client answers %s", req.To)
	}
	return e.newCall(ctx, fsm.Dial{
		Caller:      events.Party{Number: from, Name: req.FromName},
		Callee:      events.Party{Client: callee.ID, Number: dest.Number, Name: callee.Name},
		Destination: req.To, Direction: events.Inbound,
		Devices: ringableDevices(callee), RingTimeout: e.cfg.RingTimeout,
		VoicemailLimit: callee.VoicemailMax,
	})
}

// dialGroup places a call from a client to a group (T6).
func (e *Engine) dialGroup(ctx context.Context, caller *fsm.Client, req DialRequest, number string, g *fsm.Group) (Call, error) {
	callerID, err := e.router().callerID(caller, req.CallerID, false)
	if err != nil {
		return Call{}, err
	}
	return e.placeGroupCall(ctx, g, fsm.Dial{
		Caller:       events.Party{Client: caller.ID, Number: callerID, Name: caller.Name},
		CallerDevice: req.Device, CallerID: callerID, Destination: req.To, Direction: events.Internal,
		Callee: events.Party{Number: number, Name: g.Name},
	}, caller.ID)
}

// placeGroupCall routes cmd to group g's members and places it.
func (e *Engine) placeGroupCall(ctx context.Context, g *fsm.Group, cmd fsm.Dial, skip string) (Call, error) {
	id := e.cfg.IDs.NewID()
	if err := e.routeGroup(ctx, g.ID, id, &cmd, skip); err != nil {
		return Call{}, err
	}
	c, err := e.newCallID(ctx, id, cmd)
	if err != nil {
		return Call{}, err
	}
	return callView(&c, e.now()), nil
}

func (e *Engine) newCall(ctx context.Context, cmd fsm.Dial) (Call, error) {
	c, err := e.newCallID(ctx, e.cfg.IDs.NewID(), cmd)
	if err != nil {
		return Call{}, err
	}
	return callView(&c, e.now()), nil
}

// newCallID places call id: it starts the call's actor and waits until the
// dial is durable.
func (e *Engine) newCallID(ctx context.Context, id string, cmd fsm.Dial) (fsm.Call, error) {
	initial := fsm.Call{ID: id}
	pid, err := actors.SpawnCall(e.root, e.deps, id, &initial)
	if err != nil {
		return fsm.Call{}, err
	}
	e.live.add(id, pid)
	req := callRequests.Get().(*actors.CallRequest)
	req.Ctx, req.Command, req.NoEvents = ctx, cmd, true
	e.root.Send(pid, req)
	r, ok := await(ctx, req.Reply)
	if !ok {
		// The dial may still become durable: keep the call unless its
		// answer says nothing was written.
		go func() {
			if r := <-req.Reply; r.Err != nil {
				e.dropCall(id, pid)
			}
		}()
		return fsm.Call{}, ctx.Err()
	}
	*req = actors.CallRequest{Reply: req.Reply} // answered: the actor is done with it
	callRequests.Put(req)
	if r.Err != nil {
		e.dropCall(id, pid)
		return fsm.Call{}, r.Err
	}
	return r.State, nil
}

// dropCall takes back a call whose dial journaled nothing: it does not exist.
func (e *Engine) dropCall(id string, pid *actor.PID) {
	e.live.remove(id)
	e.root.Stop(pid)
}

// callRequests recycles call requests with their reply channels: two
// allocations per command otherwise.
var callRequests = sync.Pool{New: func() any { return &actors.CallRequest{Reply: make(chan actors.CallResult, 1)} }}

// await waits for an actor's answer on reply, or for ctx. It reports
// whether the answer came; if not, reply may still be written to later.
func await[T any](ctx context.Context, reply <-chan T) (T, bool) {
	select {
	case r := <-reply:
		return r, true
	case <-ctx.Done():
		var zero T
		return zero, false
	}
}

// ask sends msg to pid and waits for the answer on reply, or for ctx. The
// answer always comes: from the actor, or, if it stopped first, from
// answerGone.
func ask[T any](ctx context.Context, e *Engine, pid *actor.PID, msg any, reply <-chan T) (r T, ok bool) {
	e.root.Send(pid, msg)
	select {
	case r := <-reply:
		return r, true
	case <-ctx.Done():
		return r, false
	}
}

// request sends req to a call actor and waits for the answer or ctx.
// The actor runs cmd, or the command resolve picks from the call's state.
func (e *Engine) request(ctx context.Context, pid *actor.PID, cmd fsm.CallCommand, resolve func(*fsm.Call) (fsm.CallCommand, error)) (Call, error) {
	req := callRequests.Get().(*actors.CallRequest)
	req.Ctx, req.Command, req.Resolve, req.NoEvents = ctx, cmd, resolve, true
	r, ok := ask(ctx, e, pid, req, req.Reply)
	if !ok {
		return Call{}, ctx.Err() // the request may still be answered: not reused
	}
	*req = actors.CallRequest{Reply: req.Reply} // answered: the actor is done with it
	callRequests.Put(req)
	if r.Err != nil {
		return Call{}, r.Err
	}
	return callView(&r.State, e.now()), nil
}

// command runs cmd on a live call.
func (e *Engine) command(ctx context.Context, callID string, cmd fsm.CallCommand) (Call, error) {
	c, err := e.runCommand(ctx, callID, cmd)
	if err != nil {
		e.logRefused(ctx, commandName(cmd), callID, err)
	}
	return c, err
}

func commandName(cmd any) string { return strings.TrimPrefix(fmt.Sprintf("%T", cmd), "fsm.") }

func (e *Engine) runCommand(ctx context.Context, callID string, cmd fsm.CallCommand) (Call, error) {
	if err := e.checkOpen(); err != nil {
		return Call{}, err
	}
	if callID == "" {
		return Call{}, errcode.New(errcode.MissingParameter, "call id is empty")
	}
	pid := e.live.pid(callID)
	if pid == nil {
		return Call{}, e.goneCallError(callID)
	}
	if p, ok := PrincipalOf(ctx); ok && p.Role != RoleSupervisor {
		return e.request(ctx, pid, nil, func(c *fsm.Call) (fsm.CallCommand, error) {
			if err := authorizeCallCommand(p, c, cmd); err != nil {
				return nil, err
			}
			return cmd, nil
		})
	}
	return e.request(ctx, pid, cmd, nil)
}

func (e *Engine) resolveCall(ctx context.Context, callID string, resolve func(*fsm.Call) (fsm.CallCommand, error)) (Call, error) {
	if err := e.checkOpen(); err != nil {
		return Call{}, err
	}
	pid := e.live.pid(callID)
	if pid == nil {
		return Call{}, e.goneCallError(callID)
	}
	if p, ok := PrincipalOf(ctx); ok && p.Role != RoleSupervisor {
		inner := resolve
		resolve = func(c *fsm.Call) (fsm.CallCommand, error) {
			cmd, err := inner(c)
			if err == nil && cmd != nil {
				err = authorizeCallCommand(p, c, cmd)
			}
			if err != nil {
				return nil, err
			}
			return cmd, nil
		}
	}
	return e.request(ctx, pid, nil, resolve)
}

// Answer answers a ringing call from one of the callee's devices; the first
// device to answer wins and every other stops ringing (CL2, C4). A device
// that rang but has left the network since (DisconnectDevice) cannot
// answer: invalid_state.
func (e *Engine) Answer(ctx context.Context, callID, device string) (Call, error) {
	if device == "" {
		return e.command(ctx, callID, fsm.Answer{})
	}
	a := answerChecks.Get().(*answerCheck)
	a.e, a.device = e, device
	c, err := e.resolveCall(ctx, callID, a.fn)
	if err != nil {
		e.logRefused(ctx, "Answer", callID, err)
	}
	if ctx.Err() == nil { // answered: the actor is done with a
		a.e, a.device = nil, ""
		answerChecks.Put(a)
	}
	return c, err
}

// answerCheck refuses the answer of a device that rang but has left the
// network since. Pooled, with its method value made once: an answer is on
// every call's path.
type answerCheck struct {
	e      *Engine
	device string
	fn     func(*fsm.Call) (fsm.CallCommand, error)
}

var answerChecks = sync.Pool{New: func() any {
	a := &answerCheck{}
	a.fn = a.resolve
	return a
}}

func (a *answerCheck) resolve(c *fsm.Call) (fsm.CallCommand, error) {
	if slices.Contains(c.Ringing, a.device) && a.e.deviceLeft(c.Callee.Client, a.device) {
		return nil, errcode.Newf(errcode.InvalidState, "cannot answer call %s on device %s: it is no longer connected", c.ID, a.device)
	}
	return fsm.Answer{Device: a.device}, nil
}

// deviceLeft reports whether client is registered and no longer has device.
func (e *Engine) deviceLeft(client, device string) bool {
	cl := e.dir.get(client)
	if cl == nil || !cl.Registered() {
		return false
	}
	_, ok := cl.Device(device)
	return !ok
}

// Reject declines a call that has not been answered: silently (reason
// rejected), or with a busy signal (reason busy) (C4).
func (e *Engine) Reject(ctx context.Context, callID string, busy bool) (Call, error) {
	return e.command(ctx, callID, fsm.Reject{Busy: busy})
}

// Ignore stops the callee's devices ringing without telling the caller, who
// hears ringing until the ring timeout or until giving up (C4).
func (e *Engine) Ignore(ctx context.Context, callID string) (Call, error) {
	return e.command(ctx, callID, fsm.Ignore{})
}

// Hangup ends a call on behalf of side by: before an answer the caller's
// hangup cancels the call and the callee's rejects it (C5).
func (e *Engine) Hangup(ctx context.Context, callID string, by Side) (Call, error) {
	return e.command(ctx, callID, fsm.Hangup{By: by})
}

// Hold puts a connected call on hold on behalf of side by (C8). Both sides
// may hold at once; the call is connected again when neither does. Where a
// hold cannot apply — the call is not established, parked, or in a
// conference — the error has code hold_not_available, its cause is a
// *fsm.HoldNotAvailable with the reason, and subscribers get a
// CallHoldNotAvailable notice (Seq 0: it is not journaled).
func (e *Engine) Hold(ctx context.Context, callID string, by Side) (Call, error) {
	c, err := e.command(ctx, callID, fsm.Hold{By: by})
	e.holdNotAvailable(ctx, callID, err)
	return c, err
}

// holdNotAvailable tells subscribers why a hold was refused
// (HOLD_NOT_AVAILABLE, C8); nothing is journaled.
func (e *Engine) holdNotAvailable(ctx context.Context, callID string, err error) {
	if err == nil {
		return
	}
	var na *fsm.HoldNotAvailable
	if !errors.As(err, &na) || !e.bus.active() {
		return
	}
	view, verr := e.Call(ctx, callID)
	if verr != nil {
		return
	}
	e.bus.publish(&Event{
		Envelope: events.Envelope{Stream: events.CallStream(callID), Version: view.Version, Type: events.TypeCallHoldNotAvailable,
			Time: e.now(), Schema: events.SchemaVersion, Event: events.CallHoldNotAvailable{By: na.By, Reason: na.Reason}},
		Prev: view.State, State: view.State, Call: &view,
	})
}

// Resume takes side by's hold off.
func (e *Engine) Resume(ctx context.Context, callID string, by Side) (Call, error) {
	return e.command(ctx, callID, fsm.Resume{By: by})
}

// Mute stops the engine forwarding side's audio (C9).
func (e *Engine) Mute(ctx context.Context, callID string, side Side) (Call, error) {
	return e.command(ctx, callID, fsm.Mute{Side: side})
}

// Unmute lets side's audio flow again.
func (e *Engine) Unmute(ctx context.Context, callID string, side Side) (Call, error) {
	return e.command(ctx, callID, fsm.Unmute{Side: side})
}

// Call returns a call by id (C13): from its actor while it lives, folded from
// the journal once it has ended.
func (e *Engine) Call(ctx context.Context, callID string) (Call, error) {
	c, err := e.callState(ctx, callID)
	if err != nil {
		return Call{}, err
	}
	v := callView(&c, e.now())
	if p, ok := PrincipalOf(ctx); ok && v.Ignored && c.SideOf(p.Client) == events.Caller {
		v = v.asCaller() // the caller is not told of the ignore (C4)
	}
	return v, nil
}

// callState returns a call's state: from its actor while it is live, from
// the journal once it ended.
func (e *Engine) callState(ctx context.Context, callID string) (fsm.Call, error) {
	if err := e.checkOpen(); err != nil {
		return fsm.Call{}, err
	}
	if pid := e.live.pid(callID); pid != nil {
		ch := make(chan actors.CallResult, 1)
		r, ok := ask(ctx, e, pid, &actors.GetCall{Reply: ch}, ch) // ended meanwhile: answerGone reads the journal
		if !ok {
			return fsm.Call{}, ctx.Err()
		}
		return r.State, r.Err
	}
	c, err := aggregate.LoadCall(e.journal, callID)
	if err != nil {
		return fsm.Call{}, err
	}
	if c.Status == fsm.NoCall {
		if t, ok, _ := e.journal.Archived(events.CallStream(callID)); ok {
			return fsm.Call{}, errcode.Newf(errcode.NotFound, "call %s was archived to %s (callengine replay reads it)", callID, t.Archive)
		}
		return fsm.Call{}, errcode.Newf(errcode.NotFound, "no call %s", callID)
	}
	return c, nil
}

// Calls returns the live calls a client is on, oldest first.
func (e *Engine) Calls(ctx context.Context, clientID string) ([]Call, error) {
	if err := e.checkOpen(); err != nil {
		return nil, err
	}
	ids := e.live.callsOf(clientID)
	out := make([]Call, 0, len(ids))
	for _, id := range ids {
		c, err := e.Call(ctx, id)
		if err != nil {
			if errcode.CodeOf(err) == errcode.InvalidState || errcode.CodeOf(err) == errcode.NotFound {
				continue // ended meanwhile
			}
			return nil, err
		}
		if c.State.Live() {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b Call) int {
		if c := a.SetupAt.Compare(b.SetupAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// ActiveCalls returns a client's active calls as the SDKs list them: id,
// from, to, state active|held|ringing, direction (C13).
func (e *Engine) ActiveCalls(ctx context.Context, clientID string) ([]ActiveCall, error) {
	calls, err := e.Calls(ctx, clientID)
	if err != nil {
		return nil, err
	}
	out := make([]ActiveCall, len(calls))
	for i := range calls {
		out[i] = activeCall(&calls[i], clientID)
	}
	return out, nil
}
