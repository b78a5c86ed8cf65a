package replay

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/journal"
)

// Kind says how a stream diverges from the current code.
type Kind string

const (
	// KindMismatch: the current code decides other events than the journal
	// has (another type, other fields, another time, or no event at all).
	KindMismatch Kind = "mismatch"
	// KindRefused: the current code refuses the command that produced the
	// journaled event (fsm.DecideCall or DecideClient returns an error), or
	// the check of an event that records a decision taken elsewhere
	// (fsm.CheckTransferInitiated, CheckGroupDefined, CheckMessageSent…).
	KindRefused Kind = "refused"
	// KindMissing: the current code decides more events in one decision than
	// the journal holds: the stream ends too early.
	KindMissing Kind = "missing"
	// KindFold: the decision matches but fsm.ApplyCall, ApplyClient,
	// ApplyTransfer, ApplyGroup or ApplyMessage refuses to fold the event.
	KindFold Kind = "fold"
	// KindNoCommand: no command of the current code produces this event (an
	// event of the wrong kind for the stream, a reason nothing produces).
	KindNoCommand Kind = "no-command"
	// KindAfterEnd: an event follows the one that ended its stream: a
	// call's CallEnded, a transfer's outcome, a message's MessageDelivered
	// or MessageFailed.
	KindAfterEnd Kind = "after-end"
	// KindVersion: the stream's versions do not follow each other.
	KindVersion Kind = "version"
	// KindDecode: the current decoder cannot read the event's body.
	KindDecode Kind = "decode"
	// KindLink: the event does not agree with the other streams it names:
	// a call placed by a transfer that does not name it, a transfer
	// answered before its consultation call was, completed before its new
	// call was placed.
	KindLink Kind = "link"
)

// Divergence is the first place where a stream of the journal and the current
// code part ways.
type Divergence struct {
	Stream  string `json:"stream"`
	Version uint64 `json:"version"`       // the stream version where it diverges
	Seq     uint64 `json:"seq,omitempty"` // that event's global seq; 0 when the journal has no event there
	Kind    Kind   `json:"kind"`
	// Journal is what the journal has at that version ("" when it has
	// nothing): the event's type and its JSON payload.
	Journal string `json:"journal"`
	// Current is what the current code makes of it: the events it decides
	// instead, or its error.
	Current string `json:"current"`
	// Code is the error code when the current code refused (KindRefused,
	// KindDecode), "" otherwise.
	Code errcode.Code `json:"code,omitempty"`
}

// String describes the divergence on one line.
func (d Divergence) String() string {
	where := fmt.Sprintf("%s version %d", d.Stream, d.Version)
	if d.Seq != 0 {
		where += fmt.Sprintf(" (seq %d)", d.Seq)
	}
	j := d.Journal
	if j == "" {
		j = "nothing"
	}
	return fmt.Sprintf("%s: %s: journal has %s; current code: %s", where, d.Kind, j, d.Current)
}

// Report is the outcome of Verify.
type Report struct {
	Streams int `json:"streams"` // call, client, transfer, group and message streams verified
	Events  int `json:"events"`  // their events
	// Skipped counts streams of kinds this code does not know; their events
	// are not verified.
	Skipped int `json:"skipped,omitempty"`
	// Archived counts references to streams that are not in this file
	// because retention moved them (a tombstone in a hot journal says
	// where), or, in an archive file, because they stayed in the hot
	// journal or went to another archive file. They are not divergences.
	Archived int `json:"archived_refs,omitempty"`
	// Divergences holds the first divergence of each stream that has one, in
	// the order of the streams' first events.
	Divergences []Divergence `json:"divergences"`
}

// OK reports whether no stream diverged.
func (r *Report) OK() bool { return len(r.Divergences) == 0 }

// item is one journaled event as Verify sees it: decoded, or with the error
// the decoder gave.
type item struct {
	env events.Envelope
	err error
}

