package engine

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/internal/actors"
	"github.com/callengine/callengine/internal/aggregate"
)

// Sessions (FEATURES CL4, CL5, CL6). A client's connection (a browser tab,
// a softphone) works in a session. The session counts connections as the
// seed SDK does — CreateSession sets 1, CloseConnection takes 1,
// RestoreSession adds 1 — and when the count reaches 0 a grace timer of
// Config.SessionGrace (5 min) starts. A restore before it fires stops it;
// when it fires the session and its subscriptions are destroyed. The
// counter, the subscriptions, the auto-answer setting and the grace
// deadline are journaled on the stream "session/<id>": after a restart,
// even a kill -9, every session and pending grace timer is back and the
// timer fires at its original deadline. A destroyed or unknown session is
// errcode.InvalidSession.
//
// A session follows its client's own line implicitly, and the lines it
// subscribes to: numbers and extensions of the organisation's clients and
// groups, and the callpark line. SessionEvents delivers their events.

// Session is a session as the engine keeps it.
type Session struct {
	ID            string
	Client        string
	State         fsm.SessionStatus
	Connections   int       // the seed's counter
	GraceDeadline time.Time // zero unless the grace timer runs
	AutoAnswer    bool      // CL6
	Lines         []string  // subscribed lines, besides the client's own
	CreatedAt     time.Time
	Version       uint64
}

// SessionOptions are the settings of a new session.
type SessionOptions struct {
	// NoAutoAnswer turns auto-answer off; it is on by default (CL6).
	NoAutoAnswer bool
}

func sessionView(s *fsm.Session) Session {
	return Session{
		ID: s.ID, Client: s.Client, State: s.Status, Connections: s.Connections,
		GraceDeadline: timeOf(s.GraceDeadline), AutoAnswer: s.AutoAnswer, Lines: slices.Clone(s.Lines),
		CreatedAt: timeOf(s.CreatedAt), Version: s.Version,
	}
}

// sessions is the registry of live sessions.
type sessions struct {
	mu   sync.RWMutex
	byID map[string]*sessionEntry
}

type sessionEntry struct {
	pid  *actor.PID
	snap atomic.Pointer[fsm.Session] // the latest state, replaced whole
	subs atomic.Int32                // SessionEvents subscriptions open
}

func (r *sessions) get(id string) *sessionEntry {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.byID[id]
}

func (r *sessions) put(id string, en *sessionEntry) {
	r.mu.Lock()
	if r.byID == nil {
		r.byID = map[string]*sessionEntry{}
	}
	r.byID[id] = en
	r.mu.Unlock()
}

func (r *sessions) drop(id string) {
	r.mu.Lock()
	delete(r.byID, id)
	r.mu.Unlock()
}

func (r *sessions) all() []*sessionEntry {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*sessionEntry, 0, len(r.byID))
	for _, en := range r.byID {
		out = append(out, en)
	}
	return out
}

func (e *Engine) startSession(s *fsm.Session) error {
	en := &sessionEntry{}
	cp := s.Clone()
	en.snap.Store(&cp)
	e.sess.put(s.ID, en) // before the actor starts: its events find the entry
	pid, err := actors.SpawnSession(e.root, e.deps, publisher{e}, s.ID, s)
	if err != nil {
		e.sess.drop(s.ID)
		return err
	}
	en.pid = pid
	return nil
}

func (e *Engine) restoreSessions(ids []string) error {
	for _, id := range ids {
		s, err := aggregate.LoadSession(e.journal, id)
		if err != nil {
			return err
		}
		if !s.Live() {
			return errcode.Newf(errcode.JournalCorrupt, "session %s is in the live set but folds to %q", id, s.Status)
		}
		if err := e.startSession(&s); err != nil {
			return err
		}
		if s.GraceDeadline != 0 {
			// Wait until the actor armed its grace timer: when Open returns,
			// every pending timer is on the clock.
			ch := make(chan actors.SessionResult, 1)
			var r actors.SessionResult
			ask(context.Background(), e, e.sess.get(id).pid, &actors.GetSession{Reply: ch}, ch, &r)
		}
	}
	return nil
}

