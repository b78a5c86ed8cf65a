package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/journal"
)

// Dispatcher follows a journal and delivers its events to endpoints. Each
// endpoint has a goroutine of its own with a cursor, the last journal
// sequence number it is done with: it scans the journal from there, POSTs
// the events the endpoint takes one at a time in journal order, and waits for
// the journal to grow when it has caught up. A slow or unreachable endpoint
// holds back only its own cursor; the engine never waits for a delivery.
type Dispatcher struct {
	j       *journal.Journal
	opts    Options
	state   *state
	workers []*worker
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	once    sync.Once
	err     error
}

// worker delivers to one endpoint.
type worker struct {
	d     *Dispatcher
	ep    Endpoint
	key   string
	kinds map[string]bool // nil: every kind
	log   *slog.Logger

	cursor                   atomic.Uint64
	delivered, retried, dead atomic.Uint64

	mu      sync.Mutex
	lastErr string
	lastID  string
}

// EndpointStats tells how delivery to one endpoint goes. Counts are since
// Start.
type EndpointStats struct {
	ID        string // the endpoint's ID, else its URL
	URL       string
	Cursor    uint64 // last journal sequence number done with
	Lag       uint64 // journal's last sequence number minus Cursor
	Delivered uint64 // events answered with a 2xx
	Retried   uint64 // failed tries followed by another try
	Dead      uint64 // events given up after MaxAttempts tries
	LastError string // the last failed try: "<id>: <error>", or ""
}

// Start begins delivery of j's events to endpoints. An endpoint with a
// cursor in the state file resumes after it; a new endpoint starts at the
// journal's current end: it receives the events appended from now on, not
// the history. A cursor beyond the journal's end (a journal restored from an
// older backup) restarts at the end. Invalid endpoints are an error with
// code invalid_params; an unreadable state file, with code unavailable.
func Start(j *journal.Journal, endpoints []Endpoint, opts Options) (*Dispatcher, error) {
	if j == nil {
		return nil, errcode.New(errcode.InvalidParams, "webhooks: no journal")
	}
	if err := ValidateEndpoints(endpoints); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	st, err := loadState(opts.StatePath, opts.Logger)
	if err != nil {
		return nil, errcode.Wrap(errcode.Unavailable, err, "webhooks: cannot read the state file (remove it to start every endpoint at the journal's end)")
	}
	d := &Dispatcher{j: j, opts: opts, state: st}
	last := j.LastSeq()
	cursors := make(map[string]uint64, len(endpoints))
	for _, ep := range endpoints {
		w := &worker{d: d, ep: ep, key: ep.key()}
		w.ep.Secret = append([]byte(nil), ep.Secret...)
		if len(ep.Events) > 0 {
			w.kinds = make(map[string]bool, len(ep.Events))
			for _, k := range ep.Events {
				w.kinds[k] = true
			}
		}
		w.log = opts.Logger.With(slog.String("endpoint", ep.logName()))
		cur, ok := st.cursor(w.key)
		switch {
		case !ok:
			cur = last
			w.log.Info("new webhook endpoint starts at the journal's end", slog.Uint64("seq", last))
		case cur > last:
			w.log.Warn("webhook cursor beyond the journal's end (journal restored from a backup?): restarting at the end",
				slog.Uint64("cursor", cur), slog.Uint64("last_seq", last))
			cur = last
		}
		w.cursor.Store(cur)
		cursors[w.key] = cur
		d.workers = append(d.workers, w)
	}
	// New endpoints' starting points are written before anything is
	// delivered: otherwise a crash would move them to a later end, and the
	// events in between would never be sent.
	if st.reset(cursors) {
		st.flush()
		if st.err != nil {
			return nil, errcode.Wrap(errcode.Unavailable, st.err, "webhooks: cannot write the state file")
		}
	}
	st.start(opts.Clock, opts.SaveInterval)
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	for _, w := range d.workers {
		d.wg.Add(1)
		go w.run(ctx)
	}
	return d, nil
}

// Close stops delivery and waits for the goroutines; requests in flight are
// cancelled (their events are delivered again after the next Start). It
// writes the cursors a last time and returns that write's error. Close is
// idempotent.
func (d *Dispatcher) Close() error {
	d.once.Do(func() {
		d.cancel()
		d.wg.Wait()
		d.err = d.state.close()
		if c, ok := d.opts.Client.Transport.(interface{ CloseIdleConnections() }); ok {
			c.CloseIdleConnections()
		}
	})
	return d.err
}

// Stats returns each endpoint's statistics, in the order of the endpoints.
func (d *Dispatcher) Stats() []EndpointStats {
	last := d.j.LastSeq()
	out := make([]EndpointStats, 0, len(d.workers))
	for _, w := range d.workers {
		cur := w.cursor.Load()
		s := EndpointStats{
			ID: w.key, URL: w.ep.URL, Cursor: cur,
			Delivered: w.delivered.Load(), Retried: w.retried.Load(), Dead: w.dead.Load(),
		}
		if last > cur {
			s.Lag = last - cur
		}
		w.mu.Lock()
		if w.lastErr != "" {
			s.LastError = w.lastID + ": " + w.lastErr
		}
		w.mu.Unlock()
		out = append(out, s)
	}
	return out
}

