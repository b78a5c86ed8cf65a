package engine

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/internal/actors"
	"github.com/callengine/callengine/internal/aggregate"
)

// Dead letters: a request that reaches an actor after it stopped is
// answered here, from the journal, as the actor would have answered it.

// deadLetter answers requests sent to an actor no longer registered.
func (e *Engine) deadLetter(msg any) {
	if dl, ok := msg.(*actor.DeadLetterEvent); ok {
		e.answerGone(dl.PID, dl.Message)
	}
}

// answerGone answers a request that reached an actor after it stopped (a
// call that ended between the lookup and the delivery): from the journal,
// as the actor would have. Every request is answered exactly once: by its
// actor, or here — through the actors' mailbox for what was queued when the
// actor stopped, or as a dead letter for what was sent after.
func (e *Engine) answerGone(pid *actor.PID, msg any) {
	_, id := events.ParseStream(pid.Id)
	switch m := msg.(type) {
	case *actors.CallRequest:
		m.Answer(e.goneCallError(id))
	case *actors.TransferRequest:
		t, err := aggregate.LoadTransfer(e.journal, id)
		if err == nil {
			err = errcode.Newf(errcode.InvalidState, "transfer %s is %s", id, t.Status)
		}
		m.Reply <- actors.TransferResult{Transfer: t, Err: err}
	case *actors.GetTransfer:
		t, err := aggregate.LoadTransfer(e.journal, id)
		m.Reply <- actors.TransferResult{Transfer: t, Err: err}
	case *actors.GetCall:
		c, err := aggregate.LoadCall(e.journal, id)
		if err == nil && c.Status == fsm.NoCall {
			err = errcode.Newf(errcode.NotFound, "no call %s", id)
		}
		m.Reply <- actors.CallResult{State: c, Err: err}
	case *actors.SessionRequest:
		m.Answer(e.goneSessionError(id))
	case *actors.GetSession:
		s, err := aggregate.LoadSession(e.journal, id)
		m.Reply <- actors.SessionResult{State: s, Err: err}
	case *actors.ClientRequest:
		m.Answer(errcode.New(errcode.Closed, "engine closed"))
	case *actors.GetClient:
		m.Reply <- actors.ClientResult{Err: errcode.New(errcode.Closed, "engine closed")}
	}
}

// goneCallError explains why a call has no actor: it ended, or never existed.
func (e *Engine) goneCallError(id string) error {
	if err := e.checkOpen(); err != nil {
		return err
	}
	v, err := e.journal.StreamVersion(events.CallStream(id))
	if err != nil {
		return errcode.Wrap(errcode.JournalCorrupt, err, "cannot read call "+id)
	}
	if v == 0 {
		return errcode.Newf(errcode.NotFound, "no call %s", id)
	}
	return errcode.Newf(errcode.InvalidState, "call %s has ended", id)
}

// goneSessionError explains why a session has no actor.
func (e *Engine) goneSessionError(id string) error {
	s, err := aggregate.LoadSession(e.journal, id)
	if err != nil {
		return err
	}
	if s.Status == fsm.SessionDestroyed {
		return invalidSessionErr(&s)
	}
	return errcode.Newf(errcode.InvalidSession, "no session %s", id)
}
