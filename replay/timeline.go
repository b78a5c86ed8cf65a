package replay

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/journal"
)

// Step is one event of a call's timeline and the call's state once it was
// applied. A timeline also holds the events of other streams that tell what
// happened to the call: those of each transfer that names it (as the call it
// transfers, its consultation or its new call), with Transfer set to the
// transfer after the event, and the GroupMemberPicked that sent it to a
// member of a round-robin group, with Group set. State is then the call as
// its own events had left it (a zero call, with only its ID, before its
// first event).
type Step struct {
	Envelope events.Envelope
	State    fsm.Call
	Transfer *fsm.Transfer // for an event of a transfer stream
	Group    *fsm.Group    // for an event of a group stream
}

// Call summarizes the call as this step left it; a live call's Duration runs
// to the step's time.
func (s Step) Call() CallSummary { return summarize(&s.State, s.Envelope.Time) }

// Own reports whether the step is an event of the call's own stream.
func (s Step) Own() bool { return s.Transfer == nil && s.Group == nil }

// MarshalJSON writes {"event": the envelope as events writes it, "state": the
// call after it (as in CallSummary)}; for a transfer's event {"event",
// "transfer": the transfer after it (as in TransferSummary)}, for a group's
// {"event", "group": {"id", "strategy", "members", "last"}}.
func (s Step) MarshalJSON() ([]byte, error) {
	switch {
	case s.Transfer != nil:
		t := summarizeTransfer(s.Transfer, nil)
		return json.Marshal(struct {
			Event    events.Envelope `json:"event"`
			Transfer TransferSummary `json:"transfer"`
		}{s.Envelope, t})
	case s.Group != nil:
		return json.Marshal(struct {
			Event events.Envelope `json:"event"`
			Group groupJSON       `json:"group"`
		}{s.Envelope, groupJSON{ID: s.Group.ID, Strategy: s.Group.Strategy, Members: s.Group.Members, Last: s.Group.Last}})
	}
	return json.Marshal(struct {
		Event events.Envelope `json:"event"`
		State CallSummary     `json:"state"`
	}{s.Envelope, s.Call()})
}

// StepEnvelopes returns the envelopes of steps, in order: a timeline's events,
// those of its transfers included, as WriteLadder takes them.
func StepEnvelopes(steps []Step) []events.Envelope {
	envs := make([]events.Envelope, len(steps))
	for i := range steps {
		envs[i] = steps[i].Envelope
	}
	return envs
}

type groupJSON struct {
	ID       string          `json:"id"`
	Strategy events.Strategy `json:"strategy"`
	Members  []string        `json:"members"`
	Last     string          `json:"last,omitempty"` // the member picked last
}

// Envelopes returns the decoded events of one call, in order. An id no call
// has is not_found.
func (l *Log) Envelopes(callID string) ([]events.Envelope, error) {
	if callID == "" || strings.ContainsRune(callID, 0) {
		return nil, errcode.New(errcode.MissingParameter, "a call id is needed")
	}
	stream := events.CallStream(callID)
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
		return nil, l.notFoundCall(callID)
	}
	return envs, nil
}

// Timeline returns a call's events in order, each with the state of the call
// after it was applied (fsm.ApplyCall), and, in seq order among them, the
// events of the transfers and the group pick that name the call (see Step).
// An id no call has is not_found; an event that does not fold is
// journal_corrupt.
//
// The call's own events are read with one ReadStream; finding the transfers
// of which it is the original call scans the journal from the call's first
// event to its last (to the end for a live call).
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
	others, err := l.related(callID, envs)
	if err != nil || len(others) == 0 {
		return steps, err
	}
	all := make([]Step, 0, len(steps)+len(others))
	state := fsm.Call{ID: callID}
	for i, j := 0, 0; i < len(steps) || j < len(others); {
		if j == len(others) || i < len(steps) && steps[i].Envelope.Seq < others[j].Envelope.Seq {
			state = steps[i].State
			all = append(all, steps[i])
			i++
			continue
		}
		o := others[j]
		o.State = state.Clone()
		all = append(all, o)
		j++
	}
	return all, nil
}
