package replay

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/journal"
)

// Filter selects calls. Its zero value selects every call.
type Filter struct {
	// Since and Until bound the call's setup time: Since ≤ setup < Until.
	// A zero bound is open.
	Since, Until time.Time
	// Client selects calls where this client is the caller or the callee.
	Client string
	// Number selects calls where this is any number of the call: the caller's
	// or the callee's number, the caller id presented, or the destination as
	// dialled. E.164 numbers match in any spelling ("+1 415-555-0101" matches
	// "+14155550101"); extensions and URIs match exactly.
	Number string
	// Reason selects calls that ended with this reason (0: any call, live
	// ones included). events.Missed selects the calls the callee missed.
	Reason events.Reason
}

// Match reports whether the filter selects call c.
func (f Filter) Match(c *CallSummary) bool {
	if !f.Since.IsZero() && c.SetupAt.Before(f.Since) {
		return false
	}
	if !f.Until.IsZero() && !c.SetupAt.Before(f.Until) {
		return false
	}
	if f.Client != "" && c.Caller.Client != f.Client && c.Callee.Client != f.Client {
		return false
	}
	if f.Number != "" && !matchNumber(f.Number, c.Caller.Number, c.Callee.Number, c.CallerID, c.Destination) {
		return false
	}
	switch f.Reason {
	case events.NoReason:
	case events.Missed:
		if !c.Missed {
			return false
		}
	default:
		if c.Reason != f.Reason {
			return false
		}
	}
	return true
}

// matchNumber reports whether want is one of numbers, comparing E.164 numbers
// in their normal form.
func matchNumber(want string, numbers ...string) bool {
	norm, e164 := fsm.NormalizeNumber(want)
	want = strings.TrimSpace(want)
	for _, n := range numbers {
		if n == "" {
			continue
		}
		if n == want {
			return true
		}
		if e164 {
			if m, ok := fsm.NormalizeNumber(strings.TrimPrefix(n, "tel:")); ok && m == norm {
				return true
			}
		}
	}
	return false
}

// CallSummary is one call as the journal leaves it (Calls) or as it was at an
// instant (At).
type CallSummary struct {
	ID        string           `json:"id"`
	Direction events.Direction `json:"direction"`
	Caller    events.Party     `json:"caller"`
	Callee    events.Party     `json:"callee"`
	// CallerDevice is the device the caller dialled from ("" when not given);
	// AnsweredDevice the callee's device that answered.
	CallerDevice   string `json:"caller_device,omitempty"`
	AnsweredDevice string `json:"answered_device,omitempty"`
	CallerID       string `json:"caller_id,omitempty"`   // number presented to the callee
	Destination    string `json:"destination,omitempty"` // as dialled

	State fsm.CallStatus `json:"state"`
	Live  bool           `json:"live"` // the call had not ended

	// While it rings: the devices that ring, whether the callee ignored it,
	// when the ring timeout fires (zero: none).
	Ringing      []string  `json:"ringing,omitempty"`
	Ignored      bool      `json:"ignored,omitempty"`
	RingDeadline time.Time `json:"ring_deadline,omitzero"`

	HeldByCaller bool `json:"held_by_caller,omitempty"`
	HeldByCallee bool `json:"held_by_callee,omitempty"`
	MutedCaller  bool `json:"muted_caller,omitempty"`
	MutedCallee  bool `json:"muted_callee,omitempty"`

	// Once it ended: why, the side whose action ended it (0 for timeouts and
	// failures), and whether the callee missed it.
	Reason  events.Reason `json:"reason,omitempty"`
	EndedBy events.Side   `json:"ended_by,omitempty"`
	Missed  bool          `json:"missed,omitempty"`

	// Engine-clock instants, UTC; zero until they happen.
	SetupAt   time.Time `json:"setup_at"`
	RingingAt time.Time `json:"ringing_at,omitzero"`
	ConnectAt time.Time `json:"connect_at,omitzero"`
	ReleaseAt time.Time `json:"release_at,omitzero"`
	// Duration is how long the call was connected: to its release, or, for a
	// call still live, to the end of what was replayed (the journal's last
	// event for Calls, the instant for At).
	Duration time.Duration `json:"duration_ns"`
	Events   int           `json:"events"` // events in its stream (so far)

	// Schema 2. Group is the group the callee was reached through;
	// Transfer the transfer that placed the call; CallerLeg and CalleeLeg
	// the far-end legs an external party continues from an earlier call;
	// Origin "click-to-call" for the first call of a click-to-call.
	Group     string `json:"group,omitempty"`
	Transfer  string `json:"transfer,omitempty"`
	CallerLeg string `json:"caller_leg,omitempty"`
	CalleeLeg string `json:"callee_leg,omitempty"`
	Origin    string `json:"origin,omitempty"`
	// Recording says whether the call is recorded, RecordingRef the
	// current or last recording; ParkSlot the slot it waits in, ParkedSide
	// the side that waits; Conference and Peer the conference it was merged
	// into and its other call; Digits the DTMF tones sent so far.
	Recording    bool        `json:"recording,omitempty"`
	RecordingRef string      `json:"recording_ref,omitempty"`
	ParkSlot     string      `json:"park_slot,omitempty"`
	ParkedSide   events.Side `json:"parked_side,omitempty"`
	Conference   string      `json:"conference,omitempty"`
	Peer         string      `json:"peer,omitempty"`
	Digits       int         `json:"digits,omitempty"`
}

