package simulator

import (
	"fmt"
	"slices"
	"strings"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/internal/aggregate"
)

// Sessions (FEATURES CL4–CL6). A scenario names a session by a label, as it
// names calls: `alice create-session as s1`, or s1, s2, … in order. The
// simulator follows each live session's events (SessionEvents) as the
// client's connection would, and keeps what was delivered for the step key
// `received`. A crash ends every subscription; the connections subscribe
// again to the sessions the restored engine brought back.

// follow subscribes to the events of session label.
func (s *sim) follow(label string) {
	id := s.sessions.byName[label]
	sub, err := s.eng.SessionEvents(s.ctx, id)
	if err != nil {
		return // gone: nothing to follow
	}
	s.follows[label] = sub
}

// refollow subscribes again, after a restore, to every session that is
// still live.
func (s *sim) refollow() {
	for _, l := range s.sessions.sorted() {
		if _, err := s.eng.Session(s.ctx, s.sessions.byName[l]); err == nil {
			s.follow(l)
		}
	}
}

// drain reads what every followed session was delivered: the events are
// published on the simulator's goroutine before the command that caused
// them returns, so the buffers hold everything up to now.
func (s *sim) drain() {
	if s.draining {
		return
	}
	s.draining = true
	defer func() { s.draining = false }()
	for _, l := range s.sessions.sorted() {
		sub := s.follows[l]
		if sub == nil {
			continue
		}
	read:
		for {
			select {
			case ev, ok := <-sub.Events():
				if !ok {
					delete(s.follows, l)
					if code := errcode.CodeOf(sub.Err()); code != errcode.Closed && sub.Err() != nil {
						// The session is gone: its events end with why.
						s.received[l] = append(s.received[l], l+" events-ended code="+string(code))
					}
					break read
				}
				s.received[l] = append(s.received[l], s.deliveryLine(&ev))
			default:
				break read
			}
		}
	}
}

// deliveryLine prints an event delivered to a session as the timeline
// prints the journal's: "<label> <event> key=value …".
func (s *sim) deliveryLine(ev *engine.Event) string {
	kind, id, _ := strings.Cut(ev.Stream, "/")
	label := ev.Stream
	switch kind {
	case "client", "group":
		label = id
	case "call":
		label = s.labelOf(id)
	case "transfer":
		label = s.nameOf(s.transfers, id)
	case "message":
		label = s.nameOf(s.msgs, id)
	case "session":
		label = s.nameOf(s.sessions, id)
	}
	return s.eventLine(label, &ev.Envelope)
}

// stateOfSession prints a session: "<active|grace> client=… connections=N
// deadline=<offset> auto-answer=on|off lines=…", or, once it is gone,
// "destroyed [expired]" from its stream.
func (s *sim) stateOfSession(label, id string) (string, bool) {
	v, err := s.eng.Session(s.ctx, id)
	if errcode.CodeOf(err) == errcode.InvalidSession {
		if f, ferr := aggregate.LoadSession(s.eng.Journal(), id); ferr == nil && f.Status == fsm.SessionDestroyed {
			w := line{string(f.Status)}
			w.add("client", f.Client)
			w.flag("expired", f.Expired)
			return w.String(), true
		}
	}
	if err != nil {
		return "error " + string(errcode.CodeOf(err)), false
	}
	return s.sessionState(&v), true
}

func (s *sim) sessionState(v *engine.Session) string {
	w := line{string(v.State)}
	w.add("client", v.Client)
	w.add("connections", fmt.Sprint(v.Connections))
	if !v.GraceDeadline.IsZero() {
		w.add("deadline", offset(v.GraceDeadline.Sub(s.p.start)))
	}
	w.add("auto-answer", onOff(v.AutoAnswer))
	w.add("lines", strings.Join(v.Lines, ","))
	return w.String()
}

