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
func (e *Engine) Dial(ctx context.Context, req DialRequest) (c Call, err error) {
	var cmd fsm.Dial
	if placed, err := e.dialCommand(ctx, &req, &cmd, &c); placed || err != nil {
		return c, err
	}
	err = e.newCallID(ctx, e.cfg.IDs.NewID(), &cmd, &c, nil)
	return c, err
}

// dialCommand checks req and decides the dial it asks for into cmd, which
// Dial places; a call to a group it places itself (placed is then true and
// the call's view in view). Apart from Dial, so that what it works with is
// off the stack while the call is placed.
func (e *Engine) dialCommand(ctx context.Context, req *DialRequest, cmd *fsm.Dial, view *Call) (placed bool, err error) {
	if err := e.checkOpen(); err != nil {
		return false, err
	}
	if err := e.authorizeClient(ctx, req.From); err != nil {
		return false, err
	}
	if req.From == "" {
		return false, errcode.New(errcode.MissingParameter, "dial needs the calling client (From)")
	}
	caller := e.dir.get(req.From)
	if caller == nil || !caller.Registered() {
		return false, errcode.Newf(errcode.NotFound, "client %s is not registered", req.From)
	}
	if req.Device != "" {
		if _, ok := caller.Device(req.Device); !ok {
			return false, errcode.Newf(errcode.InvalidParams, "client %s has no device %q", req.From, req.Device)
		}
	}
	r := e.router()
	callee, dest, err := e.dialTarget(r, req.To)
	if err != nil {
		return false, err
	}
	if callee == nil {
		if g := r.findGroup(dest.Number); g != nil && dest.Kind != fsm.DestSIPURI {
			*view, err = e.dialGroup(ctx, caller, *req, dest.Number, g)
			return err == nil, err
		}
		if callee, err = r.route(dest); err != nil {
			return false, err
		}
	}
	callerID, err := r.callerID(caller, req.CallerID, callee == nil)
	if err != nil {
		return false, err
	}
	*cmd = fsm.Dial{
		Caller:       events.Party{Client: caller.ID, Number: callerID, Name: caller.Name},
		CallerDevice: req.Device, CallerID: callerID, Destination: req.To,
	}
	if callee != nil {
		if callee.ID == caller.ID {
			return false, errcode.New(errcode.InvalidParams, "a client cannot call itself")
		}
		cmd.Direction = events.Internal
		cmd.Callee = events.Party{Client: callee.ID, Number: dest.Number, Name: callee.Name}
		cmd.Devices = ringableDevices(callee)
		cmd.RingTimeout = e.cfg.RingTimeout
		cmd.VoicemailLimit = callee.VoicemailMax
	} else {
		if e.cfg.Adapter == nil {
			return false, errcode.Newf(errcode.Unavailable, "no adapter reaches %s", req.To)
		}
		cmd.Direction = events.Outbound
		number := dest.Number
		if dest.Kind == fsm.DestSIPURI {
			number = dest.Scheme + ":" + dest.Number + "@" + dest.Host
		}
		cmd.Callee = events.Party{Number: number}
	}
	return false, nil
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
	var c Call
	err = e.newCallID(ctx, e.cfg.IDs.NewID(), &fsm.Dial{
		Caller:      events.Party{Number: from, Name: req.FromName},
		Callee:      events.Party{Client: callee.ID, Number: dest.Number, Name: callee.Name},
		Destination: req.To, Direction: events.Inbound,
		Devices: ringableDevices(callee), RingTimeout: e.cfg.RingTimeout,
		VoicemailLimit: callee.VoicemailMax,
	}, &c, nil)
	return c, err
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
	var c Call
	err := e.newCallID(ctx, id, &cmd, &c, nil)
	return c, err
}

