package simulator

import (
	"context"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
)

// createSession opens a session for the client (CL4) and follows its events
// (SessionEvents) as the client's connection would: "alice create-session
// [auto-answer on|off] [as S]".
type createSession struct {
	client string
	noAuto bool // auto-answer off
	as     string
}

func parseCreateSession(a *args) (command, error) {
	c := &createSession{client: a.who}
	autoAnswer := option{"auto-answer", func(a *args, v string) error {
		if v != "on" && v != "off" {
			return a.bad("auto-answer takes on or off")
		}
		c.noAuto = v == "off"
		return nil
	}}
	return c, a.options(autoAnswer, labelOption(&c.as))
}

func (c *createSession) run(s *sim) error {
	label, err := s.nextFree(s.sessions, c.as)
	if err != nil {
		return err
	}
	s.sessions.next = label
	v, err := s.eng.CreateSession(s.ctx, c.client, engine.SessionOptions{NoAutoAnswer: c.noAuto})
	s.sessions.next = ""
	if v.ID != "" {
		s.named(s.sessions, label, v.ID)
		s.sessionOwner[label] = c.client
		s.follow(label)
	}
	return err
}

// sessionAction is a client's command on one of its sessions: a client acts
// on its own sessions only (forbidden otherwise). "alice restore-session
// s1", close-connection, destroy-session, "alice subscribe s1 to 102",
// "alice unsubscribe s1 from 102", "alice auto-answer s1 on|off".
type sessionAction struct {
	client, session string
	do              func(e *engine.Engine, ctx context.Context, id string) error
}

func (c sessionAction) run(s *sim) error {
	id, err := idOf(s.sessions, "session", c.session)
	if err != nil {
		return err
	}
	if owner := s.sessionOwner[c.session]; owner != c.client {
		return errcode.Newf(errcode.Forbidden, "session %s is %s's, not %s's", c.session, owner, c.client)
	}
	return c.do(s.eng, s.ctx, id)
}

// parseSessionVerb reads "<verb> <session>" for a verb that takes nothing
// more.
func parseSessionVerb(do func(*engine.Engine, context.Context, string) error) func(*args) (command, error) {
	return func(a *args) (command, error) {
		if len(a.rest) != 1 {
			return nil, a.bad("%s takes one session", a.verb)
		}
		return sessionAction{client: a.who, session: a.rest[0], do: do}, nil
	}
}

func restoreSession(e *engine.Engine, ctx context.Context, id string) error {
	_, err := e.RestoreSession(ctx, id)
	return err
}

func closeConnection(e *engine.Engine, ctx context.Context, id string) error {
	_, err := e.CloseConnection(ctx, id)
	return err
}

func destroySession(e *engine.Engine, ctx context.Context, id string) error {
	return e.DestroySession(ctx, id)
}

// parseSubscribe reads "subscribe <session> to <line>" and "unsubscribe
// <session> from <line>".
func parseSubscribe(a *args) (command, error) {
	word, change := "to", (*engine.Engine).SubscribeLine
	if a.verb == "unsubscribe" {
		word, change = "from", (*engine.Engine).UnsubscribeLine
	}
	if len(a.rest) != 3 || a.rest[1] != word {
		return nil, a.bad("expected %s <session> %s <line>", a.verb, word)
	}
	line := a.rest[2]
	return sessionAction{client: a.who, session: a.rest[0], do: func(e *engine.Engine, ctx context.Context, id string) error {
		_, err := change(e, ctx, id, line)
		return err
	}}, nil
}

// parseAutoAnswer reads "auto-answer <session> on|off".
func parseAutoAnswer(a *args) (command, error) {
	if len(a.rest) != 2 || (a.rest[1] != "on" && a.rest[1] != "off") {
		return nil, a.bad("expected auto-answer <session> on|off")
	}
	on := a.rest[1] == "on"
	return sessionAction{client: a.who, session: a.rest[0], do: func(e *engine.Engine, ctx context.Context, id string) error {
		_, err := e.SetAutoAnswer(ctx, id, on)
		return err
	}}, nil
}
