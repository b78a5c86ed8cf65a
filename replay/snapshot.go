package replay

import (
	"cmp"
	"slices"
	"time"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

// ClientSummary is one client as it was at an instant.
type ClientSummary struct {
	ID            string           `json:"id"`
	Status        fsm.ClientStatus `json:"status"`
	Name          string           `json:"name,omitempty"`
	Numbers       []string         `json:"numbers,omitempty"`
	Extensions    []string         `json:"extensions,omitempty"`
	Devices       []events.Device  `json:"devices,omitempty"`
	AcceptInbound bool             `json:"accept_inbound"`
	RegisteredAt  time.Time        `json:"registered_at,omitzero"` // its latest registration
	Events        int              `json:"events"`                 // events in its stream so far
}

func summarizeClient(c *fsm.Client) ClientSummary {
	st := c.Status
	if st == "" {
		st = fsm.ClientUnknown
	}
	return ClientSummary{
		ID: c.ID, Status: st, Name: c.Name,
		Numbers: slices.Clone(c.Numbers), Extensions: slices.Clone(c.Extensions), Devices: slices.Clone(c.Devices),
		AcceptInbound: c.AcceptInbound, RegisteredAt: instant(c.RegisteredAt), Events: int(c.Version),
	}
}

// Snapshot is the state of every client and every call as of one instant.
type Snapshot struct {
	At time.Time `json:"at"`
	// Clients that had at least one event by then, ordered by id.
	Clients []ClientSummary `json:"clients"`
	// Calls set up by then, in their state at that instant (Live says which
	// had not ended), ordered by setup time then id.
	Calls []CallSummary `json:"calls"`
	// Transfers started by then, in their state at that instant, ordered
	// by start time then id; left out when there are none.
	Transfers []TransferSummary `json:"transfers,omitempty"`
}

// LiveCalls counts the calls of the snapshot that had not ended.
func (s *Snapshot) LiveCalls() int {
	n := 0
	for i := range s.Calls {
		if s.Calls[i].Live {
			n++
		}
	}
	return n
}

// At returns the state of every client, call and transfer as of instant t: only events
// whose engine-clock time is at or before t are folded. A live call's
// Duration runs to t.
func (l *Log) At(t time.Time) (Snapshot, error) {
	if t.IsZero() {
		return Snapshot{}, errcode.New(errcode.MissingParameter, "an instant is needed")
	}
	ns := t.UnixNano()
	if ns == 0 {
		ns = 1 // 0 means "no bound" to the folder; no event is journaled at the epoch
	}
	f, err := l.foldAll(ns, foldCalls|foldClients|foldTransfers)
	if err != nil {
		return Snapshot{}, err
	}
	s := Snapshot{At: t.UTC(), Clients: make([]ClientSummary, 0, len(f.corder)), Calls: make([]CallSummary, 0, len(f.order))}
	for _, c := range f.corder {
		s.Clients = append(s.Clients, summarizeClient(c))
	}
	slices.SortFunc(s.Clients, func(a, b ClientSummary) int { return cmp.Compare(a.ID, b.ID) })
	sortCalls(f.order)
	for _, c := range f.order {
		s.Calls = append(s.Calls, summarize(c, ns))
	}
	for _, t := range f.torder {
		s.Transfers = append(s.Transfers, summarizeTransfer(t, f.callsByID[t.Call]))
	}
	sortTransfers(s.Transfers)
	return s, nil
}
