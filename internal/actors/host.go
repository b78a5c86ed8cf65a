package actors

import (
	"context"
	"log/slog"
	"strings"
	"sync"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/internal/aggregate"
)

// Machine is what the host needs to run one kind of aggregate as actors:
// the kind (fold, copy, status, end), the decision, the deadline its state
// holds and the command that deadline runs, and who hears of its events.
type Machine[S, C any, T comparable] struct {
	*aggregate.Kind[S, T]
	// Decide turns a command into events; buf is space the result may use
	// (fsm.DecideCallInto).
	Decide func(buf []events.Event, s *S, cmd C, now int64) ([]events.Event, error)
	// Deadline is the timer the state holds, engine-clock Unix ns (0:
	// none); nil for a kind without timers.
	Deadline func(*S) int64
	// Timeout is the command a fired deadline runs, if the state still
	// waits for that deadline.
	Timeout func(s *S, deadline int64) (C, bool)
	// Publish hears of the durable changes after the state took them and
	// the timer was set, before the caller is answered.
	Publish func(*S, []aggregate.Change[T])
	// StopAtEnd stops the actor once its stream ended (a client's does
	// not: it may register again).
	StopAtEnd bool
}

// Request asks an aggregate's actor to run a command. Exactly one of
// Command and Resolve is set: Resolve picks the command from the current
// state (a far end reporting, whose side depends on the call's direction; a
// command checked against a principal).
type Request[S, C any] struct {
	Ctx     context.Context // nil: background
	Command C
	Resolve func(*S) (C, error)
	Reply   chan Result[S] // buffered; answered exactly once
	// Done, when set instead of Reply, is called with the result on the
	// actor's goroutine. It must not block (a transfer actor sends itself
	// a message).
	Done func(Result[S])
	// NoEvents: the answer need not carry the journaled envelopes (the
	// engine's commands answer with the state alone).
	NoEvents bool
}

// Result answers a Request or a Get.
type Result[S any] struct {
	State  S                 // the state after the command (a copy)
	Events []events.Envelope // what the command journaled
	Err    error
}

// Get asks an aggregate's actor for a copy of its state.
type Get[S any] struct{ Reply chan Result[S] }

func (r *Request[S, C]) answer(res *Result[S]) {
	if r.Done != nil {
		r.Done(*res)
	} else if r.Reply != nil {
		r.Reply <- *res
	}
}

// Answer answers r with err, for a request that no actor will run.
func (r *Request[S, C]) Answer(err error) { r.answer(&Result[S]{Err: err}) }

// host runs the actors of one aggregate kind: one Props for all of them, and
// the initial states of actors being spawned.
type host[S, C any, T comparable] struct {
	m     *Machine[S, C, T]
	deps  *Deps
	props *actor.Props

	mu    sync.Mutex
	seeds map[string]seed[S] // actor name → what it starts from, while it is spawned

	scratch sync.Pool // *runScratch[S, T]: the space of one command's write path
}

// runScratch is the space one command works in: the write path's and the
// answer's. A state is hundreds of bytes: kept here, it is not copied
// through the stack of every frame between the actor and its caller.
type runScratch[S any, T comparable] struct {
	agg aggregate.Scratch[S, T]
	res Result[S]
}

// seed is what an actor is spawned with: its initial state and, for a
// restored aggregate, the timer its spawner arms on the clock.
type seed[S any] struct {
	state *S
	timer *PendingTimer
}

func newHost[S, C any, T comparable](d *Deps, m *Machine[S, C, T]) *host[S, C, T] {
	h := &host[S, C, T]{m: m, deps: d, seeds: map[string]seed[S]{}}
	h.props = d.props(func() actor.Actor { return &aggregateActor[S, C, T]{h: h} }, false)
	// Called on the spawner's goroutine, within SpawnNamed, before the actor
	// can receive anything — after a restart it is not called again.
	h.props.Configure(actor.WithOnInit(h.init))
	return h
}

// spawn starts the actor of aggregate id, from initial when given (a new
// aggregate) and otherwise — and after every restart by its supervisor —
// from the journal. The actor takes its copy of *initial before spawn
// returns.
func (h *host[S, C, T]) spawn(root *actor.RootContext, id string, initial *S) (*actor.PID, error) {
	return h.spawnSeeded(root, h.m.StreamOf(id), seed[S]{state: initial})
}

