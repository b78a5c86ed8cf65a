package fsm_test

// Data-driven tests in the style of etcd-io/raft: every file under
// testdata/call and testdata/client is a conversation with one call or one
// client, written as commands and the output they produce. Run with
// -rewrite to regenerate the expected output after a deliberate change, then
// read the diff.
//
// Call commands (every one accepts at=+Ns, the virtual time of the command,
// relative to the start of the file; time never goes backwards):
//
//	reset [id=c2]                        forget the call and its log, start a new one
//	dial caller=alice callee=bob         Dial; a party is a client id (caller=, callee=)
//	     [caller-number=+1…] [callee-number=…]  and/or a number (external without a client)
//	     [caller-name=(Alice B)] [callee-name=…] [device=alice-desk] [caller-id=+1…]
//	     [dest=102] [direction=internal|outbound|inbound|<n>]  (default: from the parties)
//	     [devices=bob-desk,bob-web] [ring-timeout=30s]
//	     [group=sales] [transfer=t1] [caller-leg=c0] [callee-leg=c0] [origin=click-to-call]
//	     [connected answered-device=bob-desk]  (born connected: Dial.Connected)
//	ring [timeout=60s]                   Ring (the far end alerts)
//	answer [device=bob-web]              Answer
//	reject [busy]                        Reject
//	ignore                               Ignore
//	hangup by=caller|callee|none|<n>     Hangup
//	hold by=…   resume by=…              Hold, Resume
//	mute side=…   unmute side=…          Mute, Unmute
//	fail reason=busy|failed|no-answer|… [by=…]   Fail
//	ring-timeout                         RingTimeout (the ring timer fires now)
//	ring-next member=carol devices=carol-desk [timeout=30s]
//	                                     RingNext: a round-robin call moves on (T6)
//	digits side=caller digits=12#        SendDigits (C10)
//	       [duration=100ms] [gap=70ms]
//	record-start by=… ref=rec1           StartRecording (C11)
//	record-stop by=…                     StopRecording
//	park by=… slot=701                   Park: side by parks the other side (T5)
//	unpark client=carol [number=…]       Unpark: carol takes the parked call
//	       [name=…] [device=carol-desk]
//	join conference=conf1 peer=c2        Join: merge with call c2 (T4)
//	leave peer=c2                        LeaveConference: peer c2 ended (T4)
//	transfer-away by=…                   TransferAway: side by leaves for a transfer
//	tick 10s                             advance the virtual clock
//	state                                print the whole call
//	restore                              re-fold the log into a new Call, compare
//
// Client commands (at= as above):
//
//	reset [id=carol]
//	register [name=(Bob Smith)] [numbers=(+1 415 555 0100, +44…)] [extensions=102,103]
//	         [devices=bob-desk:sip:sip:bob@10.0.0.2,bob-web:webrtc] [accept-inbound[=false]]
//	         [permissions=record]
//	unregister
//	add-device id=… [kind=…] [contact=…]
//	remove-device id=…
//	update [name=…] [accept-inbound[=false]]
//	state, restore, tick as above
//
// After a command the runner prints the events it decided, one a line, then
// applies them and prints the resulting status. A refused command prints
// "error: <code>: <message>", followed by the cause when the error has one
// ([by=… reason=…] for hold_not_available). Besides what is printed the runner checks, for
// every command: DecideCall/DecideClient left the state alone; a refused
// command returned an *errcode.Error; every decided event applies; and the log
// re-folds from scratch into the current state.

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

// start is the virtual time +0s of every test file.
var start = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC).UnixNano()

func TestCallDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata/call", func(t *testing.T, path string) {
		h := newCallHarness("c1")
		datadriven.RunTest(t, path, h.run)
	})
}

func TestClientDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata/client", func(t *testing.T, path string) {
		h := newClientHarness("bob")
		datadriven.RunTest(t, path, h.run)
	})
}

// logged is one applied event and the time it was applied at.
type logged struct {
	ev events.Event
	at int64
}

// clock is the virtual clock shared by both harnesses.
type clock struct{ now int64 }

