package replay

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/journal"
)

// TransferSummary is one transfer (FEATURES T1–T3, C14) as the journal
// leaves it (Transfers) or as it was at an instant (At): which call it
// transferred, who sent whom where, through which calls, and how it ended.
type TransferSummary struct {
	ID     string              `json:"id"`
	Kind   events.TransferKind `json:"kind"`
	Status fsm.TransferStatus  `json:"status"`
	// Reason says why it was not answered, not completed, or failed.
	Reason string `json:"reason,omitempty"`
	Live   bool   `json:"live"` // no outcome yet

	// Call is the call transferred (empty for a click-to-call); Kept is
	// its side whose party is sent on, KeptParty that party and Transferor
	// the party on the other side, who transfers (as the call shows them).
	Call       string       `json:"call,omitempty"`
	Kept       events.Side  `json:"kept,omitempty"`
	KeptParty  events.Party `json:"kept_party,omitzero"`
	Transferor events.Party `json:"transferor,omitzero"`
	// First is the party a click-to-call rings first.
	First events.Party `json:"first,omitzero"`
	// Target is where the kept party (or First) goes: a client, a number,
	// or a group (Group), as Destination named it.
	Target      events.Party `json:"target"`
	Group       string       `json:"group,omitempty"`
	Destination string       `json:"destination,omitempty"`
	// Consult is the consultation call (attended, supervised) or the call to
	// the first party (click-to-call); NewCall the call that joins the kept
	// party and the target.
	Consult string `json:"consult,omitempty"`
	NewCall string `json:"new_call,omitempty"`

	Deadline  time.Time `json:"deadline,omitzero"` // a supervised transfer's invite timer
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	Events    int       `json:"events"` // events in its stream (so far)
}

// summarizeTransfer describes transfer t; call is the state of the call it
// transfers (nil when unknown).
func summarizeTransfer(t *fsm.Transfer, call *fsm.Call) TransferSummary {
	s := TransferSummary{
		ID: t.ID, Kind: t.Kind, Status: t.Status, Reason: t.Reason, Live: !t.Status.Done(),
		Call: t.Call, Kept: t.Kept, First: t.First, Target: t.Target, Group: t.Group, Destination: t.Destination,
		Consult: t.Consult, NewCall: t.NewCall,
		Deadline: instant(t.Deadline), StartedAt: instant(t.StartedAt), EndedAt: instant(t.EndedAt), Events: int(t.Version),
	}
	if call != nil && t.Kept.Valid() {
		s.KeptParty, s.Transferor = call.Party(t.Kept), call.Party(t.Kept.Other())
	}
	return s
}

// MatchTransfer reports whether the filter selects transfer t: Since and
// Until bound its start; Client is its transferring party, its kept party,
// its target or its first party; Number is one of their numbers or the
// destination as given. Reason does not apply to transfers and is ignored.
func (f Filter) MatchTransfer(t *TransferSummary) bool {
	if !f.Since.IsZero() && t.StartedAt.Before(f.Since) {
		return false
	}
	if !f.Until.IsZero() && !t.StartedAt.Before(f.Until) {
		return false
	}
	parties := []events.Party{t.Transferor, t.KeptParty, t.Target, t.First}
	if f.Client != "" && !slices.ContainsFunc(parties, func(p events.Party) bool { return p.Client == f.Client }) {
		return false
	}
	if f.Number != "" {
		numbers := []string{t.Destination}
		for _, p := range parties {
			numbers = append(numbers, p.Number)
		}
		if !matchNumber(f.Number, numbers...) {
			return false
		}
	}
	return true
}

func sortTransfers(ts []TransferSummary) {
	slices.SortFunc(ts, func(a, b TransferSummary) int {
		if c := a.StartedAt.Compare(b.StartedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

// Transfers returns every transfer of the journal that f selects (see
// Filter.MatchTransfer), ordered by start time, then id. A record that does
// not decode or fold is journal_corrupt (Verify tells more).
func (l *Log) Transfers(f Filter) ([]TransferSummary, error) {
	fo, err := l.foldAll(0, foldCalls|foldTransfers)
	if err != nil {
		return nil, err
	}
	out := make([]TransferSummary, 0, len(fo.torder))
	for _, t := range fo.torder {
		s := summarizeTransfer(t, fo.callsByID[t.Call])
		if f.MatchTransfer(&s) {
			out = append(out, s)
		}
	}
	sortTransfers(out)
	return out, nil
}

// errStop ends a scan that found what it looked for.
var errStop = errors.New("replay: stop")

// related returns the steps of other streams that tell what happened to call
// callID, whose own events are envs: every event of each transfer that names
// the call (as the call it transfers, its consultation or its new call), and
// the GroupMemberPicked that sent it to a member of a round-robin group.
// Each step holds the transfer (or group) after its event; their State is
// left for the caller. They are in seq order.
func (l *Log) related(callID string, envs []events.Envelope) ([]Step, error) {
	var ids []string
	dialed, _ := envs[0].Event.(events.CallDialed)
	if dialed.Transfer != "" {
		ids = append(ids, dialed.Transfer)
	}
	// A transfer of this call begins while the call lives: after its first
	// event, and before its last one if it ended.
	last := envs[len(envs)-1]
	ended := last.Type == events.TypeCallEnded
	err := l.j.Scan(envs[0].Seq, func(r journal.Record) error {
		if ended && r.Seq > last.Seq {
			return errStop
		}
		if r.Version != 1 || !strings.HasPrefix(r.Stream, events.TransferStreamPrefix) {
			return nil
		}
		var env events.Envelope
		if err := decode(r, &env); err != nil {
			return err
		}
		if t, ok := env.Event.(events.TransferInitiated); ok && t.Call == callID {
			ids = append(ids, r.Stream[len(events.TransferStreamPrefix):])
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, readError(err)
	}
	var out []Step
	for _, id := range ids {
		t := fsm.Transfer{ID: id}
		err := l.readStream(events.TransferStream(id), func(env events.Envelope) error {
			if err := fsm.ApplyTransfer(&t, env.Event, env.Time); err != nil {
				return errcode.Wrap(errcode.JournalCorrupt, err, fmt.Sprintf("cannot fold %s (run replay --verify)", env))
			}
			tc := t.Clone()
			out = append(out, Step{Envelope: env, Transfer: &tc})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if dialed.Group != "" {
		g := fsm.Group{ID: dialed.Group}
		err := l.readStream(groupStreamPrefix+dialed.Group, func(env events.Envelope) error {
			if err := fsm.ApplyGroup(&g, env.Event, env.Time); err != nil {
				return errcode.Wrap(errcode.JournalCorrupt, err, fmt.Sprintf("cannot fold %s (run replay --verify)", env))
			}
			if p, ok := env.Event.(events.GroupMemberPicked); ok && p.Call == callID {
				gc := g
				gc.Members = slices.Clone(g.Members)
				out = append(out, Step{Envelope: env, Group: &gc})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(out, func(a, b Step) int { return cmp.Compare(a.Envelope.Seq, b.Envelope.Seq) })
	return out, nil
}

// readStream decodes every event of stream in order; fn may keep the
// envelope.
func (l *Log) readStream(stream string, fn func(events.Envelope) error) error {
	n := uint64(0)
	err := l.j.ReadStream(stream, 1, func(r journal.Record) error {
		var env events.Envelope
		if err := decode(r, &env); err != nil {
			return err
		}
		n++
		if env.Version != n {
			return errcode.Newf(errcode.JournalCorrupt, "%s: version %d follows %d (run replay --verify)", stream, env.Version, n-1)
		}
		return fn(env)
	})
	return readError(err)
}