// Verify runs every stream of the journal through the current fsm/ code again
// and reports the first divergence of each stream.
//
// For each journaled event it rebuilds the command that produced it — a
// CallDialed (with the CallRinging or CallEnded{failed} that Dial decides in
// the same append) is fsm.Dial with the devices and the ring timeout the
// CallRinging shows; a CallRinging alone is Ring; a CallAnswered is Answer;
// a CallEnded is Reject, Hangup, Fail or RingTimeout according to its reason
// and side; a ClientRegistered is Register; and so on — asks fsm.DecideCall
// (or DecideClient) what the command yields on the state folded so far, at
// the event's engine-clock time, and compares the decided events, encoded,
// with the journaled ones. Then it folds the journaled events with
// fsm.ApplyCall (ApplyClient). A difference, a refusal, or a fold error is a
// divergence; so is a version that does not follow the one before, an event
// after the CallEnded of its call, and a body the decoder cannot read.
//
// A healthy journal written by any schema version this code reads has no
// divergence. Verify reads the whole journal into memory.
//
// Verify also checks the journal's streams index against the events
// (journal.CheckIndex): the engine finds a stream's events through it, so
// a damaged index is an error (journal_corrupt, naming the damaged entry;
// `callengine repair` rebuilds the index), not a journal without
// divergence.
func (l *Log) Verify() (Report, error) {
	if err := l.j.CheckIndex(); err != nil {
		return Report{}, readError(err)
	}
	type stream struct {
		name  string
		items []item
		d     *Divergence
	}
	// Each worker gathers the streams that hash to it, then verifies them.
	type part struct {
		byName map[string]*stream
		order  []*stream
	}
	n := workerCount()
	parts := make([]part, n)
	for w := range parts {
		parts[w].byName = make(map[string]*stream)
	}
	err := l.scan(n, func(w int, rec *journal.Record) error {
		p := &parts[w]
		s := p.byName[rec.Stream]
		if s == nil {
			s = &stream{name: rec.Stream}
			p.byName[rec.Stream] = s
			p.order = append(p.order, s)
		}
		it := item{env: events.Envelope{Seq: rec.Seq, Stream: rec.Stream, Version: rec.Version}}
		if it.err = events.DecodeBody(rec.Data, &it.env); it.err != nil {
			// keep the place of the record that did not decode
			it.env = events.Envelope{Seq: rec.Seq, Stream: rec.Stream, Version: rec.Version}
		}
		s.items = append(s.items, it)
		return nil
	})
	if err != nil {
		return Report{}, err
	}
	var wg sync.WaitGroup
	for w := range parts {
		wg.Add(1)
		go func(p *part) {
			defer wg.Done()
			for _, s := range p.order {
				switch kind, id := kindOf(s.name); kind {
				case callStream:
					s.d = verifyCall(id, s.items)
				case clientStream:
					s.d = verifyClient(id, s.items)
				case transferStream:
					s.d = verifyStream(transferMachine, &fsm.Transfer{ID: id}, s.items)
				case groupStream:
					s.d = verifyStream(groupMachine, &fsm.Group{ID: id}, s.items)
				case messageStream:
					s.d = verifyStream(messageMachine, &fsm.Message{ID: id}, s.items)
				case sessionStream:
					s.d = verifySession(id, s.items)
				}
			}
		}(&parts[w])
	}
	wg.Wait()
	byName := make(map[string]*stream)
	items := make(map[string][]item)
	for _, p := range parts {
		for _, s := range p.order {
			byName[s.name] = s
			items[s.name] = s.items
		}
	}
	elsewhere, err := l.elsewhere()
	if err != nil {
		return Report{}, err
	}
	archivedRefs := 0
	gone := func(stream string) bool {
		if elsewhere(stream) {
			archivedRefs++
			return true
		}
		return false
	}
	for _, l := range checkLinks(items, gone) {
		// A stream's first divergence is the one at its lowest version.
		if s := byName[l.Stream]; s.d == nil || l.Version < s.d.Version {
			s.d = l
		}
	}
	r := Report{Divergences: []Divergence{}, Archived: archivedRefs}
	for _, p := range parts {
		for _, s := range p.order {
			if kind, _ := kindOf(s.name); kind == otherStream {
				r.Skipped++
				continue
			}
			r.Streams++
			r.Events += len(s.items)
			if s.d != nil {
				s.d.Stream = s.name
				r.Divergences = append(r.Divergences, *s.d)
			}
		}
	}
	// In the order of the streams' first events: the seq of a stream's
	// first record is the first item's.
	first := make(map[string]uint64, len(r.Divergences))
	for _, p := range parts {
		for _, s := range p.order {
			if s.d != nil {
				first[s.name] = s.items[0].env.Seq
			}
		}
	}
	slices.SortFunc(r.Divergences, func(a, b Divergence) int { return cmp.Compare(first[a.Stream], first[b.Stream]) })
	return r, nil
}