// checkSessions checks every session of the scenario after a step: the
// engine serves what the fold of the session's stream says; a live session
// counts its connections (never below 0), is in grace exactly when it has
// none, and then has a grace deadline still to come (a deadline that passed
// is a grace timer that did not fire); a destroyed session is
// invalid_session_id and no client lists it; a client that is not
// registered has no live session.
func (s *sim) checkSessions(clients []engine.Client) {
	now := s.clock.Now()
	live := map[string][]string{} // client → ids of its live sessions, by the journal
	for _, l := range s.sessions.sorted() {
		id := s.sessions.byName[l]
		if s.settled[id] {
			continue // checked once destroyed; any later event is caught by collect
		}
		f, err := aggregate.LoadSession(s.eng.Journal(), id)
		if err != nil {
			s.fail("invariant", "session %s does not fold from the journal: %v", l, err)
			continue
		}
		v, err := s.eng.Session(s.ctx, id)
		if !f.Live() {
			if f.Status == fsm.SessionDestroyed && errcode.CodeOf(err) != errcode.InvalidSession {
				s.fail("invariant", "session %s is destroyed in the journal but the engine answers %v (want invalid_session_id)", l, err)
			}
			s.settled[id] = f.Status == fsm.SessionDestroyed
			continue
		}
		live[f.Client] = append(live[f.Client], id)
		if err != nil {
			s.fail("invariant", "session %s is live in the journal but cannot be read: %v", l, err)
			continue
		}
		if v.State != f.Status || v.Version != f.Version || v.Client != f.Client || v.Connections != f.Connections ||
			!v.GraceDeadline.Equal(timeOf(f.GraceDeadline)) || v.AutoAnswer != f.AutoAnswer || !slices.Equal(v.Lines, f.Lines) ||
			!v.CreatedAt.Equal(timeOf(f.CreatedAt)) {
			s.fail("invariant", "session %s: the engine serves %q (version %d) but the journal folds to %s with %d connections (version %d)",
				l, s.sessionState(&v), v.Version, f.Status, f.Connections, f.Version)
		}
		switch {
		case v.Connections < 0:
			s.fail("invariant", "session %s counts %d connections", l, v.Connections)
		case (v.State == fsm.SessionGrace) != (v.Connections == 0):
			s.fail("invariant", "session %s is %s with %d connections (grace exactly when none is left)", l, v.State, v.Connections)
		case v.State == fsm.SessionGrace && v.GraceDeadline.IsZero():
			s.fail("invariant", "session %s is in grace without a deadline", l)
		case v.State == fsm.SessionGrace && !v.GraceDeadline.After(now):
			s.fail("invariant", "session %s is still in grace at %s, past its deadline %s: the grace timer did not fire",
				l, offset(now.Sub(s.p.start)), offset(v.GraceDeadline.Sub(s.p.start)))
		case v.State == fsm.SessionActive && !v.GraceDeadline.IsZero():
			s.fail("invariant", "session %s is active with a grace deadline %s", l, offset(v.GraceDeadline.Sub(s.p.start)))
		}
	}
	registered := map[string]bool{}
	for _, c := range clients {
		registered[c.ID] = true
	}
	for _, client := range sortedKeys(live) {
		if !registered[client] {
			s.fail("invariant", "client %s is not registered but has the live sessions %v (unregistering destroys them)",
				client, s.sessionLabels(live[client]))
		}
	}
	for _, c := range clients {
		served, err := s.eng.Sessions(s.ctx, c.ID)
		if err != nil {
			s.fail("invariant", "the sessions of %s cannot be listed: %v", c.ID, err)
			continue
		}
		var ids []string
		for _, v := range served {
			ids = append(ids, v.ID)
		}
		want := live[c.ID]
		slices.Sort(ids)
		slices.Sort(want)
		if !slices.Equal(ids, want) {
			s.fail("invariant", "client %s: the engine lists the sessions %v but the journal has %v live",
				c.ID, s.sessionLabels(ids), s.sessionLabels(want))
		}
	}
}

func (s *sim) sessionLabels(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = s.nameOf(s.sessions, id)
	}
	return out
}

// sessionWorld prints the sessions for the comparison before a crash and
// after the restore.
func (s *sim) sessionWorld() []string {
	var out []string
	for _, l := range s.sessions.sorted() {
		v, err := s.eng.Session(s.ctx, s.sessions.byName[l])
		if err != nil {
			out = append(out, fmt.Sprintf("session %s: error %s", l, errcode.CodeOf(err)))
			continue
		}
		out = append(out, fmt.Sprintf("session %s: %+v", l, v))
	}
	return out
}

// liveSessions counts the sessions the engine serves.
func (s *sim) liveSessions() int {
	n := 0
	for _, l := range s.sessions.sorted() {
		if _, err := s.eng.Session(s.ctx, s.sessions.byName[l]); err == nil {
			n++
		}
	}
	return n
}

// sessionEvent prints the fields of a session event.
func sessionEventLine(w *line, env *events.Envelope) bool {
	switch ev := env.Event.(type) {
	case events.SessionCreated:
		w.add("client", ev.Client)
		w.add("auto-answer", onOff(ev.AutoAnswer))
	case events.SessionConnectionClosed:
		if ev.Deadline != 0 {
			w.add("grace", durationOf(ev.Deadline-env.Time))
		}
	case events.SessionDestroyed:
		w.flag("expired", ev.Expired)
	case events.SessionSubscribed:
		w.add("line", ev.Line)
	case events.SessionUnsubscribed:
		w.add("line", ev.Line)
	case events.SessionAutoAnswerSet:
		*w = append(*w, onOff(ev.On))
	case events.SessionRestored:
	default:
		return false
	}
	return true
}
