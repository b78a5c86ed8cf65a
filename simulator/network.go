package simulator

import (
	"context"
	"strconv"
	"time"

	"github.com/callengine/callengine/adapters/loopback"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
)

// The messages between the engine and the far end that faults can hit.
// From the far end to the engine:
var farMessages = map[string]bool{
	"far-ringing": true, "far-answered": true, "far-ended": true,
	"far-hold": true, "far-resume": true, "far-dial": true,
	"far-message": true, // a text message's delivery result
}

// From the engine to the far end: the call events an adapter is handed, by
// their timeline names (dialed, ringing, answered, …, ended, dtmf, parked,
// …), and "message", a text message to send.
func engineMessage(name string) bool {
	if name == "message" {
		return true
	}
	for t, n := range eventNames {
		if n == name && callEvent(t) {
			return true
		}
	}
	return false
}

// fault is one rule: drop or delay the next Times messages of a kind, of one
// call or of any.
type fault struct {
	text    string
	message string
	call    string        // label; "" for any call
	delay   time.Duration // 0: drop
	times   int           // messages left to hit; -1: every one
}

// parseFault reads "drop <message> [<call>] [times N|always]" or
// "delay <message> <duration> [<call>] [times N|always]". "clear" returns a
// nil fault: it removes every rule.
func parseFault(line int, text string) (*fault, error) {
	w, err := words(text)
	if err != nil {
		return nil, malformed(line, "fault %q: %v", text, err)
	}
	if len(w) == 1 && w[0] == "clear" {
		return nil, nil
	}
	if len(w) < 2 || (w[0] != "drop" && w[0] != "delay") {
		return nil, malformed(line, "fault %q: want drop <message> …, delay <message> <duration> …, or clear", text)
	}
	f := &fault{text: text, message: w[1], times: 1}
	if !farMessages[f.message] && !engineMessage(f.message) {
		return nil, malformed(line, "fault %q: unknown message %q", text, f.message)
	}
	rest := w[2:]
	if w[0] == "delay" {
		if len(rest) == 0 {
			return nil, malformed(line, "fault %q: delay by how long?", text)
		}
		d, err := time.ParseDuration(rest[0])
		if err != nil || d <= 0 {
			return nil, malformed(line, "fault %q: bad delay %q", text, rest[0])
		}
		f.delay, rest = d, rest[1:]
	}
	if len(rest) > 0 && rest[0] != "times" && rest[0] != "always" {
		f.call, rest = rest[0], rest[1:]
	}
	switch {
	case len(rest) == 1 && rest[0] == "always":
		f.times = -1
	case len(rest) == 2 && rest[0] == "times":
		n, err := parseCount(rest[1])
		if err != nil || n < 1 {
			return nil, malformed(line, "fault %q: times wants a count ≥ 1", text)
		}
		f.times = n
	case len(rest) != 0:
		return nil, malformed(line, "fault %q: unexpected %q", text, rest)
	}
	return f, nil
}

// network sits between the engine and the loopback far end, and applies
// the faults of the scenario to the messages in both directions. A dropped
// message is lost without a word to its sender, as on a real network; a
// delayed one is delivered later on the virtual clock.
type network struct {
	s      *sim
	far    *loopback.Adapter
	engine engine.FarEnd // the engine open now
	faults []*fault
}

// Attach implements engine.Adapter: the far end reports through the network.
func (n *network) Attach(e engine.FarEnd) {
	n.engine = e
	n.far.Attach(farSide{n})
}

// HandleEvent implements engine.Adapter: the engine's event travels to the
// far end.
func (n *network) HandleEvent(ev engine.Event) {
	msg := eventName(ev.Type)
	if f := n.hit(msg, n.s.labelOf(ev.CallID())); f != nil {
		if f.delay == 0 {
			n.s.say("~ fault: %s of %s to the far end lost", msg, n.s.labelOf(ev.CallID()))
			return
		}
		n.s.say("~ fault: %s of %s to the far end delayed %s", msg, n.s.labelOf(ev.CallID()), f.delay)
		n.s.clock.AfterFunc(f.delay, func() { n.far.HandleEvent(ev) })
		return
	}
	n.far.HandleEvent(ev)
}