// checkLinks checks what transfers and calls say of each other, across
// their streams; it returns at most one divergence per stream, with its
// Stream set. A transfer's actor places its calls after the
// TransferInitiated, names the transfer in their CallDialed, and records an
// outcome only after what it follows from is in the journal (see
// fsm.NextTransferStep), so in a healthy journal:
//
//   - a call whose CallDialed names a transfer is that transfer's Consult or
//     NewCall, dialled after its TransferInitiated;
//   - the call a transfer transfers was dialled before the transfer began;
//   - a TransferAnswered follows the answer of the Consult call;
//   - a TransferCompleted follows the CallDialed of the NewCall, which names
//     the transfer.
//
// A stream whose own first event does not decode is left to its own
// divergence.
//
// A stream named but absent is a divergence unless gone(stream) says it is
// elsewhere: archived by retention (the hot journal's tombstone), or, when
// the file is an archive, left in the hot journal. What the absent stream
// would have shown (an answer, a dialling) cannot be checked then.
func checkLinks(streams map[string][]item, gone func(stream string) bool) []*Divergence {
	first := func(stream string) (*events.Envelope, bool) {
		its := streams[stream]
		if len(its) == 0 || its[0].err != nil {
			return nil, false
		}
		return &its[0].env, true
	}
	dialed := func(id string) (*events.Envelope, events.CallDialed, bool) {
		env, ok := first(events.CallStream(id))
		if !ok {
			return nil, events.CallDialed{}, false
		}
		e, ok := env.Event.(events.CallDialed)
		return env, e, ok
	}
	// answered returns the seq of the call's first CallAnswered, 0 if none.
	answered := func(id string) uint64 {
		for _, it := range streams[events.CallStream(id)] {
			if it.err != nil {
				return 0
			}
			if _, ok := it.env.Event.(events.CallAnswered); ok {
				return it.env.Seq
			}
		}
		return 0
	}
	link := func(stream string, env *events.Envelope, format string, a ...any) *Divergence {
		return &Divergence{Stream: stream, Version: env.Version, Seq: env.Seq, Kind: KindLink,
			Journal: describe(env.Event), Current: fmt.Sprintf(format, a...)}
	}
	var out []*Divergence
	for name := range streams {
		kind, id := kindOf(name)
		switch kind {
		case callStream:
			env, e, ok := dialed(id)
			if !ok || e.Transfer == "" {
				continue
			}
			tenv, ok := first(events.TransferStream(e.Transfer))
			if !ok {
				if ts := events.TransferStream(e.Transfer); len(streams[ts]) == 0 && !gone(ts) {
					out = append(out, link(name, env, "placed by transfer %s, which the journal does not have", e.Transfer))
				}
				continue
			}
			t, ok := tenv.Event.(events.TransferInitiated)
			switch {
			case !ok:
			case tenv.Seq > env.Seq:
				out = append(out, link(name, env, "placed by transfer %s, which began later (seq %d)", e.Transfer, tenv.Seq))
			case id != t.Consult && id != t.NewCall:
				out = append(out, link(name, env, "transfer %s places calls %s, not this one", e.Transfer, strings.Join(nonEmpty(t.Consult, t.NewCall), " and ")))
			}
		case transferStream:
			tenv, ok := first(name)
			if !ok {
				continue
			}
			t, ok := tenv.Event.(events.TransferInitiated)
			if !ok {
				continue
			}
			absent := func(call string) bool {
				cs := events.CallStream(call)
				return len(streams[cs]) == 0 && gone(cs)
			}
			if t.Call != "" {
				if cenv, _, ok := dialed(t.Call); !ok && len(streams[events.CallStream(t.Call)]) == 0 && !absent(t.Call) || ok && cenv.Seq > tenv.Seq {
					out = append(out, link(name, tenv, "call %s, which it transfers, was not dialled before it", t.Call))
					continue
				}
			}
			for _, it := range streams[name][1:] {
				if it.err != nil {
					break
				}
				env := &it.env
				var d *Divergence
				switch env.Event.(type) {
				case events.TransferAnswered:
					if a := answered(t.Consult); (a == 0 || a > env.Seq) && !absent(t.Consult) {
						d = link(name, env, "call %s, the one whose answer it reports, was not answered before it", t.Consult)
					}
				case events.TransferCompleted:
					if cenv, c, ok := dialed(t.NewCall); (!ok || cenv.Seq > env.Seq || c.Transfer != id) && !absent(t.NewCall) {
						d = link(name, env, "call %s, the new call, was not dialled by this transfer before it", t.NewCall)
					}
				}
				if d != nil {
					out = append(out, d)
					break
				}
			}
		}
	}
	return out
}

