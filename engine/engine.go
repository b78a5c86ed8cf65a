package engine

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/callengine/callengine/auth"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/history"
	"github.com/callengine/callengine/internal/actors"
	"github.com/callengine/callengine/journal"
	"github.com/callengine/callengine/webhooks"
)

// Engine keeps the truth about every client and call. It is safe for
// concurrent use. Open one with Open; Close it when done.
type Engine struct {
	cfg    Config
	closed atomic.Bool
	stats  RestoreStats

	// The journal, and the actors that decide and write to it: one per
	// call, client, live transfer and live session.
	journal *journal.Journal
	system  *actor.ActorSystem
	root    *actor.RootContext
	deps    *actors.Deps // what the actors share; its Publisher is publisher

	// Projections (projections.go): views kept current from the events.
	dir  *directory // clients (directory.go)
	live *liveCalls // live calls and the clients on them (directory.go)
	xfer *transfers // live transfers, their calls, the far-end legs (transfers.go)
	sess sessions   // live sessions (sessions.go)

	// Aggregates the engine journals itself, without actors.
	groups groups   // groups.go
	msgs   messages // text messages waiting for their result (messages.go)

	// Routing (router.go) reads the projections, the groups and this.
	orgNumbers []string // Config.Numbers in E.164

	regMu   sync.Mutex   // serialises registrations: numbers and extensions stay unique
	control controlLocks // serialises commands over several calls (park.go)

	// Fan-out: subscribers (subscribe.go), the action log (actionlog.go).
	bus     *bus
	actions *actionLog // nil unless Config.ActionLog and debug logs

	// Followers of the journal, started by Open after the restore.
	hooks    atomic.Pointer[webhooks.Dispatcher]
	hist     atomic.Pointer[history.History]
	archiver *archiver // retention: Archive calls, the periodic archiver (retention.go)

	// Tokens (tokens.go), made on first use.
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
	j, err := journal.Open(cfg.JournalPath, journal.Options{Timeout: cfg.LockTimeout, CommitInterval: cfg.CommitInterval})
	if err != nil {
		return nil, openError(err)
	}
	e := &Engine{cfg: cfg, journal: j, dir: newDirectory(), live: newLiveCalls(), bus: newBus(cfg.SubscriberBuffer), orgNumbers: org}
	e.live.wake = func(stream string, c *fsm.Call) (*actor.PID, error) {
		pid, _, err := actors.RestoreCall(e.root, e.deps, stream, c) // a dormant call has no deadline
		if err != nil {
			e.cfg.Logger.Error("cannot start the actor of a restored call", slog.String("call", c.ID), slog.Any("err", err))
		}
		return pid, err
	}
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
	e.deps.RingTimeout = e.ringNext
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
	msg := journal.OpenProblem("", err)
	if msg == "" {
		msg = "cannot open the journal"
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
