package aggregate

import (
	"strings"

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

// LoadStreams folds many aggregates of kind k with one journal.ReadStreams:
// streams are their streams (names of this kind; an aggregate's id is its
// stream without the kind's prefix, sharing its memory). It calls fn with
// each aggregate's state in the order of streams, once folded; *s is reused
// for the next one: fn copies what it keeps. An aggregate with no events is
// Empty(id). It stops at the first error, of the fold or of fn.
func (k *Kind[S, T]) LoadStreams(j *journal.Journal, streams []string, fn func(i int, s *S) error) error {
	prefix := k.Stream.Prefix()
	var s S
	cur := 0 // the next aggregate to hand to fn; s holds it once started
	started := false
	// upto hands fn every aggregate before i: the one folded, and those
	// with no records.
	upto := func(i int) error {
		for ; cur < i; cur++ {
			if !started {
				s = k.Empty(strings.TrimPrefix(streams[cur], prefix))
			}
			started = false
			if err := fn(cur, &s); err != nil {
				return err
			}
		}
		return nil
	}
	err := j.ReadStreams(streams, func(i int, r journal.Record) error {
		if i != cur || !started {
			if err := upto(i); err != nil {
				return err
			}
			s, started = k.Empty(strings.TrimPrefix(streams[i], prefix)), true
		}
		env := events.Envelope{Seq: r.Seq, Stream: r.Stream, Version: r.Version}
		if err := events.DecodeBody(r.Data, &env); err != nil {
			return errcode.Wrap(errcode.JournalCorrupt, err, "event "+r.Stream+" is damaged")
		}
		if err := k.Apply(&s, env.Event, env.Time); err != nil {
			return errcode.Wrap(errcode.JournalCorrupt, err, "cannot fold "+env.String())
		}
		return nil
	})
	if err != nil {
		return err
	}
	return upto(len(streams))
}
