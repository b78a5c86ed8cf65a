package actors

import (
	"context"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/journal"
)

// commit is the path every command of a client or a session takes once
// decided: fold the events on a copy of the state (an event the machine
// would refuse is never journaled), append them, and only then take the
// new state. It returns the envelopes, or an error with the state
// untouched.
func commit[S any](ctx context.Context, j *journal.Journal, stream string, state *S, version uint64, evs []events.Event, now int64,
	clone func(*S) S, apply func(*S, events.Event, int64) error, ends func(*S) bool) ([]events.Envelope, error) {
	next := clone(state)
	for _, ev := range evs {
		if err := apply(&next, ev, now); err != nil {
			return nil, errcode.Wrap(errcode.Internal, err, "decision does not fold")
		}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	envs, err := Persist(ctx, j, stream, version, evs, now, ends(&next))
	if err != nil {
		return nil, err
	}
	*state = next
	return envs, nil
}