// newCallID places call id: it starts the call's actor and waits until the
// dial is durable. Then it writes the call's view into view and its state
// into state, each if not nil (nothing on an error).
func (e *Engine) newCallID(ctx context.Context, id string, cmd *fsm.Dial, view *Call, state *fsm.Call) error {
	pid, err := actors.SpawnNewCall(e.root, e.deps, id)
	if err != nil {
		return err
	}
	e.live.add(id, pid)
	a := callAsks.Get().(*callAsk)
	a.req.Ctx, a.req.Command, a.req.NoEvents = ctx, *cmd, true
	e.root.Send(pid, &a.req)
	if !await(ctx, a.req.Reply, &a.res) {
		// The dial may still become durable: keep the call unless its
		// answer says nothing was written.
		go func() {
			if r := <-a.req.Reply; r.Err != nil {
				e.dropCall(id, pid)
			}
		}()
		return ctx.Err()
	}
	if err = a.res.Err; err != nil {
		e.dropCall(id, pid)
	} else {
		if view != nil {
			callViewInto(view, &a.res.State, e.now())
		}
		if state != nil {
			*state = a.res.State
		}
	}
	a.release()
	return err
}

// dropCall takes back a call whose dial journaled nothing: it does not exist.
func (e *Engine) dropCall(id string, pid *actor.PID) {
	e.live.remove(id)
	e.root.Stop(pid)
}

// callAsk is one request to a call's actor with its reply channel and the
// answer received from it; pooled, since a command is on every call's
// path. The answer — a call's state, hundreds of bytes — is received here
// and read in place: the frames between a command's caller and the actor
// hold pointers, not copies of it, and the goroutine that runs the command
// needs a smaller stack.
type callAsk struct {
	req actors.CallRequest
	res actors.CallResult
}

var callAsks = sync.Pool{New: func() any {
	return &callAsk{req: actors.CallRequest{Reply: make(chan actors.CallResult, 1)}}
}}

// release returns a, answered, to the pool (an unanswered request may still
// be written to: it is never released).
func (a *callAsk) release() {
	a.req = actors.CallRequest{Reply: a.req.Reply}
	a.res = actors.CallResult{}
	callAsks.Put(a)
}

// await waits for an actor's answer on reply, received into *out, or for
// ctx. It reports whether the answer came; if not, reply may still be
// written to later.
func await[T any](ctx context.Context, reply <-chan T, out *T) bool {
	done := ctx.Done()
	if done == nil {
		*out = <-reply
		return true
	}
	return awaitOrDone(done, reply, out)
}

// awaitOrDone is await's select, in a function of its own: a select copies
// the answer through its stack frame, which a context that is never done
// then does without.
func awaitOrDone[T any](done <-chan struct{}, reply <-chan T, out *T) bool {
	select {
	case *out = <-reply:
		return true
	case <-done:
		return false
	}
}

// ask sends msg to pid and waits for the answer on reply, received into
// *out, or for ctx. The answer always comes: from the actor, or, if it
// stopped first, from answerGone.
func ask[T any](ctx context.Context, e *Engine, pid *actor.PID, msg any, reply <-chan T, out *T) bool {
	e.root.Send(pid, msg)
	return await(ctx, reply, out)
}

// request sends a command to a call actor and waits for the answer or ctx;
// it writes the call's view into out, unless it fails. The actor runs cmd,
// or the command resolve picks from the call's state.
func (e *Engine) request(ctx context.Context, pid *actor.PID, cmd fsm.CallCommand, resolve func(*fsm.Call) (fsm.CallCommand, error), out *Call) error {
	a := callAsks.Get().(*callAsk)
	a.req.Ctx, a.req.Command, a.req.Resolve, a.req.NoEvents = ctx, cmd, resolve, true
	if !ask(ctx, e, pid, &a.req, a.req.Reply, &a.res) {
		return ctx.Err() // the request may still be answered: not reused
	}
	err := a.res.Err
	if err == nil {
		callViewInto(out, &a.res.State, e.now())
	}
	a.release()
	return err
}

// command runs cmd on a live call and writes its view into out, unless it
// fails (a refusal is logged).
func (e *Engine) command(ctx context.Context, callID string, cmd fsm.CallCommand, out *Call) error {
	err := e.runCommand(ctx, callID, cmd, out)
	if err != nil {
		e.logRefused(ctx, commandName(cmd), callID, err)
	}
	return err
}

func commandName(cmd any) string { return strings.TrimPrefix(fmt.Sprintf("%T", cmd), "fsm.") }

