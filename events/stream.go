package events

import "strings"

// Stream ids. Every aggregate's events are one stream of the journal, named
// by the aggregate's kind and id: "call/<id>", "client/<id>", and so on. This
// is the only place that spells them.
const (
	CallStreamPrefix     = "call/"
	ClientStreamPrefix   = "client/"
	SessionStreamPrefix  = "session/"
	TransferStreamPrefix = "transfer/"
	GroupStreamPrefix    = "group/"
	MessageStreamPrefix  = "message/"
)

// StreamKind is the kind of aggregate a stream belongs to.
type StreamKind uint8

// The kinds of stream.
const (
	UnknownStream StreamKind = iota
	CallStreamKind
	ClientStreamKind
	SessionStreamKind
	TransferStreamKind
	GroupStreamKind
	MessageStreamKind
)

var streamPrefixes = [...]string{
	CallStreamKind:     CallStreamPrefix,
	ClientStreamKind:   ClientStreamPrefix,
	SessionStreamKind:  SessionStreamPrefix,
	TransferStreamKind: TransferStreamPrefix,
	GroupStreamKind:    GroupStreamPrefix,
	MessageStreamKind:  MessageStreamPrefix,
}

// Prefix returns the stream-id prefix of kind k ("" for UnknownStream).
func (k StreamKind) Prefix() string {
	if int(k) < len(streamPrefixes) {
		return streamPrefixes[k]
	}
	return ""
}

// String returns the kind's name: "call", "client", … or "unknown".
func (k StreamKind) String() string {
	if p := k.Prefix(); p != "" {
		return strings.TrimSuffix(p, "/")
	}
	return "unknown"
}

// Stream returns the stream id of the aggregate of kind k with id.
func (k StreamKind) Stream(id string) string { return k.Prefix() + id }

// ParseStream splits a stream id into its kind and the aggregate's id. A
// stream of no known kind is UnknownStream with the whole name as id.
func ParseStream(stream string) (StreamKind, string) {
	for k := CallStreamKind; int(k) < len(streamPrefixes); k++ {
		if id, ok := strings.CutPrefix(stream, streamPrefixes[k]); ok {
			return k, id
		}
	}
	return UnknownStream, stream
}

// CallStream returns the stream id of call id.
func CallStream(id string) string { return CallStreamPrefix + id }

// ClientStream returns the stream id of client id.
func ClientStream(id string) string { return ClientStreamPrefix + id }

// SessionStream returns the stream id of session id.
func SessionStream(id string) string { return SessionStreamPrefix + id }

// TransferStream returns the stream id of transfer id.
func TransferStream(id string) string { return TransferStreamPrefix + id }

// GroupStream returns the stream id of group id.
func GroupStream(id string) string { return GroupStreamPrefix + id }

// MessageStream returns the stream id of text message id.
func MessageStream(id string) string { return MessageStreamPrefix + id }
