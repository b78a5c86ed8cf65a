package fsm

import (
	"fmt"
	"slices"
	"strings"
	"time"

	lfsm "github.com/looplab/fsm"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
)

// Sessions (FEATURES CL4, CL5, CL6). A session belongs to one client and
// counts its connections exactly as the seed SDK does: creating it sets the
// counter to 1, each closed connection takes 1, each restore adds 1. When
// the counter reaches 0 a grace timer starts (its deadline is in the
// event); a restore before it fires stops it; when it fires, the session
// and its subscriptions are destroyed. A destroyed or unknown session is
// invalid_session_id.

// SessionStatus is the state of a session.
type SessionStatus string

const (
	NoSession        SessionStatus = ""
	SessionActive    SessionStatus = "active"    // at least one connection
	SessionGrace     SessionStatus = "grace"     // no connection; the grace timer runs
	SessionDestroyed SessionStatus = "destroyed" // gone; its stream ended
)

// Transitions of the session machine.
const (
	evCreate    = "create"
	evRestore   = "restore"
	evClose     = "close"      // a connection closed, others remain
	evLastClose = "last-close" // the last connection closed
	evDestroy   = "destroy"    // destroyed by its client, or by the grace timer
)

// SessionMachine is the session's state machine:
//
//	(none) → active ⇄ grace → destroyed, and active → destroyed
var SessionMachine = newMachine(string(NoSession), lfsm.Events{
	{Name: evCreate, Src: []string{string(NoSession)}, Dst: string(SessionActive)},
	{Name: evRestore, Src: []string{string(SessionActive), string(SessionGrace)}, Dst: string(SessionActive)},
	{Name: evClose, Src: []string{string(SessionActive)}, Dst: string(SessionActive)},
	{Name: evLastClose, Src: []string{string(SessionActive)}, Dst: string(SessionGrace)},
	{Name: evDestroy, Src: []string{string(SessionActive), string(SessionGrace)}, Dst: string(SessionDestroyed)},
})

// Session is the state of one session. Its zero value is a session that
// does not exist yet: it accepts only CreateSession.
type Session struct {
	ID      string
	Version uint64
	Status  SessionStatus
	Client  string
	// Connections is the seed's counter.
	Connections   int
	GraceDeadline int64 // engine-clock Unix ns while in grace, else 0
	AutoAnswer    bool
	// Lines are the lines subscribed to besides the client's own, in the
	// order they were subscribed (CL5).
	Lines     []string
	CreatedAt int64
	Expired   bool // destroyed by the grace timer
}

// Live reports whether the session can be used.
func (s *Session) Live() bool { return s.Status == SessionActive || s.Status == SessionGrace }

// Clone returns a deep copy.
func (s *Session) Clone() Session {
	cp := *s
	cp.Lines = slices.Clone(s.Lines)
	return cp
}

// SessionCommand is a command addressed to one session.
type SessionCommand interface{ sessionCommand() }

// CreateSession creates the session for Client; the counter is 1.
type CreateSession struct {
	Client     string
	AutoAnswer bool
}

// RestoreSession: a connection restored the session (a page reload, a
// reconnect); the counter goes up by 1 and the grace timer stops.
type RestoreSession struct{}

// CloseConnection: one of the session's connections closed; at 0 the grace
// timer starts, Grace long.
type CloseConnection struct{ Grace time.Duration }

// DestroySession destroys the session now.
type DestroySession struct{}

// GraceTimeout: the grace timer fired. Stale unless the session is in grace
// and the deadline is due.
type GraceTimeout struct{}

// SubscribeLine subscribes the session to a line (CL5). That the line is
// one of the organisation's is the engine's business, checked before.
type SubscribeLine struct{ Line string }

// UnsubscribeLine drops a subscription.
type UnsubscribeLine struct{ Line string }

// SetAutoAnswer sets the session's auto-answer (CL6).
type SetAutoAnswer struct{ On bool }

func (CreateSession) sessionCommand()   {}
func (RestoreSession) sessionCommand()  {}
func (CloseConnection) sessionCommand() {}
func (DestroySession) sessionCommand()  {}
func (GraceTimeout) sessionCommand()    {}
func (SubscribeLine) sessionCommand()   {}
func (UnsubscribeLine) sessionCommand() {}
func (SetAutoAnswer) sessionCommand()   {}

// MaxSessionLines bounds a session's subscriptions.
const MaxSessionLines = 256

func invalidSession(s *Session) error {
	if s.Status == SessionDestroyed {
		if s.Expired {
			return errcode.Newf(errcode.InvalidSession, "session %s expired", s.ID)
		}
		return errcode.Newf(errcode.InvalidSession, "session %s was destroyed", s.ID)
	}
	return errcode.Newf(errcode.InvalidSession, "no session %s", s.ID)
}

