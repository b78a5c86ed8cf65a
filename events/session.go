package events

import "encoding/binary"

// Session events (FEATURES CL4, CL5, CL6, schema 3); a session's stream is
// "session/<id>". The session's connection counter and grace timer are
// state: they fold from these events.

// SessionCreated: Client opened a session; its connection counter is 1.
// AutoAnswer is the session's auto-answer setting (CL6).
type SessionCreated struct {
	Client     string `json:"client"`
	AutoAnswer bool   `json:"auto_answer"`
}

// SessionRestored: a connection restored the session; the counter goes up
// by one, and a running grace timer stops.
type SessionRestored struct{}

// SessionConnectionClosed: one of the session's connections closed; the
// counter goes down by one. When it reaches 0, Deadline is when the grace
// timer fires (engine-clock Unix nanoseconds); otherwise it is 0.
type SessionConnectionClosed struct {
	Deadline int64 `json:"deadline,omitempty"`
}

// SessionDestroyed: the session and its subscriptions are gone; its stream
// ends. Expired is true when the grace timer destroyed it.
type SessionDestroyed struct {
	Expired bool `json:"expired,omitempty"`
}

// SessionSubscribed: the session subscribed to Line — a number or
// extension of a client or group of the organisation, or the callpark line (CL5).
type SessionSubscribed struct {
	Line string `json:"line"`
}

// SessionUnsubscribed: the session dropped its subscription to Line.
type SessionUnsubscribed struct {
	Line string `json:"line"`
}

// SessionAutoAnswerSet: the session's auto-answer setting changed (CL6).
type SessionAutoAnswerSet struct {
	On bool `json:"on"`
}

func (SessionCreated) Type() Type          { return TypeSessionCreated }
func (SessionRestored) Type() Type         { return TypeSessionRestored }
func (SessionConnectionClosed) Type() Type { return TypeSessionConnectionClosed }
func (SessionDestroyed) Type() Type        { return TypeSessionDestroyed }
func (SessionSubscribed) Type() Type       { return TypeSessionSubscribed }
func (SessionUnsubscribed) Type() Type     { return TypeSessionUnsubscribed }
func (SessionAutoAnswerSet) Type() Type    { return TypeSessionAutoAnswerSet }

func (e SessionCreated) appendBinary(b []byte) []byte {
	return appendBool(appendString(b, e.Client), e.AutoAnswer)
}
func (SessionRestored) appendBinary(b []byte) []byte { return b }
func (e SessionConnectionClosed) appendBinary(b []byte) []byte {
	return binary.AppendVarint(b, e.Deadline)
}
func (e SessionDestroyed) appendBinary(b []byte) []byte     { return appendBool(b, e.Expired) }
func (e SessionSubscribed) appendBinary(b []byte) []byte    { return appendString(b, e.Line) }
func (e SessionUnsubscribed) appendBinary(b []byte) []byte  { return appendString(b, e.Line) }
func (e SessionAutoAnswerSet) appendBinary(b []byte) []byte { return appendBool(b, e.On) }

func (d *decoder) line() string {
	l := d.string()
	if d.err == nil && l == "" {
		d.fail("empty line")
	}
	return l
}

func (d *decoder) sessionPayload(t Type) Event {
	switch t {
	case TypeSessionCreated:
		e := SessionCreated{Client: d.string(), AutoAnswer: d.bool()}
		if d.err == nil && e.Client == "" {
			d.fail("session without a client")
		}
		return e
	case TypeSessionRestored:
		return SessionRestored{}
	case TypeSessionConnectionClosed:
		e := SessionConnectionClosed{Deadline: d.varint()}
		if e.Deadline < 0 {
			d.fail("negative deadline")
		}
		return e
	case TypeSessionDestroyed:
		return SessionDestroyed{Expired: d.bool()}
	case TypeSessionSubscribed:
		return SessionSubscribed{Line: d.line()}
	case TypeSessionUnsubscribed:
		return SessionUnsubscribed{Line: d.line()}
	case TypeSessionAutoAnswerSet:
		return SessionAutoAnswerSet{On: d.bool()}
	}
	return nil
}