// SendMessage implements engine.MessageSender: the text message travels to
// the far end.
func (n *network) SendMessage(m engine.Message) {
	label := n.s.nameOf(n.s.msgs, m.ID)
	if f := n.hit("message", label); f != nil {
		if f.delay == 0 {
			n.s.say("~ fault: message %s to the far end lost", label)
			return
		}
		n.s.say("~ fault: message %s to the far end delayed %s", label, f.delay)
		n.s.clock.AfterFunc(f.delay, func() { n.far.SendMessage(m) })
		return
	}
	n.far.SendMessage(m)
}

// result carries a text message's delivery result from the far end.
func (n *network) result(id, label string, delivered bool, reason string, report bool) error {
	_, err := n.send("far-message", label, func(e engine.FarEnd) (engine.Call, error) {
		r, ok := e.(engine.MessageReporter)
		if !ok {
			return engine.Call{}, errcode.New(errcode.Unavailable, "the engine takes no message results")
		}
		_, err := r.FarMessageResult(n.s.ctx, id, delivered, reason)
		return engine.Call{}, err
	}, report)
	return err
}

// hit returns the fault that catches a message, and counts it.
func (n *network) hit(message, label string) *fault {
	for i, f := range n.faults {
		if f.message != message || (f.call != "" && f.call != label) {
			continue
		}
		if f.times > 0 {
			f.times--
			if f.times == 0 {
				n.faults = append(n.faults[:i:i], n.faults[i+1:]...)
			}
		}
		return f
	}
	return nil
}

// send carries a message from the far end to the engine: deliver runs now,
// later, or never. report says whether the network reports a refusal (the
// loopback far end's own messages, and every delayed one) or the sender does
// (a step's command, delivered at once).
func (n *network) send(message, label string, deliver func(engine.FarEnd) (engine.Call, error), report bool) (engine.Call, error) {
	if f := n.hit(message, label); f != nil {
		if f.delay == 0 {
			n.s.say("~ fault: %s of %s lost", message, label)
			return engine.Call{}, nil
		}
		n.s.say("~ fault: %s of %s delayed %s", message, label, f.delay)
		n.s.clock.AfterFunc(f.delay, func() { n.deliver(message, label, deliver, true) })
		return engine.Call{}, nil
	}
	return n.deliver(message, label, deliver, report)
}

// deliver hands a far-end message to the engine. A refusal is part of the
// timeline, and must leave the journal untouched.
func (n *network) deliver(message, label string, deliver func(engine.FarEnd) (engine.Call, error), report bool) (engine.Call, error) {
	before := n.s.lastSeq()
	c, err := deliver(n.engine)
	if err != nil && report {
		n.s.refused(message+" "+label, err, before)
	}
	return c, err
}

// farSide is the handle the loopback far end reports through.
type farSide struct{ n *network }

func (f farSide) label(id string) string { return f.n.s.labelOf(id) }

func (f farSide) FarRinging(ctx context.Context, id string) (engine.Call, error) {
	return f.n.send("far-ringing", f.label(id), func(e engine.FarEnd) (engine.Call, error) { return e.FarRinging(ctx, id) }, true)
}

func (f farSide) FarAnswered(ctx context.Context, id string) (engine.Call, error) {
	return f.n.send("far-answered", f.label(id), func(e engine.FarEnd) (engine.Call, error) { return e.FarAnswered(ctx, id) }, true)
}

func (f farSide) FarEnded(ctx context.Context, id string, r engine.Reason) (engine.Call, error) {
	return f.n.send("far-ended", f.label(id), func(e engine.FarEnd) (engine.Call, error) { return e.FarEnded(ctx, id, r) }, true)
}

func (f farSide) FarHold(ctx context.Context, id string) (engine.Call, error) {
	return f.n.send("far-hold", f.label(id), func(e engine.FarEnd) (engine.Call, error) { return e.FarHold(ctx, id) }, true)
}

func (f farSide) FarResume(ctx context.Context, id string) (engine.Call, error) {
	return f.n.send("far-resume", f.label(id), func(e engine.FarEnd) (engine.Call, error) { return e.FarResume(ctx, id) }, true)
}

func (f farSide) Inbound(ctx context.Context, req engine.InboundRequest) (engine.Call, error) {
	return f.n.send("far-dial", "", func(e engine.FarEnd) (engine.Call, error) { return e.Inbound(ctx, req) }, true)
}

func (f farSide) FarMessageResult(ctx context.Context, id string, delivered bool, reason string) (engine.Message, error) {
	return engine.Message{}, f.n.result(id, f.n.s.nameOf(f.n.s.msgs, id), delivered, reason, true)
}

func parseCount(s string) (int, error) { return strconv.Atoi(s) }