// advance handles the at= argument.
func (c *clock) advance(t *testing.T, d *datadriven.TestData) {
	t.Helper()
	arg, ok := d.Arg("at")
	if !ok {
		return
	}
	off := parseOffset(t, d, arg.SingleVal(t))
	at := start + int64(off)
	if at < c.now {
		d.Fatalf(t, "at=%s goes back in time (now is %s)", arg.SingleVal(t), rel(c.now))
	}
	c.now = at
}

// tick handles "tick 10s".
func (c *clock) tick(t *testing.T, d *datadriven.TestData) string {
	t.Helper()
	if len(d.CmdArgs) != 1 || len(d.CmdArgs[0].Vals) != 0 {
		d.Fatalf(t, "usage: tick <duration>")
	}
	dur, err := time.ParseDuration(d.CmdArgs[0].Key)
	if err != nil || dur < 0 {
		d.Fatalf(t, "tick: bad duration %q", d.CmdArgs[0].Key)
	}
	c.now += int64(dur)
	return "now: " + rel(c.now) + "\n"
}

func parseOffset(t *testing.T, d *datadriven.TestData, s string) time.Duration {
	t.Helper()
	dur, err := time.ParseDuration(strings.TrimPrefix(s, "+"))
	if err != nil {
		d.Fatalf(t, "bad time offset %q: %v", s, err)
	}
	return dur
}

// rel prints an engine-clock time relative to the start of the file.
func rel(ns int64) string {
	if ns == 0 {
		return "-"
	}
	d := time.Duration(ns - start)
	if d < 0 {
		return "-" + (-d).String()
	}
	return "+" + d.String()
}

// str returns the single value of key, or def.
func str(t *testing.T, d *datadriven.TestData, key, def string) string {
	t.Helper()
	if arg, ok := d.Arg(key); ok {
		return arg.SingleVal(t)
	}
	return def
}

// list returns the values of key: devices=a,b and devices=(a, b) both give
// [a b]; devices= gives an empty list.
func list(t *testing.T, d *datadriven.TestData, key string) []string {
	t.Helper()
	arg, ok := d.Arg(key)
	if !ok || (len(arg.Vals) == 1 && arg.Vals[0] == "") {
		return nil
	}
	if len(arg.Vals) > 1 { // (a, b): datadriven already split them
		return slices.Clone(arg.Vals)
	}
	return strings.Split(arg.Vals[0], ",")
}

// boolArg reads a boolean that may be given bare (busy) or with a value (busy=false).
func boolArg(t *testing.T, d *datadriven.TestData, key string) bool {
	t.Helper()
	arg, ok := d.Arg(key)
	if !ok {
		return false
	}
	if len(arg.Vals) == 0 {
		return true
	}
	b, err := strconv.ParseBool(arg.SingleVal(t))
	if err != nil {
		d.Fatalf(t, "%s: %v", key, err)
	}
	return b
}

func duration(t *testing.T, d *datadriven.TestData, key string) time.Duration {
	t.Helper()
	s := str(t, d, key, "")
	if s == "" {
		return 0
	}
	dur, err := time.ParseDuration(s)
	if err != nil {
		d.Fatalf(t, "%s: %v", key, err)
	}
	return dur
}

func side(t *testing.T, d *datadriven.TestData, key string) events.Side {
	t.Helper()
	s := str(t, d, key, "none")
	if s == "none" {
		return events.NoSide
	}
	if sd, ok := events.ParseSide(s); ok {
		return sd
	}
	n, err := strconv.ParseUint(s, 10, 8)
	if err != nil {
		d.Fatalf(t, "%s: bad side %q", key, s)
	}
	return events.Side(n)
}

func fmtSide(s events.Side) string {
	if s.Valid() {
		return s.String()
	}
	if s == events.NoSide {
		return "none"
	}
	return fmt.Sprintf("side(%d)", uint8(s))
}

func fmtParty(p events.Party) string {
	var b strings.Builder
	switch {
	case p.Client != "" && p.Number != "":
		fmt.Fprintf(&b, "%s(%s)", p.Client, p.Number)
	case p.Client != "":
		b.WriteString(p.Client)
	case p.Number != "":
		b.WriteString(p.Number)
	default:
		b.WriteString("nobody")
	}
	if p.Name != "" {
		return fmt.Sprintf("%q<%s>", p.Name, b.String())
	}
	return b.String()
}