func nonEmpty(s ...string) []string {
	out := s[:0:0]
	for _, x := range s {
		if x != "" {
			out = append(out, x)
		}
	}
	return out
}

// check reports what makes items[i] unusable before any decision: a version
// out of order or a body that does not decode.
func check(items []item, i int) *Divergence {
	it := &items[i]
	if it.env.Version != uint64(i)+1 {
		return &Divergence{Version: it.env.Version, Seq: it.env.Seq, Kind: KindVersion,
			Journal: fmt.Sprintf("version %d", it.env.Version), Current: fmt.Sprintf("expects version %d", i+1)}
	}
	if it.err != nil {
		return &Divergence{Version: it.env.Version, Seq: it.env.Seq, Kind: KindDecode,
			Journal: "a body that does not decode", Current: "cannot decode it: " + it.err.Error(), Code: errcode.CodeOf(it.err)}
	}
	return nil
}

// machine is what verifying a stream needs from fsm/: rebuild the command
// behind a journaled event, decide it, fold its events, and whether the
// stream is over.
type machine[S any, C any] struct {
	noun    string // what a stream of this kind is: "call", "transfer"…
	command func(s *S, items []item) (C, error)
	decide  func(s *S, cmd C, now int64) ([]events.Event, error)
	apply   func(s *S, ev events.Event, at int64) error
	ended   func(s *S) (bool, uint64) // over, and at which version
}

var callMachine = machine[fsm.Call, fsm.CallCommand]{
	noun:    "call",
	command: callCommand,
	decide:  fsm.DecideCall,
	apply:   fsm.ApplyCall,
	ended:   func(c *fsm.Call) (bool, uint64) { return c.Status == fsm.Ended, c.Version },
}

var clientMachine = machine[fsm.Client, fsm.ClientCommand]{
	noun:    "client",
	command: func(_ *fsm.Client, items []item) (fsm.ClientCommand, error) { return clientCommand(items[0].env.Event) },
	decide:  fsm.DecideClient,
	apply:   fsm.ApplyClient,
	ended:   func(*fsm.Client) (bool, uint64) { return false, 0 }, // a client may register again
}

// A transfer's events record what its actor decided from the states of its
// calls (fsm.NextTransferStep) and from an intent that is not journaled, so
// they cannot be decided again from the transfer's stream alone. Each is
// checked instead: a TransferInitiated with fsm.CheckTransferInitiated, as
// the engine does before it journals one; every event by the transfer
// machine when it is folded (an outcome that does not follow from the state:
// answered twice, completed after it failed); the calls it names by
// checkLinks.
var transferMachine = machine[fsm.Transfer, events.Event]{
	noun: "transfer",
	command: func(_ *fsm.Transfer, items []item) (events.Event, error) {
		ev := items[0].env.Event
		if ev.Type() < events.TypeTransferInitiated || ev.Type() > events.TypeTransferFailed {
			return nil, fmt.Errorf("%s is not a transfer event", ev.Type())
		}
		return ev, nil
	},
	decide: func(t *fsm.Transfer, ev events.Event, _ int64) ([]events.Event, error) {
		if e, ok := ev.(events.TransferInitiated); ok {
			if err := fsm.CheckTransferInitiated(e); err != nil {
				return nil, err
			}
		}
		return []events.Event{ev}, nil
	},
	apply: fsm.ApplyTransfer,
	ended: func(t *fsm.Transfer) (bool, uint64) { return t.Status.Done(), t.Version },
}

