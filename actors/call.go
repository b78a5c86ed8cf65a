package actors

import (
	"context"
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

// CallRequest asks a call actor to run a command. Exactly one of Command and
// Resolve is set: Resolve picks the command from the call's current state (a
// far end reporting, whose side depends on the call's direction).
type CallRequest struct {
	Ctx     context.Context // nil: background
	Command fsm.CallCommand
	Resolve func(*fsm.Call) (fsm.CallCommand, error)
	Reply   chan CallResult // buffered; answered exactly once
	// Done, when set instead of Reply, is called with the result on the
	// actor's goroutine. It must not block (a transfer actor sends itself a
	// message).
	Done func(CallResult)
}

// CallResult answers a CallRequest or a GetCall.
type CallResult struct {
	Call   fsm.Call          // state after the command (a copy)
	Events []events.Envelope // what the command journaled
	Err    error
}

// GetCall asks a call actor for a copy of its state.
type GetCall struct{ Reply chan CallResult }

type callActor struct {
	deps   *Deps
	id     string
	stream string
	state  fsm.Call
	broken error         // the stream could not be loaded
	timer  deadlineTimer // the ring timeout
}

// SpawnCall starts the actor of call id. With initial set (a new call, or a
// call restored from the journal by the engine), the actor starts from it;
// otherwise — and after every restart by its supervisor — it reads its stream
// back from the journal.
func SpawnCall(root *actor.RootContext, deps *Deps, id string, initial *fsm.Call) (*actor.PID, error) {
	first := initial
	props := deps.props(func() actor.Actor {
		a := &callActor{deps: deps, id: id, stream: CallStream(id)}
		if first != nil {
			a.state = *first
			first = nil
		} else {
			a.state = fsm.Call{ID: id}
			a.broken = a.load()
		}
		return a
	})
	pid, err := root.SpawnNamed(props, CallStream(id))
	if err != nil {
		return nil, errcode.Wrap(errcode.AlreadyExists, err, "call "+id+" is already running")
	}
	return pid, nil
}

func (a *callActor) load() error {
	c, err := LoadCall(a.deps.Journal, a.id)
	if err != nil {
		a.deps.Log.Error("call stream cannot be loaded", slog.String("call", a.id), slog.Any("err", err))
		return err
	}
	a.state = c
	return nil
}

func (a *callActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.armTimer(ctx)
	case *actor.Restarting, *actor.Stopping:
		a.stopTimer()
	case *CallRequest:
		a.handle(ctx, m)
	case *GetCall:
		m.Reply <- CallResult{Call: a.state.Clone(), Err: a.broken}
	case timerFired:
		if !a.timer.fired(m) {
			return
		}
		switch {
		case a.state.Status == fsm.Ringing && m.deadline == a.state.RingDeadline:
			a.handleAt(ctx, &CallRequest{Command: fsm.RingTimeout{}}, m.at)
		case a.state.InVoicemail() && m.deadline == a.state.VoicemailDeadline:
			a.handleAt(ctx, &CallRequest{Command: fsm.VoicemailTimeout{}}, m.at)
		}
	}
}

func (a *callActor) handle(ctx actor.Context, req *CallRequest) { a.handleAt(ctx, req, 0) }

// handleAt runs a request at engine-clock time at (0: now).
func (a *callActor) handleAt(ctx actor.Context, req *CallRequest, at int64) {
	answered := false
	reply := func(r CallResult) {
		if answered {
			return
		}
		answered = true
		if req.Done != nil {
			req.Done(r)
		} else if req.Reply != nil {
			req.Reply <- r
		}
	}
	defer func() {
		if p := recover(); p != nil {
			reply(CallResult{Err: errcode.Newf(errcode.Internal, "call %s failed: %v", a.id, p)})
			panic(p) // let the supervisor restart the actor from the journal
		}
	}()
	if a.broken != nil {
		reply(CallResult{Err: a.broken})
		return
	}
	rctx := req.Ctx
	if rctx == nil {
		rctx = context.Background()
	}
	cmd := req.Command
	if req.Resolve != nil {
		var err error
		if cmd, err = req.Resolve(&a.state); err != nil {
			reply(CallResult{Err: err})
			return
		}
	}
	now := at
	if now == 0 {
		now = a.deps.Clock.Now().UnixNano()
	}
	evs, err := fsm.DecideCall(&a.state, cmd, now)
	if err != nil || len(evs) == 0 {
		reply(CallResult{Call: a.state.Clone(), Err: err})
		return
	}
	// Fold on a copy first: an event the FSM would refuse is never journaled.
	next := a.state
	changes := make([]CallChange, len(evs))
	for i, ev := range evs {
		prev := next.Status
		if err := fsm.ApplyCall(&next, ev, now); err != nil {
			reply(CallResult{Err: errcode.Wrap(errcode.Internal, err, "decision does not fold")})
			return
		}
		changes[i] = CallChange{Prev: prev, Status: next.Status}
	}
	envs, err := Persist(rctx, a.deps.Journal, a.stream, a.state.Version, evs, now, next.Status == fsm.Ended)
	if err != nil {
		if errcode.CodeOf(err) == errcode.Conflict {
			a.broken = a.load() // someone else wrote our stream: take the journal's word
		}
		reply(CallResult{Call: a.state.Clone(), Err: err})
		return
	}
	a.state = next
	for i := range changes {
		changes[i].Envelope = envs[i]
	}
	a.armTimer(ctx) // before anyone hears of the deadline
	a.deps.Publisher.PublishCall(&a.state, changes)
	reply(CallResult{Call: a.state.Clone(), Events: envs})
	if a.state.Status == fsm.Ended {
		ctx.Poison(ctx.Self())
	}
}

// armTimer makes the clock timer match the state's deadline: the ring
// timeout, or the voicemail box's limit.
func (a *callActor) armTimer(ctx actor.Context) {
	want := int64(0)
	if a.state.Status == fsm.Ringing {
		want = a.state.RingDeadline
	} else if a.state.InVoicemail() {
		want = a.state.VoicemailDeadline
	}
	a.timer.set(ctx, a.deps.Clock, want)
}

func (a *callActor) stopTimer() { a.timer.stop() }