// fmtEvent prints one event on one line.
func fmtEvent(ev events.Event) string {
	var b strings.Builder
	b.WriteString(ev.Type().String())
	kv := func(k, v string) { fmt.Fprintf(&b, " %s=%s", k, v) }
	switch e := ev.(type) {
	case events.CallDialed:
		kv("caller", fmtParty(e.Caller))
		kv("callee", fmtParty(e.Callee))
		kv("direction", e.Direction.String())
		if e.CallerDevice != "" {
			kv("device", e.CallerDevice)
		}
		if e.CallerID != "" {
			kv("caller-id", e.CallerID)
		}
		if e.Destination != "" {
			kv("dest", quoteSpaces(e.Destination))
		}
		for _, f := range [][2]string{
			{"group", e.Group}, {"transfer", e.Transfer}, {"caller-leg", e.CallerLeg},
			{"callee-leg", e.CalleeLeg}, {"origin", e.Origin},
		} {
			if f[1] != "" {
				kv(f[0], f[1])
			}
		}
		if e.VoicemailLimit != 0 {
			kv("voicemail", time.Duration(e.VoicemailLimit).String())
		}
	case events.CallToVoicemail:
		kv("reason", e.Reason.String())
		kv("deadline", rel(e.Deadline))
	case events.VoicemailLeft:
		kv("client", e.Client)
		kv("from", fmtParty(e.From))
		kv("length", time.Duration(e.Duration).String())
	case events.CallRinging:
		if len(e.Devices) > 0 {
			kv("devices", fmt.Sprint(e.Devices))
		}
		if e.Deadline != 0 {
			kv("deadline", rel(e.Deadline))
		} else {
			kv("deadline", "none")
		}
	case events.CallAnswered:
		if e.Device != "" {
			kv("device", e.Device)
		}
	case events.CallHeld:
		kv("by", fmtSide(e.By))
	case events.CallResumed:
		kv("by", fmtSide(e.By))
	case events.CallMuted:
		kv("side", fmtSide(e.Side))
	case events.CallUnmuted:
		kv("side", fmtSide(e.Side))
	case events.CallIgnored:
	case events.CallEnded:
		kv("reason", e.Reason.String())
		if e.By != events.NoSide {
			kv("by", fmtSide(e.By))
		}
		if e.Missed {
			b.WriteString(" missed")
		}
	case events.CallDigits:
		kv("side", fmtSide(e.Side))
		kv("digits", quoteSpaces(e.Digits))
		kv("duration", time.Duration(e.Duration).String())
		kv("gap", time.Duration(e.Gap).String())
	case events.CallRecordingStarted:
		kv("by", fmtSide(e.By))
		kv("ref", e.Ref)
	case events.CallRecordingStopped:
		kv("by", fmtSide(e.By))
	case events.CallParked:
		kv("side", fmtSide(e.Side))
		kv("by", fmtSide(e.By))
		kv("slot", e.Slot)
	case events.CallUnparked:
		kv("party", fmtParty(e.Party))
		if e.Device != "" {
			kv("device", e.Device)
		}
	case events.CallJoined:
		kv("conference", e.Conference)
		kv("peer", e.Peer)
	case events.CallLeftConference:
		kv("conference", e.Conference)
		kv("peer", e.Peer)
	case events.TransferInitiated:
		kv("kind", e.Kind.String())
		if e.Call != "" {
			kv("call", e.Call)
			kv("kept", fmtSide(e.Kept))
		}
		if e.First != (events.Party{}) {
			kv("first", fmtParty(e.First))
		}
		if e.FirstDevice != "" {
			kv("first-device", e.FirstDevice)
		}
		kv("target", fmtParty(e.Target))
		if e.Group != "" {
			kv("group", e.Group)
		}
		if e.Destination != "" {
			kv("dest", quoteSpaces(e.Destination))
		}
		if e.Consult != "" {
			kv("consult", e.Consult)
		}
		kv("new", e.NewCall)
		if e.Deadline != 0 {
			kv("deadline", rel(e.Deadline))
		}
	case events.TransferAnswered, events.TransferCompleted, events.TransferCanceled:
	case events.TransferNotAnswered:
		kv("reason", strconv.Quote(e.Reason))
	case events.TransferNotCompleted:
		kv("reason", strconv.Quote(e.Reason))
	case events.TransferFailed:
		kv("reason", strconv.Quote(e.Reason))
	case events.ClientRegistered:
		if e.Name != "" {
			kv("name", strconv.Quote(e.Name))
		}
		if len(e.Numbers) > 0 {
			kv("numbers", fmt.Sprint(e.Numbers))
		}
		if len(e.Extensions) > 0 {
			kv("extensions", fmt.Sprint(e.Extensions))
		}
		if len(e.Devices) > 0 {
			kv("devices", fmtDevices(e.Devices))
		}
		kv("accept-inbound", strconv.FormatBool(e.AcceptInbound))
		if len(e.Permissions) > 0 {
			kv("permissions", fmt.Sprint(e.Permissions))
		}
	case events.ClientUnregistered:
	case events.DeviceAdded:
		kv("device", fmtDevice(e.Device))
	case events.DeviceRemoved:
		kv("id", e.ID)
	case events.ClientUpdated:
		kv("name", strconv.Quote(e.Name))
		kv("accept-inbound", strconv.FormatBool(e.AcceptInbound))
	default:
		fmt.Fprintf(&b, " %+v", e)
	}
	return b.String()
}