// A group's events are checked as the engine checks them before it journals
// them: a definition with fsm.CheckGroupDefined (a removed group may be
// defined again); a removal or a round-robin pick needs the group defined; a
// pick needs a round-robin group, one of its members and the call it was
// made for. Which member a pick chose depends on
// who was available then, which the group's stream does not hold.
var groupMachine = machine[fsm.Group, events.Event]{
	noun: "group",
	command: func(_ *fsm.Group, items []item) (events.Event, error) {
		ev := items[0].env.Event
		if ev.Type() < events.TypeGroupDefined || ev.Type() > events.TypeGroupMemberPicked {
			return nil, fmt.Errorf("%s is not a group event", ev.Type())
		}
		return ev, nil
	},
	decide: func(g *fsm.Group, ev events.Event, _ int64) ([]events.Event, error) {
		switch e := ev.(type) {
		case events.GroupDefined:
			if err := fsm.CheckGroupDefined(e); err != nil {
				return nil, err
			}
		case events.GroupRemoved:
			if !g.Defined() {
				return nil, errcode.Newf(errcode.NotFound, "no group %s", g.ID)
			}
		case events.GroupMemberPicked:
			switch {
			case !g.Defined():
				return nil, errcode.Newf(errcode.NotFound, "no group %s", g.ID)
			case g.Strategy != events.RoundRobin:
				return nil, errcode.Newf(errcode.InvalidState, "group %s is %s: it picks no member", g.ID, g.Strategy)
			case !slices.Contains(g.Members, e.Member):
				return nil, errcode.Newf(errcode.InvalidParams, "%q is not a member of group %s", e.Member, g.ID)
			case e.Call == "":
				return nil, errcode.New(errcode.MissingParameter, "a pick names the call it was made for")
			}
		}
		return []events.Event{ev}, nil
	},
	apply: fsm.ApplyGroup,
	ended: func(*fsm.Group) (bool, uint64) { return false, 0 }, // a group may be defined again
}

// messageResult is the delivery report behind a MessageDelivered or
// MessageFailed (engine.FarMessageResult).
type messageResult struct {
	delivered bool
	reason    string
}

// A message's MessageSent is checked with fsm.CheckMessageSent; its result
// is decided again from the delivery report it records, with
// fsm.DecideMessageResult.
var messageMachine = machine[fsm.Message, any]{
	noun: "message",
	command: func(_ *fsm.Message, items []item) (any, error) {
		switch e := items[0].env.Event.(type) {
		case events.MessageSent:
			return e, nil
		case events.MessageDelivered:
			return messageResult{delivered: true}, nil
		case events.MessageFailed:
			return messageResult{reason: e.Reason}, nil
		}
		return nil, fmt.Errorf("%s is not a message event", items[0].env.Event.Type())
	},
	decide: func(m *fsm.Message, cmd any, _ int64) ([]events.Event, error) {
		switch c := cmd.(type) {
		case events.MessageSent:
			if m.Status != fsm.NoMessage {
				return nil, errcode.Newf(errcode.AlreadyExists, "message %s was sent already", m.ID)
			}
			if err := fsm.CheckMessageSent(c); err != nil {
				return nil, err
			}
			return []events.Event{c}, nil
		case messageResult:
			ev, err := fsm.DecideMessageResult(m, c.delivered, c.reason)
			if err != nil {
				return nil, err
			}
			return []events.Event{ev}, nil
		}
		return nil, fmt.Errorf("unknown message command %T", cmd)
	},
	apply: fsm.ApplyMessage,
	ended: func(m *fsm.Message) (bool, uint64) {
		return m.Status == fsm.MessageDelivered || m.Status == fsm.MessageFailed, m.Version
	},
}

// verifyCall verifies one call stream; nil when it does not diverge.
func verifyCall(id string, items []item) *Divergence {
	return verifyStream(callMachine, &fsm.Call{ID: id}, items)
}

// verifyClient verifies one client stream; nil when it does not diverge.
func verifyClient(id string, items []item) *Divergence {
	return verifyStream(clientMachine, &fsm.Client{ID: id}, items)
}

