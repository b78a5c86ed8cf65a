package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/callengine/callengine/auth"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/history"
	"github.com/callengine/callengine/internal/actors"
	"github.com/callengine/callengine/internal/aggregate"
	"github.com/callengine/callengine/journal"
	"github.com/callengine/callengine/webhooks"
)

// Engine keeps the truth about every client and call. It is safe for
// concurrent use. Open one with Open; Close it when done.
type Engine struct {
	cfg        Config
	journal    *journal.Journal
	system     *actor.ActorSystem
	root       *actor.RootContext
	deps       *actors.Deps
	dir        *directory
	live       *liveCalls
	bus        *bus
	regMu      sync.Mutex // serialises registrations: numbers and extensions stay unique
	groups     groups
	xfer       *transfers
	msgs       messages
	control    controlLocks
	orgNumbers []string // Config.Numbers in E.164
	closed     atomic.Bool
	stats      RestoreStats

	sess    sessions
	actions *actionLog // nil unless Config.ActionLog and debug logs
	hooks   atomic.Pointer[webhooks.Dispatcher]
	hist    atomic.Pointer[history.History]

	archiver *archiver // retention: Archive calls, the periodic archiver (retention.go)

	tokenOnce sync.Once
	tokens    *auth.Signer
	tokenErr  error
}

// RestoreStats tells what Open brought back from the journal.
type RestoreStats struct {
	Clients  int           // registered clients restored
	Calls    int           // live calls restored
	Events   int           // events folded
	Duration time.Duration // wall time Open spent restoring
}

// Open opens (or creates) the journal of cfg and restores every client and
// every call that had not ended. A journal that is damaged, not a journal, of
// a newer schema, or locked by another process is an error with a stable
// code; nothing is written then.
func Open(ctx context.Context, cfg Config) (*Engine, error) {
	cfg = cfg.WithDefaults()
	var org []string
	for _, n := range cfg.Numbers {
		num, ok := fsm.NormalizeNumber(n)
		if !ok {
			return nil, errcode.Newf(errcode.InvalidParams, "organisation number %q is not E.164", n)
		}
		org = append(org, num)
	}
	if cfg.TokenSecret != nil {
		if _, err := auth.NewSigner(cfg.TokenSecret, cfg.PreviousTokenSecrets...); err != nil {
			return nil, err // a secret too short: refused before anything opens
		}
	}
	if err := os.MkdirAll(filepath.Dir(cfg.JournalPath), 0o755); err != nil {
		return nil, errcode.Wrap(errcode.Unavailable, err, "cannot create the data directory")
	}
	j, err := journal.Open(cfg.JournalPath, journal.Options{Timeout: cfg.LockTimeout})
	if err != nil {
		return nil, openError(err)
	}
	e := &Engine{cfg: cfg, journal: j, dir: newDirectory(), live: newLiveCalls(), bus: newBus(cfg.SubscriberBuffer), orgNumbers: org}
	e.groups.byID = map[string]*fsm.Group{}
	e.xfer = newTransfers()
	if cfg.ActionLog {
		e.actions = newActionLog(cfg.Logger)
	}

	e.msgs.pending = map[string]*fsm.Message{}
	logger := cfg.Logger
	e.system = actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return logger.With(slog.String("lib", "protoactor"))
	}))
	// A panicking actor is always restarted: a panic comes from one message,
	// and the restarted actor reloads its stream from the journal. A
	// strategy that gave up after N panics would leave a live call without
	// an actor.
	e.root = actor.NewRootContext(e.system, nil).WithGuardian(actor.NewRestartingStrategy())
	// Calls, clients and sessions run on the goroutine of whoever sends
	// them a command; a transfer goes on by itself after the command that
	// started it returned: its actor runs on a goroutine of its own.
	var dispatcher, background actor.Dispatcher = actors.InlineDispatcher{Messages: 300}, actor.NewDefaultDispatcher(300)
	if cfg.Dispatcher != nil {
		dispatcher, background = cfg.Dispatcher, cfg.Dispatcher
	}
	e.deps = &actors.Deps{
		Journal: j, Clock: cfg.Clock, Publisher: publisher{e}, Log: logger, Dispatcher: dispatcher, Background: background,
	}
	e.deps.Gone = e.answerGone
	e.system.EventStream.Subscribe(e.deadLetter)
	if err := e.restore(ctx); err != nil {
		e.shutdown()
		return nil, err
	}
	if cfg.Adapter != nil {
		cfg.Adapter.Attach(e)
		e.resendPending()
	}
	for _, open := range []func(context.Context) error{e.openHistory, e.openWebhooks, e.openRetention} {
		if err := open(ctx); err != nil {
			e.shutdown()
			return nil, err
		}
	}
	return e, nil
}

