package simulator

import (
	"github.com/callengine/callengine/engine"
)

// message sends a text message from the client (C15): "alice message 102
// "hello" [as M]".
type message struct {
	client, target string
	text           string
	as             string
}

func parseMessage(a *args) (command, error) {
	if len(a.rest) < 2 {
		return nil, a.bad("expected message <destination> \"<text>\"")
	}
	c := &message{client: a.who, target: a.rest[0], text: a.rest[1]}
	a.rest = a.rest[2:]
	return c, a.options(labelOption(&c.as))
}

func (c *message) run(s *sim) error {
	label, err := s.nextFree(s.msgs, c.as)
	if err != nil {
		return err
	}
	s.msgs.next = label
	m, err := s.eng.SendMessage(s.ctx, engine.MessageRequest{From: c.client, To: c.target, Text: c.text})
	s.msgs.next = ""
	if m.ID != "" {
		s.named(s.msgs, label, m.ID)
	}
	return err
}

// farDeliver reports a text message delivered, for the far end: "far
// deliver m1". "far reject m1" and "far fail m1" report it not delivered
// (verbs_far.go).
type farDeliver struct {
	message string
}

func parseFarDeliver(a *args) (command, error) {
	label, err := oneLabel(a)
	return farDeliver{message: label}, err
}

func (c farDeliver) run(s *sim) error { return s.farMessage(c.message, true, "") }

// farMessage reports a text message's delivery for the far end.
func (s *sim) farMessage(label string, delivered bool, reason string) error {
	id, err := idOf(s.msgs, "message", label)
	if err != nil {
		return err
	}
	return s.net.result(id, label, delivered, reason, false)
}