func invalidSessionErr(s *fsm.Session) error {
	if s.Expired {
		return errcode.Newf(errcode.InvalidSession, "session %s expired", s.ID)
	}
	return errcode.Newf(errcode.InvalidSession, "session %s was destroyed", s.ID)
}

// session returns the live session id, checked against the principal.
func (e *Engine) session(ctx context.Context, id string) (*sessionEntry, *fsm.Session, error) {
	if err := e.checkOpen(); err != nil {
		return nil, nil, err
	}
	if strings.TrimSpace(id) == "" {
		return nil, nil, errcode.New(errcode.MissingParameter, "a session id is needed")
	}
	en := e.sess.get(id)
	if en == nil {
		return nil, nil, e.goneSessionError(id)
	}
	s := en.snap.Load()
	if err := e.authorizeClient(ctx, s.Client); err != nil {
		return nil, nil, err
	}
	return en, s, nil
}

func (e *Engine) sessionCommand(ctx context.Context, en *sessionEntry, id string, cmd fsm.SessionCommand) (Session, error) {
	req := &actors.SessionRequest{Ctx: ctx, Command: cmd, Reply: make(chan actors.SessionResult, 1)}
	var r actors.SessionResult
	if !ask(ctx, e, en.pid, req, req.Reply, &r) {
		return Session{}, ctx.Err()
	}
	if r.Err != nil {
		e.logRefused(ctx, commandName(cmd), id, r.Err)
		return Session{}, r.Err
	}
	return sessionView(&r.State), nil
}

// CreateSession opens a session for a registered client; its connection
// counter is 1. With a principal, only the client itself (or a supervisor)
// opens one.
func (e *Engine) CreateSession(ctx context.Context, clientID string, opts SessionOptions) (Session, error) {
	if err := e.checkOpen(); err != nil {
		return Session{}, err
	}
	if err := e.authorizeClient(ctx, clientID); err != nil {
		return Session{}, err
	}
	c := e.dir.get(clientID)
	if c == nil || !c.Registered() {
		return Session{}, errcode.Newf(errcode.NotFound, "no client %s is registered", clientID)
	}
	id := "s-" + e.cfg.IDs.NewID()
	s := fsm.Session{ID: id}
	if err := e.startSession(&s); err != nil {
		return Session{}, err
	}
	v, err := e.sessionCommand(ctx, e.sess.get(id), id, fsm.CreateSession{Client: clientID, AutoAnswer: !opts.NoAutoAnswer})
	if err != nil {
		// Nothing was journaled: the actor of the session that never was
		// goes.
		if en := e.sess.get(id); en != nil {
			e.root.Stop(en.pid)
		}
		e.sess.drop(id)
		return Session{}, err
	}
	return v, nil
}

// RestoreSession counts a connection that restored the session (a page
// reload, a reconnect): the counter goes up by 1 and a running grace timer
// stops. The session keeps its subscriptions.
func (e *Engine) RestoreSession(ctx context.Context, id string) (Session, error) {
	en, _, err := e.session(ctx, id)
	if err != nil {
		return Session{}, err
	}
	return e.sessionCommand(ctx, en, id, fsm.RestoreSession{})
}

// CloseConnection counts a closed connection of the session: the counter
// goes down by 1; at 0 the grace timer starts.
func (e *Engine) CloseConnection(ctx context.Context, id string) (Session, error) {
	en, _, err := e.session(ctx, id)
	if err != nil {
		return Session{}, err
	}
	return e.sessionCommand(ctx, en, id, fsm.CloseConnection{Grace: e.cfg.SessionGrace})
}

// DestroySession destroys the session and its subscriptions now.
func (e *Engine) DestroySession(ctx context.Context, id string) error {
	en, _, err := e.session(ctx, id)
	if err != nil {
		return err
	}
	_, err = e.sessionCommand(ctx, en, id, fsm.DestroySession{})
	return err
}

// Session returns a live session.
func (e *Engine) Session(ctx context.Context, id string) (Session, error) {
	_, s, err := e.session(ctx, id)
	if err != nil {
		return Session{}, err
	}
	return sessionView(s), nil
}