// summarize describes the folded state c; asOf ends the duration of a live
// call (engine-clock Unix ns).
func summarize(c *fsm.Call, asOf int64) CallSummary {
	return CallSummary{
		ID: c.ID, Direction: c.Direction, Caller: c.Caller, Callee: c.Callee,
		CallerDevice: c.CallerDevice, AnsweredDevice: c.AnsweredDevice,
		CallerID: c.CallerID, Destination: c.Destination,
		State: c.Status, Live: c.Status.Live(),
		Ringing: slices.Clone(c.Ringing), Ignored: c.Ignored, RingDeadline: instant(c.RingDeadline),
		HeldByCaller: c.HeldByCaller, HeldByCallee: c.HeldByCallee,
		MutedCaller: c.MutedCaller, MutedCallee: c.MutedCallee,
		Reason: c.Reason, EndedBy: c.EndedBy, Missed: c.Missed,
		SetupAt: instant(c.SetupAt), RingingAt: instant(c.RingingAt),
		ConnectAt: instant(c.ConnectAt), ReleaseAt: instant(c.ReleaseAt),
		Duration: max(c.Duration(asOf), 0),
		Events:   int(c.Version),
		Group:    c.Group, Transfer: c.Transfer, CallerLeg: c.CallerLeg, CalleeLeg: c.CalleeLeg, Origin: c.Origin,
		Recording: c.Recording, RecordingRef: c.RecordingRef, ParkSlot: c.ParkSlot, ParkedSide: c.ParkedSide,
		Conference: c.Conference, Peer: c.Peer, Digits: c.Digits,
	}
}

