package history

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/journal"
)

// Options configure Open. The zero value is a good default.
type Options struct {
	// Now is the clock that live calls' durations are measured to in query
	// results (the engine's clock). Nil: to their last event.
	Now func() time.Time
	// Logger hears why a file was rebuilt and of records that do not
	// decode. Nil: nothing is logged.
	Logger *slog.Logger
	// LockTimeout is how long Open waits for another process to release the
	// file. Default 1 s.
	LockTimeout time.Duration
	// BatchSize is the most journal records applied in one transaction of
	// the file. Default 4096.
	BatchSize int
	// Gather is how long the follower lets records gather after a commit
	// of the journal before it applies them: one read of the journal for
	// many commits instead of one each (the file is written less often:
	// see Follow). A query does not wait for it: it wakes the follower at
	// once. Default 100 ms; negative: none.
	Gather time.Duration
}

func (o Options) withDefaults() Options {
	if o.LockTimeout <= 0 {
		o.LockTimeout = time.Second
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 4096
	}
	if o.Gather == 0 {
		o.Gather = 100 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// History is the call history and voicemail projection of one journal, kept
// in a file. Its methods are safe for concurrent use.
type History struct {
	j    *journal.Journal
	opts Options
	s    *store
	why  string // why Open rebuilt the file, "" when it did not

	applyMu sync.Mutex // one catch-up at a time; guards proj and what follows
	proj    *Projection
	msgs    []Change     // changes of voicemail messages not in the file yet
	last    *fingerprint // the last record applied
	folded  uint64       // the checkpoint of what proj, pend and msgs hold
	flushed struct {     // what the file holds
		checkpoint uint64
		last       *fingerprint
		at         time.Time
	}
	// pendMu guards pend: the follower writes it, queries read it.
	pendMu  sync.RWMutex
	pend    pending       // entries changed since the last flush
	applied atomic.Uint64 // every journal record up to it is applied: in the file or in pend
	tick    signal        // pulses when applied moves or the history closes
	skipped atomic.Uint64

	following atomic.Bool
	hurry     chan struct{} // a query waits: stop gathering
	cancel    context.CancelFunc
	done      chan struct{}
	failure   atomic.Pointer[error] // the follower's last failure, nil when it caught up
	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// Open opens the projection file at path for journal j, creating it if it
// does not exist. A file that is unreadable, of another format, not closed
// before the machine restarted, or that does not match the journal — its
// checkpoint is beyond the journal's last record (the journal was restored
// from an older backup), or the journal holds another record where the
// file's last applied one was — is deleted and rebuilt from the first
// record: Rebuilt says why. Open itself applies nothing: Follow starts a
// goroutine that keeps the file up to date, and without it a query catches
// up itself.
//
// Errors: unavailable when another process holds the file (another engine
// on the same data directory) or it cannot be written.
func Open(path string, j *journal.Journal, opts Options) (*History, error) {
	opts = opts.withDefaults()
	h := &History{j: j, opts: opts, hurry: make(chan struct{}, 1)}
	var why string
	for attempt := 0; ; attempt++ {
		s, proj, st, err := openChecked(path, j, opts)
		var rb *rebuildError
		if errors.As(err, &rb) && attempt == 0 {
			why = rb.why
			opts.Logger.Warn("history: rebuilding from the journal", slog.String("file", path), slog.String("why", why))
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, errcode.Wrap(errcode.Unavailable, err, "history: cannot remove "+path)
			}
			continue
		}
		if err != nil {
			if errcode.CodeOf(err) == "" {
				err = errcode.Wrap(errcode.Unavailable, err, "history: cannot open "+path)
			}
			return nil, err
		}
		h.s, h.proj = s, proj
		h.applied.Store(st.checkpoint)
		h.folded = st.checkpoint
		h.flushed.checkpoint, h.flushed.at = st.checkpoint, time.Now()
		if st.last.Seq != 0 {
			last := st.last
			h.flushed.last, h.last = &last, &last
		}
		break
	}
	if err := h.s.markOpen(bootID()); err != nil {
		_ = h.s.db.Close()
		return nil, errcode.Wrap(errcode.Unavailable, err, "history: cannot write "+path)
	}
	h.why = why
	return h, nil
}

// openChecked opens the file and checks it against the journal.
func openChecked(path string, j *journal.Journal, opts Options) (*store, *Projection, state, error) {
	s, err := openStore(path, opts.LockTimeout)
	if err != nil {
		return nil, nil, state{}, err
	}
	st, proj, err := s.check(j)
	if err != nil {
		_ = s.db.Close()
		return nil, nil, state{}, err
	}
	return s, proj, st, nil
}

// check reads the file's state, checks it against the journal and loads the
// fold's state.
func (s *store) check(j *journal.Journal) (state, *Projection, error) {
	st, err := s.init()
	if err != nil {
		return st, nil, err
	}
	if st.fresh {
		return st, NewProjection(), nil
	}
	if st.wasOpen {
		if boot := bootID(); boot == "" || boot != st.openBy {
			return st, nil, rebuildf("not closed before the machine restarted (writes may be lost: the file is not synced)")
		}
	}
	if last := j.LastSeq(); st.checkpoint > last {
		return st, nil, rebuildf("checkpoint %d beyond the journal's last record %d: the journal was restored from an older copy", st.checkpoint, last)
	}
	if st.last.Seq != 0 {
		var got *fingerprint
		err := j.Scan(st.last.Seq, func(r journal.Record) error {
			if r.Seq == st.last.Seq {
				f := fingerprintOf(r)
				got = &f
			}
			return errStop
		})
		if err != nil && err != errStop {
			return st, nil, errcode.Wrap(errcode.Unavailable, err, "history: cannot read the journal")
		}
		// A record that is gone was archived (retention): nothing to
		// compare, and nothing wrong.
		if got != nil && *got != st.last {
			return st, nil, rebuildf("the journal holds another record at seq %d than the one applied: it is not the journal this file was built from", st.last.Seq)
		}
	}
	proj, err := s.loadLive()
	return st, proj, err
}

var errStop = errors.New("stop")

// Rebuilt returns why Open rebuilt the file, "" when it did not.
func (h *History) Rebuilt() string { return h.why }

// Applied returns the sequence number up to which every journal record is in
// the file.
func (h *History) Applied() uint64 { return h.applied.Load() }

// Stats are counters of a History.
type Stats struct {
	Applied   uint64 // every journal record up to this seq is applied
	LiveCalls int    // calls the fold follows (not ended)
	// Skipped counts call and client records that did not decode (a bug,
	// or a journal written by a newer callengine); they are passed over.
	// Records of a type the fold does not read (a client's registration,
	// a call's mute) are passed over undecoded, and not counted.
	Skipped uint64
}

// Stats returns the history's counters.
func (h *History) Stats() Stats {
	h.applyMu.Lock()
	live := h.proj.LiveCalls()
	h.applyMu.Unlock()
	return Stats{Applied: h.applied.Load(), LiveCalls: live, Skipped: h.skipped.Load()}
}

// Close stops the follower and closes the file, synced. Close is idempotent.
func (h *History) Close() error {
	h.closeOnce.Do(func() {
		h.applyMu.Lock() // Follow sets cancel and done under it
		h.closed.Store(true)
		cancel, done := h.cancel, h.done
		h.applyMu.Unlock()
		if cancel != nil {
			cancel()
			<-done
		}
		h.tick.pulse()
		h.applyMu.Lock()
		h.closeErr = errors.Join(h.flush(), h.s.close())
		h.applyMu.Unlock()
	})
	return h.closeErr
}

// Rebuild deletes the file at path and builds it again from every record of
// j. It is what Open does to a stale file, on demand (`callengine history
// --rebuild`).
func Rebuild(ctx context.Context, path string, j *journal.Journal, opts Options) error {
	opts = opts.withDefaults()
	// Not a file another process holds open (an engine): it would go on
	// with the old one.
	if _, err := os.Stat(path); err == nil {
		s, err := openStore(path, opts.LockTimeout)
		if errcode.CodeOf(err) == errcode.Unavailable {
			return err
		}
		if s != nil {
			_ = s.db.Close()
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return errcode.Wrap(errcode.Unavailable, err, "history: cannot remove "+path)
	}
	h, err := Open(path, j, opts)
	if err != nil {
		return err
	}
	err = h.CatchUp(ctx)
	return errors.Join(err, h.Close())
}

// sync waits until every record journaled before it was called is applied
// (read-your-writes), or ctx ends. Without a follower it applies them itself.
func (h *History) sync(ctx context.Context) error {
	target := h.j.LastSeq()
	for {
		if h.closed.Load() {
			return errcode.New(errcode.Closed, "history closed")
		}
		if h.applied.Load() >= target {
			return nil
		}
		if !h.following.Load() {
			if err := h.catchUp(ctx); err != nil {
				if errcode.CodeOf(err) == "" {
					err = errcode.Wrap(errcode.Unavailable, err, "history: cannot catch up with the journal")
				}
				return err
			}
			continue
		}
		if p := h.failure.Load(); p != nil {
			return errcode.Wrap(errcode.Unavailable, *p, "history: the projection cannot keep up with the journal")
		}
		select {
		case h.hurry <- struct{}{}:
		default:
		}
		ch := h.tick.wait()
		if h.applied.Load() >= target || h.closed.Load() {
			continue
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return errcode.Wrap(errcode.Unavailable, ctx.Err(), "history: still catching up with the journal")
		}
	}
}

// Calls lists the entries of q.Client's history that q selects, newest
// first (by setup time; calls set up at the same instant by call id, the
// greater first). It first waits until every record journaled before the
// call is applied, within ctx.
//
// Errors: missing_parameter without a client; invalid_params for a bad
// limit, time range, kind, reason or cursor; unavailable when the history
// cannot catch up within ctx.
func (h *History) Calls(ctx context.Context, q Query) ([]Entry, error) {
	before, err := q.check()
	if err != nil {
		return nil, err
	}
	if err := h.sync(ctx); err != nil {
		return nil, err
	}
	var now time.Time
	if h.opts.Now != nil {
		now = h.opts.Now()
	}
	h.pendMu.RLock()
	out, err := h.s.calls(&q, before, now, &h.pend)
	h.pendMu.RUnlock()
	return out, h.readError(err)
}

// Voicemail returns client's voicemail box: its messages, newest first (by
// the time the caller reached the box), and the new and total counts.
func (h *History) Voicemail(ctx context.Context, client string) (Box, error) {
	if client == "" {
		return Box{}, errcode.New(errcode.MissingParameter, "voicemail: which client?")
	}
	if err := h.sync(ctx); err != nil {
		return Box{}, err
	}
	box, err := h.s.box(client)
	return box, h.readError(err)
}

// NotInHistory returns the calls that are not in client's history, in the
// order given, after waiting as Calls does.
func (h *History) NotInHistory(ctx context.Context, client string, calls []string) ([]string, error) {
	return h.missing(ctx, bucketCalls, client, calls)
}

// NotInBox returns the calls that left no message in client's voicemail box
// (or whose message it deleted), in the order given, after waiting as Calls
// does.
func (h *History) NotInBox(ctx context.Context, client string, calls []string) ([]string, error) {
	return h.missing(ctx, bucketBoxCalls, client, calls)
}

func (h *History) missing(ctx context.Context, idx []byte, client string, calls []string) ([]string, error) {
	if client == "" {
		return nil, errcode.New(errcode.MissingParameter, "history: which client?")
	}
	if err := h.sync(ctx); err != nil {
		return nil, err
	}
	var pend *pending // entries only: messages are written at once
	if string(idx) == string(bucketCalls) {
		pend = &h.pend
	}
	h.pendMu.RLock()
	out, err := h.s.missing(idx, client, calls, pend)
	h.pendMu.RUnlock()
	return out, h.readError(err)
}

func (h *History) readError(err error) error {
	if err == nil || errcode.CodeOf(err) != "" {
		return err
	}
	if h.closed.Load() {
		return errcode.Wrap(errcode.Closed, err, "history closed")
	}
	return errcode.Wrap(errcode.Internal, err, "history: cannot read "+h.s.path+" (delete it: it is rebuilt from the journal)")
}

// signal wakes goroutines waiting for a change.
type signal struct {
	mu sync.Mutex
	ch chan struct{}
}

func (s *signal) wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

func (s *signal) pulse() {
	s.mu.Lock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
	s.mu.Unlock()
}
