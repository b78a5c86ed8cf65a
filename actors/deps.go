package actors

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/journal"
)

// Deps is what every actor of an engine shares.
type Deps struct {
	Journal    *journal.Journal
	Clock      clock.Clock
	Publisher  Publisher
	Log        *slog.Logger
	Dispatcher actor.Dispatcher // nil: protoactor's default
	Supervisor actor.SupervisorStrategy
}

// CallChange is one durable call event with the status before and after it.
type CallChange struct {
	Envelope events.Envelope
	Prev     fsm.CallStatus
	Status   fsm.CallStatus
}

// Publisher hears of every durable event, in stream order, from the goroutine
// of the actor that owns the stream, before the command's caller is answered.
// It must not block and must not send requests to the calling actor.
type Publisher interface {
	PublishCall(state *fsm.Call, changes []CallChange)
	PublishClient(state *fsm.Client, envs []events.Envelope)
	PublishTransfer(state *fsm.Transfer, envs []events.Envelope)
}

// Stream ids of aggregates.
const (
	CallStreamPrefix     = "call/"
	ClientStreamPrefix   = "client/"
	TransferStreamPrefix = "transfer/"
	GroupStreamPrefix    = "group/"
	MessageStreamPrefix  = "message/"
)

// TransferStream returns the stream id of a transfer.
func TransferStream(id string) string { return TransferStreamPrefix + id }

// LoadTransfer folds a transfer's stream from the journal.
func LoadTransfer(j *journal.Journal, id string) (fsm.Transfer, error) {
	t := fsm.Transfer{ID: id}
	err := ReadStream(j, TransferStream(id), func(env events.Envelope) error {
		if err := fsm.ApplyTransfer(&t, env.Event, env.Time); err != nil {
			return errcode.Wrap(errcode.JournalCorrupt, err, "cannot fold "+env.String())
		}
		return nil
	})
	return t, err
}

// CallStream returns the stream id of a call.
func CallStream(id string) string { return CallStreamPrefix + id }

// ClientStream returns the stream id of a client.
func ClientStream(id string) string { return ClientStreamPrefix + id }

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// Persist encodes evs, appends them to stream at expected version and returns
// their envelopes. Nothing is written if it fails.
func Persist(ctx context.Context, j *journal.Journal, stream string, version uint64, evs []events.Event, now int64, end bool) ([]events.Envelope, error) {
	bp := bufPool.Get().(*[]byte)
	buf := (*bp)[:0]
	records := make([][]byte, len(evs))
	for i, ev := range evs {
		start := len(buf)
		buf = events.EncodeBody(buf, now, ev)
		records[i] = buf[start:len(buf):len(buf)]
	}
	seq, err := j.Append(ctx, stream, version, records, end)
	*bp = buf
	bufPool.Put(bp)
	if err != nil {
		return nil, journalError(err)
	}
	envs := make([]events.Envelope, len(evs))
	for i, ev := range evs {
		envs[i] = events.Envelope{
			Seq: seq + uint64(i), Stream: stream, Version: version + 1 + uint64(i),
			Type: ev.Type(), Time: now, Schema: events.SchemaVersion, Event: ev,
		}
	}
	return envs, nil
}

// journalError gives journal failures a stable code.
func journalError(err error) error {
	if errcode.CodeOf(err) != "" {
		return err
	}
	if err == context.Canceled || err == context.DeadlineExceeded {
		return err
	}
	msg := "journal append failed"
	switch {
	case errors.Is(err, journal.ErrConflict):
		msg = "concurrent write to the stream"
	case errors.Is(err, journal.ErrCorrupt):
		msg = "journal damaged"
	case errors.Is(err, journal.ErrClosed):
		msg = "engine closed"
	}
	return errcode.Wrap(errcode.Classify(err, errcode.Unavailable), err, msg)
}

// ReadStream decodes the whole stream and calls fn with each envelope.
func ReadStream(j *journal.Journal, stream string, fn func(events.Envelope) error) error {
	return j.ReadStream(stream, 1, func(r journal.Record) error {
		env := events.Envelope{Seq: r.Seq, Stream: r.Stream, Version: r.Version}
		if err := events.DecodeBody(r.Data, &env); err != nil {
			return errcode.Wrap(errcode.JournalCorrupt, err, "event "+stream+" is damaged")
		}
		return fn(env)
	})
}

// LoadCall folds a call's stream from the journal. A call with no events has
// status NoCall.
func LoadCall(j *journal.Journal, id string) (fsm.Call, error) {
	c := fsm.Call{ID: id}
	err := ReadStream(j, CallStream(id), func(env events.Envelope) error {
		if err := fsm.ApplyCall(&c, env.Event, env.Time); err != nil {
			return errcode.Wrap(errcode.JournalCorrupt, err, "cannot fold "+env.String())
		}
		return nil
	})
	return c, err
}

// LoadClient folds a client's stream from the journal.
func LoadClient(j *journal.Journal, id string) (fsm.Client, error) {
	c := fsm.Client{ID: id}
	err := ReadStream(j, ClientStream(id), func(env events.Envelope) error {
		if err := fsm.ApplyClient(&c, env.Event, env.Time); err != nil {
			return errcode.Wrap(errcode.JournalCorrupt, err, "cannot fold "+env.String())
		}
		return nil
	})
	return c, err
}

func (d *Deps) props(producer actor.Producer) *actor.Props {
	opts := make([]actor.PropsOption, 0, 2)
	if d.Dispatcher != nil {
		opts = append(opts, actor.WithDispatcher(d.Dispatcher))
	}
	if d.Supervisor != nil {
		opts = append(opts, actor.WithSupervisor(d.Supervisor))
	}
	return actor.PropsFromProducer(producer, opts...)
}
