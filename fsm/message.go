package fsm

import (
	"fmt"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
)

// MessageStatus is where a text message is (FEATURES C15).
type MessageStatus string

const (
	NoMessage        MessageStatus = ""
	MessagePending   MessageStatus = "sent" // handed to the adapter, no result yet
	MessageDelivered MessageStatus = "delivered"
	MessageFailed    MessageStatus = "failed"
)

// MaxMessageText is the longest text a message may carry, in bytes (ten SMS
// segments of 160 characters).
const MaxMessageText = 1600

// Message is the state of one text message.
type Message struct {
	ID      string
	Version uint64
	Status  MessageStatus
	events.MessageSent
	Reason string // why it failed
	SentAt int64
	DoneAt int64
}

// CheckMessageSent checks a message before it is journaled.
func CheckMessageSent(e events.MessageSent) error {
	switch {
	case e.From.Client == "":
		return errcode.New(errcode.MissingParameter, "a message needs a sending client")
	case e.To == "":
		return errcode.New(errcode.MissingParameter, "a message needs a destination")
	case e.Text == "":
		return errcode.New(errcode.MissingParameter, "a message needs a text")
	case len(e.Text) > MaxMessageText:
		return errcode.Newf(errcode.InvalidParams, "a message text has %d bytes (at most %d)", len(e.Text), MaxMessageText)
	}
	return nil
}

// DecideMessageResult turns a delivery report into its event.
func DecideMessageResult(m *Message, delivered bool, reason string) (events.Event, error) {
	if m.Status == NoMessage {
		return nil, errcode.Newf(errcode.NotFound, "no message %s", m.ID)
	}
	if m.Status != MessagePending {
		return nil, errcode.Newf(errcode.InvalidState, "message %s is %s already", m.ID, m.Status)
	}
	if delivered {
		return events.MessageDelivered{}, nil
	}
	if reason == "" {
		reason = "failed"
	}
	return events.MessageFailed{Reason: reason}, nil
}

// ApplyMessage folds one event into the message.
func ApplyMessage(m *Message, ev events.Event, at int64) error {
	switch e := ev.(type) {
	case events.MessageSent:
		if m.Status != NoMessage {
			return fmt.Errorf("message %s: sent twice", m.ID)
		}
		m.MessageSent, m.Status, m.SentAt = e, MessagePending, at
	case events.MessageDelivered:
		if m.Status != MessagePending {
			return fmt.Errorf("message %s: delivered while %q", m.ID, m.Status)
		}
		m.Status, m.DoneAt = MessageDelivered, at
	case events.MessageFailed:
		if m.Status != MessagePending {
			return fmt.Errorf("message %s: failed while %q", m.ID, m.Status)
		}
		m.Status, m.Reason, m.DoneAt = MessageFailed, e.Reason, at
	default:
		return fmt.Errorf("message %s: %s is not a message event", m.ID, ev.Type())
	}
	m.Version++
	return nil
}
