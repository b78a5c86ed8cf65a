package actors

import (
	"context"
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/journal"
)

// SessionStreamPrefix starts the stream id of every session.
const SessionStreamPrefix = "session/"

// SessionStream returns the stream id of a session.
func SessionStream(id string) string { return SessionStreamPrefix + id }

// LoadSession folds a session's stream from the journal.
func LoadSession(j *journal.Journal, id string) (fsm.Session, error) {
	s := fsm.Session{ID: id}
	err := ReadStream(j, SessionStream(id), func(env events.Envelope) error {
		if err := fsm.ApplySession(&s, env.Event, env.Time); err != nil {
			return errcode.Wrap(errcode.JournalCorrupt, err, "cannot fold "+env.String())
		}
		return nil
	})
	return s, err
}

// SessionRequest asks a session actor to run a command.
type SessionRequest struct {
	Ctx     context.Context // nil: background
	Command fsm.SessionCommand
	Reply   chan SessionResult // buffered; answered exactly once
}

// SessionResult answers a SessionRequest or a GetSession.
type SessionResult struct {
	Session fsm.Session
	Events  []events.Envelope
	Err     error
}

// GetSession asks a session actor for a copy of its state.
type GetSession struct{ Reply chan SessionResult }

// SessionPublisher hears of session events once they are durable.
type SessionPublisher interface {
	PublishSession(state *fsm.Session, envs []events.Envelope)
}

type sessionActor struct {
	deps   *Deps
	pub    SessionPublisher
	id     string
	stream string
	state  fsm.Session
	broken error
	timer  deadlineTimer // the grace timer
}

// SpawnSession starts the actor of session id, from initial when given and
// from the journal otherwise (and after every restart). The actor arms the
// grace timer its state holds; it stops once the session is destroyed.
func SpawnSession(root *actor.RootContext, deps *Deps, pub SessionPublisher, id string, initial *fsm.Session) (*actor.PID, error) {
	first := initial
	props := deps.props(func() actor.Actor {
		a := &sessionActor{deps: deps, pub: pub, id: id, stream: SessionStream(id)}
		if first != nil {
			a.state = first.Clone()
			first = nil
		} else {
			s, err := LoadSession(deps.Journal, id)
			if err != nil {
				deps.Log.Error("session stream cannot be loaded", slog.String("session", id), slog.Any("err", err))
			}
			a.state, a.broken = s, err
		}
		return a
	})
	pid, err := root.SpawnNamed(props, SessionStream(id))
	if err != nil {
		return nil, errcode.Wrap(errcode.AlreadyExists, err, "session "+id+" is already running")
	}
	return pid, nil
}

func (a *sessionActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.timer.set(ctx, a.deps.Clock, a.state.GraceDeadline)
	case *actor.Restarting, *actor.Stopping:
		a.timer.stop()
	case *SessionRequest:
		a.handle(ctx, m, 0)
	case *GetSession:
		m.Reply <- SessionResult{Session: a.state.Clone(), Err: a.broken}
	case timerFired:
		if a.timer.fired(m) && a.state.Status == fsm.SessionGrace && m.deadline == a.state.GraceDeadline {
			a.handle(ctx, &SessionRequest{Command: fsm.GraceTimeout{}}, m.at)
		}
	}
}

func (a *sessionActor) handle(ctx actor.Context, req *SessionRequest, at int64) {
	answered := false
	reply := func(r SessionResult) {
		if req.Reply != nil && !answered {
			answered = true
			req.Reply <- r
		}
	}
	defer func() {
		if p := recover(); p != nil {
			reply(SessionResult{Err: errcode.Newf(errcode.Internal, "session %s failed: %v", a.id, p)})
			panic(p)
		}
	}()
	if a.broken != nil {
		reply(SessionResult{Err: a.broken})
		return
	}
	now := at
	if now == 0 {
		now = a.deps.Clock.Now().UnixNano()
	}
	evs, err := fsm.DecideSession(&a.state, req.Command, now)
	if err != nil || len(evs) == 0 {
		reply(SessionResult{Session: a.state.Clone(), Err: err})
		return
	}
	envs, err := commit(req.Ctx, a.deps.Journal, a.stream, &a.state, a.state.Version, evs, now,
		(*fsm.Session).Clone, fsm.ApplySession, func(s *fsm.Session) bool { return s.Status == fsm.SessionDestroyed })
	if err != nil {
		reply(SessionResult{Session: a.state.Clone(), Err: err})
		return
	}
	a.timer.set(ctx, a.deps.Clock, a.state.GraceDeadline)
	a.pub.PublishSession(&a.state, envs)
	reply(SessionResult{Session: a.state.Clone(), Events: envs})
	if a.state.Status == fsm.SessionDestroyed {
		ctx.Poison(ctx.Self())
	}
}