// verifyStream re-decides every event of a stream from the command it
// records, from state st, and folds the decided events; nil when the journal
// and the current code agree.
func verifyStream[S any, C any](m machine[S, C], st *S, items []item) *Divergence {
	var bufs [2][]byte
	for i := 0; i < len(items); {
		if d := check(items, i); d != nil {
			return d
		}
		env := &items[i].env
		if over, at := m.ended(st); over {
			return &Divergence{Version: env.Version, Seq: env.Seq, Kind: KindAfterEnd,
				Journal: describe(env.Event), Current: fmt.Sprintf("the %s ended at version %d: nothing may follow", m.noun, at)}
		}
		cmd, err := m.command(st, items[i:])
		if err != nil {
			return &Divergence{Version: env.Version, Seq: env.Seq, Kind: KindNoCommand, Journal: describe(env.Event), Current: err.Error()}
		}
		decided, err := m.decide(st, cmd, env.Time)
		if err != nil {
			return refused(env, cmd, err)
		}
		n, d := compare(items, i, decided, env.Time, cmd, &bufs)
		if d != nil {
			return d
		}
		for k := i; k < i+n; k++ {
			e := &items[k].env
			if err := m.apply(st, e.Event, e.Time); err != nil {
				return &Divergence{Version: e.Version, Seq: e.Seq, Kind: KindFold, Journal: describe(e.Event), Current: "cannot fold it: " + err.Error()}
			}
		}
		i += n
	}
	return nil
}

func refused(env *events.Envelope, cmd any, err error) *Divergence {
	return &Divergence{Version: env.Version, Seq: env.Seq, Kind: KindRefused, Journal: describe(env.Event),
		Current: fmt.Sprintf("refuses %s: %v", commandName(cmd), err), Code: errcode.CodeOf(err)}
}

// compare matches the decided events, stamped with now, against the journaled
// events from items[i]; it returns how many events the decision covers.
// bufs are scratch space for the two encodings.
func compare(items []item, i int, decided []events.Event, now int64, cmd any, bufs *[2][]byte) (int, *Divergence) {
	if len(decided) == 0 {
		env := &items[i].env
		return 0, &Divergence{Version: env.Version, Seq: env.Seq, Kind: KindMismatch, Journal: describe(env.Event),
			Current: commandName(cmd) + " decides no event"}
	}
	for k, ev := range decided {
		j := i + k
		if j >= len(items) {
			return 0, &Divergence{Version: uint64(j) + 1, Kind: KindMissing,
				Current: fmt.Sprintf("%s decides %s as well", commandName(cmd), describeAt(ev, now))}
		}
		if k > 0 {
			if d := check(items, j); d != nil {
				return 0, d
			}
		}
		env := &items[j].env
		want := events.EncodeBody(bufs[0][:0], now, ev)
		got := events.EncodeBody(bufs[1][:0], env.Time, env.Event)
		bufs[0], bufs[1] = want, got
		if !bytes.Equal(want, got) {
			has, decides := describe(env.Event), describe(ev)
			if env.Time != now {
				has, decides = describeAt(env.Event, env.Time), describeAt(ev, now)
			}
			return 0, &Divergence{Version: env.Version, Seq: env.Seq, Kind: KindMismatch, Journal: has,
				Current: commandName(cmd) + " decides " + decides}
		}
	}
	return len(decided), nil
}

