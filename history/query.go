package history

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
)

// Limits of a query.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

// Query selects entries of one client's history. Zero fields select
// everything.
type Query struct {
	// Client whose history is listed. Required.
	Client string
	// Number keeps the calls whose other party has this number: the other
	// party's number, or for a call the client received (or missed) the
	// caller id it was shown. It matches when it is the same string, or
	// when the digits of the number end with the digits of Number, so
	// "+1 (415) 555-0101", "4155550101" and "0101" all match +14155550101.
	// A Number without digits (a SIP URI) matches only exactly.
	Number string
	// From and To keep the calls set up at or after From and before To.
	From, To time.Time
	// Reasons keeps the calls that ended with one of these reasons as the
	// client sees them (Entry.Reason); a call that has not ended has none.
	Reasons []events.Reason
	// Kinds keeps the calls of these kinds.
	Kinds []Kind
	// Limit is the most entries returned: default DefaultLimit, at most
	// MaxLimit.
	Limit int
	// Before is a cursor (Entry.Cursor) from an earlier page: only the
	// entries that come after it in the list (older) are returned.
	Before string
}

// check validates the query and fills in the default limit.
func (q *Query) check() (before cursor, err error) {
	if q.Client == "" {
		return cursor{}, errcode.New(errcode.MissingParameter, "history: which client?")
	}
	switch {
	case q.Limit < 0:
		return cursor{}, errcode.Newf(errcode.InvalidParams, "history: limit %d is negative", q.Limit)
	case q.Limit > MaxLimit:
		return cursor{}, errcode.Newf(errcode.InvalidParams, "history: limit %d is more than %d", q.Limit, MaxLimit)
	case q.Limit == 0:
		q.Limit = DefaultLimit
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return cursor{}, errcode.Newf(errcode.InvalidParams, "history: the time range %s to %s is empty",
			q.From.Format(time.RFC3339Nano), q.To.Format(time.RFC3339Nano))
	}
	for _, k := range q.Kinds {
		if _, ok := ParseKind(string(k)); !ok {
			return cursor{}, errcode.Newf(errcode.InvalidParams, "history: unknown kind %q (made, received, missed)", k)
		}
	}
	for _, r := range q.Reasons {
		if r == events.NoReason || r.String() == "" || strings.HasPrefix(r.String(), "reason(") {
			return cursor{}, errcode.Newf(errcode.InvalidParams, "history: unknown end reason %d", r)
		}
	}
	if q.Before != "" {
		c, ok := parseCursor(q.Before)
		if !ok {
			return cursor{}, errcode.Newf(errcode.InvalidParams, "history: %q is not a cursor from Entry.Cursor", q.Before)
		}
		return c, nil
	}
	return cursor{}, nil
}

// matcher applies a query's filters (the time range and the cursor are the
// store's business) to a stored entry without decoding it.
type matcher struct {
	q      *Query
	digits string // of q.Number
}

func newMatcher(q *Query) matcher { return matcher{q: q, digits: digits(q.Number)} }

func (m *matcher) match(e *rawEntry) bool {
	q := m.q
	if len(q.Kinds) > 0 && !slices.Contains(q.Kinds, Kind(e.kind)) {
		return false
	}
	if len(q.Reasons) > 0 && !slices.Contains(q.Reasons, events.Reason(e.reason)) {
		return false
	}
	if q.Number != "" && !m.number(e.number) && (events.Side(e.side) != events.Callee || !m.number(e.callerID)) {
		return false
	}
	return true
}

// number reports whether a number matches q.Number: the same string, or
// digits that end with its digits.
func (m *matcher) number(n []byte) bool {
	if len(n) == 0 {
		return false
	}
	if string(n) == m.q.Number {
		return true
	}
	if m.digits == "" {
		return false
	}
	i := len(m.digits) - 1
	for k := len(n) - 1; k >= 0 && i >= 0; k-- {
		if c := n[k]; c >= '0' && c <= '9' {
			if c != m.digits[i] {
				return false
			}
			i--
		}
	}
	return i < 0
}

// MatchNumber reports whether number matches the wanted one as
// Query.Number does: the same string, or a number whose digits end with
// the wanted one's digits.
func MatchNumber(want, number string) bool {
	q := Query{Number: want}
	m := newMatcher(&q)
	return m.number([]byte(number))
}

func digits(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b = append(b, s[i])
		}
	}
	return string(b)
}

// cursor is a place in a history: the entry of call Call, set up at Setup.
type cursor struct {
	Setup int64
	Call  string
	set   bool
}

func formatCursor(setup int64, call string) string {
	return strconv.FormatInt(setup, 10) + ":" + call
}

func parseCursor(s string) (cursor, bool) {
	ns, call, ok := strings.Cut(s, ":")
	if !ok || call == "" {
		return cursor{}, false
	}
	setup, err := strconv.ParseInt(ns, 10, 64)
	if err != nil {
		return cursor{}, false
	}
	return cursor{Setup: setup, Call: call, set: true}, true
}
