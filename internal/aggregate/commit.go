package aggregate

import (
	"context"
	"sync"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/journal"
)

// Change is one durable event of a command, with the aggregate's status
// before and after it.
type Change[T comparable] struct {
	Envelope events.Envelope
	Prev     T
	Status   T
}

// Commit is the write path of a decided command: it folds evs on a fork of
// *state (at engine-clock time now), appends them to stream at the state's
// version, and only then makes the fork the state. It returns one Change per
// event. On any error *state is unchanged and nothing was written: an event
// that does not fold is internal, a version mismatch conflict (the caller
// should reload from the journal), a journal failure unavailable or closed.
func (k *Kind[S, T]) Commit(ctx context.Context, j *journal.Journal, stream string, state *S, evs []events.Event, now int64) ([]Change[T], error) {
	return k.CommitIn(ctx, j, stream, state, evs, now, new(Scratch[S, T]))
}

// Scratch is the space one command's write path works in: the fork it folds
// on, the events decided and the changes committed. A host of actors keeps
// scratches in a pool and hands one to each command: the path then
// allocates nothing of its own. The zero Scratch is ready to use.
type Scratch[S any, T comparable] struct {
	next    S
	Events  []events.Event // space for the decision (see fsm.DecideCallInto)
	changes []Change[T]
}

// Reset drops what sc refers to (states, events), keeping its space.
func (sc *Scratch[S, T]) Reset() {
	var zero S
	sc.next = zero
	clear(sc.Events[:cap(sc.Events)])
	sc.Events = sc.Events[:0]
	clear(sc.changes[:cap(sc.changes)])
	sc.changes = sc.changes[:0]
}

// CommitIn is Commit working in sc: the changes it returns live in sc, and
// are valid until sc is reset or used again.
func (k *Kind[S, T]) CommitIn(ctx context.Context, j *journal.Journal, stream string, state *S, evs []events.Event, now int64, sc *Scratch[S, T]) ([]Change[T], error) {
	next := &sc.next
	k.Fork(next, state)
	if cap(sc.changes) < len(evs) {
		sc.changes = make([]Change[T], len(evs))
	}
	changes := sc.changes[:len(evs)]
	for i, ev := range evs {
		changes[i].Prev = k.Status(next)
		if err := k.Apply(next, ev, now); err != nil {
			return nil, errcode.Wrap(errcode.Internal, err, k.Name+" decision does not fold")
		}
		changes[i].Status = k.Status(next)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	version := k.Ver(state)
	seq, err := appendEvents(ctx, j, stream, version, evs, now, k.Ended(next))
	if err != nil {
		return nil, err
	}
	*state = *next
	for i, ev := range evs {
		changes[i].Envelope = events.Envelope{
			Seq: seq + uint64(i), Stream: stream, Version: version + 1 + uint64(i),
			Type: ev.Type(), Time: now, Schema: events.SchemaVersion, Event: ev,
		}
	}
	sc.changes = changes
	return changes, nil
}

// Envelopes returns the envelopes of changes.
func Envelopes[T comparable](changes []Change[T]) []events.Envelope {
	envs := make([]events.Envelope, len(changes))
	for i := range changes {
		envs[i] = changes[i].Envelope
	}
	return envs
}

// encoding is the scratch space of one append: the encoded events and the
// records that point into them. Pooled: the journal keeps neither once the
// append returned.
type encoding struct {
	buf     []byte
	records [][]byte
}

var encodings = sync.Pool{New: func() any { return &encoding{buf: make([]byte, 0, 4096), records: make([][]byte, 0, 4)} }}

// appendEvents encodes evs and appends them to stream at version; it
// returns the seq of the first. end takes the stream out of the live set.
func appendEvents(ctx context.Context, j *journal.Journal, stream string, version uint64, evs []events.Event, now int64, end bool) (uint64, error) {
	enc := encodings.Get().(*encoding)
	buf, records := enc.buf[:0], enc.records[:0]
	for _, ev := range evs {
		start := len(buf)
		buf = events.EncodeBody(buf, now, ev)
		records = append(records, buf[start:len(buf):len(buf)])
	}
	seq, err := j.Append(ctx, stream, version, records, end)
	clear(records)
	enc.buf, enc.records = buf, records[:0]
	encodings.Put(enc)
	if err != nil {
		return 0, journalError(err)
	}
	return seq, nil
}
