package webhooks

import "github.com/callengine/callengine/events"

// The kinds of event delivered, named as in Endpoint.Events and in the
// "kind" field of a delivery.
const (
	KindCallCreated      = "call.created"      // events.CallDialed: a call was placed (dialled, inbound, by a transfer)
	KindCallEnded        = "call.ended"        // events.CallEnded
	KindVoicemailLeft    = "voicemail.left"    // events.VoicemailLeft
	KindMessageSent      = "message.sent"      // events.MessageSent
	KindMessageDelivered = "message.delivered" // events.MessageDelivered
	KindMessageFailed    = "message.failed"    // events.MessageFailed
)

var kinds = []string{KindCallCreated, KindCallEnded, KindVoicemailLeft, KindMessageSent, KindMessageDelivered, KindMessageFailed}

// Kinds returns every kind, in a fixed order.
func Kinds() []string { return append([]string(nil), kinds...) }

// KindOf returns the kind of an event type, or "" for a type that is not
// delivered.
func KindOf(t events.Type) string {
	switch t {
	case events.TypeCallDialed:
		return KindCallCreated
	case events.TypeCallEnded:
		return KindCallEnded
	case events.TypeVoicemailLeft:
		return KindVoicemailLeft
	case events.TypeMessageSent:
		return KindMessageSent
	case events.TypeMessageDelivered:
		return KindMessageDelivered
	case events.TypeMessageFailed:
		return KindMessageFailed
	}
	return ""
}
