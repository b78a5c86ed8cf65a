package retention

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/journal"
)

// dueStreams are the streams of one run that leave the hot journal.
type dueStreams struct {
	calls, transfers, messages []string
}

// selectDue picks from j the streams due at cutoff (see ArchiveJournal),
// leaving out those whose last event is above sequence number upTo, and
// counts in rep the streams it keeps and why.
func selectDue(ctx context.Context, j *journal.Journal, cutoff time.Time, upTo uint64, rep *Report) (dueStreams, error) {
	var d dueStreams
	cut := cutoff.UnixNano()
	prefixes := []string{events.CallStreamPrefix, events.TransferStreamPrefix, events.MessageStreamPrefix}
	err := j.Ended(prefixes, func(last journal.Record) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		var env events.Envelope
		if err := events.DecodeBody(last.Data, &env); err != nil {
			rep.Undecodable++
			return nil
		}
		if env.Time >= cut {
			return nil
		}
		if last.Seq > upTo {
			rep.Undelivered++
			return nil
		}
		switch kind, _ := events.ParseStream(last.Stream); kind {
		case events.CallStreamKind:
			if _, ok := env.Event.(events.CallEnded); ok {
				d.calls = append(d.calls, last.Stream)
			}
		case events.TransferStreamKind:
			d.transfers = append(d.transfers, last.Stream)
		case events.MessageStreamKind:
			switch env.Event.(type) {
			case events.MessageDelivered, events.MessageFailed:
				d.messages = append(d.messages, last.Stream)
			}
		}
		return nil
	})
	if err != nil {
		return d, err
	}
	// Calls a live transfer names stay.
	protected := map[string]bool{}
	err = j.LiveStreams(func(stream string) error {
		if kind, _ := events.ParseStream(stream); kind != events.TransferStreamKind {
			return nil
		}
		calls, ok, err := transferCalls(j, stream)
		if err != nil || !ok {
			return err
		}
		for _, c := range calls {
			protected[events.CallStream(c)] = true
		}
		return nil
	})
	if err != nil {
		return d, err
	}
	going := map[string]bool{}
	d.calls = slices.DeleteFunc(d.calls, func(s string) bool {
		if protected[s] {
			rep.KeptCalls++
			return true
		}
		going[s] = true
		return false
	})
	// A transfer goes with its calls.
	d.transfers, err = filterStreams(d.transfers, func(s string) (bool, error) {
		calls, ok, err := transferCalls(j, s)
		if err != nil || !ok {
			return false, err
		}
		for _, c := range calls {
			cs := events.CallStream(c)
			if going[cs] {
				continue
			}
			if _, archived, err := j.Archived(cs); err != nil {
				return false, err
			} else if archived {
				continue
			}
			if v, err := j.StreamVersion(cs); err != nil {
				return false, err
			} else if v == 0 {
				continue // never placed
			}
			rep.KeptTransfers++
			return false, nil
		}
		return true, nil
	})
	return d, err
}

// transferCalls returns the ids of the calls a transfer names (the call it
// transfers, its consultation call, its new call); ok is false when its
// first event is not a TransferInitiated that decodes (such a transfer is
// left alone).
func transferCalls(j *journal.Journal, stream string) (ids []string, ok bool, err error) {
	errFirst := errors.New("first record read")
	err = j.ReadStream(stream, 1, func(r journal.Record) error {
		var env events.Envelope
		if events.DecodeBody(r.Data, &env) == nil {
			if t, isInit := env.Event.(events.TransferInitiated); isInit {
				for _, id := range []string{t.Call, t.Consult, t.NewCall} {
					if id != "" {
						ids = append(ids, id)
					}
				}
				ok = true
			}
		}
		return errFirst
	})
	if err == errFirst {
		err = nil
	}
	return ids, ok, err
}

// filterStreams keeps the streams of list for which keep is true; it stops
// at keep's first error.
func filterStreams(list []string, keep func(string) (bool, error)) ([]string, error) {
	out := list[:0]
	for _, s := range list {
		k, err := keep(s)
		if err != nil {
			return nil, err
		}
		if k {
			out = append(out, s)
		}
	}
	return out, nil
}
