package replay

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/callengine/callengine/actors"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/journal"
)

// Step is one event of a call and the call's state once it was applied.
type Step struct {
	Envelope events.Envelope
	State    fsm.Call
}

// Call summarizes the call as this step left it; a live call's Duration runs
// to the step's time.
func (s Step) Call() CallSummary { return summarize(&s.State, s.Envelope.Time) }

// MarshalJSON writes {"event": the envelope as events writes it, "state": the
// call after it (as in CallSummary)}.
func (s Step) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Event events.Envelope `json:"event"`
		State CallSummary     `json:"state"`
	}{s.Envelope, s.Call()})
}

// Envelopes returns the decoded events of one call, in order. An id no call
// has is not_found.
func (l *Log) Envelopes(callID string) ([]events.Envelope, error) {
	if callID == "" || strings.ContainsRune(callID, 0) {
		return nil, errcode.New(errcode.MissingParameter, "a call id is needed")
	}
	stream := actors.CallStream(callID)
	var envs []events.Envelope
	err := l.j.ReadStream(stream, 1, func(r journal.Record) error {
		var env events.Envelope
		if err := decode(r, &env); err != nil {
			return err
		}
		if env.Version != uint64(len(envs))+1 {
			return errcode.Newf(errcode.JournalCorrupt, "%s: version %d follows %d", stream, env.Version, len(envs))
		}
		envs = append(envs, env)
		return nil
	})
	if err != nil {
		return nil, readError(err)
	}
	if len(envs) == 0 {
		return nil, errcode.Newf(errcode.NotFound, "the journal has no call %s", callID)
	}
	return envs, nil
}

// Timeline returns a call's events in order, each with the state of the call
// after it was applied (fsm.ApplyCall). An id no call has is not_found; an
// event that does not fold is journal_corrupt.
func (l *Log) Timeline(callID string) ([]Step, error) {
	envs, err := l.Envelopes(callID)
	if err != nil {
		return nil, err
	}
	steps := make([]Step, len(envs))
	c := fsm.Call{ID: callID}
	for i, env := range envs {
		if err := fsm.ApplyCall(&c, env.Event, env.Time); err != nil {
			return nil, errcode.Wrap(errcode.JournalCorrupt, err, fmt.Sprintf("cannot fold %s (run replay --verify)", env))
		}
		steps[i] = Step{Envelope: env, State: c.Clone()}
	}
	return steps, nil
}
