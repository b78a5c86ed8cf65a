package history

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/callengine/callengine/events"
)

// The store's keys and values. A client's keys start with its id, length
// first, so that one client's keys are contiguous and never a prefix of
// another's:
//
//	entries    client · setup · call  → entry     (setup: 8 bytes, big endian, sign bit flipped)
//	calls      client · call          → setup     (finds an entry by call)
//	messages   client · at · call     → message
//	boxcalls   client · call          → at        (finds a message by call)
//	live       call                   → the fold's state of a live call (JSON)
//
// Entries and messages are binary: a version byte, then the fields in a
// fixed order, strings length-prefixed, times as varint Unix nanoseconds.

const valueVersion = 1

func clientPrefix(dst []byte, client string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(client)))
	return append(dst, client...)
}

func putTime(dst []byte, ns int64) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(ns)^(1<<63))
}

func getTime(b []byte) int64 { return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)) }

// timedKey is client · t · call.
func timedKey(dst []byte, client string, t int64, call string) []byte {
	return append(putTime(clientPrefix(dst, client), t), call...)
}

// callKey is client · call.
func callKey(dst []byte, client, call string) []byte {
	return append(clientPrefix(dst, client), call...)
}

// splitTimedKey returns the time and the call of a timed key under prefix.
func splitTimedKey(prefix, k []byte) (int64, string, bool) {
	if len(k) < len(prefix)+8 {
		return 0, "", false
	}
	return getTime(k[len(prefix):]), string(k[len(prefix)+8:]), true
}

// successor returns the smallest key above every key that starts with
// prefix, or nil when there is none.
func successor(prefix []byte) []byte {
	s := append([]byte(nil), prefix...)
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] != 0xFF {
			s[i]++
			return s[:i+1]
		}
	}
	return nil
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendParty(b []byte, p events.Party) []byte {
	return appendStr(appendStr(appendStr(b, p.Client), p.Number), p.Name)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func encodeEntry(b []byte, e *Entry) []byte {
	b = append(b, valueVersion)
	b = appendStr(b, e.Call)
	b = appendStr(b, e.Client)
	b = appendStr(b, string(e.Kind))
	b = append(b, byte(e.Side), byte(e.Direction))
	b = appendParty(b, e.Other)
	b = appendStr(b, e.CallerID)
	b = appendStr(b, e.Group)
	b = appendStr(b, e.Transfer)
	b = appendStr(b, string(e.State))
	b = binary.AppendVarint(b, nanos(e.SetupAt))
	b = binary.AppendVarint(b, nanos(e.RingingAt))
	b = binary.AppendVarint(b, nanos(e.AnswerAt))
	b = binary.AppendVarint(b, nanos(e.VoicemailAt))
	b = binary.AppendVarint(b, nanos(e.EndAt))
	b = binary.AppendVarint(b, nanos(e.UpdatedAt))
	b = append(b, byte(e.Reason), byte(e.EndedBy))
	b = appendBool(b, e.Voicemail)
	return appendStr(b, e.AnsweredBy)
}

var errBadValue = errors.New("history: bad value in the store")

type reader struct {
	b   []byte
	err bool
}

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		r.err = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) str() string {
	n, k := binary.Uvarint(r.b)
	if k <= 0 || n > uint64(len(r.b)-k) {
		r.err = true
		return ""
	}
	s := string(r.b[k : k+int(n)])
	r.b = r.b[k+int(n):]
	return s
}

func (r *reader) party() events.Party {
	return events.Party{Client: r.str(), Number: r.str(), Name: r.str()}
}

func (r *reader) done() error {
	if r.err || len(r.b) != 0 {
		return errBadValue
	}
	return nil
}

func decodeEntry(b []byte, e *Entry) error {
	r := reader{b: b}
	if r.byte() != valueVersion {
		return errBadValue
	}
	e.Call = r.str()
	e.Client = r.str()
	e.Kind = Kind(r.str())
	e.Side = events.Side(r.byte())
	e.Direction = events.Direction(r.byte())
	e.Other = r.party()
	e.CallerID = r.str()
	e.Group = r.str()
	e.Transfer = r.str()
	e.State = State(r.str())
	for _, t := range []*time.Time{&e.SetupAt, &e.RingingAt, &e.AnswerAt, &e.VoicemailAt, &e.EndAt, &e.UpdatedAt} {
		*t = instant(r.varint())
	}
	e.Reason = events.Reason(r.byte())
	e.EndedBy = events.Side(r.byte())
	e.Voicemail = r.byte() == 1
	e.AnsweredBy = r.str()
	return r.done()
}

func encodeMessage(b []byte, m *Message) []byte {
	b = append(b, valueVersion)
	b = appendStr(b, m.Call)
	b = appendStr(b, m.Client)
	b = appendParty(b, m.From)
	b = binary.AppendVarint(b, int64(m.Duration))
	b = binary.AppendVarint(b, nanos(m.At))
	return appendBool(b, m.New)
}

func decodeMessage(b []byte, m *Message) error {
	r := reader{b: b}
	if r.byte() != valueVersion {
		return errBadValue
	}
	m.Call = r.str()
	m.Client = r.str()
	m.From = r.party()
	m.Duration = time.Duration(r.varint())
	m.At = instant(r.varint())
	m.New = r.byte() == 1
	return r.done()
}

// rawEntry is what a query filters on, read from an encoded entry without
// decoding (nor allocating) the rest. Its slices point into the value.
type rawEntry struct {
	kind             []byte
	side, reason     byte
	number, callerID []byte
}

func (r *reader) skipStr() []byte {
	n, k := binary.Uvarint(r.b)
	if k <= 0 || n > uint64(len(r.b)-k) {
		r.err = true
		return nil
	}
	s := r.b[k : k+int(n)]
	r.b = r.b[k+int(n):]
	return s
}

func peekEntry(b []byte) (rawEntry, bool) {
	r := reader{b: b}
	var e rawEntry
	if r.byte() != valueVersion {
		return e, false
	}
	r.skipStr() // call
	r.skipStr() // client
	e.kind = r.skipStr()
	e.side = r.byte()
	r.byte()    // direction
	r.skipStr() // other: client
	e.number = r.skipStr()
	r.skipStr() // name
	e.callerID = r.skipStr()
	r.skipStr() // group
	r.skipStr() // transfer
	r.skipStr() // state
	for i := 0; i < 6; i++ {
		r.varint()
	}
	e.reason = r.byte()
	return e, !r.err
}