// callCommand rebuilds the command that produced the journaled event at
// items[0], given the state c before it. A Dial also yields the event after
// its CallDialed, so it looks at items[1].
func callCommand(c *fsm.Call, items []item) (fsm.CallCommand, error) {
	env := &items[0].env
	switch e := env.Event.(type) {
	case events.CallDialed:
		d := fsm.Dial{Caller: e.Caller, Callee: e.Callee, CallerDevice: e.CallerDevice,
			CallerID: e.CallerID, Destination: e.Destination, Direction: e.Direction,
			Group: e.Group, Transfer: e.Transfer, CallerLeg: e.CallerLeg, CalleeLeg: e.CalleeLeg, Origin: e.Origin,
			VoicemailLimit: e.VoicemailLimit}
		if len(items) > 1 && items[1].err == nil {
			switch next := items[1].env.Event.(type) {
			case events.CallRinging:
				// A client (or group) callee rings: these devices, this
				// deadline. An external callee's ringing is a Ring of
				// its own.
				if e.Callee.Client != "" || e.Group != "" {
					d.Devices = next.Devices
					d.RingTimeout = timeout(next.Deadline, env.Time)
				}
			case events.CallAnswered:
				// A call born connected (an attended transfer's new
				// call): answered in the same decision. A client callee
				// is never answered without ringing first; an external
				// one is connected at once only when it continues a leg.
				if e.Callee.Client != "" || e.CalleeLeg != "" {
					d.Connected, d.AnsweredDevice = true, next.Device
				}
			}
			// Otherwise a client callee's call fails at once (CallEnded:
			// no device), and an external callee's waits for the far end.
		}
		return d, nil
	case events.CallRinging:
		if c.Status == fsm.Ringing {
			// A round-robin group call moves on to the next member:
			// "member/device" entries, all of that member.
			next := fsm.RingNext{Timeout: timeout(e.Deadline, env.Time)}
			for _, d := range e.Devices {
				m, dev, _ := fsm.SplitMemberDevice(d)
				next.Member = m
				next.Devices = append(next.Devices, dev)
			}
			return next, nil
		}
		return fsm.Ring{Timeout: timeout(e.Deadline, env.Time)}, nil
	case events.CallAnswered:
		return fsm.Answer{Device: e.Device}, nil
	case events.CallHeld:
		return fsm.Hold{By: e.By}, nil
	case events.CallResumed:
		return fsm.Resume{By: e.By}, nil
	case events.CallMuted:
		return fsm.Mute{Side: e.Side}, nil
	case events.CallUnmuted:
		return fsm.Unmute{Side: e.Side}, nil
	case events.CallIgnored:
		return fsm.Ignore{}, nil
	case events.CallDigits:
		return fsm.SendDigits{Side: e.Side, Digits: e.Digits, Duration: time.Duration(e.Duration), Gap: time.Duration(e.Gap)}, nil
	case events.CallRecordingStarted:
		return fsm.StartRecording{By: e.By, Ref: e.Ref}, nil
	case events.CallRecordingStopped:
		return fsm.StopRecording{By: e.By}, nil
	case events.CallParked:
		return fsm.Park{By: e.By, Slot: e.Slot}, nil
	case events.CallUnparked:
		return fsm.Unpark{Party: e.Party, Device: e.Device}, nil
	case events.CallJoined:
		return fsm.Join{Conference: e.Conference, Peer: e.Peer}, nil
	case events.CallLeftConference:
		return fsm.LeaveConference{Peer: e.Peer}, nil
	case events.CallHoldNotAvailable:
		return nil, fmt.Errorf("%s is a notice, never journaled", env.Type)
	case events.CallToVoicemail, events.VoicemailLeft:
		return voicemailCommand(c, items)
	case events.CallLegRecorded:
		return fsm.RecordLeg{Side: e.Side, Adapter: e.Adapter, Data: e.Data}, nil
	case events.CallEnded:
		switch e.Reason {
		case events.Rejected:
			// Reject, or a Hangup by the callee before the answer: both
			// decide the same event.
			return fsm.Reject{}, nil
		case events.Busy:
			if e.By == events.Callee {
				return fsm.Reject{Busy: true}, nil
			}
			return fsm.Fail{Reason: events.Busy, By: e.By}, nil
		case events.Canceled:
			return fsm.Hangup{By: events.Caller}, nil
		case events.Hangup:
			return fsm.Hangup{By: e.By}, nil
		case events.NoAnswer:
			if e.By == events.NoSide {
				return fsm.RingTimeout{}, nil
			}
			return fsm.Fail{Reason: events.NoAnswer, By: e.By}, nil
		case events.Failed:
			return fsm.Fail{Reason: events.Failed, By: e.By}, nil
		case events.Transferred:
			return fsm.TransferAway{By: e.By}, nil
		}
		return nil, fmt.Errorf("no command ends a call with reason %q", e.Reason)
	}
	return nil, fmt.Errorf("%s is not a call event", env.Type)
}

// clientCommand rebuilds the command that produced a journaled client event.
func clientCommand(ev events.Event) (fsm.ClientCommand, error) {
	switch e := ev.(type) {
	case events.ClientRegistered:
		return fsm.Register{Name: e.Name, Numbers: e.Numbers, Extensions: e.Extensions, Devices: e.Devices,
			AcceptInbound: e.AcceptInbound, Permissions: e.Permissions}, nil
	case events.ClientUnregistered:
		return fsm.Unregister{}, nil
	case events.DeviceAdded:
		return fsm.AddDevice{Device: e.Device}, nil
	case events.DeviceRemoved:
		return fsm.RemoveDevice{ID: e.ID}, nil
	case events.ClientUpdated:
		return fsm.Update{Name: e.Name, AcceptInbound: e.AcceptInbound}, nil
	}
	if cmd, ok := clientCommandV3(ev); ok {
		return cmd, nil
	}
	return nil, fmt.Errorf("%s is not a client event", ev.Type())
}

