package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/callengine/callengine/events"
)

// Delivery is the JSON body of a request. A receiver decodes it with
// encoding/json; Data holds the event's payload as package events writes it
// in JSON (see docs/events.md).
type Delivery struct {
	// ID is "<stream>@<version>", e.g. "call/c-1@4": the same for every try
	// of the event, across restarts of the engine. De-duplicate by it.
	ID string `json:"id"`
	// Kind is one of the Kind… constants.
	Kind string `json:"kind"`
	// Seq is the event's global sequence number in the journal.
	Seq uint64 `json:"seq"`
	// Time is when the event happened (engine clock), RFC 3339 in UTC.
	Time time.Time `json:"time"`
	// Stream is the event's stream: "call/<id>", "message/<id>".
	Stream string `json:"stream"`
	// Type is the event's type name: "CallDialed", "CallEnded", …
	Type string `json:"type"`
	// Data is the event's payload.
	Data json.RawMessage `json:"data"`
	// Message is the text message a message.sent, message.delivered or
	// message.failed delivery is about, with its text: the outcome's own
	// payload (Data) does not repeat it. Nil for the other kinds.
	Message *Message `json:"message,omitempty"`
}

// Message is a text message as a delivery carries it (FEATURES C15).
type Message struct {
	ID   string       `json:"id"`
	From events.Party `json:"from"`
	To   string       `json:"to"`
	Text string       `json:"text"`
}

// EventID returns the delivery id of the event at version of stream.
func EventID(stream string, version uint64) string {
	return stream + "@" + strconv.FormatUint(version, 10)
}

// newDelivery builds the delivery of an event of kind.
func newDelivery(env *events.Envelope, kind string) (Delivery, error) {
	data, err := json.Marshal(env.Event)
	if err != nil {
		return Delivery{}, err
	}
	return Delivery{
		ID: EventID(env.Stream, env.Version), Kind: kind, Seq: env.Seq, Time: env.At(),
		Stream: env.Stream, Type: env.Type.String(), Data: data,
	}, nil
}

// errTimeout is the cause of a try cancelled by Options.Timeout.
var errTimeout = errors.New("timed out")

// maxResponse is how much of a response body is read (and discarded) so that
// the connection can be reused.
const maxResponse = 64 << 10

// tryResult is the outcome of one POST.
type tryResult struct {
	status     int           // HTTP status, 0 when there was no response
	retryAfter time.Duration // the response's Retry-After, 0 when none
	err        error         // transport error, timeout, or a non-2xx status
}

// deliver sends one event until a 2xx, or until MaxAttempts tries failed
// (the event is then dead). It returns ctx.Err() when ctx ends first; the
// event is then neither delivered nor dead.
func (w *worker) deliver(ctx context.Context, id string, body []byte) error {
	o := &w.d.opts
	for attempt := 1; ; attempt++ {
		r := w.post(ctx, id, body, attempt)
		if r.err == nil { // even if ctx ended meanwhile: the endpoint has it
			w.delivered.Add(1)
			w.log.Debug("webhook delivered", slog.String("id", id), slog.Int("attempt", attempt))
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		w.setLastError(id, r.err)
		if attempt >= o.MaxAttempts {
			w.dead.Add(1)
			w.log.Warn("webhook event dead: every try failed", slog.String("id", id),
				slog.Int("attempts", attempt), slog.String("error", r.err.Error()))
			return nil
		}
		wait := o.backoff(attempt)
		if r.retryAfter > wait {
			wait = min(r.retryAfter, o.MaxBackoff)
		}
		w.retried.Add(1)
		w.log.Info("webhook try failed; retrying", slog.String("id", id), slog.Int("attempt", attempt),
			slog.Duration("wait", wait), slog.String("error", r.err.Error()))
		if !w.d.sleep(ctx, wait) {
			return ctx.Err()
		}
	}
}

// post makes one try.
func (w *worker) post(ctx context.Context, id string, body []byte, attempt int) tryResult {
	o := &w.d.opts
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timer := o.Clock.AfterFunc(o.Timeout, func() { cancel(errTimeout) })
	defer timer.Stop()

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.ep.URL, bytes.NewReader(body))
	if err != nil {
		return tryResult{err: err}
	}
	ts := strconv.FormatInt(o.Clock.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "callengine-webhooks/1")
	req.Header.Set(HeaderEventID, id)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(w.ep.Secret, ts, body))
	req.Header.Set(HeaderAttempt, strconv.Itoa(attempt))
	resp, err := o.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, which may hold a credential
		}
		if context.Cause(ctx) == errTimeout {
			err = fmt.Errorf("no answer within %v", o.Timeout)
		}
		return tryResult{err: err}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
	_ = resp.Body.Close()
	r := tryResult{status: resp.StatusCode}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		r.err = fmt.Errorf("status %s", resp.Status)
		r.retryAfter = w.retryAfter(resp.Header.Get("Retry-After"))
	}
	return r
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date compared
// with the clock.
func (w *worker) retryAfter(h string) time.Duration {
	if h == "" {
		return 0
	}
	if s, err := strconv.ParseInt(h, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(min(s, int64(24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(t.Sub(w.d.opts.Clock.Now()), 0)
	}
	return 0
}