func openError(err error) error {
	msg := "cannot open the journal"
	switch {
	case errors.Is(err, journal.ErrCorrupt):
		msg = "the journal is damaged"
	case errors.Is(err, journal.ErrNotJournal):
		msg = "the file is not a callengine journal"
	case errors.Is(err, journal.ErrNewerSchema):
		msg = "the journal was written by a newer callengine"
	case errors.Is(err, journal.ErrLocked):
		msg = "the journal is held by another process"
	}
	return errcode.Wrap(errcode.Classify(err, errcode.Unavailable), err, msg)
}

// Close stops every actor and closes the journal. Calls and clients stay in
// the journal: the next Open brings them back. Close is idempotent.
func (e *Engine) Close() error {
	if e.closed.Swap(true) {
		return nil
	}
	return e.shutdown()
}

func (e *Engine) shutdown() error {
	e.closed.Store(true)
	// Transfers first: a transfer stopped between two steps carries on from
	// the journal at the next Open.
	for _, pid := range e.xfer.all() {
		_ = e.root.StopFuture(pid).Wait()
	}
	var futures []*actor.Future
	for _, pid := range e.live.all() {
		futures = append(futures, e.root.StopFuture(pid))
	}
	for _, pid := range e.dir.allPIDs() {
		futures = append(futures, e.root.StopFuture(pid))
	}
	for _, en := range e.sess.all() {
		if en.pid != nil {
			futures = append(futures, e.root.StopFuture(en.pid))
		}
	}
	for _, f := range futures {
		_ = f.Wait()
	}
	e.bus.closeAll(errcode.New(errcode.Closed, "engine closed"))
	e.system.Shutdown()
	e.closeRetention()
	e.closeWebhooks()
	e.closeHistory()
	return e.journal.Close()
}

// Journal returns the engine's journal, for backups and replay.
func (e *Engine) Journal() *journal.Journal { return e.journal }

// Restored returns what Open brought back from the journal.
func (e *Engine) Restored() RestoreStats { return e.stats }

// LiveCalls returns how many calls have not ended.
func (e *Engine) LiveCalls() int { return e.live.count() }

func (e *Engine) now() int64 { return e.cfg.Clock.Now().UnixNano() }

func (e *Engine) checkOpen() error {
	if e.closed.Load() {
		return errcode.New(errcode.Closed, "engine closed")
	}
	return nil
}

// deadLetter answers requests sent to an actor no longer registered.
func (e *Engine) deadLetter(msg any) {
	if dl, ok := msg.(*actor.DeadLetterEvent); ok {
		e.answerGone(dl.PID, dl.Message)
	}
}

// answerGone answers a request that reached an actor after it stopped (a
// call that ended between the lookup and the delivery): from the journal,
// as the actor would have. Every request is answered exactly once: by its
// actor, or here — through the actors' mailbox for what was queued when the
// actor stopped, or as a dead letter for what was sent after.
func (e *Engine) answerGone(pid *actor.PID, msg any) {
	_, id := events.ParseStream(pid.Id)
	switch m := msg.(type) {
	case *actors.CallRequest:
		m.Answer(e.goneCallError(id))
	case *actors.TransferRequest:
		t, err := aggregate.LoadTransfer(e.journal, id)
		if err == nil {
			err = errcode.Newf(errcode.InvalidState, "transfer %s is %s", id, t.Status)
		}
		m.Reply <- actors.TransferResult{Transfer: t, Err: err}
	case *actors.GetTransfer:
		t, err := aggregate.LoadTransfer(e.journal, id)
		m.Reply <- actors.TransferResult{Transfer: t, Err: err}
	case *actors.GetCall:
		c, err := aggregate.LoadCall(e.journal, id)
		if err == nil && c.Status == fsm.NoCall {
			err = errcode.Newf(errcode.NotFound, "no call %s", id)
		}
		m.Reply <- actors.CallResult{State: c, Err: err}
	case *actors.SessionRequest:
		m.Answer(e.goneSessionError(id))
	case *actors.GetSession:
		s, err := aggregate.LoadSession(e.journal, id)
		m.Reply <- actors.SessionResult{State: s, Err: err}
	case *actors.ClientRequest:
		m.Answer(errcode.New(errcode.Closed, "engine closed"))
	case *actors.GetClient:
		m.Reply <- actors.ClientResult{Err: errcode.New(errcode.Closed, "engine closed")}
	}
}

// goneCallError explains why a call has no actor: it ended, or never existed.
func (e *Engine) goneCallError(id string) error {
	if err := e.checkOpen(); err != nil {
		return err
	}
	v, err := e.journal.StreamVersion(events.CallStream(id))
	if err != nil {
		return errcode.Wrap(errcode.JournalCorrupt, err, "cannot read call "+id)
	}
	if v == 0 {
		return errcode.Newf(errcode.NotFound, "no call %s", id)
	}
	return errcode.Newf(errcode.InvalidState, "call %s has ended", id)
}

// publisher is the engine's side of actors.Publisher: it keeps the
// projections current and fans events out.
type publisher struct{ e *Engine }

