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

// match reports whether e passes the query's filters (the time range and
// the cursor are the store's business).
func (q *Query) match(e *Entry) bool {
	if len(q.Kinds) > 0 && !slices.Contains(q.Kinds, e.Kind) {
		return false
	}
	if len(q.Reasons) > 0 && !slices.Contains(q.Reasons, e.Reason) {
		return false
	}
	if q.Number != "" {
		if !MatchNumber(q.Number, e.Other.Number) && (e.Side != events.Callee || !MatchNumber(q.Number, e.CallerID)) {
			return false
		}
	}
	return true
}

// MatchNumber reports whether number matches the wanted one: the same
// string, or a number whose digits end with the wanted one's digits (see
// Query.Number).
func MatchNumber(want, number string) bool {
	if number == "" {
		return false
	}
	if want == number {
		return true
	}
	w := digits(want)
	return w != "" && strings.HasSuffix(digits(number), w)
}

func digits(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
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