// Sessions returns the live sessions of a client, oldest first.
func (e *Engine) Sessions(ctx context.Context, clientID string) ([]Session, error) {
	if err := e.checkOpen(); err != nil {
		return nil, err
	}
	if err := e.authorizeClient(ctx, clientID); err != nil {
		return nil, err
	}
	var out []Session
	for _, en := range e.sess.all() {
		if s := en.snap.Load(); s.Client == clientID && s.Live() {
			out = append(out, sessionView(s))
		}
	}
	slices.SortFunc(out, func(a, b Session) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// SetAutoAnswer sets the session's auto-answer (CL6).
func (e *Engine) SetAutoAnswer(ctx context.Context, id string, on bool) (Session, error) {
	en, _, err := e.session(ctx, id)
	if err != nil {
		return Session{}, err
	}
	return e.sessionCommand(ctx, en, id, fsm.SetAutoAnswer{On: on})
}

// SubscribeLine subscribes the session to a line (CL5): a number or extension
// of a client or group of the organisation, or CallparkLine. The client's
// own line is followed implicitly.
func (e *Engine) SubscribeLine(ctx context.Context, id, line string) (Session, error) {
	en, s, err := e.session(ctx, id)
	if err != nil {
		return Session{}, err
	}
	line, err = e.orgLine(s.Client, line)
	if err != nil {
		return Session{}, err
	}
	return e.sessionCommand(ctx, en, id, fsm.SubscribeLine{Line: line})
}

// UnsubscribeLine drops the session's subscription to line.
func (e *Engine) UnsubscribeLine(ctx context.Context, id, line string) (Session, error) {
	en, _, err := e.session(ctx, id)
	if err != nil {
		return Session{}, err
	}
	if n, ok := fsm.NormalizeNumber(line); ok {
		line = n
	}
	return e.sessionCommand(ctx, en, id, fsm.UnsubscribeLine{Line: line})
}

// Subscriptions lists the lines the session follows: the client's own
// numbers and extensions first, then those it subscribed to.
func (e *Engine) Subscriptions(ctx context.Context, id string) ([]string, error) {
	_, s, err := e.session(ctx, id)
	if err != nil {
		return nil, err
	}
	var out []string
	if c := e.dir.get(s.Client); c != nil {
		out = append(append(out, c.Numbers...), c.Extensions...)
	}
	return append(out, s.Lines...), nil
}

// orgLine checks that line is one of the organisation's, other than the
// client's own, and returns it normalised.
func (e *Engine) orgLine(client, line string) (string, error) {
	line = strings.TrimSpace(line)
	if line == "" {
		return "", errcode.New(errcode.MissingParameter, "subscribe needs a line")
	}
	if line == CallparkLine {
		return line, nil
	}
	if n, ok := fsm.NormalizeNumber(line); ok {
		line = n
	}
	owner := e.dir.byNumber(line)
	if owner == nil {
		owner = e.dir.byExtension(line)
	}
	if owner != nil {
		if owner.ID == client {
			return "", errcode.Newf(errcode.AlreadyExists, "%s is the client's own line: it is always followed", line)
		}
		return line, nil
	}
	if e.router().findGroup(line) != nil || slices.Contains(e.orgNumbers, line) {
		return line, nil
	}
	return "", errcode.Newf(errcode.NotFound, "%s is not a line of the organisation", line)
}

// SessionEvents delivers the events a session follows (CL5): the calls of
// its client and of the clients whose lines it subscribed to, the calls to
// or from its other subscribed lines (groups, organisation numbers), the
// callpark line when subscribed, the presence of those clients, and the
// session's own events. The subscription follows the session's
// subscriptions as they change, and ends with errcode.InvalidSession when
// the session is destroyed.
func (e *Engine) SessionEvents(ctx context.Context, id string) (*Subscription, error) {
	en, _, err := e.session(ctx, id)
	if err != nil {
		return nil, err
	}
	stream := events.SessionStream(id)
	match := func(ev *Event) bool {
		if ev.Stream == stream {
			return true
		}
		if ev.Session != nil {
			return false // other sessions' events are their own business
		}
		s := en.snap.Load()
		f := Filter{Clients: []string{s.Client}, Presence: true}
		var lines []string
		for _, l := range s.Lines {
			if c := e.dir.byNumber(l); c != nil {
				f.Clients = append(f.Clients, c.ID)
			} else if c := e.dir.byExtension(l); c != nil {
				f.Clients = append(f.Clients, c.ID)
			} else {
				lines = append(lines, l)
			}
		}
		if f.match(ev) {
			return true
		}
		if c := ev.Client; c != nil {
			// A client whose line the session follows, also once it no
			// longer resolves (unregistered: the directory dropped it).
			return slices.ContainsFunc(s.Lines, func(l string) bool {
				return slices.Contains(c.Numbers, l) || slices.Contains(c.Extensions, l)
			})
		}
		if len(lines) == 0 {
			return false
		}
		g := Filter{Lines: lines}
		return (ev.Call != nil || ev.Transfer != nil || ev.Message != nil || ev.Group != nil) && g.match(ev)
	}
	// The caller of a call is told nothing of the callee's ignore (C4): a
	// session that follows the call only through its caller does not get
	// CallIgnored, and the call it sees is not marked ignored.
	calleeSide := func(ev *Event) bool {
		c := *ev.Call
		c.Caller = events.Party{}
		x := *ev
		x.Call = &c
		return match(&x)
	}
	deliver := func(ev *Event) bool {
		if !match(ev) {
			return false
		}
		return ev.Type != events.TypeCallIgnored || calleeSide(ev)
	}
	view := func(ev *Event) Event {
		if ev.Call == nil || !ev.Call.Ignored || calleeSide(ev) {
			return *ev
		}
		return callerView(ev)
	}
	sub := e.bus.addFunc(ctx, deliver, view, id)
	// Destroyed meanwhile: end it at once.
	if e.sess.get(id) == nil {
		sub.end(e.goneSessionError(id))
	}
	return sub, nil
}

// autoAnswer answers the client's own leg of a call it placed through the
// engine — the first call of a click-to-call, which rings the client's own
// phone — when one of the client's live sessions has auto-answer on (CL6).
// The answer is a command like any other, sent to the call's mailbox: it is
// journaled as CallAnswered, after the ringing.
func (e *Engine) autoAnswer(c *fsm.Call) {
	if c.Origin != events.OriginClickToCall || c.Callee.Client == "" || len(c.Ringing) == 0 || !e.autoAnswers(c.Callee.Client) {
		return
	}
	if pid := e.live.pid(c.ID); pid != nil {
		e.root.Send(pid, &actors.CallRequest{Command: fsm.Answer{Device: c.Ringing[0]}, Reply: make(chan actors.CallResult, 1)})
	}
}

// autoAnswers reports whether a live session of client has auto-answer on.
func (e *Engine) autoAnswers(client string) bool {
	for _, en := range e.sess.all() {
		if s := en.snap.Load(); s.Client == client && s.Status == fsm.SessionActive && s.AutoAnswer {
			return true
		}
	}
	return false
}

// endSessions destroys the live sessions of a client that was unregistered:
// its connections have nothing left to work for.
func (e *Engine) endSessions(client string) {
	var ids []string
	for _, en := range e.sess.all() {
		if s := en.snap.Load(); s.Client == client && s.Live() && en.pid != nil {
			ids = append(ids, s.ID)
		}
	}
	slices.Sort(ids) // the same order on every run: a simulation replays it
	for _, id := range ids {
		if en := e.sess.get(id); en != nil {
			e.root.Send(en.pid, &actors.SessionRequest{Command: fsm.DestroySession{}, Reply: make(chan actors.SessionResult, 1)})
		}
	}
}

// GetSession is Session.
//
// Deprecated: use Session; lookups are named after what they return.
func (e *Engine) GetSession(ctx context.Context, id string) (Session, error) {
	return e.Session(ctx, id)
}

// callerView is a call event as the caller's side sees it: the call is not
// marked ignored (C4).
func callerView(ev *Event) Event {
	c := ev.Call.asCaller()
	x := *ev
	x.Call = &c
	return x
}