// runCommand runs cmd on a live call and writes its view into out, unless
// it fails.
func (e *Engine) runCommand(ctx context.Context, callID string, cmd fsm.CallCommand, out *Call) error {
	if err := e.checkOpen(); err != nil {
		return err
	}
	if callID == "" {
		return errcode.New(errcode.MissingParameter, "call id is empty")
	}
	pid := e.live.pid(callID)
	if pid == nil {
		return e.goneCallError(callID)
	}
	if p, ok := PrincipalOf(ctx); ok && p.Role != RoleSupervisor {
		return e.request(ctx, pid, nil, func(c *fsm.Call) (fsm.CallCommand, error) {
			if err := authorizeCallCommand(p, c, cmd); err != nil {
				return nil, err
			}
			return cmd, nil
		}, out)
	}
	return e.request(ctx, pid, cmd, nil, out)
}

// resolveCall runs the command resolve picks from a live call's state and
// writes the call's view into out, unless it fails.
func (e *Engine) resolveCall(ctx context.Context, callID string, resolve func(*fsm.Call) (fsm.CallCommand, error), out *Call) error {
	if err := e.checkOpen(); err != nil {
		return err
	}
	pid := e.live.pid(callID)
	if pid == nil {
		return e.goneCallError(callID)
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
	return e.request(ctx, pid, nil, resolve, out)
}

// Answer answers a ringing call from one of the callee's devices; the first
// device to answer wins and every other stops ringing (CL2, C4). A device
// that rang but has left the network since (DisconnectDevice) cannot
// answer: invalid_state.
func (e *Engine) Answer(ctx context.Context, callID, device string) (c Call, err error) {
	if device == "" {
		err = e.command(ctx, callID, fsm.Answer{}, &c)
		return c, err
	}
	a := answerChecks.Get().(*answerCheck)
	a.e, a.device = e, device
	if err = e.resolveCall(ctx, callID, a.fn, &c); err != nil {
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
func (e *Engine) Reject(ctx context.Context, callID string, busy bool) (c Call, err error) {
	err = e.command(ctx, callID, fsm.Reject{Busy: busy}, &c)
	return c, err
}

// Ignore stops the callee's devices ringing without telling the caller, who
// hears ringing until the ring timeout or until giving up (C4).
func (e *Engine) Ignore(ctx context.Context, callID string) (c Call, err error) {
	err = e.command(ctx, callID, fsm.Ignore{}, &c)
	return c, err
}

// Hangup ends a call on behalf of side by: before an answer the caller's
// hangup cancels the call and the callee's rejects it (C5).
func (e *Engine) Hangup(ctx context.Context, callID string, by Side) (c Call, err error) {
	err = e.command(ctx, callID, fsm.Hangup{By: by}, &c)
	return c, err
}

// Hold puts a connected call on hold on behalf of side by (C8). Both sides
// may hold at once; the call is connected again when neither does. Where a
// hold cannot apply — the call is not established, parked, or in a
// conference — the error has code hold_not_available, its cause is a
// *fsm.HoldNotAvailable with the reason, and subscribers get a
// CallHoldNotAvailable notice (Seq 0: it is not journaled).
func (e *Engine) Hold(ctx context.Context, callID string, by Side) (c Call, err error) {
	if err = e.command(ctx, callID, fsm.Hold{By: by}, &c); err != nil {
		e.holdNotAvailable(ctx, callID, err)
	}
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
func (e *Engine) Resume(ctx context.Context, callID string, by Side) (c Call, err error) {
	err = e.command(ctx, callID, fsm.Resume{By: by}, &c)
	return c, err
}

// Mute stops the engine forwarding side's audio (C9).
func (e *Engine) Mute(ctx context.Context, callID string, side Side) (c Call, err error) {
	err = e.command(ctx, callID, fsm.Mute{Side: side}, &c)
	return c, err
}

// Unmute lets side's audio flow again.
func (e *Engine) Unmute(ctx context.Context, callID string, side Side) (c Call, err error) {
	err = e.command(ctx, callID, fsm.Unmute{Side: side}, &c)
	return c, err
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
		var r actors.CallResult
		if !ask(ctx, e, pid, &actors.GetCall{Reply: ch}, ch, &r) { // ended meanwhile: answerGone reads the journal
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
