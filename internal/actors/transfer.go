package actors

import (
	"context"
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/internal/aggregate"
)

// TransferHost is what a transfer actor asks of the engine.
type TransferHost interface {
	// PlaceCall places call id for transfer as plan says and returns when
	// the call is durable. The call is new: its actor is not running yet,
	// so waiting for it cannot deadlock.
	PlaceCall(ctx context.Context, id, transfer string, plan fsm.DialPlan) (fsm.Call, error)
	// CommandCall sends cmd to call id without waiting; done is called
	// once with the result (at once, with an error, for a call not live).
	CommandCall(id string, cmd fsm.CallCommand, done func(CallResult))
	// TransferDone tells the engine the transfer reached its outcome.
	TransferDone(t *fsm.Transfer)
}

// TransferRequest asks a transfer actor to start (Initiate) or to complete or
// cancel (Intent). Reply is answered when the transfer has nothing left to do
// until something else happens: a blind transfer when it is over, an
// attended one when the consultation rings.
type TransferRequest struct {
	Ctx      context.Context
	Initiate *events.TransferInitiated
	Intent   fsm.Intent
	Reply    chan TransferResult // buffered
}

// TransferResult answers a TransferRequest or a GetTransfer.
type TransferResult struct {
	Transfer fsm.Transfer
	Err      error
}

// GetTransfer asks a transfer actor for a copy of its state.
type GetTransfer struct{ Reply chan TransferResult }

// CallChanged tells a transfer actor that one of its calls changed; the
// engine sends it for every event of a call linked to a live transfer.
type CallChanged struct{ Call fsm.Call }

type commandDone struct {
	call   string
	result CallResult
}

// maxFailures is how many commands in a row may fail before the transfer
// gives up with TransferFailed.
const maxFailures = 3

type transferActor struct {
	deps    *Deps
	host    TransferHost
	id      string
	stream  string
	state   fsm.Transfer
	calls   map[string]*fsm.Call
	intent  fsm.Intent
	reason  string // why a FailIntent was set
	busy    bool   // a command is out
	fails   int
	waiters []chan TransferResult
	timer   deadlineTimer // the supervised transfer's invite timer
	broken  error
	done    bool
}

// SpawnTransfer starts the actor of transfer id: a new one (initial nil and
// no stream yet), or one restored from the journal. It reads its calls from
// the journal when it starts, and carries on from where the journal says it
// was.
func SpawnTransfer(root *actor.RootContext, deps *Deps, host TransferHost, id string) (*actor.PID, error) {
	props := deps.props(func() actor.Actor {
		return &transferActor{deps: deps, host: host, id: id, stream: events.TransferStream(id)}
	}, true)
	pid, err := root.SpawnNamed(props, events.TransferStream(id))
	if err != nil {
		return nil, errcode.Wrap(errcode.AlreadyExists, err, "transfer "+id+" is already running")
	}
	return pid, nil
}

func (a *transferActor) load() {
	t, err := aggregate.LoadTransfer(a.deps.Journal, a.id)
	if err != nil {
		a.deps.Log.Error("transfer stream cannot be loaded", slog.String("transfer", a.id), slog.Any("err", err))
		a.broken = err
		return
	}
	a.state = t
	a.loadCalls()
}

// loadCalls reads the transfer's calls from the journal; notifications that
// come later carry newer versions.
func (a *transferActor) loadCalls() {
	if a.calls == nil {
		a.calls = map[string]*fsm.Call{}
	}
	for _, id := range []string{a.state.Call, a.state.Consult, a.state.NewCall} {
		if id == "" {
			continue
		}
		c, err := aggregate.LoadCall(a.deps.Journal, id)
		if err != nil {
			a.broken = err
			return
		}
		a.see(&c)
	}
}

// see keeps the newest state of a call.
func (a *transferActor) see(c *fsm.Call) {
	if c.ID == "" || c.Status == fsm.NoCall {
		return
	}
	if old, ok := a.calls[c.ID]; ok && old.Version >= c.Version {
		return
	}
	cp := c.Clone()
	a.calls[c.ID] = &cp
}

func (a *transferActor) lookup(id string) (*fsm.Call, bool) {
	c, ok := a.calls[id]
	return c, ok
}

func (a *transferActor) Receive(ctx actor.Context) {
	defer func() {
		if p := recover(); p != nil {
			// Answer everyone waiting, then let the supervisor restart the
			// actor: it reads its stream and its calls back and goes on.
			err := errcode.Newf(errcode.Internal, "transfer %s failed: %v", a.id, p)
			a.answer(err)
			if r, ok := ctx.Message().(*TransferRequest); ok {
				select {
				case r.Reply <- TransferResult{Transfer: a.state.Clone(), Err: err}:
				default:
				}
			}
			panic(p)
		}
	}()
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.calls = map[string]*fsm.Call{}
		a.load()
		a.advance(ctx, 0)
	case *actor.Restarting, *actor.Stopping:
		a.stopTimer()
	case *TransferRequest:
		a.request(ctx, m)
	case *GetTransfer:
		m.Reply <- TransferResult{Transfer: a.state.Clone(), Err: a.broken}
	case *CallChanged:
		a.see(&m.Call)
		a.advance(ctx, 0)
	case commandDone:
		a.busy = false
		if m.result.State.ID != "" {
			a.see(&m.result.State)
		}
		if m.result.Err != nil {
			a.fails++
			a.deps.Log.Warn("transfer step refused", slog.String("transfer", a.id), slog.String("call", m.call), slog.Any("err", m.result.Err))
			if a.fails >= maxFailures {
				a.record(ctx, events.TransferFailed{Reason: m.result.Err.Error()}, 0)
			}
		} else {
			a.fails = 0
		}
		a.advance(ctx, 0)
	case timerFired:
		if a.timer.fired(m) {
			a.advance(ctx, m.at)
		}
	}
}

