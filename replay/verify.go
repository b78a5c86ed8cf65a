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
	// journaled event (fsm.DecideCall or DecideClient returns an error).
	KindRefused Kind = "refused"
	// KindMissing: the current code decides more events in one decision than
	// the journal holds: the stream ends too early.
	KindMissing Kind = "missing"
	// KindFold: the decision matches but fsm.ApplyCall or ApplyClient refuses
	// to fold the event.
	KindFold Kind = "fold"
	// KindNoCommand: no command of the current code produces this event (an
	// event of the wrong kind for the stream, a reason nothing produces).
	KindNoCommand Kind = "no-command"
	// KindAfterEnd: an event follows the CallEnded that ended the call.
	KindAfterEnd Kind = "after-end"
	// KindVersion: the stream's versions do not follow each other.
	KindVersion Kind = "version"
	// KindDecode: the current decoder cannot read the event's body.
	KindDecode Kind = "decode"
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
	Streams int `json:"streams"` // call and client streams verified
	Events  int `json:"events"`  // their events
	// Skipped counts streams that are neither calls nor clients (kinds this
	// code does not know); their events are not verified.
	Skipped int `json:"skipped,omitempty"`
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
func (l *Log) Verify() (Report, error) {
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
				}
			}
		}(&parts[w])
	}
	wg.Wait()
	r := Report{Divergences: []Divergence{}}
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
	command func(s *S, items []item) (C, error)
	decide  func(s *S, cmd C, now int64) ([]events.Event, error)
	apply   func(s *S, ev events.Event, at int64) error
	ended   func(s *S) (bool, uint64) // over, and at which version
}

var callMachine = machine[fsm.Call, fsm.CallCommand]{
	command: callCommand,
	decide:  fsm.DecideCall,
	apply:   fsm.ApplyCall,
	ended:   func(c *fsm.Call) (bool, uint64) { return c.Status == fsm.Ended, c.Version },
}

var clientMachine = machine[fsm.Client, fsm.ClientCommand]{
	command: func(_ *fsm.Client, items []item) (fsm.ClientCommand, error) { return clientCommand(items[0].env.Event) },
	decide:  fsm.DecideClient,
	apply:   fsm.ApplyClient,
	ended:   func(*fsm.Client) (bool, uint64) { return false, 0 }, // a client may register again
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
				Journal: describe(env.Event), Current: "the call ended at version " + fmt.Sprint(at) + ": nothing may follow"}
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
			CallerID: e.CallerID, Destination: e.Destination, Direction: e.Direction}
		if e.Callee.Client != "" && len(items) > 1 && items[1].err == nil {
			// A client callee rings (CallRinging: these devices, this
			// deadline) or the call fails at once (CallEnded: no device).
			if r, ok := items[1].env.Event.(events.CallRinging); ok {
				d.Devices = r.Devices
				d.RingTimeout = timeout(r.Deadline, env.Time)
			}
		}
		return d, nil
	case events.CallRinging:
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
		}
		return nil, fmt.Errorf("no command ends a call with reason %q", e.Reason)
	}
	return nil, fmt.Errorf("%s is not a call event", env.Type)
}

// clientCommand rebuilds the command that produced a journaled client event.
func clientCommand(ev events.Event) (fsm.ClientCommand, error) {
	switch e := ev.(type) {
	case events.ClientRegistered:
		return fsm.Register{Name: e.Name, Numbers: e.Numbers, Extensions: e.Extensions, Devices: e.Devices, AcceptInbound: e.AcceptInbound}, nil
	case events.ClientUnregistered:
		return fsm.Unregister{}, nil
	case events.DeviceAdded:
		return fsm.AddDevice{Device: e.Device}, nil
	case events.DeviceRemoved:
		return fsm.RemoveDevice{ID: e.ID}, nil
	case events.ClientUpdated:
		return fsm.Update{Name: e.Name, AcceptInbound: e.AcceptInbound}, nil
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
