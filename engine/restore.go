package engine

import (
	"context"
	"log/slog"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/internal/actors"
	"github.com/callengine/callengine/internal/aggregate"
)

// restoreChunk is how many calls a restore folds at a time, on one core.
const restoreChunk = 1024

// restore folds every live stream of the journal and starts its actor.
// The live set is listed first; then calls are folded and their actors
// started on every core while the groups, messages and clients are
// restored; their timers are armed once the clients are restored, as
// before.
func (e *Engine) restore(ctx context.Context) error {
	start := time.Now()
	var folded atomic.Int64
	var clients, groupIDs, transferIDs, messageIDs, sessionIDs, callStreams []string
	err := e.journal.LiveStreams(func(stream string) error {
		switch {
		case strings.HasPrefix(stream, events.SessionStreamPrefix):
			sessionIDs = append(sessionIDs, strings.TrimPrefix(stream, events.SessionStreamPrefix))
		case strings.HasPrefix(stream, MessageStreamPrefix):
			messageIDs = append(messageIDs, stream)
		case strings.HasPrefix(stream, GroupStreamPrefix):
			groupIDs = append(groupIDs, strings.TrimPrefix(stream, GroupStreamPrefix))
		case strings.HasPrefix(stream, events.TransferStreamPrefix):
			transferIDs = append(transferIDs, strings.TrimPrefix(stream, events.TransferStreamPrefix))
		case strings.HasPrefix(stream, events.ClientStreamPrefix):
			clients = append(clients, stream)
		case strings.HasPrefix(stream, events.CallStreamPrefix):
			callStreams = append(callStreams, stream) // the actor's name; the call's id shares it
		}
		return nil
	})
	if err != nil {
		return openError(err)
	}
	// Listed first: the dormant calls are kept at their index in this list
	// (liveCalls.beginRestore), and the chunks are slices of it.
	e.live.beginRestore(callStreams)
	defer e.live.endRestore()
	calls := e.newCallRestore(ctx, &folded)
	defer calls.stop() // on an error; a no-op after finish
	calls.addAll(callStreams)
	if err := e.restoreGroups(groupIDs); err != nil {
		return err
	}
	if err := e.restoreMessages(messageIDs); err != nil {
		return err
	}
	err = aggregate.Clients.LoadStreams(e.journal, clients, func(_ int, c *fsm.Client) error {
		folded.Add(int64(c.Version))
		return e.startClient(c)
	})
	if err != nil {
		return err
	}
	if err := calls.finish(); err != nil {
		return err
	}
	if err := e.restoreTransfers(transferIDs); err != nil {
		return err
	}
	if err := e.restoreSessions(sessionIDs); err != nil {
		return err
	}
	e.leaveEndedConferences(ctx, calls.merged)
	e.stats = RestoreStats{Clients: len(clients), Calls: calls.n, Events: int(folded.Load()), Duration: time.Since(start)}
	e.cfg.Logger.Info("restored", slog.Int("clients", len(clients)), slog.Int("calls", calls.n),
		slog.Duration("took", e.stats.Duration))
	return nil
}

// gcPauseCalls is the number of live calls from which a restore pauses the
// garbage collector.
const gcPauseCalls = 8 * restoreChunk

// gcPause counts the restores of the process that paused the collector.
var gcPause struct {
	sync.Mutex
	n       int
	percent int // the GC percent to go back to
}

// pauseGC pauses the garbage collector while calls calls are restored, if
// they are many and Config.RestorePausesGC allows it (the collector is the
// process's: a library does not touch it unasked), and returns the function
// that resumes it. A restore
// builds a heap that stays: about three quarters of what it allocates is
// the live calls' state and actors. A collection during it marks all that
// is built so far to free little: at a million calls, more than half of
// the restore's time went to collecting. Paused, the heap peaks lower than
// the collector's goal would let it (live + the restore's garbage, against
// twice the live heap), and the collection runs once after the restore, in
// the background. A memory limit (GOMEMLIMIT) still holds while paused.
// Engines opening at once in one process share the pause: the last to
// resume restores the GC percent.
func pauseGC(calls int) (resume func()) {
	if calls < gcPauseCalls {
		return func() {}
	}
	gcPause.Lock()
	if gcPause.n == 0 {
		gcPause.percent = debug.SetGCPercent(-1)
	}
	gcPause.n++
	gcPause.Unlock()
	return sync.OnceFunc(func() {
		gcPause.Lock()
		if gcPause.n--; gcPause.n == 0 {
			debug.SetGCPercent(gcPause.percent)
		}
		gcPause.Unlock()
	})
}

// restoredChunk is a chunk of calls a restore brings back on one core:
// their actors are started, their deadlines still to arm.
type restoredChunk struct {
	at      int // the index of its first call among the restore's
	streams []string
	merged  [][2]string // calls in a conference: id, the other call
	timers  []*actors.PendingTimer
	err     error
	done    chan struct{} // closed once the chunk is restored (or failed)
}

// callRestore folds calls and starts their actors. Calls are independent
// of each other: they are restored in chunks on every core, each call's
// actor started as soon as it is folded — no chunk holds its calls'
// states. The timers they hold (ring timeout, voicemail limit) are then
// armed on the restoring goroutine (finish), chunk after chunk in the
// journal's order, so that they are registered on the clock in the same
// order on every run (two timers due at the same instant fire in that
// order: a simulation depends on it); every one is armed when finish
// returns.
type callRestore struct {
	e      *Engine
	ctx    context.Context
	folded *atomic.Int64
	n      int              // calls added
	merged [][2]string      // calls in a conference, in the journal's order (see leaveEndedConferences)
	chunks []*restoredChunk // in the journal's order
	jobs   chan *restoredChunk
	failed atomic.Bool // the workers skip what is left
	wg     sync.WaitGroup
	resume func() // of the garbage collector, once paused
	done   bool
}

