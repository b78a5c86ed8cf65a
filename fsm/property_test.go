package fsm_test

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

var (
	propSeed  = flag.Uint64("fsm.seed", 20250301, "seed of the property tests")
	propRuns  = flag.Int("fsm.runs", 2000, "sequences per property test")
	propSteps = flag.Int("fsm.steps", 40, "commands per sequence")
)

// codes are the error codes the fsm may refuse a command with.
var codes = []errcode.Code{
	errcode.NotFound, errcode.InvalidState, errcode.InvalidParams, errcode.MissingParameter, errcode.AlreadyExists, errcode.HoldNotAvailable,
	errcode.RecordingNotAvailable,
}

// gen draws random commands, valid and invalid, over a small vocabulary so
// that sequences often hit the interesting cases (answering from a device that
// rings, resuming a hold that exists, …).
type gen struct{ r *rand.Rand }

var (
	genDevices = []string{"", "d1", "d2", "d3", "zz", "bob/d1", "carol/d2"} // [1:4] ring; the last two ring for a group
	genSides   = []events.Side{events.NoSide, events.Caller, events.Callee, events.Caller, events.Callee, 3}
	genTimes   = []time.Duration{-time.Second, 0, 0, 5 * time.Second, 30 * time.Second}

	// Call control (C10, C11, T4, T5): valid and invalid arguments.
	genDigits = []string{
		"", "1", "123", "*#0", "ABCD", "1,2", "x", "12a", "1 2", "é",
		strings.Repeat("9", fsm.MaxDigits), strings.Repeat("9", fsm.MaxDigits+1),
	}
	genTones = []time.Duration{
		-time.Millisecond, 0, 0, 0, 50 * time.Millisecond, 10 * time.Second, 10*time.Second + 1,
	}
	genRefs    = []string{"", "rec1", "rec2"}
	genSlots   = []string{"", "701", "702"}
	genConfs   = []string{"", "conf1", "conf2"}
	genPeers   = []string{"", "other", selfPeer} // selfPeer: the call's own id
	genUnparks = []events.Party{
		{}, {Number: "+14155550100"}, {Client: "alice"}, {Client: "bob"}, {Client: "carol"}, {Client: "dave", Number: "104"},
	}
)

// selfPeer stands for the id of the call under test in a generated Join.
const selfPeer = "<self>"

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func (g gen) party() events.Party {
	switch g.r.IntN(6) {
	case 0:
		return events.Party{} // nobody: Dial refuses it
	case 1, 2:
		return events.Party{Number: "+14155550100"}
	}
	return events.Party{Client: pick(g.r, []string{"alice", "bob", "carol"})}
}

func (g gen) devices() []string {
	n := g.r.IntN(4)
	ds := make([]string, 0, n)
	for range n {
		ds = append(ds, pick(g.r, genDevices[1:4]))
	}
	return slices.Compact(ds)
}

