package events

// MessageSent: a client sent a text message to a number (FEATURES C15); the
// adapter delivers it and reports the result.
type MessageSent struct {
	From Party  `json:"from"`
	To   string `json:"to"`
	Text string `json:"text"`
}

// MessageDelivered: the far end accepted the message; its stream ends.
type MessageDelivered struct{}

// MessageFailed: the message could not be delivered; its stream ends.
type MessageFailed struct {
	Reason string `json:"reason"`
}

func (MessageSent) Type() Type      { return TypeMessageSent }
func (MessageDelivered) Type() Type { return TypeMessageDelivered }
func (MessageFailed) Type() Type    { return TypeMessageFailed }

func (e MessageSent) appendBinary(b []byte) []byte {
	return appendString(appendString(appendParty(b, e.From), e.To), e.Text)
}
func (MessageDelivered) appendBinary(b []byte) []byte { return b }
func (e MessageFailed) appendBinary(b []byte) []byte  { return appendString(b, e.Reason) }

func (d *decoder) messagePayload(t Type) Event {
	switch t {
	case TypeMessageSent:
		return MessageSent{From: d.party(), To: d.string(), Text: d.string()}
	case TypeMessageDelivered:
		return MessageDelivered{}
	case TypeMessageFailed:
		return MessageFailed{Reason: d.string()}
	}
	return nil
}
