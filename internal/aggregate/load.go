package aggregate

import (
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/journal"
)

// Load folds the stream of aggregate id from the journal. An aggregate with
// no events is Empty(id). An event that does not decode or does not fold is
// journal_corrupt.
func (k *Kind[S, T]) Load(j *journal.Journal, id string) (S, error) {
	s := k.Empty(id)
	err := ReadStream(j, k.StreamOf(id), func(env events.Envelope) error {
		if err := k.Apply(&s, env.Event, env.Time); err != nil {
			return errcode.Wrap(errcode.JournalCorrupt, err, "cannot fold "+env.String())
		}
		return nil
	})
	return s, err
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

// LoadCall folds a call's stream. A call with no events has status NoCall.
func LoadCall(j *journal.Journal, id string) (fsm.Call, error) { return Calls.Load(j, id) }

// LoadClient folds a client's stream.
func LoadClient(j *journal.Journal, id string) (fsm.Client, error) { return Clients.Load(j, id) }

// LoadSession folds a session's stream.
func LoadSession(j *journal.Journal, id string) (fsm.Session, error) { return Sessions.Load(j, id) }

// LoadTransfer folds a transfer's stream.
func LoadTransfer(j *journal.Journal, id string) (fsm.Transfer, error) { return Transfers.Load(j, id) }