func (e *Engine) newCallRestore(ctx context.Context, folded *atomic.Int64) *callRestore {
	r := &callRestore{e: e, ctx: ctx, folded: folded, jobs: make(chan *restoredChunk), resume: func() {}}
	for range runtime.GOMAXPROCS(0) {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			for c := range r.jobs {
				if !r.failed.Load() {
					c.timers, c.merged, c.err = e.restoreChunk(ctx, c.at, c.streams, folded)
				}
				c.streams = nil
				close(c.done)
			}
		}()
	}
	return r
}

// addAll hands the calls of streams (the journal's order) to the workers,
// a chunk at a time.
func (r *callRestore) addAll(streams []string) {
	r.n = len(streams)
	if r.n >= gcPauseCalls && r.e.cfg.RestorePausesGC {
		r.resume = pauseGC(r.n)
	}
	for at := 0; at < len(streams); at += restoreChunk {
		c := &restoredChunk{at: at, streams: streams[at:min(at+restoreChunk, len(streams))], done: make(chan struct{})}
		r.chunks = append(r.chunks, c)
		r.jobs <- c
	}
}

// finish waits for every chunk and arms their timers in order.
func (r *callRestore) finish() error {
	var err error
	for k, c := range r.chunks {
		<-c.done
		if err = c.err; err != nil {
			break
		}
		for _, t := range c.timers {
			t.Arm()
		}
		r.merged = append(r.merged, c.merged...)
		r.chunks[k] = nil
	}
	r.stop()
	return err
}

// stop lets the workers go (skipping what is left on an error) and resumes
// the garbage collector.
func (r *callRestore) stop() {
	if r.done {
		return
	}
	r.done = true
	r.failed.Store(true)
	close(r.jobs)
	r.wg.Wait()
	r.resume()
}

// restoreChunk folds the calls of streams and starts their actors; it
// returns their deadlines, to arm in order.
func (e *Engine) restoreChunk(ctx context.Context, at int, streams []string, folded *atomic.Int64) ([]*actors.PendingTimer, [][2]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	var timers []*actors.PendingTimer
	var merged [][2]string
	var n int64
	err := aggregate.Calls.LoadStreams(e.journal, streams, func(i int, c *fsm.Call) error {
		if !c.Status.Live() {
			return errcode.Newf(errcode.JournalCorrupt, "call %s is in the live set but folds to %q", c.ID, c.Status)
		}
		n += int64(c.Version)
		if c.Conference != "" && c.Peer != "" {
			merged = append(merged, [2]string{c.ID, c.Peer})
		}
		t, err := e.startCall(at+i, streams[i], c)
		if t != nil {
			timers = append(timers, t)
		}
		return err
	})
	folded.Add(n)
	return timers, merged, err
}

// leaveEndedConferences ends the conference of a restored call whose other
// call is no longer live: the process stopped after that call ended and
// before the call left the conference (CallLeftConference, see
// Engine.leaveConference). In the journal's order, one command at a time:
// a restore journals the same events on every run.
func (e *Engine) leaveEndedConferences(ctx context.Context, merged [][2]string) {
	for _, m := range merged {
		if !e.live.has(m[1]) {
			var left Call
			_ = e.command(context.WithoutCancel(ctx), m[0], fsm.LeaveConference{Peer: m[1]}, &left)
		}
	}
}

func (e *Engine) startClient(c *fsm.Client) error {
	pid, err := actors.SpawnClient(e.root, e.deps, c.ID, c)
	if err != nil {
		return err
	}
	e.dir.setPID(c.ID, pid)
	e.dir.put(c)
	if e.actions != nil {
		e.actions.seed(events.ClientStream(c.ID), e.viewClient(c))
	}
	return nil
}

// startCall starts the actor of a restored call, whose stream is stream;
// the actor takes its copy of *c. It returns the call's pending deadline,
// if any, for the caller to arm. A call without a deadline stays dormant —
// its state kept, no actor — until a command reaches it (liveCalls.pid):
// an actor costs its spawn and about a kilobyte, and most restored calls
// are connected calls that no command reaches for a while.
func (e *Engine) startCall(i int, stream string, c *fsm.Call) (*actors.PendingTimer, error) {
	var timer *actors.PendingTimer
	if actors.CallDeadline(c) == 0 {
		e.live.setDormant(i, c) // its actor starts with its first command
	} else {
		pid, t, err := actors.RestoreCall(e.root, e.deps, stream, c)
		if err != nil {
			return nil, err
		}
		e.live.add(c.ID, pid)
		timer = t
	}
	if c.Version > 0 && e.actions != nil {
		e.actions.seed(stream, callView(c, e.now()))
	}
	for _, s := range []events.Side{events.Caller, events.Callee} {
		if c.ParkSlot != "" && s == c.ParkedSide.Other() {
			continue // the parking party left the call
		}
		if s == events.Callee && c.InVoicemail() {
			continue // the caller talks to the callee's box
		}
		e.live.join(c.Party(s).Client, c.ID)
	}
	if c.Status == fsm.Ringing {
		for _, m := range c.RangMembers {
			e.live.join(m, c.ID)
		}
	}
	e.xfer.trackLegs(c)
	return timer, nil
}
