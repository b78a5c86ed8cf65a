package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/internal/actors"
	"github.com/callengine/callengine/internal/aggregate"
)

// TransferKind says how a transfer connects the parties (T1–T3, C14).
type TransferKind = events.TransferKind

// The transfer kinds.
const (
	BlindTransfer      = events.Blind
	AttendedTransfer   = events.Attended
	SupervisedTransfer = events.Supervised
	ClickToCallKind    = events.ClickToCall
)

// TransferStatus is the state of a transfer.
type TransferStatus = fsm.TransferStatus

// TransferRequest asks for a transfer of one side of a call.
type TransferRequest struct {
	Call string
	// Side is the side of Call whose party is transferred (the kept
	// party); the other side — a client — is the transferring party.
	Side Side
	// To is the target: a client id, a group id, an extension, an E.164
	// number or a sip:/tel: URI.
	To string
	// InviteTimer bounds how long a supervised transfer lets the target
	// ring before it cancels and resumes the call (0: no limit).
	InviteTimer time.Duration
}

// ClickToCallRequest bridges two parties (C14): the engine calls First,
// and when First answers, calls Second and connects them.
type ClickToCallRequest struct {
	First       string // a client id, or a number or URI outside
	FirstDevice string // optional: ring only this device of the First client
	Second      string // a destination as for Dial
}

// Transfer is a transfer as the engine keeps it.
type Transfer struct {
	ID          string
	Kind        TransferKind
	Status      TransferStatus
	Call        string // the original call
	Kept        Side   // the side of Call whose party is transferred
	First       Party  // click-to-call: the first party
	Target      Party
	Group       string
	Destination string
	Consult     string // the consultation call (click-to-call: the call to the first party)
	NewCall     string // the call that joins the kept party and the target
	Deadline    time.Time
	Reason      TransferReason // why it did not connect the parties (not-answered, not-completed, failed)
	StartedAt   time.Time
	EndedAt     time.Time
	Version     uint64
	// The parties of the original call, as they were when the transfer
	// started: who transfers and who is transferred (empty for a
	// click-to-call).
	Transferor Party
	Transferee Party
}

func transferView(t *fsm.Transfer) Transfer {
	return Transfer{
		ID: t.ID, Kind: t.Kind, Status: t.Status, Call: t.Call, Kept: t.Kept, First: t.First,
		Target: t.Target, Group: t.Group, Destination: t.Destination, Consult: t.Consult, NewCall: t.NewCall,
		Deadline: timeOf(t.Deadline), Reason: TransferReason(t.Reason), StartedAt: timeOf(t.StartedAt), EndedAt: timeOf(t.EndedAt),
		Version: t.Version, Transferor: t.Transferor, Transferee: t.Transferee,
	}
}

// transfers tracks live transfers, the calls linked to them, and where each
// far-end leg is now.
type transfers struct {
	mu     sync.Mutex
	pids   map[string]*actor.PID // live transfer → actor
	byCall map[string]string     // call → the live transfer it belongs to
	linked atomic.Int64          // len(byCall)
	legs   map[string]legRef     // far-end leg → the call and side it is in now
}

type legRef struct {
	call string
	side events.Side
}

func newTransfers() *transfers {
	return &transfers{pids: map[string]*actor.PID{}, byCall: map[string]string{}, legs: map[string]legRef{}}
}

func (x *transfers) link(t *fsm.Transfer, pid *actor.PID) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.pids[t.ID] = pid
	for _, c := range []string{t.Call, t.Consult, t.NewCall} {
		if c != "" {
			x.byCall[c] = t.ID
		}
	}
	x.linked.Store(int64(len(x.byCall)))
}

func (x *transfers) unlink(t *fsm.Transfer) {
	x.mu.Lock()
	defer x.mu.Unlock()
	delete(x.pids, t.ID)
	for _, c := range []string{t.Call, t.Consult, t.NewCall} {
		if x.byCall[c] == t.ID {
			delete(x.byCall, c)
		}
	}
	x.linked.Store(int64(len(x.byCall)))
}