// quoteSpaces quotes s if it holds a space, so that key=value stays readable.
func quoteSpaces(s string) string {
	if strings.ContainsAny(s, " \t") {
		return strconv.Quote(s)
	}
	return s
}

func fmtDevice(d events.Device) string {
	s := d.ID
	if d.Kind != "" || d.Contact != "" {
		s += "(" + d.Kind
		if d.Contact != "" {
			s += " " + d.Contact
		}
		s += ")"
	}
	return s
}

func fmtDevices(ds []events.Device) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = fmtDevice(d)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// fmtErr prints a refusal; anything that is not an *errcode.Error fails the
// test: the fsm promises typed errors.
func fmtErr(t *testing.T, err error) string {
	t.Helper()
	var e *errcode.Error
	if !errors.As(err, &e) {
		t.Errorf("refusal is not an *errcode.Error: %T %v", err, err)
		return "error: " + err.Error() + "\n"
	}
	var hna *fsm.HoldNotAvailable
	switch {
	case errors.As(err, &hna):
		return fmt.Sprintf("error: %s: %s [by=%s reason=%q]\n", e.Code, e.Message, fmtSide(hna.By), hna.Reason)
	case e.Err != nil:
		return fmt.Sprintf("error: %s: %s [cause: %v]\n", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("error: %s: %s\n", e.Code, e.Message)
}

// ---- calls ----

type callHarness struct {
	clock
	id   string
	call fsm.Call
	log  []logged
}

func newCallHarness(id string) *callHarness {
	return &callHarness{clock: clock{now: start}, id: id, call: fsm.Call{ID: id}}
}

func (h *callHarness) run(t *testing.T, d *datadriven.TestData) string {
	h.advance(t, d)
	var cmd fsm.CallCommand
	switch d.Cmd {
	case "reset":
		h.id = str(t, d, "id", h.id)
		h.call, h.log = fsm.Call{ID: h.id}, nil
		return "new call " + h.id + "\n"
	case "tick":
		return h.tick(t, d)
	case "state":
		return fmtCall(&h.call, h.now)
	case "restore":
		if err := h.refold(); err != nil {
			d.Fatalf(t, "%v", err)
		}
		return fmt.Sprintf("restored: equal (%d events)\n", len(h.log))
	case "dial":
		cmd = h.dial(t, d)
	case "ring":
		cmd = fsm.Ring{Timeout: duration(t, d, "timeout")}
	case "answer":
		cmd = fsm.Answer{Device: str(t, d, "device", "")}
	case "reject":
		cmd = fsm.Reject{Busy: boolArg(t, d, "busy")}
	case "ignore":
		cmd = fsm.Ignore{}
	case "hangup":
		cmd = fsm.Hangup{By: side(t, d, "by")}
	case "hold":
		cmd = fsm.Hold{By: side(t, d, "by")}
	case "resume":
		cmd = fsm.Resume{By: side(t, d, "by")}
	case "mute":
		cmd = fsm.Mute{Side: side(t, d, "side")}
	case "unmute":
		cmd = fsm.Unmute{Side: side(t, d, "side")}
	case "fail":
		cmd = fsm.Fail{Reason: reason(t, d), By: side(t, d, "by")}
	case "voicemail-timeout":
		cmd = fsm.VoicemailTimeout{}
	case "ring-timeout":
		cmd = fsm.RingTimeout{}
	case "ring-next":
		var devices []string
		if s := str(t, d, "devices", ""); s != "" {
			devices = strings.Split(s, ",")
		}
		cmd = fsm.RingNext{Member: str(t, d, "member", ""), Devices: devices, Timeout: duration(t, d, "timeout")}
	case "digits":
		cmd = fsm.SendDigits{
			Side: side(t, d, "side"), Digits: str(t, d, "digits", ""),
			Duration: duration(t, d, "duration"), Gap: duration(t, d, "gap"),
		}
	case "record-start":
		cmd = fsm.StartRecording{By: side(t, d, "by"), Ref: str(t, d, "ref", "")}
	case "record-stop":
		cmd = fsm.StopRecording{By: side(t, d, "by")}
	case "park":
		cmd = fsm.Park{By: side(t, d, "by"), Slot: str(t, d, "slot", "")}
	case "unpark":
		cmd = fsm.Unpark{
			Party: events.Party{
				Client: str(t, d, "client", ""), Number: str(t, d, "number", ""), Name: str(t, d, "name", ""),
			},
			Device: str(t, d, "device", ""),
		}
	case "join":
		cmd = fsm.Join{Conference: str(t, d, "conference", ""), Peer: str(t, d, "peer", "")}
	case "leave":
		cmd = fsm.LeaveConference{Peer: str(t, d, "peer", "")}
	case "transfer-away":
		cmd = fsm.TransferAway{By: side(t, d, "by")}
	default:
		d.Fatalf(t, "unknown command %q", d.Cmd)
	}
	return h.decideApply(t, cmd)
}

func reason(t *testing.T, d *datadriven.TestData) events.Reason {
	t.Helper()
	s := str(t, d, "reason", "none")
	if s == "none" {
		return events.NoReason
	}
	if r, ok := events.ParseReason(s); ok {
		return r
	}
	n, err := strconv.ParseUint(s, 10, 8)
	if err != nil {
		d.Fatalf(t, "bad reason %q", s)
	}
	return events.Reason(n)
}

func (h *callHarness) dial(t *testing.T, d *datadriven.TestData) fsm.Dial {
	cmd := fsm.Dial{
		Caller: events.Party{
			Client: str(t, d, "caller", ""), Number: str(t, d, "caller-number", ""), Name: str(t, d, "caller-name", ""),
		},
		Callee: events.Party{
			Client: str(t, d, "callee", ""), Number: str(t, d, "callee-number", ""), Name: str(t, d, "callee-name", ""),
		},
		CallerDevice: str(t, d, "device", ""),
		CallerID:     str(t, d, "caller-id", ""),
		Destination:  str(t, d, "dest", ""),
		Devices:      list(t, d, "devices"),
		RingTimeout:  duration(t, d, "ring-timeout"),

		Group:          str(t, d, "group", ""),
		Transfer:       str(t, d, "transfer", ""),
		CallerLeg:      str(t, d, "caller-leg", ""),
		CalleeLeg:      str(t, d, "callee-leg", ""),
		Origin:         str(t, d, "origin", ""),
		Connected:      boolArg(t, d, "connected"),
		AnsweredDevice: str(t, d, "answered-device", ""),
		VoicemailLimit: int64(duration(t, d, "voicemail")),
	}
	switch {
	case d.HasArg("direction"):
		s := str(t, d, "direction", "")
		dir, ok := events.ParseDirection(s)
		if !ok {
			n, err := strconv.ParseUint(s, 10, 8)
			if err != nil {
				d.Fatalf(t, "bad direction %q", s)
			}
			dir = events.Direction(n)
		}
		cmd.Direction = dir
	case cmd.Group != "":
		// A group call rings clients: internal unless direction= says so.
	case cmd.Callee.Client == "" && cmd.Callee.Number != "":
		cmd.Direction = events.Outbound
	case cmd.Caller.Client == "" && cmd.Caller.Number != "":
		cmd.Direction = events.Inbound
	}
	return cmd
}

func (h *callHarness) decideApply(t *testing.T, cmd fsm.CallCommand) string {
	t.Helper()
	before := h.call.Clone()
	evs, err := fsm.DecideCall(&h.call, cmd, h.now)
	if !reflect.DeepEqual(before, h.call) {
		t.Errorf("DecideCall(%T) changed the state:\nbefore %+v\nafter  %+v", cmd, before, h.call)
	}
	if err != nil {
		if len(evs) != 0 {
			t.Errorf("DecideCall(%T) returned both events %v and error %v", cmd, evs, err)
		}
		return fmtErr(t, err)
	}
	var b strings.Builder
	if len(evs) == 0 {
		b.WriteString("(no events)\n")
	}
	for _, ev := range evs {
		fmt.Fprintln(&b, fmtEvent(ev))
		if err := fsm.ApplyCall(&h.call, ev, h.now); err != nil {
			t.Errorf("decided event %s does not apply: %v", fmtEvent(ev), err)
			fmt.Fprintf(&b, "apply error: %v\n", err)
			continue
		}
		h.log = append(h.log, logged{ev, h.now})
	}
	if err := h.refold(); err != nil {
		t.Error(err)
	}
	b.WriteString(fmtStatus(&h.call))
	return b.String()
}

// refold replays the log into a new Call and compares it with the current one.
func (h *callHarness) refold() error {
	c := fsm.Call{ID: h.id}
	for i, l := range h.log {
		if err := fsm.ApplyCall(&c, l.ev, l.at); err != nil {
			return fmt.Errorf("refold: event %d (%s): %v", i, fmtEvent(l.ev), err)
		}
	}
	if !reflect.DeepEqual(c, h.call) {
		return fmt.Errorf("refold differs:\nrefolded %+v\ncurrent  %+v", c, h.call)
	}
	return nil
}

func fmtStatus(c *fsm.Call) string {
	if c.Prev == fsm.NoCall {
		return fmt.Sprintf("status: %s\n", c.Status)
	}
	return fmt.Sprintf("status: %s (was %s)\n", c.Status, c.Prev)
}

func fmtCall(c *fsm.Call, now int64) string {
	if c.Status == fsm.NoCall {
		return fmt.Sprintf("call %s: does not exist (v%d)\n", c.ID, c.Version)
	}
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	status := string(c.Status)
	if c.Prev != fsm.NoCall {
		status += " (was " + string(c.Prev) + ")"
	}
	p("call %s v%d: %s", c.ID, c.Version, status)
	caller := fmtParty(c.Caller)
	if c.CallerDevice != "" {
		caller += " device=" + c.CallerDevice
	}
	p("  caller: %s", caller)
	p("  callee: %s", fmtParty(c.Callee))
	line := "  direction: " + c.Direction.String()
	if c.CallerID != "" {
		line += " caller-id=" + c.CallerID
	}
	if c.Destination != "" {
		line += " dest=" + quoteSpaces(c.Destination)
	}
	p("%s", line)
	ring := fmt.Sprintf("  ringing: %v", c.Ringing)
	if c.Ignored {
		ring += " ignored"
	}
	if c.RingDeadline != 0 {
		ring += " deadline=" + rel(c.RingDeadline)
	}
	if c.AnsweredDevice != "" {
		ring += " answered=" + c.AnsweredDevice
	}
	p("%s", ring)
	p("  held: %s  muted: %s", sides(c.HeldBy), sides(c.MutedSide))
	p("  setup=%s ringing=%s connect=%s release=%s", rel(c.SetupAt), rel(c.RingingAt), rel(c.ConnectAt), rel(c.ReleaseAt))
	p("  rang=%s talked=%s", c.RingingDuration(), c.Duration(now))
	var links []string
	for _, f := range [][2]string{
		{"group", c.Group}, {"transfer", c.Transfer}, {"caller-leg", c.CallerLeg},
		{"callee-leg", c.CalleeLeg}, {"origin", c.Origin},
	} {
		if f[1] != "" {
			links = append(links, f[0]+"="+f[1])
		}
	}
	if len(links) > 0 {
		p("  %s", strings.Join(links, " "))
	}
	if c.Recording || c.RecordingRef != "" {
		p("  recording: %v ref=%s", c.Recording, c.RecordingRef)
	}
	if c.ParkSlot != "" {
		p("  parked: slot=%s side=%s", c.ParkSlot, fmtSide(c.ParkedSide))
	}
	if c.Conference != "" {
		p("  conference: %s peer=%s", c.Conference, c.Peer)
	}
	if len(c.Tried) > 0 {
		p("  tried: %v", c.Tried)
	}
	if c.Digits != 0 {
		p("  digits sent: %d", c.Digits)
	}
	if c.VoicemailLimit != 0 {
		vm := "  voicemail: limit=" + time.Duration(c.VoicemailLimit).String()
		if c.WentToVoicemail() {
			vm += fmt.Sprintf(" at=%s reason=%s deadline=%s length=%s in=%v", rel(c.VoicemailAt), c.VoicemailReason,
				rel(c.VoicemailDeadline), time.Duration(c.VoicemailLength), c.InVoicemail())
		}
		p("%s", vm)
	}
	if c.Status == fsm.Ended {
		end := "  ended: " + c.Reason.String() + " by=" + fmtSide(c.EndedBy)
		if c.Missed {
			end += " missed"
		}
		p("%s", end)
		p("  caller sees %s, callee sees %s", c.ReasonFor(events.Caller), c.ReasonFor(events.Callee))
	}
	return b.String()
}

// sides lists the sides for which f holds.
func sides(f func(events.Side) bool) string {
	var out []string
	for _, s := range []events.Side{events.Caller, events.Callee} {
		if f(s) {
			out = append(out, s.String())
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ",")
}

// ---- clients ----

type clientHarness struct {
	clock
	id     string
	client fsm.Client
	log    []logged
}

func newClientHarness(id string) *clientHarness {
	return &clientHarness{clock: clock{now: start}, id: id, client: fsm.Client{ID: id}}
}

func (h *clientHarness) run(t *testing.T, d *datadriven.TestData) string {
	h.advance(t, d)
	var cmd fsm.ClientCommand
	switch d.Cmd {
	case "reset":
		h.id = str(t, d, "id", h.id)
		h.client, h.log = fsm.Client{ID: h.id}, nil
		return "new client " + h.id + "\n"
	case "tick":
		return h.tick(t, d)
	case "state":
		return fmtClient(&h.client)
	case "restore":
		if err := h.refold(); err != nil {
			d.Fatalf(t, "%v", err)
		}
		return fmt.Sprintf("restored: equal (%d events)\n", len(h.log))
	case "register":
		reg := fsm.Register{
			Name:          str(t, d, "name", ""),
			Numbers:       list(t, d, "numbers"),
			Extensions:    list(t, d, "extensions"),
			AcceptInbound: boolArg(t, d, "accept-inbound"),
			Permissions:   list(t, d, "permissions"),
		}
		for _, spec := range list(t, d, "devices") {
			var dev events.Device
			parts := strings.SplitN(spec, ":", 3)
			dev.ID = parts[0]
			if len(parts) > 1 {
				dev.Kind = parts[1]
			}
			if len(parts) > 2 {
				dev.Contact = parts[2]
			}
			reg.Devices = append(reg.Devices, dev)
		}
		cmd = reg
	case "unregister":
		cmd = fsm.Unregister{}
	case "add-device":
		cmd = fsm.AddDevice{Device: events.Device{
			ID: str(t, d, "id", ""), Kind: str(t, d, "kind", ""), Contact: str(t, d, "contact", ""),
		}}
	case "remove-device":
		cmd = fsm.RemoveDevice{ID: str(t, d, "id", "")}
	case "update":
		cmd = fsm.Update{Name: str(t, d, "name", ""), AcceptInbound: boolArg(t, d, "accept-inbound")}
	case "presence":
		pr, _ := events.ParsePresence(str(t, d, "set", ""))
		if n, err := strconv.Atoi(str(t, d, "set", "")); err == nil {
			pr = events.Presence(n)
		}
		cmd = fsm.SetPresence{Presence: pr, Activity: str(t, d, "activity", "")}
	case "voicemail":
		cmd = fsm.SetVoicemail{Enabled: boolArg(t, d, "on"), MaxLength: int64(duration(t, d, "max"))}
	case "delete-history":
		cmd = fsm.DeleteHistory{Calls: list(t, d, "calls")}
	case "voicemail-heard":
		cmd = fsm.MarkVoicemailHeard{Calls: list(t, d, "calls")}
	case "voicemail-delete":
		cmd = fsm.DeleteVoicemail{Calls: list(t, d, "calls")}
	case "effective":
		return fmt.Sprintf("off a call: %s, on a call: %s\n", h.client.EffectivePresence(false), h.client.EffectivePresence(true))
	default:
		d.Fatalf(t, "unknown command %q", d.Cmd)
	}
	return h.decideApply(t, cmd)
}

func (h *clientHarness) decideApply(t *testing.T, cmd fsm.ClientCommand) string {
	t.Helper()
	before := h.client.Clone()
	evs, err := fsm.DecideClient(&h.client, cmd, h.now)
	if !reflect.DeepEqual(before, h.client) {
		t.Errorf("DecideClient(%T) changed the state:\nbefore %+v\nafter  %+v", cmd, before, h.client)
	}
	if err != nil {
		if len(evs) != 0 {
			t.Errorf("DecideClient(%T) returned both events %v and error %v", cmd, evs, err)
		}
		return fmtErr(t, err)
	}
	var b strings.Builder
	if len(evs) == 0 {
		b.WriteString("(no events)\n")
	}
	for _, ev := range evs {
		fmt.Fprintln(&b, fmtEvent(ev))
		if err := fsm.ApplyClient(&h.client, ev, h.now); err != nil {
			t.Errorf("decided event %s does not apply: %v", fmtEvent(ev), err)
			fmt.Fprintf(&b, "apply error: %v\n", err)
			continue
		}
		h.log = append(h.log, logged{ev, h.now})
	}
	if err := h.refold(); err != nil {
		t.Error(err)
	}
	fmt.Fprintf(&b, "status: %s v%d\n", statusOf(&h.client), h.client.Version)
	return b.String()
}

func (h *clientHarness) refold() error {
	c := fsm.Client{ID: h.id}
	for i, l := range h.log {
		if err := fsm.ApplyClient(&c, l.ev, l.at); err != nil {
			return fmt.Errorf("refold: event %d (%s): %v", i, fmtEvent(l.ev), err)
		}
	}
	if !reflect.DeepEqual(c, h.client) {
		return fmt.Errorf("refold differs:\nrefolded %+v\ncurrent  %+v", c, h.client)
	}
	return nil
}

func statusOf(c *fsm.Client) fsm.ClientStatus {
	if c.Status == "" {
		return fsm.ClientUnknown
	}
	return c.Status
}

func fmtClient(c *fsm.Client) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("client %s v%d: %s registered=%v", c.ID, c.Version, statusOf(c), c.Registered())
	p("  name: %q accept-inbound=%v registered-at=%s", c.Name, c.AcceptInbound, rel(c.RegisteredAt))
	p("  numbers: %v extensions: %v", c.Numbers, c.Extensions)
	p("  devices: %s ids=%v", fmtDevices(c.Devices), c.DeviceIDs())
	if len(c.Permissions) > 0 {
		p("  permissions: %v can-record=%v", c.Permissions, c.Can(events.PermissionRecord))
	}
	if c.Presence != events.NoPresence || c.Activity != "" {
		p("  presence: %s activity=%q", c.SetPresence(), c.Activity)
	}
	if c.Voicemail {
		p("  voicemail: max=%s", time.Duration(c.VoicemailMax))
	}
	return b.String()
}

// TestDeviceLookup covers Client.Device, which the scripts only reach
// indirectly.
func TestDeviceLookup(t *testing.T) {
	c := fsm.Client{ID: "bob"}
	evs, err := fsm.DecideClient(&c, fsm.Register{Devices: []events.Device{{ID: "a", Kind: "sip"}, {ID: "b"}}}, start)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if err := fsm.ApplyClient(&c, ev, start); err != nil {
			t.Fatal(err)
		}
	}
	if d, ok := c.Device("a"); !ok || d.Kind != "sip" {
		t.Errorf("Device(a) = %+v, %v", d, ok)
	}
	if _, ok := c.Device("z"); ok {
		t.Error("Device(z) found")
	}
	if got := c.DeviceIDs(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("DeviceIDs = %v", got)
	}
}