func (a *transferActor) request(ctx actor.Context, req *TransferRequest) {
	fail := func(err error) { req.Reply <- TransferResult{Transfer: a.state.Clone(), Err: err} }
	if a.broken != nil {
		fail(a.broken)
		return
	}
	if req.Initiate != nil {
		if a.state.Status != fsm.NoTransfer {
			fail(errcode.Newf(errcode.AlreadyExists, "transfer %s already exists", a.id))
			return
		}
		if err := fsm.CheckTransferInitiated(*req.Initiate); err != nil {
			fail(err)
			return
		}
		if err := a.record(ctx, *req.Initiate, 0); err != nil {
			fail(err)
			return
		}
		a.loadCalls()
	} else {
		if err := a.checkIntent(req.Intent); err != nil {
			fail(err)
			return
		}
		a.intent = req.Intent
	}
	a.waiters = append(a.waiters, req.Reply)
	a.advance(ctx, 0)
}

func (a *transferActor) checkIntent(in fsm.Intent) error {
	t := &a.state
	if t.Status == fsm.NoTransfer {
		return errcode.Newf(errcode.NotFound, "transfer %s does not exist", a.id)
	}
	if t.Status.Done() {
		return errcode.Newf(errcode.InvalidState, "transfer %s is %s", a.id, t.Status)
	}
	switch in {
	case fsm.CompleteIntent:
		if t.Kind != events.Attended {
			return errcode.Newf(errcode.InvalidState, "a %s transfer completes by itself", t.Kind)
		}
		if t.Status != fsm.Answered {
			return errcode.Newf(errcode.InvalidState, "cannot complete transfer %s: the target has not answered (it is %s)", a.id, t.Status)
		}
	case fsm.CancelIntent:
		if t.Kind != events.Attended && t.Kind != events.Supervised {
			return errcode.Newf(errcode.InvalidState, "a %s transfer cannot be canceled", t.Kind)
		}
	default:
		return errcode.Newf(errcode.InvalidParams, "unknown transfer intent %d", in)
	}
	return nil
}

// advance runs steps until the transfer must wait for a call, a timer or a
// command, or reaches its outcome.
func (a *transferActor) advance(ctx actor.Context, at int64) {
	for range 64 {
		if a.busy || a.broken != nil || a.done {
			return
		}
		if a.state.Status.Done() {
			a.finish(ctx)
			return
		}
		now := at
		if now == 0 {
			now = a.deps.Clock.Now().UnixNano()
		}
		intent := a.intent
		if a.reason != "" {
			intent = fsm.FailIntent
		}
		step := fsm.NextTransferStep(&a.state, a.lookup, intent, now)
		switch step.Kind {
		case fsm.StepWait:
			a.armTimer(ctx)
			a.answer(nil)
			return
		case fsm.StepRecord:
			ev := step.Event
			if f, ok := ev.(events.TransferFailed); ok && f.Reason == "" {
				ev = events.TransferFailed{Reason: a.reason}
			}
			if err := a.record(ctx, ev, now); err != nil {
				a.answer(err)
				return
			}
		case fsm.StepDial:
			c, err := a.host.PlaceCall(context.Background(), step.Call, a.id, step.Dial)
			if err != nil {
				a.deps.Log.Warn("transfer cannot place a call", slog.String("transfer", a.id), slog.String("call", step.Call), slog.Any("err", err))
				if a.reason != "" || a.state.Kind == events.Blind || step.Call == a.state.Consult && a.state.Kind == events.ClickToCall {
					if err := a.record(ctx, events.TransferFailed{Reason: err.Error()}, now); err != nil {
						a.answer(err)
						return
					}
					continue
				}
				a.reason = err.Error()
				continue
			}
			a.see(&c)
		case fsm.StepCommand:
			a.busy = true
			self, root, call := ctx.Self(), ctx.ActorSystem().Root, step.Call
			a.host.CommandCall(call, step.Command, func(r CallResult) {
				root.Send(self, commandDone{call: call, result: r})
			})
			return
		}
	}
	a.deps.Log.Error("transfer does not settle", slog.String("transfer", a.id))
}

// record journals one transfer event, folds it and publishes it.
func (a *transferActor) record(ctx actor.Context, ev events.Event, now int64) error {
	if now == 0 {
		now = a.deps.Clock.Now().UnixNano()
	}
	changes, err := aggregate.Transfers.Commit(context.Background(), a.deps.Journal, a.stream, &a.state, []events.Event{ev}, now)
	if err != nil {
		if errcode.CodeOf(err) == errcode.Conflict {
			a.load()
		}
		return err
	}
	a.deps.Publisher.PublishTransfer(&a.state, aggregate.Envelopes(changes))
	return nil
}

func (a *transferActor) answer(err error) {
	for _, w := range a.waiters {
		w <- TransferResult{Transfer: a.state.Clone(), Err: err}
	}
	a.waiters = a.waiters[:0]
}

func (a *transferActor) finish(ctx actor.Context) {
	a.done = true
	a.stopTimer()
	a.answer(nil)
	a.host.TransferDone(&a.state)
	ctx.Poison(ctx.Self())
}

// armTimer keeps a clock timer on the supervised transfer's invite deadline.
func (a *transferActor) armTimer(ctx actor.Context) {
	want := int64(0)
	if a.state.Status == fsm.Consulting && a.state.Deadline != 0 {
		want = a.state.Deadline
	}
	a.timer.set(ctx, a.deps.Clock, want)
}

func (a *transferActor) stopTimer() { a.timer.stop() }