// spawnNew starts the actor of aggregate id, which has no events yet. The
// empty state it starts from is on this function's stack, not its
// caller's, which goes on to send the actor its first command.
func (h *host[S, C, T]) spawnNew(root *actor.RootContext, id string) (*actor.PID, error) {
	initial := h.m.Empty(id)
	return h.spawn(root, id, &initial)
}

// restore starts the actor of a restored aggregate whose stream is name,
// from *s (copied before restore returns). The deadline the state holds (a
// ring timeout …), if any, is returned not yet armed: the caller arms it —
// restores may run in parallel, and the caller arms their deadlines in the
// journal's order, so that they register on the clock in that order on
// every run, without waiting for the actors to start.
func (h *host[S, C, T]) restore(root *actor.RootContext, name string, s *S) (*actor.PID, *PendingTimer, error) {
	sd := seed[S]{state: s}
	if h.m.Deadline != nil {
		if at := h.m.Deadline(s); at != 0 {
			sd.timer = &PendingTimer{clk: h.deps.Clock, sys: root.ActorSystem(), at: at}
		}
	}
	pid, err := h.spawnSeeded(root, name, sd)
	if err != nil {
		return nil, nil, err
	}
	if sd.timer != nil {
		sd.timer.pid = pid
	}
	return pid, sd.timer, nil
}

func (h *host[S, C, T]) spawnSeeded(root *actor.RootContext, name string, sd seed[S]) (*actor.PID, error) {
	if sd.state != nil {
		h.mu.Lock()
		h.seeds[name] = sd
		h.mu.Unlock()
	}
	pid, err := root.SpawnNamed(h.props, name)
	if err != nil {
		h.mu.Lock()
		delete(h.seeds, name)
		h.mu.Unlock()
		return nil, errcode.Wrap(errcode.AlreadyExists, err, h.m.Name+" "+strings.TrimPrefix(name, h.m.Stream.Prefix())+" is already running")
	}
	return pid, nil
}

// init gives a newly spawned actor the state (and timer) it was spawned
// with, if any: on the spawner's goroutine, before its mailbox runs.
func (h *host[S, C, T]) init(ctx actor.Context) {
	name := ctx.Self().Id
	h.mu.Lock()
	sd, ok := h.seeds[name]
	if ok {
		delete(h.seeds, name)
	}
	h.mu.Unlock()
	if !ok {
		return
	}
	a := ctx.Actor().(*aggregateActor[S, C, T])
	a.stream = name
	a.id = strings.TrimPrefix(name, h.m.Stream.Prefix())
	a.state = *sd.state
	if sd.timer != nil {
		a.timer = deadlineTimer{timer: sd.timer, at: sd.timer.at}
	}
}

// PendingTimer is the deadline of a restored actor: its restorer arms it on
// the clock (Arm) once the actor is registered — a timer must not fire
// before — while the actor holds it from its start and may stop it at any
// time.
type PendingTimer struct {
	clk clock.Clock
	sys *actor.ActorSystem
	pid *actor.PID
	at  int64 // the deadline, engine-clock Unix ns

	mu      sync.Mutex
	t       clock.Timer
	stopped bool
}

// Arm registers the timer on the clock, unless the actor stopped it.
func (p *PendingTimer) Arm() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped || p.t != nil {
		return
	}
	clk, sys, pid, at := p.clk, p.sys, p.pid, p.at
	p.t = clk.AfterFunc(durationOf(at-clk.Now().UnixNano()), func() {
		sys.Root.Send(pid, timerFired{deadline: at, at: clk.Now().UnixNano()})
	})
}

// Stop implements clock.Timer.
func (p *PendingTimer) Stop() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return false
	}
	p.stopped = true
	return p.t == nil || p.t.Stop()
}

// aggregateActor is one aggregate's actor: it owns the state and its
// stream, and runs one command at a time.
type aggregateActor[S, C any, T comparable] struct {
	h      *host[S, C, T]
	id     string
	stream string
	state  S
	broken error         // the stream could not be loaded
	timer  deadlineTimer // the deadline the state holds
}

