package actors

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/internal/aggregate"
)

// The messages of a session actor.
type (
	SessionRequest = Request[fsm.Session, fsm.SessionCommand]
	SessionResult  = Result[fsm.Session]
	GetSession     = Get[fsm.Session]
)

// SessionPublisher hears of session events once they are durable.
type SessionPublisher interface {
	PublishSession(state *fsm.Session, envs []events.Envelope)
}

// sessionMachine runs sessions: their deadline is the grace timer.
func sessionMachine(d *Deps) *Machine[fsm.Session, fsm.SessionCommand, fsm.SessionStatus] {
	return &Machine[fsm.Session, fsm.SessionCommand, fsm.SessionStatus]{
		Kind: aggregate.Sessions,
		Decide: func(_ []events.Event, s *fsm.Session, cmd fsm.SessionCommand, now int64) ([]events.Event, error) {
			return fsm.DecideSession(s, cmd, now)
		},
		Deadline: func(s *fsm.Session) int64 { return s.GraceDeadline },
		Timeout: func(s *fsm.Session, deadline int64) (fsm.SessionCommand, bool) {
			if s.Status == fsm.SessionGrace && deadline == s.GraceDeadline {
				return fsm.GraceTimeout{}, true
			}
			return nil, false
		},
		Publish: func(s *fsm.Session, changes []aggregate.Change[fsm.SessionStatus]) {
			if d.sessPub != nil {
				d.sessPub.PublishSession(s, aggregate.Envelopes(changes))
			}
		},
		StopAtEnd: true,
	}
}

// SpawnSession starts the actor of session id, from initial when given and
// from the journal otherwise (and after every restart). The actor arms the
// grace timer its state holds; it stops once the session is destroyed.
func SpawnSession(root *actor.RootContext, deps *Deps, pub SessionPublisher, id string, initial *fsm.Session) (*actor.PID, error) {
	deps.hosts()
	deps.sessPub = pub
	var first *fsm.Session
	if initial != nil {
		s := initial.Clone()
		first = &s
	}
	return deps.sessions.spawn(root, id, first)
}