// timeout is the ring timeout that gives deadline when started at now; 0 for
// no deadline.
func timeout(deadline, now int64) time.Duration {
	if deadline == 0 {
		return 0
	}
	return time.Duration(deadline - now)
}

// commandName names a command with its fields, e.g. "Hangup{By: callee}".
func commandName(cmd any) string {
	switch c := cmd.(type) {
	case fsm.Dial:
		if c.Connected {
			return fmt.Sprintf("Dial{Connected: true, AnsweredDevice: %q}", c.AnsweredDevice)
		}
		return fmt.Sprintf("Dial{Devices: %v, RingTimeout: %v}", c.Devices, c.RingTimeout)
	case fsm.Ring:
		return fmt.Sprintf("Ring{Timeout: %v}", c.Timeout)
	case fsm.Answer:
		return fmt.Sprintf("Answer{Device: %q}", c.Device)
	case fsm.Reject:
		return fmt.Sprintf("Reject{Busy: %v}", c.Busy)
	case fsm.Hangup:
		return fmt.Sprintf("Hangup{By: %s}", sideName(c.By))
	case fsm.Hold:
		return fmt.Sprintf("Hold{By: %s}", sideName(c.By))
	case fsm.Resume:
		return fmt.Sprintf("Resume{By: %s}", sideName(c.By))
	case fsm.Mute:
		return fmt.Sprintf("Mute{Side: %s}", sideName(c.Side))
	case fsm.Unmute:
		return fmt.Sprintf("Unmute{Side: %s}", sideName(c.Side))
	case fsm.Fail:
		return fmt.Sprintf("Fail{Reason: %s, By: %s}", c.Reason, sideName(c.By))
	case fsm.SendDigits:
		return fmt.Sprintf("SendDigits{Side: %s, Digits: %q}", sideName(c.Side), c.Digits)
	case fsm.StartRecording:
		return fmt.Sprintf("StartRecording{By: %s, Ref: %q}", sideName(c.By), c.Ref)
	case fsm.StopRecording:
		return fmt.Sprintf("StopRecording{By: %s}", sideName(c.By))
	case fsm.Park:
		return fmt.Sprintf("Park{By: %s, Slot: %q}", sideName(c.By), c.Slot)
	case fsm.Unpark:
		return fmt.Sprintf("Unpark{Party: %s, Device: %q}", party(c.Party, ""), c.Device)
	case fsm.Join:
		return fmt.Sprintf("Join{Conference: %q, Peer: %q}", c.Conference, c.Peer)
	case fsm.TransferAway:
		return fmt.Sprintf("TransferAway{By: %s}", sideName(c.By))
	case messageResult:
		if c.delivered {
			return "FarMessageResult{Delivered: true}"
		}
		return fmt.Sprintf("FarMessageResult{Delivered: false, Reason: %q}", c.reason)
	case events.Event:
		return "the check of " + c.Type().String()
	case fsm.Register:
		return "Register"
	case fsm.AddDevice:
		return fmt.Sprintf("AddDevice{%s}", c.Device.ID)
	case fsm.RemoveDevice:
		return fmt.Sprintf("RemoveDevice{%s}", c.ID)
	case fsm.Update:
		return fmt.Sprintf("Update{Name: %q, AcceptInbound: %v}", c.Name, c.AcceptInbound)
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", cmd), "fsm.")
}

func sideName(s events.Side) string {
	if n := s.String(); n != "" {
		return n
	}
	return fmt.Sprintf("side(%d)", s)
}

// describe writes an event as its type and its JSON payload.
func describe(ev events.Event) string {
	b, err := json.Marshal(ev)
	if err != nil || string(b) == "{}" {
		return ev.Type().String()
	}
	return ev.Type().String() + " " + string(b)
}

func describeAt(ev events.Event, at int64) string {
	return describe(ev) + " at " + instant(at).Format(time.RFC3339Nano)
}