// of returns the actor of the live transfer call belongs to, or nil. Every
// call event asks: with no transfer under way it answers without a lock.
func (x *transfers) of(call string) *actor.PID {
	if x.linked.Load() == 0 {
		return nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if t, ok := x.byCall[call]; ok {
		return x.pids[t]
	}
	return nil
}

func (x *transfers) all() []*actor.PID {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := make([]*actor.PID, 0, len(x.pids))
	for _, p := range x.pids {
		out = append(out, p)
	}
	return out
}

func (x *transfers) pid(id string) *actor.PID {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.pids[id]
}

// trackLegs records the far-end legs that continue in c: they moved here
// from their earlier call. A leg created with c itself needs no entry: a
// report named by c's id goes to c, on its external side.
func (x *transfers) trackLegs(c *fsm.Call) {
	if c.CallerLeg == "" && c.CalleeLeg == "" {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, s := range []events.Side{events.Caller, events.Callee} {
		if leg := c.LegOf(s); leg != "" && leg != c.ID {
			x.legs[leg] = legRef{call: c.ID, side: s}
		}
	}
}

// dropLegs forgets the legs that ended with c.
func (x *transfers) dropLegs(c *fsm.Call) {
	if c.CallerLeg == "" && c.CalleeLeg == "" {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, s := range []events.Side{events.Caller, events.Callee} {
		if leg := c.LegOf(s); leg != "" && leg != c.ID && x.legs[leg].call == c.ID {
			delete(x.legs, leg)
		}
	}
}

func (x *transfers) leg(id string) (legRef, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	r, ok := x.legs[id]
	return r, ok
}

// BlindTransfer sends the party on req.Side of req.Call to req.To (T1). The
// transferring party's call ends with reason transferred and a new call joins
// the kept party and the target (ringing the target). A target that cannot
// be reached — an unknown agent, an invalid number, a group with nobody
// available — is an error with code transfer_failed, and nothing changes.
// It returns when the transfer is over.
func (e *Engine) BlindTransfer(ctx context.Context, req TransferRequest) (Transfer, error) {
	return e.transfer(ctx, events.Blind, req)
}

// AttendedTransfer starts a warm transfer (T2): the call is held by the
// transferring party and a consultation call to req.To is placed. Complete
// it with CompleteTransfer once the target answered, or CancelTransfer; a
// consultation that is busy or not answered resumes the call by itself.
func (e *Engine) AttendedTransfer(ctx context.Context, req TransferRequest) (Transfer, error) {
	return e.transfer(ctx, events.Attended, req)
}

// SupervisedTransfer calls the target first and connects it to the kept
// party only if it answers within req.InviteTimer (0: no limit); otherwise
// the consultation is canceled and the call resumed (T3). The timer is part
// of the journal: it survives a restart.
func (e *Engine) SupervisedTransfer(ctx context.Context, req TransferRequest) (Transfer, error) {
	return e.transfer(ctx, events.Supervised, req)
}

// CompleteTransfer connects the kept party to the target of an attended
// transfer whose target answered; both of the transferring party's calls
// end with reason transferred (WARM_COMPLETED).
func (e *Engine) CompleteTransfer(ctx context.Context, id string) (Transfer, error) {
	return e.transferIntent(ctx, id, fsm.CompleteIntent)
}

// CancelTransfer hangs up the consultation and resumes the original call
// (WARM_CANCELED).
func (e *Engine) CancelTransfer(ctx context.Context, id string) (Transfer, error) {
	return e.transferIntent(ctx, id, fsm.CancelIntent)
}

// Transfer returns a transfer, live or over.
func (e *Engine) Transfer(ctx context.Context, id string) (Transfer, error) {
	if err := e.checkOpen(); err != nil {
		return Transfer{}, err
	}
	if pid := e.xfer.pid(id); pid != nil {
		reply := make(chan actors.TransferResult, 1)
		var r actors.TransferResult
		if !ask(ctx, e, pid, &actors.GetTransfer{Reply: reply}, reply, &r) {
			return Transfer{}, ctx.Err()
		}
		if r.Err == nil && r.Transfer.Status != fsm.NoTransfer {
			return transferView(&r.Transfer), nil
		}
	}
	t, err := aggregate.LoadTransfer(e.journal, id)
	if err != nil {
		return Transfer{}, err
	}
	if t.Status == fsm.NoTransfer {
		return Transfer{}, errcode.Newf(errcode.NotFound, "no transfer %s", id)
	}
	return transferView(&t), nil
}

// ClickToCall bridges two parties (C14): the engine calls req.First; when it
// answers, it calls req.Second and connects the two. It returns once the
// first call rings; the transfer's events tell the rest.
func (e *Engine) ClickToCall(ctx context.Context, req ClickToCallRequest) (Transfer, error) {
	if err := e.checkOpen(); err != nil {
		return Transfer{}, err
	}
	if err := e.authorizeClient(ctx, req.First); err != nil {
		return Transfer{}, err
	}
	if req.First == "" || req.Second == "" {
		return Transfer{}, errcode.New(errcode.MissingParameter, "click-to-call needs two parties")
	}
	first, fgroup, fdest, err := e.router().resolveTarget(req.First)
	if err != nil {
		return Transfer{}, err
	}
	if fgroup != "" {
		return Transfer{}, errcode.New(errcode.InvalidParams, "the first party of a click-to-call is a client or a number, not a group")
	}
	if req.FirstDevice != "" {
		c := e.dir.get(first.Client)
		if c == nil {
			return Transfer{}, errcode.New(errcode.InvalidParams, "a device needs a client as the first party")
		}
		if _, ok := c.Device(req.FirstDevice); !ok {
			return Transfer{}, errcode.Newf(errcode.InvalidParams, "client %s has no device %q", c.ID, req.FirstDevice)
		}
	}
	first.Number = firstNonEmpty(first.Number, fdest)
	target, group, dest, err := e.router().resolveTarget(req.Second)
	if err != nil {
		return Transfer{}, err
	}
	if target.Client != "" && target.Client == first.Client || target.Client == "" && first.Client == "" && target.Number == first.Number {
		return Transfer{}, errcode.New(errcode.InvalidParams, "a click-to-call joins two different parties")
	}
	ev := events.TransferInitiated{
		Kind: events.ClickToCall, First: first, FirstDevice: req.FirstDevice,
		Target: target, Group: group, Destination: dest,
	}
	return e.startTransfer(ctx, ev)
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (e *Engine) transfer(ctx context.Context, kind events.TransferKind, req TransferRequest) (Transfer, error) {
	if err := e.checkOpen(); err != nil {
		return Transfer{}, err
	}
	if req.Side.Valid() {
		if err := e.authorizeCall(ctx, req.Call, req.Side.Other(), "transfer"); err != nil {
			return Transfer{}, err
		}
	}
	if req.Call == "" {
		return Transfer{}, errcode.New(errcode.MissingParameter, "a transfer needs the call")
	}
	if !req.Side.Valid() {
		return Transfer{}, errcode.Newf(errcode.InvalidParams, "side must be caller or callee, not %d", req.Side)
	}
	if req.To == "" {
		return Transfer{}, errcode.New(errcode.MissingParameter, "a transfer needs a target (To)")
	}
	if req.InviteTimer < 0 || req.InviteTimer != 0 && kind != events.Supervised {
		return Transfer{}, errcode.New(errcode.InvalidParams, "an invite timer is for supervised transfers, and not negative")
	}
	c, err := e.Call(ctx, req.Call)
	if err != nil {
		return Transfer{}, err
	}
	if c.State != Connected && c.State != Held {
		return Transfer{}, errcode.Newf(errcode.InvalidState, "cannot transfer: call %s is %s", c.ID, c.State)
	}
	if c.ParkSlot != "" || c.Conference != "" {
		return Transfer{}, errcode.Newf(errcode.InvalidState, "cannot transfer: call %s is parked or in a conference", c.ID)
	}
	if c.InVoicemail {
		return Transfer{}, errcode.Newf(errcode.InvalidState, "cannot transfer: call %s is in voicemail", c.ID)
	}
	by := req.Side.Other()
	transferor := c.Caller
	kept := c.Callee
	if by == Callee {
		transferor, kept = c.Callee, c.Caller
	}
	if transferor.Client == "" {
		return Transfer{}, errcode.Newf(errcode.InvalidParams, "the %s of call %s is outside the engine: only a client transfers", by, c.ID)
	}
	target, group, dest, err := e.router().resolveTarget(req.To)
	if err != nil {
		return Transfer{}, err
	}
	if target.Client != "" && (target.Client == transferor.Client || target.Client == kept.Client) {
		return Transfer{}, errcode.Wrap(errcode.TransferFailed, errcode.Newf(errcode.InvalidParams, "client %s is already on call %s", target.Client, c.ID), "transfer failed")
	}
	ev := events.TransferInitiated{
		Kind: kind, Call: c.ID, Kept: req.Side, Target: target, Group: group, Destination: dest,
		Transferor: transferor, Transferee: kept,
	}
	if req.InviteTimer > 0 {
		ev.Deadline = e.now() + int64(req.InviteTimer)
	}
	return e.startTransfer(ctx, ev)
}

// startTransfer gives the transfer its ids, starts its actor and waits for
// its first stable point.
func (e *Engine) startTransfer(ctx context.Context, ev events.TransferInitiated) (Transfer, error) {
	id := e.cfg.IDs.NewID()
	if ev.Kind != events.Blind && ev.Consult == "" {
		ev.Consult = e.cfg.IDs.NewID() // TransferToCall names an existing call
	}
	ev.NewCall = e.cfg.IDs.NewID()
	if err := fsm.CheckTransferInitiated(ev); err != nil {
		return Transfer{}, err
	}
	t := fsm.Transfer{ID: id, TransferInitiated: ev}
	e.xfer.mu.Lock()
	for _, c := range []string{ev.Call, ev.Consult} {
		if other, busy := e.xfer.byCall[c]; busy && c != "" {
			e.xfer.mu.Unlock()
			return Transfer{}, errcode.Newf(errcode.Conflict, "call %s is already in transfer %s", c, other)
		}
	}
	e.xfer.mu.Unlock()
	pid, err := actors.SpawnTransfer(e.root, e.deps, transferHost{e}, id)
	if err != nil {
		return Transfer{}, err
	}
	e.xfer.link(&t, pid)
	reply := make(chan actors.TransferResult, 1)
	e.root.Send(pid, &actors.TransferRequest{Ctx: ctx, Initiate: &ev, Reply: reply})
	var r actors.TransferResult
	if !await(ctx, reply, &r) {
		return Transfer{}, ctx.Err()
	}
	if r.Err != nil && r.Transfer.Version == 0 {
		e.xfer.unlink(&t)
		e.root.Stop(pid)
		return Transfer{}, r.Err
	}
	return transferView(&r.Transfer), r.Err
}

func (e *Engine) transferIntent(ctx context.Context, id string, in fsm.Intent) (Transfer, error) {
	if err := e.checkOpen(); err != nil {
		return Transfer{}, err
	}
	if err := e.authorizeTransfer(ctx, id); err != nil {
		return Transfer{}, err
	}
	pid := e.xfer.pid(id)
	if pid == nil {
		t, err := e.Transfer(ctx, id)
		if err != nil {
			return Transfer{}, err
		}
		return t, errcode.Newf(errcode.InvalidState, "transfer %s is %s", id, t.Status)
	}
	reply := make(chan actors.TransferResult, 1)
	// Reached its outcome meanwhile: answerGone says what it is.
	var r actors.TransferResult
	if !ask(ctx, e, pid, &actors.TransferRequest{Ctx: ctx, Intent: in, Reply: reply}, reply, &r) {
		return Transfer{}, ctx.Err()
	}
	return transferView(&r.Transfer), r.Err
}

// transferHost is the engine as transfer actors see it.
type transferHost struct{ e *Engine }

func (h transferHost) PlaceCall(ctx context.Context, id, transfer string, plan fsm.DialPlan) (fsm.Call, error) {
	e := h.e
	cmd := fsm.Dial{
		Caller: plan.Caller, CallerDevice: plan.CallerDevice, CallerLeg: plan.CallerLeg, CallerID: plan.Caller.Number,
		Callee: plan.Callee, CalleeLeg: plan.CalleeLeg, Destination: plan.Destination, Origin: plan.Origin,
		Transfer: transfer, Connected: plan.Connected, AnsweredDevice: plan.AnsweredDevice, Group: plan.Group,
	}
	if !plan.Connected {
		switch {
		case plan.Group != "":
			if err := e.routeGroup(ctx, plan.Group, id, &cmd, plan.Caller.Client); err != nil {
				return fsm.Call{}, err
			}
		case plan.Callee.Client != "":
			c := e.dir.get(plan.Callee.Client)
			if c == nil || !c.Registered() {
				return fsm.Call{}, errcode.Newf(errcode.NotFound, "client %s is not registered", plan.Callee.Client)
			}
			cmd.Devices = ringableDevices(c)
			if plan.Devices != nil {
				cmd.Devices = plan.Devices
			}
			cmd.RingTimeout = e.cfg.RingTimeout
		default:
			if e.cfg.Adapter == nil {
				return fsm.Call{}, errcode.Newf(errcode.Unavailable, "no adapter reaches %s", plan.Callee.Number)
			}
		}
	}
	cmd.Direction = fsm.PartiesDirection(cmd.Caller, cmd.Callee, cmd.Group, cmd.Origin)
	var c fsm.Call
	if err := e.newCallID(ctx, id, &cmd, nil, &c); err != nil {
		return fsm.Call{}, err
	}
	return c, nil
}

func (h transferHost) CommandCall(id string, cmd fsm.CallCommand, done func(actors.CallResult)) {
	e := h.e
	pid := e.live.pid(id)
	if pid == nil {
		c, err := aggregate.LoadCall(e.journal, id)
		if err == nil {
			err = e.goneCallError(id)
		}
		done(actors.CallResult{State: c, Err: err})
		return
	}
	e.root.Send(pid, &actors.CallRequest{Command: cmd, Done: done})
}

// TransferDone unlinks the transfer once its outcome is published (the
// publisher still needs its parties for the outcome event).
func (h transferHost) TransferDone(t *fsm.Transfer) { h.e.xfer.unlink(t) }

// restoreTransfers starts the actor of every live transfer; each reads its
// calls from the journal and carries on.
func (e *Engine) restoreTransfers(ids []string) error {
	for _, id := range ids {
		t, err := aggregate.LoadTransfer(e.journal, id)
		if err != nil {
			return err
		}
		pid, err := actors.SpawnTransfer(e.root, e.deps, transferHost{e}, id)
		if err != nil {
			return err
		}
		e.xfer.link(&t, pid)
		// Wait until it has read its calls and taken its first steps, so
		// that Open returns with every transfer timer armed.
		reply := make(chan actors.TransferResult, 1)
		var r actors.TransferResult
		ask(context.Background(), e, pid, &actors.GetTransfer{Reply: reply}, reply, &r)
	}
	return nil
}

// GetTransfer is Transfer.
//
// Deprecated: use Transfer; lookups are named after what they return.
func (e *Engine) GetTransfer(ctx context.Context, id string) (Transfer, error) {
	return e.Transfer(ctx, id)
}