// weights of the commands: ending commands are rarer, so that sequences
// spend time connected and held.
var genWeights = []struct {
	n    int
	make func(g gen) fsm.CallCommand
}{
	{1, func(g gen) fsm.CallCommand {
		return fsm.Dial{
			Caller: g.party(), Callee: g.party(), CallerDevice: pick(g.r, genDevices),
			Direction: events.Direction(g.r.IntN(4)), Devices: g.devices(), RingTimeout: pick(g.r, genTimes),
		}
	}},
	{2, func(g gen) fsm.CallCommand { return fsm.Ring{Timeout: pick(g.r, genTimes)} }},
	{3, func(g gen) fsm.CallCommand { return fsm.Answer{Device: pick(g.r, genDevices)} }},
	{1, func(g gen) fsm.CallCommand { return fsm.Reject{Busy: g.r.IntN(2) == 0} }},
	{1, func(g gen) fsm.CallCommand { return fsm.Ignore{} }},
	{1, func(g gen) fsm.CallCommand { return fsm.Hangup{By: pick(g.r, genSides)} }},
	{4, func(g gen) fsm.CallCommand { return fsm.Hold{By: pick(g.r, genSides)} }},
	{4, func(g gen) fsm.CallCommand { return fsm.Resume{By: pick(g.r, genSides)} }},
	{2, func(g gen) fsm.CallCommand { return fsm.Mute{Side: pick(g.r, genSides)} }},
	{2, func(g gen) fsm.CallCommand { return fsm.Unmute{Side: pick(g.r, genSides)} }},
	{1, func(g gen) fsm.CallCommand {
		return fsm.Fail{Reason: events.Reason(g.r.IntN(10)), By: pick(g.r, genSides)}
	}},
	{2, func(g gen) fsm.CallCommand { return fsm.RingTimeout{} }},
	{2, func(g gen) fsm.CallCommand {
		return fsm.SendDigits{
			Side: pick(g.r, genSides), Digits: pick(g.r, genDigits),
			Duration: pick(g.r, genTones), Gap: pick(g.r, genTones),
		}
	}},
	{2, func(g gen) fsm.CallCommand {
		return fsm.StartRecording{By: pick(g.r, genSides), Ref: pick(g.r, genRefs)}
	}},
	{1, func(g gen) fsm.CallCommand { return fsm.StopRecording{By: pick(g.r, genSides)} }},
	{2, func(g gen) fsm.CallCommand { return fsm.Park{By: pick(g.r, genSides), Slot: pick(g.r, genSlots)} }},
	{2, func(g gen) fsm.CallCommand {
		return fsm.Unpark{Party: pick(g.r, genUnparks), Device: pick(g.r, genDevices)}
	}},
	{2, func(g gen) fsm.CallCommand {
		return fsm.Join{Conference: pick(g.r, genConfs), Peer: pick(g.r, genPeers)}
	}},
	{1, func(g gen) fsm.CallCommand { return fsm.TransferAway{By: pick(g.r, genSides)} }},
	{1, func(g gen) fsm.CallCommand { return fsm.LeaveConference{Peer: pick(g.r, genPeers)} }},
}

func (g gen) command() fsm.CallCommand {
	total := 0
	for _, w := range genWeights {
		total += w.n
	}
	n := g.r.IntN(total)
	for _, w := range genWeights {
		if n < w.n {
			return w.make(g)
		}
		n -= w.n
	}
	panic("unreachable")
}

// TestCallProperties runs random command sequences through DecideCall and
// ApplyCall and checks the invariants after every step. A failure prints the
// seed of the sequence and its steps; rerun one with -fsm.seed=<seed>
// -fsm.runs=1.
func TestCallProperties(t *testing.T) {
	runs, steps := *propRuns, *propSteps
	if testing.Short() {
		runs = 200
	}
	counts := map[string]int{}
	for i := range runs {
		seed := *propSeed + uint64(i)
		if msg := runCallSequence(seed, steps, counts); msg != "" {
			t.Fatalf("seed %d (rerun: go test ./fsm/ -run TestCallProperties -fsm.seed=%d -fsm.runs=1):\n%s", seed, seed, msg)
		}
	}
	// The generator must reach every outcome, or the test proves little.
	for _, k := range []string{
		"CallDialed", "CallRinging", "CallAnswered", "CallHeld", "CallResumed", "CallMuted", "CallUnmuted",
		"CallIgnored", "CallEnded", "no-events",
		"end:hangup", "end:busy", "end:no-answer", "end:failed", "end:rejected", "end:canceled", "missed",
		"both-held", "answered-device", "group-answered:bob", "group-answered:carol",
		"CallDigits", "CallRecordingStarted", "CallRecordingStopped", "CallParked", "CallUnparked", "CallJoined",
		"CallLeftConference", "end:transferred", "parked-then-ended", "joined-was-both-held",
		"err:" + string(errcode.HoldNotAvailable), "err:" + string(errcode.RecordingNotAvailable),
		"err:" + string(errcode.NotFound), "err:" + string(errcode.InvalidState), "err:" + string(errcode.InvalidParams),
		"err:" + string(errcode.MissingParameter), "err:" + string(errcode.AlreadyExists),
	} {
		if counts[k] == 0 {
			t.Errorf("the generator never produced %s", k)
		}
	}
	// A rarer path (both sides hold, one parks, a client unparks: the call
	// stays held) is only required of a full run.
	if !testing.Short() && counts["unparked-still-held"] == 0 {
		t.Error("the generator never produced unparked-still-held")
	}
	t.Logf("%d sequences × %d steps, seed %d: %v", runs, steps, *propSeed, counts)
}