// Done returns the lowest cursor of the endpoints: every event at or below
// it is done with — delivered, dead, or of a kind not taken — by every
// endpoint. Retention must not move events above it out of the journal, or
// endpoints that are behind would never receive them.
func (d *Dispatcher) Done() uint64 {
	low := d.j.LastSeq()
	for _, w := range d.workers {
		low = min(low, w.cursor.Load())
	}
	return low
}

// sleep waits d on the clock; it returns false if ctx ended first.
func (d *Dispatcher) sleep(ctx context.Context, wait time.Duration) bool {
	ch := make(chan struct{})
	t := d.opts.Clock.AfterFunc(wait, func() { close(ch) })
	select {
	case <-ch:
		return true
	case <-ctx.Done():
		t.Stop()
		return false
	}
}

// run follows the journal until ctx ends (or the journal closes).
func (w *worker) run(ctx context.Context) {
	defer w.d.wg.Done()
	j := w.d.j
	for {
		err := j.Scan(w.cursor.Load()+1, func(r journal.Record) error { return w.handle(ctx, r) })
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if errors.Is(err, journal.ErrClosed) {
				return
			}
			w.log.Error("webhooks cannot read the journal; trying again", slog.String("error", err.Error()))
			if !w.d.sleep(ctx, w.d.opts.MinBackoff) {
				return
			}
			continue
		}
		// Caught up: the cursor moved past events of kinds the endpoint
		// does not take; save it before waiting.
		w.d.state.requestWrite()
		if err := j.WaitFor(ctx, w.cursor.Load()); err != nil {
			return
		}
	}
}

// handle delivers one record if the endpoint takes its kind, then moves the
// cursor past it.
func (w *worker) handle(ctx context.Context, r journal.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	env := events.Envelope{Seq: r.Seq, Stream: r.Stream, Version: r.Version}
	if err := events.DecodeBody(r.Data, &env); err != nil {
		w.log.Error("webhooks skip an event they cannot decode", slog.Uint64("seq", r.Seq),
			slog.String("id", EventID(r.Stream, r.Version)), slog.String("error", err.Error()))
		w.advance(r.Seq, false)
		return nil
	}
	kind := KindOf(env.Type)
	if kind == "" || (w.kinds != nil && !w.kinds[kind]) {
		w.advance(r.Seq, false)
		return nil
	}
	dl, err := newDelivery(&env, kind)
	if err == nil && strings.HasPrefix(env.Stream, events.MessageStreamPrefix) {
		dl.Message, err = w.message(&env)
	}
	var body []byte
	if err == nil {
		body, err = json.Marshal(dl)
	}
	if err != nil {
		w.log.Error("webhooks skip an event they cannot encode", slog.String("id", dl.ID), slog.String("error", err.Error()))
		w.advance(r.Seq, false)
		return nil
	}
	if err := w.deliver(ctx, dl.ID, body); err != nil {
		return err // stopped: the event is not done
	}
	w.advance(r.Seq, true)
	return nil
}

// errFound stops a read of a stream once its first record is read.
var errFound = errors.New("found")

// message reads the text message an event of a message stream is about:
// the MessageSent that opens the stream.
func (w *worker) message(env *events.Envelope) (*Message, error) {
	id := strings.TrimPrefix(env.Stream, events.MessageStreamPrefix)
	if e, ok := env.Event.(events.MessageSent); ok {
		return &Message{ID: id, From: e.From, To: e.To, Text: e.Text}, nil
	}
	var sent *events.MessageSent
	err := w.d.j.ReadStream(env.Stream, 1, func(r journal.Record) error {
		first := events.Envelope{Seq: r.Seq, Stream: r.Stream, Version: r.Version}
		if err := events.DecodeBody(r.Data, &first); err != nil {
			return err
		}
		if e, ok := first.Event.(events.MessageSent); ok {
			sent = &e
		}
		return errFound
	})
	if err != nil && !errors.Is(err, errFound) {
		return nil, err
	}
	if sent == nil {
		return nil, fmt.Errorf("message stream %s does not start with MessageSent", env.Stream)
	}
	return &Message{ID: id, From: sent.From, To: sent.To, Text: sent.Text}, nil
}

// advance moves the cursor to seq; save has the state file written soon
// (after a delivered or dead event).
func (w *worker) advance(seq uint64, save bool) {
	w.cursor.Store(seq)
	w.d.state.set(w.key, seq)
	if save {
		w.d.state.requestWrite()
	}
}

func (w *worker) setLastError(id string, err error) {
	w.mu.Lock()
	w.lastID, w.lastErr = id, err.Error()
	w.mu.Unlock()
}