func (a *aggregateActor[S, C, T]) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.start(ctx)
	case *actor.Restarting, *actor.Stopping:
		a.timer.stop()
	case *Request[S, C]:
		a.handle(ctx, msg, 0)
	case *Get[S]:
		res := &Result[S]{Err: a.broken}
		a.h.m.Clone(&res.State, &a.state)
		msg.Reply <- *res
	case timerFired:
		if !a.timer.fired(msg) || a.h.m.Timeout == nil {
			return
		}
		if cmd, ok := a.h.m.Timeout(&a.state, msg.deadline); ok {
			a.handle(ctx, &Request[S, C]{Command: cmd}, msg.at)
		}
	}
}

// start takes the state the actor was spawned with or, after a restart,
// reads it from the journal; then it arms the state's timer.
func (a *aggregateActor[S, C, T]) start(ctx actor.Context) {
	if a.stream == "" { // not seeded (init): a restart, or spawned without a state
		a.stream = ctx.Self().Id
		a.id = strings.TrimPrefix(a.stream, a.h.m.Stream.Prefix())
		a.load()
	}
	a.armTimer(ctx) // a no-op for a restored deadline: its spawner arms it
}

func (a *aggregateActor[S, C, T]) load() {
	s, err := a.h.m.Load(a.h.deps.Journal, a.id)
	if err != nil {
		a.h.deps.Log.Error(a.h.m.Name+" stream cannot be loaded", slog.String(a.h.m.Name, a.id), slog.Any("err", err))
	}
	a.state, a.broken = s, err
}

func (a *aggregateActor[S, C, T]) armTimer(ctx actor.Context) {
	if a.h.m.Deadline != nil {
		a.timer.set(ctx, a.h.deps.Clock, a.h.m.Deadline(&a.state))
	}
}

// handle runs a request at engine-clock time at (0: now) and answers it
// exactly once; an ended aggregate's actor then stops.
func (a *aggregateActor[S, C, T]) handle(ctx actor.Context, req *Request[S, C], at int64) {
	sc, _ := a.h.scratch.Get().(*runScratch[S, T])
	if sc == nil {
		sc = new(runScratch[S, T])
	}
	answered := false
	defer func() {
		if p := recover(); p != nil {
			if !answered {
				req.answer(&Result[S]{Err: errcode.Newf(errcode.Internal, "%s %s failed: %v", a.h.m.Name, a.id, p)})
			}
			panic(p) // the supervisor restarts the actor from the journal
		}
	}()
	res := &sc.res
	a.run(ctx, req, at, &sc.agg, res)
	answered = true
	req.answer(res)
	failed := res.Err != nil
	sc.agg.Reset()
	*res = Result[S]{}
	a.h.scratch.Put(sc)
	if m := a.h.m; m.StopAtEnd && !failed && m.Ended(&a.state) {
		ctx.Poison(ctx.Self())
	}
}

// run is the write path of one command: decide, commit (fold on a copy,
// persist, adopt), arm the timer, publish; it writes the answer into res,
// working in sc.
func (a *aggregateActor[S, C, T]) run(ctx actor.Context, req *Request[S, C], at int64, sc *aggregate.Scratch[S, T], res *Result[S]) {
	m := a.h.m
	if a.broken != nil {
		res.Err = a.broken
		return
	}
	cmd := req.Command
	if req.Resolve != nil {
		var err error
		if cmd, err = req.Resolve(&a.state); err != nil {
			res.Err = err
			return
		}
	}
	now := at
	if now == 0 {
		now = a.h.deps.Clock.Now().UnixNano()
	}
	evs, err := m.Decide(sc.Events[:0], &a.state, cmd, now)
	if cap(evs) > cap(sc.Events) {
		sc.Events = evs[:0] // keep the larger space
	}
	if err != nil || len(evs) == 0 {
		m.Clone(&res.State, &a.state)
		res.Err = err
		return
	}
	changes, err := m.CommitIn(req.Ctx, a.h.deps.Journal, a.stream, &a.state, evs, now, sc)
	if err != nil {
		res.Err = err
		if errcode.CodeOf(err) == errcode.Internal {
			return // the decision does not fold
		}
		if errcode.CodeOf(err) == errcode.Conflict {
			a.load() // someone else wrote the stream: take the journal's word
		}
		m.Clone(&res.State, &a.state)
		return
	}
	a.armTimer(ctx) // before anyone hears of the deadline
	m.Publish(&a.state, changes)
	m.Clone(&res.State, &a.state)
	if !req.NoEvents {
		res.Events = aggregate.Envelopes(changes)
	}
}