// DecideSession turns a session command into events, or an error.
func DecideSession(s *Session, cmd SessionCommand, now int64) ([]events.Event, error) {
	if c, ok := cmd.(CreateSession); ok {
		if s.Status != NoSession {
			return nil, errcode.Newf(errcode.AlreadyExists, "session %s already exists", s.ID)
		}
		if strings.TrimSpace(c.Client) == "" {
			return nil, errcode.New(errcode.MissingParameter, "a session needs a client")
		}
		return []events.Event{events.SessionCreated{Client: c.Client, AutoAnswer: c.AutoAnswer}}, nil
	}
	if _, ok := cmd.(GraceTimeout); ok {
		if s.Status != SessionGrace || now < s.GraceDeadline {
			return nil, nil // stale timer
		}
		return []events.Event{events.SessionDestroyed{Expired: true}}, nil
	}
	if !s.Live() {
		return nil, invalidSession(s)
	}
	switch cmd := cmd.(type) {
	case RestoreSession:
		return []events.Event{events.SessionRestored{}}, nil
	case CloseConnection:
		if s.Status != SessionActive || s.Connections <= 0 {
			return nil, errcode.Newf(errcode.InvalidState, "session %s has no open connection", s.ID)
		}
		if cmd.Grace <= 0 {
			return nil, errcode.New(errcode.InvalidParams, "the grace period must be positive")
		}
		var deadline int64
		if s.Connections == 1 {
			deadline = now + int64(cmd.Grace)
		}
		return []events.Event{events.SessionConnectionClosed{Deadline: deadline}}, nil
	case DestroySession:
		return []events.Event{events.SessionDestroyed{}}, nil
	case SubscribeLine:
		if strings.TrimSpace(cmd.Line) == "" {
			return nil, errcode.New(errcode.MissingParameter, "subscribe needs a line")
		}
		if slices.Contains(s.Lines, cmd.Line) {
			return nil, errcode.Newf(errcode.AlreadyExists, "session %s already follows line %s", s.ID, cmd.Line)
		}
		if len(s.Lines) >= MaxSessionLines {
			return nil, errcode.Newf(errcode.InvalidParams, "session %s follows %d lines already (the most)", s.ID, MaxSessionLines)
		}
		return []events.Event{events.SessionSubscribed{Line: cmd.Line}}, nil
	case UnsubscribeLine:
		if !slices.Contains(s.Lines, cmd.Line) {
			return nil, errcode.Newf(errcode.NotFound, "session %s does not follow line %s", s.ID, cmd.Line)
		}
		return []events.Event{events.SessionUnsubscribed{Line: cmd.Line}}, nil
	case SetAutoAnswer:
		if cmd.On == s.AutoAnswer {
			return nil, nil
		}
		return []events.Event{events.SessionAutoAnswerSet{On: cmd.On}}, nil
	}
	return nil, errcode.Newf(errcode.InvalidParams, "unknown session command %T", cmd)
}

func (s *Session) transition(event string) error {
	to, err := SessionMachine.fire(string(s.Status), event)
	if err != nil {
		return fmt.Errorf("session %s: %s in state %q: %w", s.ID, event, s.Status, err)
	}
	s.Status = SessionStatus(to)
	return nil
}

// ApplySession folds one event into the session.
func ApplySession(s *Session, ev events.Event, at int64) error {
	next := s.Clone()
	if err := applySession(&next, ev, at); err != nil {
		return err
	}
	next.Version++
	*s = next
	return nil
}

func applySession(s *Session, ev events.Event, at int64) error {
	switch e := ev.(type) {
	case events.SessionCreated:
		if err := s.transition(evCreate); err != nil {
			return err
		}
		s.Client, s.AutoAnswer, s.Connections, s.CreatedAt = e.Client, e.AutoAnswer, 1, at
	case events.SessionRestored:
		if err := s.transition(evRestore); err != nil {
			return err
		}
		s.Connections++
		s.GraceDeadline = 0
	case events.SessionConnectionClosed:
		last := s.Connections == 1
		if last != (e.Deadline != 0) {
			return fmt.Errorf("session %s: connection closed with %d open and deadline %d", s.ID, s.Connections, e.Deadline)
		}
		ev := evClose
		if last {
			ev = evLastClose
		}
		if err := s.transition(ev); err != nil {
			return err
		}
		s.Connections--
		s.GraceDeadline = e.Deadline
	case events.SessionDestroyed:
		if err := s.transition(evDestroy); err != nil {
			return err
		}
		s.Connections, s.GraceDeadline, s.Lines, s.Expired = 0, 0, nil, e.Expired
	case events.SessionSubscribed:
		if !s.Live() || slices.Contains(s.Lines, e.Line) {
			return fmt.Errorf("session %s: subscribed to %s twice or while %q", s.ID, e.Line, s.Status)
		}
		s.Lines = append(s.Lines, e.Line)
	case events.SessionUnsubscribed:
		i := slices.Index(s.Lines, e.Line)
		if !s.Live() || i < 0 {
			return fmt.Errorf("session %s: unsubscribed from %s it does not follow", s.ID, e.Line)
		}
		s.Lines = slices.Delete(s.Lines, i, i+1)
	case events.SessionAutoAnswerSet:
		if !s.Live() {
			return fmt.Errorf("session %s: auto-answer set while %q", s.ID, s.Status)
		}
		s.AutoAnswer = e.On
	default:
		return fmt.Errorf("session %s: %s is not a session event", s.ID, ev.Type())
	}
	return nil
}