// runCallSequence runs one sequence and returns "" or what went wrong.
func runCallSequence(seed uint64, steps int, counts map[string]int) (msg string) {
	g := gen{rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	var (
		c      = fsm.Call{ID: fmt.Sprintf("p%d", seed)}
		now    = start
		log    []logged
		trace  strings.Builder
		ended  bool
		answer string // the device CallAnswered named, checked against what rang
		digits int    // DTMF characters sent
	)
	fail := func(format string, args ...any) string {
		return trace.String() + "  !! " + fmt.Sprintf(format, args...)
	}
	defer func() {
		if r := recover(); r != nil {
			msg = fail("panic: %v", r)
		}
	}()
	// The first command is a Dial most of the time, so that sequences get far.
	for step := range steps {
		cmd := g.command()
		if step == 0 && g.r.IntN(4) != 0 {
			cmd = fsm.Dial{
				Caller: g.party(), Callee: events.Party{Client: "bob"}, Devices: g.devices(),
				RingTimeout: pick(g.r, genTimes[1:]),
			}
			switch g.r.IntN(6) {
			case 0, 1:
				cmd = fsm.Dial{Caller: events.Party{Client: "alice"}, Callee: events.Party{Number: "+442071234567"}, Direction: events.Outbound}
			case 2:
				// A ring-all group call: member/device entries ring (and,
				// now and then, a malformed one that Dial must refuse).
				cmd = fsm.Dial{
					Caller: g.party(), Callee: events.Party{Number: "600"}, Group: "sales",
					Devices: pick(g.r, [][]string{{"bob/d1", "carol/d2"}, {"carol/d2"}, {"bob/d1", "d1"}}),
				}
			}
		}
		// A call that rings is often answered from a device that rings, so
		// that sequences spend time established, where call control acts.
		if step > 0 && (c.Status == fsm.Ringing || c.Status == fsm.Connecting) && g.r.IntN(3) == 0 {
			dev := ""
			if len(c.Ringing) > 0 {
				dev = pick(g.r, c.Ringing)
			}
			cmd = fsm.Answer{Device: dev}
		}
		if j, ok := cmd.(fsm.Join); ok && j.Peer == selfPeer {
			j.Peer = c.ID
			cmd = j
		}
		now += int64(g.r.IntN(20)) * int64(time.Second)
		fmt.Fprintf(&trace, "  %2d +%s %T%+v", step, time.Duration(now-start), cmd, cmd)

		before := c.Clone()
		evs, err := fsm.DecideCall(&c, cmd, now)
		if !reflect.DeepEqual(before, c) {
			return fail("DecideCall changed the state:\nbefore %+v\nafter  %+v", before, c)
		}
		if err != nil {
			var e *errcode.Error
			if !errors.As(err, &e) || !slices.Contains(codes, e.Code) {
				return fail("refusal %T %v is not a known *errcode.Error", err, err)
			}
			if len(evs) != 0 {
				return fail("both events %v and error %v", evs, err)
			}
			if m := checkRefusal(&c, cmd, err, e.Code); m != "" {
				return fail("%s", m)
			}
			fmt.Fprintf(&trace, " → %s\n", e.Code)
			counts["err:"+string(e.Code)]++
			continue
		}
		if ended {
			// After the end every command is refused; a stale ring timer is
			// the one command that may answer "nothing", but it must not
			// produce anything.
			if _, ok := cmd.(fsm.RingTimeout); !ok || len(evs) != 0 {
				return fail("command accepted after the end: %v", evs)
			}
		}
		if len(evs) == 0 {
			counts["no-events"]++
			if _, ok := cmd.(fsm.RingTimeout); !ok {
				return fail("only a stale ring timer may decide nothing")
			}
		}
		fmt.Fprintf(&trace, " → %v\n", evs)
		for i, ev := range evs {
			if ended {
				return fail("event %v decided after CallEnded", ev)
			}
			if a, ok := ev.(events.CallAnswered); ok && a.Device != "" {
				if !slices.Contains(c.Ringing, a.Device) {
					return fail("answered from %q, which does not ring (ringing %v)", a.Device, c.Ringing)
				}
				answer = a.Device
				if member, device, ok := fsm.SplitMemberDevice(a.Device); ok && c.Group != "" && c.Callee.Client == "" {
					answer = device // the member becomes the callee
					counts["group-answered:"+member]++
				}
				counts["answered-device"]++
			}
			if _, ok := ev.(events.CallJoined); ok && c.HeldByCaller && c.HeldByCallee {
				counts["joined-was-both-held"]++
			}
			prior := c.Clone()
			if err := fsm.ApplyCall(&c, ev, now); err != nil {
				return fail("decided event %d (%v) does not apply: %v", i, ev, err)
			}
			log = append(log, logged{ev, now})
			counts[ev.Type().String()]++
			if m := checkControl(&prior, &c, ev); m != "" {
				return fail("after %s: %s\nstate %+v", ev.Type(), m, c)
			}
			switch e := ev.(type) {
			case events.CallEnded:
				ended = true
				counts["end:"+e.Reason.String()]++
				if e.Missed {
					counts["missed"]++
				}
				if c.ParkSlot != "" {
					counts["parked-then-ended"]++
				}
			case events.CallDigits:
				digits += len(e.Digits)
			case events.CallParked, events.CallUnparked:
				// Park clears the parking side's device, unpark sets it:
				// the answered device is no longer CallAnswered's.
				answer = c.AnsweredDevice
				if _, ok := ev.(events.CallUnparked); ok && c.Status == fsm.Held {
					counts["unparked-still-held"]++
				}
			}
		}
		if c.Digits != digits {
			return fail("%d DTMF digits counted, %d sent", c.Digits, digits)
		}
		if m := checkCall(&c, len(log), answer); m != "" {
			return fail("%s\nstate %+v", m, c)
		}
		if c.HeldByCaller && c.HeldByCallee {
			counts["both-held"]++
		}
		refolded := fsm.Call{ID: c.ID}
		for i, l := range log {
			if err := fsm.ApplyCall(&refolded, l.ev, l.at); err != nil {
				return fail("refold: event %d (%v): %v", i, l.ev, err)
			}
		}
		if !reflect.DeepEqual(refolded, c) {
			return fail("refold differs:\nrefolded %+v\ncurrent  %+v", refolded, c)
		}
	}
	// The journal must be able to hold what was decided: encode every event,
	// decode it and fold the decoded log; it must give the same call.
	fromJournal := fsm.Call{ID: c.ID}
	var buf []byte
	for i, l := range log {
		buf = events.EncodeBody(buf[:0], l.at, l.ev)
		env := events.Envelope{Seq: uint64(i + 1), Stream: "call/" + c.ID, Version: uint64(i + 1)}
		if err := events.DecodeBody(buf, &env); err != nil {
			return fail("event %d (%v) does not survive the journal: %v", i, l.ev, err)
		}
		if err := fsm.ApplyCall(&fromJournal, env.Event, env.Time); err != nil {
			return fail("journal refold: event %d (%v): %v", i, env.Event, err)
		}
	}
	if !reflect.DeepEqual(fromJournal, c) {
		return fail("journal refold differs:\nrefolded %+v\ncurrent  %+v", fromJournal, c)
	}
	return ""
}

// checkCall checks the invariants of one call state.
func checkCall(c *fsm.Call, applied int, answered string) string {
	switch {
	case c.Version != uint64(applied):
		return fmt.Sprintf("version %d after %d events", c.Version, applied)
	case c.AnsweredDevice != answered:
		return fmt.Sprintf("answered device %q, but CallAnswered named %q", c.AnsweredDevice, answered)
	case c.AnsweredDevice != "" && c.Callee.Client == "":
		return "an external callee answered from a device"
	case len(c.Ringing) > 0 && c.Status != fsm.Ringing:
		return fmt.Sprintf("devices %v ring while %s", c.Ringing, c.Status)
	case c.Status == fsm.Held && !c.HeldByCaller && !c.HeldByCallee:
		return "held, but by nobody"
	case c.Status == fsm.Connected && (c.HeldByCaller || c.HeldByCallee):
		return "connected while a side holds"
	case (c.Status == fsm.Connected || c.Status == fsm.Held) && c.ConnectAt == 0:
		return "connected without a connect time"
	case c.Missed && (c.ConnectAt != 0 || !clientCallee(c)):
		return "missed, but answered or not a client callee"
	case c.Missed && c.ReasonFor(events.Callee) != events.Missed:
		return "missed, but the callee does not see it"
	case c.Status == fsm.Ended && (c.ReleaseAt == 0 || c.Reason == events.NoReason || c.RingDeadline != 0):
		return "ended without a release time or a reason, or with a ring deadline"
	case c.Status != fsm.Ended && (c.ReleaseAt != 0 || c.Reason != events.NoReason):
		return "a live call has a release time or a reason"
	case c.EndedBy != events.NoSide && !c.EndedBy.Valid():
		return fmt.Sprintf("ended by side %d, which the journal cannot decode", c.EndedBy)
	case c.Ignored && !clientCallee(c):
		return "an external callee ignored the call"
	case c.Status.Live() != (c.Status != fsm.NoCall && c.Status != fsm.Ended):
		return "Live() disagrees with the status"
	case c.Recording && (c.Status != fsm.Connected && c.Status != fsm.Held || c.RecordingRef == ""):
		return "recording while not established, or without a reference"
	case (c.ParkSlot == "") != (c.ParkedSide == events.NoSide):
		return fmt.Sprintf("park slot %q with parked side %d", c.ParkSlot, c.ParkedSide)
	case c.ParkSlot != "" && c.Status.Live() && (c.Status != fsm.Held || !c.HeldBy(c.ParkedSide.Other())):
		return "a live parked call that the parking side does not hold"
	case c.ParkSlot != "" && c.Conference != "":
		return "parked and in a conference"
	case (c.Conference == "") != (c.Peer == "") || c.Peer != "" && c.Peer == c.ID:
		return fmt.Sprintf("conference %q with peer %q", c.Conference, c.Peer)
	}
	return ""
}

// clientCallee reports whether the callee is a client or a group of them.
func clientCallee(c *fsm.Call) bool { return c.Callee.Client != "" || c.Group != "" }

// checkControl checks what one call control event did to the call.
func checkControl(prior, c *fsm.Call, ev events.Event) string {
	switch e := ev.(type) {
	case events.CallDigits:
		if e.Duration <= 0 || e.Gap <= 0 || e.Duration > int64(10*time.Second) || e.Gap > int64(10*time.Second) {
			return fmt.Sprintf("tone duration %d, gap %d", e.Duration, e.Gap)
		}
		if fsm.ValidDigits(e.Digits) != nil {
			return fmt.Sprintf("invalid digits %q", e.Digits)
		}
	case events.CallParked:
		if c.DeviceOf(e.By) != "" {
			return "the parking side keeps its device"
		}
		if c.Party(e.By) != prior.Party(e.By) || c.Party(e.Side) != prior.Party(e.Side) {
			return "parking changed a party"
		}
	case events.CallUnparked:
		by := prior.ParkedSide.Other()
		if c.Party(by) != e.Party || c.DeviceOf(by) != e.Device || c.Party(by.Other()) != prior.Party(by.Other()) {
			return fmt.Sprintf("the unparking party %+v is not on the parking side %s", e.Party, by)
		}
		if c.Party(prior.ParkedSide).Client == e.Party.Client {
			return "the parked party unparked its own call"
		}
		if c.ParkSlot != "" || c.Status == fsm.Ended {
			return "still parked, or ended, after the unpark"
		}
	case events.CallJoined:
		if c.Status != fsm.Connected || c.HeldByCaller || c.HeldByCallee || c.Conference != e.Conference {
			return "a merged call is not connected, or still held"
		}
	case events.CallEnded:
		if e.Reason == events.Transferred && (prior.ParkSlot != "" || !e.By.Valid() || prior.Status != fsm.Connected && prior.Status != fsm.Held) {
			return "transferred away while parked, not established, or by nobody"
		}
		if c.Recording {
			return "the end did not stop the recording"
		}
	}
	return ""
}

// checkRefusal checks what a refusal says: hold_not_available carries why,
// for the side that asked.
func checkRefusal(c *fsm.Call, cmd fsm.CallCommand, err error, code errcode.Code) string {
	var na *fsm.HoldNotAvailable
	isNA := errors.As(err, &na)
	if isNA != (code == errcode.HoldNotAvailable) {
		return fmt.Sprintf("%s refusal with cause %v", code, err)
	}
	if isNA {
		h, ok := cmd.(fsm.Hold)
		switch {
		case !ok:
			return fmt.Sprintf("hold_not_available for %T", cmd)
		case na.By != h.By:
			return fmt.Sprintf("hold_not_available for the %s, asked by the %s", na.By, h.By)
		case !slices.Contains([]string{fsm.HoldReasonNotEstablished, fsm.HoldReasonParked, fsm.HoldReasonConference}, na.Reason):
			return fmt.Sprintf("hold_not_available for an unknown reason %q", na.Reason)
		case na.Reason == fsm.HoldReasonParked && c.ParkSlot == "", na.Reason == fsm.HoldReasonConference && c.Conference == "":
			return fmt.Sprintf("hold_not_available: %q, but the call is not", na.Reason)
		}
	}
	if code == errcode.RecordingNotAvailable {
		if _, ok := cmd.(fsm.StartRecording); !ok || c.Status == fsm.Connected || c.Status == fsm.Held {
			return fmt.Sprintf("recording_not_available for %T on a %s call", cmd, c.Status)
		}
	}
	return ""
}

// TestClientProperties does the same for clients: random commands, a refusal
// leaves the state alone, decided events apply, the log re-folds.
func TestClientProperties(t *testing.T) {
	runs := *propRuns / 4 // a smaller space than calls'
	if testing.Short() {
		runs = 100
	}
	devs := []string{"", " ", "a", "b", "c"}
	for i := range runs {
		seed := *propSeed + uint64(i)
		r := rand.New(rand.NewPCG(seed, 1))
		c := fsm.Client{ID: "k"}
		var log []logged
		var trace strings.Builder
		now := start
		for step := range *propSteps {
			var cmd fsm.ClientCommand
			switch r.IntN(5) {
			case 0:
				reg := fsm.Register{
					Name:          pick(r, []string{"", "K"}),
					Numbers:       []string{pick(r, []string{"+14155550100", "+1 415 555 0100", "555", "+0123456789"})},
					Extensions:    []string{pick(r, []string{"10", "123456", "1", "1234567"})},
					AcceptInbound: r.IntN(2) == 0,
				}
				for range r.IntN(3) {
					reg.Devices = append(reg.Devices, events.Device{ID: pick(r, devs)})
				}
				cmd = reg
			case 1:
				cmd = fsm.Unregister{}
			case 2:
				cmd = fsm.AddDevice{Device: events.Device{ID: pick(r, devs), Kind: "sip"}}
			case 3:
				cmd = fsm.RemoveDevice{ID: pick(r, devs)}
			default:
				cmd = fsm.Update{Name: pick(r, []string{"", "K", "L"}), AcceptInbound: r.IntN(2) == 0}
			}
			now += int64(time.Second)
			fmt.Fprintf(&trace, "  %2d %T%+v", step, cmd, cmd)
			before := c.Clone()
			evs, err := fsm.DecideClient(&c, cmd, now)
			if !reflect.DeepEqual(before, c) {
				t.Fatalf("seed %d:\n%s\nDecideClient changed the state", seed, trace.String())
			}
			if err != nil {
				if code := errcode.CodeOf(err); !slices.Contains(codes, code) || len(evs) != 0 {
					t.Fatalf("seed %d:\n%s\nbad refusal %v", seed, trace.String(), err)
				}
				fmt.Fprintf(&trace, " → %s\n", errcode.CodeOf(err))
				continue
			}
			fmt.Fprintf(&trace, " → %v\n", evs)
			for _, ev := range evs {
				if err := fsm.ApplyClient(&c, ev, now); err != nil {
					t.Fatalf("seed %d:\n%s\ndecided event %v does not apply: %v", seed, trace.String(), ev, err)
				}
				log = append(log, logged{ev, now})
			}
			ids := c.DeviceIDs()
			if len(slices.Compact(slices.Sorted(slices.Values(ids)))) != len(ids) || slices.Contains(ids, "") {
				t.Fatalf("seed %d:\n%s\nduplicate or blank device ids %q", seed, trace.String(), ids)
			}
			if !c.Registered() && len(c.Devices) > 0 {
				t.Fatalf("seed %d:\n%s\nan unregistered client keeps devices %v", seed, trace.String(), ids)
			}
			refolded := fsm.Client{ID: c.ID}
			for _, l := range log {
				if err := fsm.ApplyClient(&refolded, l.ev, l.at); err != nil {
					t.Fatalf("seed %d: refold: %v", seed, err)
				}
			}
			if !reflect.DeepEqual(refolded, c) {
				t.Fatalf("seed %d:\n%s\nrefold differs:\nrefolded %+v\ncurrent  %+v", seed, trace.String(), refolded, c)
			}
		}
	}
}
