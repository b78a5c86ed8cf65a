package simulator

import (
	"context"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
)

// outsideDial is a call in from a number outside: "far +33600000001 dial
// 102 [as LABEL] [name NAME]". The message carrying it goes through the
// network, whose faults may lose or delay it.
type outsideDial struct {
	number, dest string
	name         string // the caller's name
	as           string
}

func parseOutsideDial(a *args) (command, error) {
	if len(a.rest) == 0 {
		return nil, a.bad("far %s dial: what number or extension?", a.words[1])
	}
	c := &outsideDial{number: a.who, dest: a.rest[0]}
	a.rest = a.rest[1:]
	return c, a.options(labelOption(&c.as), textOption("name", &c.name))
}

func (c *outsideDial) run(s *sim) error {
	ctx := s.ctx
	label := c.as
	if label == "" {
		label = s.autoLabel()
	} else if _, taken := s.labels[label]; taken {
		return errcode.Newf(errcode.AlreadyExists, "label %q names another call", label)
	}
	_, err := s.net.send("far-dial", label, func(far engine.FarEnd) (engine.Call, error) {
		s.nextLabel = label
		call, err := far.Inbound(ctx, engine.InboundRequest{From: c.number, FromName: c.name, To: c.dest})
		s.nextLabel = ""
		if err == nil && s.names[call.ID] == "" {
			s.labels[label], s.names[call.ID] = call.ID, label
		}
		return call, err
	}, false)
	return err
}

// oneLabel reads "far <verb> <label>" and nothing more.
func oneLabel(a *args) (string, error) {
	if len(a.rest) != 1 {
		return "", a.bad("far %s takes one call", a.verb)
	}
	return a.rest[0], nil
}

// farAction is what the far end does to a call, through the network: "far
// ring c1", "far answer c1", "far hangup c1", …
type farAction struct {
	call    string
	message string // the adapter message that carries it
	do      func(fe engine.FarEnd, ctx context.Context, id string) (engine.Call, error)
}

// farVerb is a far-end action carried by message.
func farVerb(message string, do func(engine.FarEnd, context.Context, string) (engine.Call, error)) func(*args) (command, error) {
	return func(a *args) (command, error) {
		call, err := oneLabel(a)
		return farAction{call: call, message: message, do: do}, err
	}
}

// farEndVerb is the far end ending a call for reason: "far hangup c1",
// "far busy c1", "far no-answer c1".
func farEndVerb(reason events.Reason) func(*args) (command, error) {
	return func(a *args) (command, error) {
		call, err := oneLabel(a)
		return farEnds(call, reason), err
	}
}

func farEnds(call string, reason events.Reason) farAction {
	return farAction{call: call, message: "far-ended", do: func(fe engine.FarEnd, ctx context.Context, id string) (engine.Call, error) {
		return fe.FarEnded(ctx, id, reason)
	}}
}

func (c farAction) run(s *sim) error {
	id, err := s.callID(c.call)
	if err != nil {
		return err
	}
	_, err = s.net.send(c.message, c.call, func(fe engine.FarEnd) (engine.Call, error) {
		return c.do(fe, s.ctx, id)
	}, false)
	return err
}

// farRefusal is "far reject L" or "far fail L": the far end refuses a text
// message, when L labels one, or ends a call.
type farRefusal struct {
	label  string
	reason events.Reason
}

func farRefusalVerb(reason events.Reason) func(*args) (command, error) {
	return func(a *args) (command, error) {
		label, err := oneLabel(a)
		return farRefusal{label: label, reason: reason}, err
	}
}

func (c farRefusal) run(s *sim) error {
	if _, ok := s.msgs.byName[c.label]; ok {
		return s.farMessage(c.label, false, c.reason.String())
	}
	return farEnds(c.label, c.reason).run(s)
}
