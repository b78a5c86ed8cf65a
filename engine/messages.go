package engine

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/internal/aggregate"
)

// MessageStreamPrefix is the stream prefix of text messages in the journal.
const MessageStreamPrefix = events.MessageStreamPrefix

// MessageSender is implemented by adapters that carry text messages (SIP
// MESSAGE). The adapter transmits the message and reports the outcome with
// FarEnd.FarMessageResult; it decides nothing else.
type MessageSender interface {
	SendMessage(m Message)
}

// MessageRequest sends a text message from a client to a number (C15).
type MessageRequest struct {
	From string // the sending client's id
	To   string // an E.164 number, a sip:/tel: URI, or a client's number or extension
	Text string
}

// Message is a text message as the engine keeps it.
type Message struct {
	ID     string
	From   Party
	To     string
	Text   string
	Status fsm.MessageStatus // "sent" until the result, then "delivered" or "failed"
	Reason string
	SentAt time.Time
	DoneAt time.Time
}

func messageView(m *fsm.Message) Message {
	return Message{
		ID: m.ID, From: m.From, To: m.To, Text: m.Text, Status: m.Status, Reason: m.Reason,
		SentAt: timeOf(m.SentAt), DoneAt: timeOf(m.DoneAt),
	}
}

// messages holds the messages waiting for their delivery result.
type messages struct {
	mu      sync.Mutex
	pending map[string]*fsm.Message
}

// SendMessage journals a text message and hands it to the adapter, which
// reports the delivery result later (MessageDelivered or MessageFailed). A
// message to a client of the engine is delivered at once. Nothing is
// journaled when the request is invalid or no adapter carries messages.
// After a restart, messages still waiting are handed to the adapter again:
// delivery is at least once.
func (e *Engine) SendMessage(ctx context.Context, req MessageRequest) (Message, error) {
	if err := e.checkOpen(); err != nil {
		return Message{}, err
	}
	if err := e.authorizeClient(ctx, req.From); err != nil {
		return Message{}, err
	}
	from := e.dir.get(req.From)
	if req.From == "" {
		return Message{}, errcode.New(errcode.MissingParameter, "a message needs a sending client (From)")
	}
	if from == nil || !from.Registered() {
		return Message{}, errcode.Newf(errcode.NotFound, "client %s is not registered", req.From)
	}
	dest, err := fsm.ParseDestination(req.To)
	if err != nil {
		return Message{}, err
	}
	to, err := e.router().route(dest)
	if err != nil {
		return Message{}, err
	}
	sender, _ := e.cfg.Adapter.(MessageSender)
	if to == nil && sender == nil {
		return Message{}, errcode.Newf(errcode.Unavailable, "no adapter carries messages to %s", req.To)
	}
	number := dest.Number
	if dest.Kind == fsm.DestSIPURI {
		number = dest.Scheme + ":" + dest.Number + "@" + dest.Host
	}
	sent := events.MessageSent{From: clientParty(from), To: number, Text: req.Text}
	if err := fsm.CheckMessageSent(sent); err != nil {
		return Message{}, err
	}
	m := &fsm.Message{ID: e.cfg.IDs.NewID()}
	if err := e.appendMessage(ctx, m, sent); err != nil {
		return Message{}, err
	}
	if to != nil {
		// Inside the engine there is no network to cross.
		if err := e.appendMessage(ctx, m, events.MessageDelivered{}); err != nil {
			return Message{}, err
		}
		return messageView(m), nil
	}
	e.msgs.mu.Lock()
	e.msgs.pending[m.ID] = m
	e.msgs.mu.Unlock()
	view := messageView(m)
	sender.SendMessage(view)
	return view, nil
}

// FarMessageResult is how an adapter reports a message's delivery: delivered,
// or failed with a reason. A second report for the same message is
// invalid_state and changes nothing.
func (e *Engine) FarMessageResult(ctx context.Context, id string, delivered bool, reason string) (Message, error) {
	if err := e.checkOpen(); err != nil {
		return Message{}, err
	}
	e.msgs.mu.Lock()
	defer e.msgs.mu.Unlock()
	m := e.msgs.pending[id]
	if m == nil {
		done, err := e.loadMessage(id)
		if err != nil {
			return Message{}, err
		}
		m = done
	}
	ev, err := fsm.DecideMessageResult(m, delivered, reason)
	if err != nil {
		return Message{}, err
	}
	if err := e.appendMessage(ctx, m, ev); err != nil {
		return Message{}, err
	}
	delete(e.msgs.pending, id)
	return messageView(m), nil
}

// Message returns a message, pending or done.
func (e *Engine) Message(ctx context.Context, id string) (Message, error) {
	if err := e.checkOpen(); err != nil {
		return Message{}, err
	}
	e.msgs.mu.Lock()
	defer e.msgs.mu.Unlock()
	if m := e.msgs.pending[id]; m != nil {
		return messageView(m), nil
	}
	m, err := e.loadMessage(id)
	if err != nil {
		return Message{}, err
	}
	return messageView(m), nil
}

func (e *Engine) loadMessage(id string) (*fsm.Message, error) {
	m, err := aggregate.Messages.Load(e.journal, id)
	if err != nil {
		return nil, err
	}
	if m.Status == fsm.NoMessage {
		return nil, errcode.Newf(errcode.NotFound, "no message %s", id)
	}
	return &m, nil
}

// appendMessage journals ev on m's stream, folds it into m and publishes it.
func (e *Engine) appendMessage(ctx context.Context, m *fsm.Message, ev events.Event) error {
	changes, err := aggregate.Messages.Commit(ctx, e.journal, events.MessageStream(m.ID), m, []events.Event{ev}, e.now())
	if err != nil {
		return err
	}
	if e.observed() {
		view := messageView(m)
		for _, ch := range changes {
			e.emit(&Event{Envelope: ch.Envelope, Message: &view})
		}
	}
	return nil
}

// restoreMessages reloads the messages still waiting for their result; they
// are handed to the adapter again once it is attached.
func (e *Engine) restoreMessages(ids []string) error {
	for _, id := range ids {
		m, err := e.loadMessage(strings.TrimPrefix(id, MessageStreamPrefix))
		if err != nil {
			return err
		}
		if m.Status == fsm.MessagePending {
			e.msgs.pending[m.ID] = m
		}
	}
	return nil
}

// resendPending hands the adapter the messages restored without a result.
func (e *Engine) resendPending() {
	sender, ok := e.cfg.Adapter.(MessageSender)
	if !ok {
		return
	}
	e.msgs.mu.Lock()
	var out []Message
	for _, m := range e.msgs.pending {
		out = append(out, messageView(m))
	}
	e.msgs.mu.Unlock()
	slices.SortFunc(out, func(a, b Message) int {
		return cmp.Or(a.SentAt.Compare(b.SentAt), strings.Compare(a.ID, b.ID))
	})
	for _, m := range out {
		sender.SendMessage(m)
	}
}

// GetMessage is Message.
//
// Deprecated: use Message; lookups are named after what they return
// (Call, Client, Group, Session, Transfer, Message).
func (e *Engine) GetMessage(ctx context.Context, id string) (Message, error) {
	return e.Message(ctx, id)
}