func (p publisher) PublishCall(c *fsm.Call, changes []actors.CallChange) {
	e := p.e
	var buf [4]string
	flips := presenceFlips(buf[:0])
	for _, ch := range changes {
		switch ev := ch.Envelope.Event.(type) {
		case events.CallDialed:
			flips.add(c.Caller.Client, e.live.join(c.Caller.Client, c.ID))
			flips.add(c.Callee.Client, e.live.join(c.Callee.Client, c.ID))
			e.xfer.trackLegs(c)
		case events.CallRinging:
			// A ring-all group call is every ringing member's call until
			// one answers: their lists and filters show it, and they are
			// busy for the group's next call.
			for _, m := range c.RangMembers {
				flips.add(m, e.live.join(m, c.ID))
			}
			e.autoAnswer(c)
		case events.CallAnswered:
			if c.Group != "" {
				flips.add(c.Callee.Client, e.live.join(c.Callee.Client, c.ID)) // a ring-all member answered
			}
			e.leaveRingAll(c, c.Callee.Client, &flips)
		case events.CallParked:
			// The parking party left the call: it is free for others.
			by := c.Party(ev.By).Client
			flips.add(by, e.live.leave(by, c.ID))
		case events.CallUnparked:
			flips.add(ev.Party.Client, e.live.join(ev.Party.Client, c.ID))
		case events.CallToVoicemail:
			// The callee is not on the call: the caller talks to its box.
			flips.add(c.Callee.Client, e.live.leave(c.Callee.Client, c.ID))
		case events.CallEnded:
			if e.cfg.Logger.Enabled(context.Background(), slog.LevelDebug) {
				e.cfg.Logger.Debug("call ended", slog.String("call", c.ID), slog.String("reason", c.Reason.String()),
					slog.Duration("talked", c.Duration(c.ReleaseAt)))
			}
			e.live.remove(c.ID)
			flips.add(c.Caller.Client, e.live.leave(c.Caller.Client, c.ID))
			flips.add(c.Callee.Client, e.live.leave(c.Callee.Client, c.ID))
			e.leaveRingAll(c, "", &flips)
			e.xfer.dropLegs(c)
		}
	}
	defer e.publishPresence(flips)
	// The transfer hears of the change after the subscribers: its own
	// events follow the call's on the bus.
	if pid := e.xfer.of(c.ID); pid != nil {
		defer e.root.Send(pid, &actors.CallChanged{Call: c.Clone()})
	}
	external := c.Direction != events.Internal && e.cfg.Adapter != nil
	if !external && !e.observed() {
		return
	}
	view := callView(c, e.now())
	for _, ch := range changes {
		ev := Event{Envelope: ch.Envelope, Prev: ch.Prev, State: ch.Status, Call: &view}
		e.emit(&ev)
		if external {
			e.cfg.Adapter.HandleEvent(ev)
		}
	}
}

// leaveRingAll takes a ring-all call off the lists of the members it rang,
// but keep.
func (e *Engine) leaveRingAll(c *fsm.Call, keep string, flips *presenceFlips) {
	for _, m := range c.RangMembers {
		if m != keep {
			flips.add(m, e.live.leave(m, c.ID))
		}
	}
}

func (p publisher) PublishTransfer(t *fsm.Transfer, envs []events.Envelope) {
	if !p.e.observed() {
		return
	}
	view := transferView(t)
	for _, env := range envs {
		p.e.emit(&Event{Envelope: env, Transfer: &view})
	}
}

func (p publisher) PublishClient(c *fsm.Client, envs []events.Envelope) {
	e := p.e
	before := e.dir.get(c.ID)
	e.dir.put(c)
	for _, env := range envs {
		switch env.Event.(type) {
		case events.ClientRegistered, events.ClientUnregistered:
			e.cfg.Logger.Info(strings.ToLower(strings.TrimPrefix(env.Type.String(), "Client"))+" client", slog.String("client", c.ID))
		}
		if _, ok := env.Event.(events.ClientUnregistered); ok {
			// After the events and the notice: the sessions hear their
			// client go before they are destroyed.
			defer e.endSessions(c.ID)
		}
	}
	if !e.observed() {
		return
	}
	view := e.viewClient(c)
	for _, env := range envs {
		e.emit(&Event{Envelope: env, Client: &view})
	}
	busy := e.live.busy(c.ID)
	if before == nil || before.EffectivePresence(busy) != c.EffectivePresence(busy) || before.Activity != c.Activity {
		e.presenceNotice(&view)
	}
}

// Subscribe delivers every event that matches f from now on, until ctx ends
// or the subscription is closed (H2).
func (e *Engine) Subscribe(ctx context.Context, f Filter) (*Subscription, error) {
	if err := e.checkOpen(); err != nil {
		return nil, err
	}
	return e.bus.add(ctx, f), nil
}

func (e *Engine) String() string {
	return fmt.Sprintf("callengine(%s)", e.cfg.JournalPath)
}