// sortCalls orders calls by setup time, then id. It sorts the pointers, not
// the summaries, which are large.
func sortCalls(calls []*fsm.Call) {
	slices.SortFunc(calls, func(a, b *fsm.Call) int {
		if c := cmp.Compare(a.SetupAt, b.SetupAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

// foldKinds says which kinds of streams a folder folds.
type foldKinds uint8

const (
	foldCalls foldKinds = 1 << iota
	foldClients
	foldTransfers
)

// folder folds the streams of one pass over the journal. Events later than
// until (engine-clock Unix ns) are left out, and with them the rest of their
// stream; until 0 means no bound.
type folder struct {
	until     int64
	kinds     foldKinds
	calls     map[string]*fsm.Call
	order     []*fsm.Call // calls in the order of their first event
	clients   map[string]*fsm.Client
	corder    []*fsm.Client
	transfers map[string]*fsm.Transfer
	torder    []*fsm.Transfer
	stopped   map[string]bool // streams cut at until
	last      int64           // time of the latest event folded
	events    int
	env       events.Envelope
	// callsByID is filled by foldAll when it folds transfers: every call,
	// by id.
	callsByID map[string]*fsm.Call
}

func newFolder(until int64, kinds foldKinds, size uint64) *folder {
	return &folder{
		until: until, kinds: kinds,
		calls:     make(map[string]*fsm.Call, size/4),
		clients:   make(map[string]*fsm.Client),
		transfers: make(map[string]*fsm.Transfer),
		stopped:   make(map[string]bool),
	}
}

// fold decodes one record and folds it into its stream's state.
func (f *folder) fold(r *journal.Record) error {
	kind, id := kindOf(r.Stream)
	switch {
	case kind == callStream && f.kinds&foldCalls != 0:
	case kind == clientStream && f.kinds&foldClients != 0:
	case kind == transferStream && f.kinds&foldTransfers != 0:
	default:
		return nil
	}
	if f.until != 0 && f.stopped[r.Stream] {
		return nil
	}
	env := &f.env
	if err := decode(*r, env); err != nil {
		return err
	}
	if f.until != 0 && env.Time > f.until {
		f.stopped[r.Stream] = true
		return nil
	}
	var version uint64
	var err error
	switch kind {
	case callStream:
		c := f.calls[id]
		if c == nil {
			c = &fsm.Call{ID: id}
			f.calls[id] = c
			f.order = append(f.order, c)
		}
		if version = c.Version; version+1 == r.Version {
			err = fsm.ApplyCall(c, env.Event, env.Time)
		}
	case clientStream:
		c := f.clients[id]
		if c == nil {
			c = &fsm.Client{ID: id}
			f.clients[id] = c
			f.corder = append(f.corder, c)
		}
		if version = c.Version; version+1 == r.Version {
			err = fsm.ApplyClient(c, env.Event, env.Time)
		}
	default:
		t := f.transfers[id]
		if t == nil {
			t = &fsm.Transfer{ID: id}
			f.transfers[id] = t
			f.torder = append(f.torder, t)
		}
		if version = t.Version; version+1 == r.Version {
			err = fsm.ApplyTransfer(t, env.Event, env.Time)
		}
	}
	if version+1 != r.Version {
		return errcode.Newf(errcode.JournalCorrupt, "%s: version %d follows %d (run replay --verify)", r.Stream, r.Version, version)
	}
	if err != nil {
		return errcode.Wrap(errcode.JournalCorrupt, err, fmt.Sprintf("cannot fold %s (run replay --verify)", env))
	}
	f.events++
	f.last = max(f.last, env.Time)
	return nil
}

// foldAll scans the whole journal and folds every stream of the given kinds,
// on workerCount goroutines that each fold the streams that hash to them.
// The returned folder's order, corder and torder list every call, client and
// transfer (in no useful order); its maps are not filled, except callsByID
// when transfers are folded.
func (l *Log) foldAll(until int64, kinds foldKinds) (*folder, error) {
	n := workerCount()
	fs := make([]*folder, n)
	for w := range fs {
		fs[w] = newFolder(until, kinds, l.j.LastSeq()/uint64(n))
	}
	if err := l.scan(n, func(w int, r *journal.Record) error { return fs[w].fold(r) }); err != nil {
		return nil, err
	}
	f := &folder{until: until, kinds: kinds}
	for _, o := range fs {
		f.order = append(f.order, o.order...)
		f.corder = append(f.corder, o.corder...)
		f.torder = append(f.torder, o.torder...)
		f.last = max(f.last, o.last)
		f.events += o.events
	}
	if kinds&foldTransfers != 0 {
		f.callsByID = make(map[string]*fsm.Call, len(f.order))
		for _, c := range f.order {
			f.callsByID[c.ID] = c
		}
	}
	return f, nil
}

// Calls returns every call of the journal that f selects, ended and live,
// ordered by setup time, then id. A live call's Duration runs to the time of
// the journal's last event. A record that does not decode or fold is
// journal_corrupt (Verify tells more).
func (l *Log) Calls(f Filter) ([]CallSummary, error) {
	fo, err := l.foldAll(0, foldCalls)
	if err != nil {
		return nil, err
	}
	sortCalls(fo.order)
	out := make([]CallSummary, 0, len(fo.order))
	for _, c := range fo.order {
		s := summarize(c, fo.last)
		if f.Match(&s) {
			out = append(out, s)
		}
	}
	return out, nil
}
