package fsm_test

// Data-driven tests of the transfer machine (ApplyTransfer) and of its pure
// step function (NextTransferStep): every file under testdata/transfer is a
// conversation between one transfer and the calls it looks at. The calls are
// named (x, z, y, …) and driven by the call harness's own commands with
// call=<name>; the transfer is driven by asking for its next step, and by
// carrying the step out, as the transfer actor would.
//
// Commands (every one accepts at=+Ns, as in the call harness):
//
//	<call command> call=x …          any command of the call harness (dial, ring,
//	                                 answer, hold, hangup, state, restore, …) on
//	                                 call x; dial creates it. Output lines are
//	                                 prefixed with the call's name.
//	check kind=… …                   CheckTransferInitiated only: "ok" or the error
//	transfer kind=blind|attended|supervised|click-to-call|<n>
//	         [id=t1] [call=x] [kept=caller|callee|none|<n>]
//	         [target=carol] [target-number=+44…] [target-name=(Carol C)]
//	         [group=sales] [dest=…] [consult=z] [new=y]
//	         [first=alice] [first-number=…] [first-device=alice-desk]
//	         [deadline=+30s | deadline=<raw ns>]
//	                                 CheckTransferInitiated, then ApplyTransfer
//	                                 of the TransferInitiated event
//	step [intent=complete|cancel|fail] [now=+12s]
//	                                 NextTransferStep at the clock's time (or at
//	                                 now=, without moving the clock); prints
//	                                 wait | dial <call> <plan> | command <call>
//	                                 <command> | record <event>
//	apply [devices=a,b] [ring-timeout=30s]
//	                                 carry out the last step: record → ApplyTransfer;
//	                                 command → DecideCall+ApplyCall on the call;
//	                                 dial → place the call as the engine does
//	                                 (fsm.Dial from the plan; a client callee
//	                                 rings devices=, else the plan's devices,
//	                                 else <client>-desk)
//	apply event=answered|not-answered|completed|not-completed|canceled|failed
//	      [reason=…]                 ApplyTransfer of that event, whatever the
//	                                 step said (refusals: the state must not change)
//	run [intent=…] [devices=…]       step and apply until the step is wait or
//	                                 the transfer is done
//	restart                          re-fold the transfer and every call from
//	                                 their logs (what a restarted engine reads)
//	                                 and forget the last step
//	state                            the transfer and a line per call
//	tick 10s, reset                  as in the call harness (reset forgets all)
//
// Besides what is printed the runner checks: NextTransferStep changes neither
// the transfer nor the calls; a step on a finished transfer is wait; a
// recorded step's event applies; ApplyTransfer leaves the state alone when it
// refuses an event; and the transfer's log re-folds into its state.

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

func TestTransferDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata/transfer", func(t *testing.T, path string) {
		h := newTransferHarness()
		datadriven.RunTest(t, path, h.run)
	})
}

type transferHarness struct {
	clock
	calls map[string]*callHarness
	names []string // the calls in the order they were created

	id   string
	xfer fsm.Transfer
	log  []logged

	last    fsm.Step
	hasLast bool
}

func newTransferHarness() *transferHarness {
	return &transferHarness{
		clock: clock{now: start},
		calls: map[string]*callHarness{},
		id:    "t1",
		xfer:  fsm.Transfer{ID: "t1"},
	}
}

// callCommands are the call harness's commands a transfer file may address
// to a named call.
var callCommands = []string{
	"dial", "ring", "answer", "reject", "ignore", "hangup", "hold", "resume", "mute", "unmute",
	"fail", "ring-timeout", "digits", "record-start", "record-stop", "park", "unpark", "join",
	"transfer-away", "restore",
}

func (h *transferHarness) run(t *testing.T, d *datadriven.TestData) string {
	if slices.Contains(callCommands, d.Cmd) || d.Cmd == "state" && d.HasArg("call") {
		return h.callCommand(t, d)
	}
	h.advance(t, d)
	switch d.Cmd {
	case "reset":
		*h = *newTransferHarness()
		return "forgot the transfer and its calls\n"
	case "tick":
		return h.tick(t, d)
	case "check":
		ev := h.initiated(t, d)
		if err := fsm.CheckTransferInitiated(ev); err != nil {
			return fmtErr(t, err)
		}
		return "ok\n"
	case "transfer":
		h.id = str(t, d, "id", h.id)
		h.xfer.ID = h.id
		ev := h.initiated(t, d)
		if err := fsm.CheckTransferInitiated(ev); err != nil {
			return fmtErr(t, err)
		}
		return h.applyTransfer(t, ev, false)
	case "step":
		step := h.step(t, d, intent(t, d))
		h.last, h.hasLast = step, true
		return fmtStep(step) + "\n"
	case "apply":
		if d.HasArg("event") {
			return h.applyTransfer(t, transferEvent(t, d), false)
		}
		if !h.hasLast {
			d.Fatalf(t, "apply: no step to carry out (run step first)")
		}
		h.hasLast = false
		return h.carryOut(t, d, h.last)
	case "run":
		in := intent(t, d)
		var b strings.Builder
		for range 32 {
			step := h.step(t, d, in)
			fmt.Fprintf(&b, "> %s\n", fmtStep(step))
			if step.Kind == fsm.StepWait {
				return b.String()
			}
			b.WriteString(indent(h.carryOut(t, d, step)))
			if h.xfer.Status.Done() {
				return b.String()
			}
		}
		t.Errorf("transfer %s does not settle in 32 steps", h.id)
		return b.String()
	case "restart":
		return h.restart(t)
	case "state":
		return h.fmtState()
	}
	d.Fatalf(t, "unknown command %q", d.Cmd)
	return ""
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n  ") + "\n"
}

// callCommand hands a command to the harness of call=<name>, on the shared
// clock.
func (h *transferHarness) callCommand(t *testing.T, d *datadriven.TestData) string {
	name := str(t, d, "call", "")
	if name == "" {
		d.Fatalf(t, "%s needs call=<name>", d.Cmd)
	}
	ch := h.callNamed(name)
	ch.now = h.now
	out := ch.run(t, d)
	h.now = ch.now
	return prefix(name, out)
}

// callNamed returns the harness of call name, creating it.
func (h *transferHarness) callNamed(name string) *callHarness {
	ch, ok := h.calls[name]
	if !ok {
		ch = newCallHarness(name)
		h.calls[name] = ch
		h.names = append(h.names, name)
	}
	return ch
}

func prefix(name, out string) string {
	var b strings.Builder
	for line := range strings.Lines(out) {
		b.WriteString(name + ": " + line)
	}
	return b.String()
}

// lookup is the CallLookup the steps read: a copy of each call, so that a
// step that wrote to one would be caught by the comparison in step.
func (h *transferHarness) lookup(id string) (*fsm.Call, bool) {
	ch, ok := h.calls[id]
	if !ok || ch.call.Status == fsm.NoCall {
		return nil, false
	}
	c := ch.call.Clone()
	return &c, true
}

func (h *transferHarness) step(t *testing.T, d *datadriven.TestData, in fsm.Intent) fsm.Step {
	t.Helper()
	now := h.now
	if arg, ok := d.Arg("now"); ok {
		now = start + int64(parseOffset(t, d, arg.SingleVal(t)))
	}
	before := h.xfer.Clone()
	calls := map[string]fsm.Call{}
	for name, ch := range h.calls {
		calls[name] = ch.call.Clone()
	}
	step := fsm.NextTransferStep(&h.xfer, h.lookup, in, now)
	if !reflect.DeepEqual(before, h.xfer) {
		t.Errorf("NextTransferStep changed the transfer:\nbefore %+v\nafter  %+v", before, h.xfer)
	}
	for name, ch := range h.calls {
		if !reflect.DeepEqual(calls[name], ch.call) {
			t.Errorf("NextTransferStep changed call %s", name)
		}
	}
	if (h.xfer.Status == fsm.NoTransfer || h.xfer.Status.Done()) && step.Kind != fsm.StepWait {
		t.Errorf("a %q transfer stepped: %s", h.xfer.Status, fmtStep(step))
	}
	return step
}

// carryOut does what the step says, as the transfer actor does.
func (h *transferHarness) carryOut(t *testing.T, d *datadriven.TestData, step fsm.Step) string {
	switch step.Kind {
	case fsm.StepWait:
		return "(nothing to do)\n"
	case fsm.StepRecord:
		return h.applyTransfer(t, step.Event, true)
	case fsm.StepCommand:
		ch, ok := h.calls[step.Call]
		if !ok {
			return fmt.Sprintf("error: no call %s\n", step.Call)
		}
		ch.now = h.now
		return prefix(step.Call, ch.decideApply(t, step.Command))
	case fsm.StepDial:
		ch := h.callNamed(step.Call)
		ch.now = h.now
		return prefix(step.Call, ch.decideApply(t, h.dialFromPlan(t, d, step.Dial)))
	}
	t.Errorf("unknown step kind %d", step.Kind)
	return ""
}

// dialFromPlan builds the Dial the engine sends for a plan (engine
// transferHost.PlaceCall), with the routing chosen by the test.
func (h *transferHarness) dialFromPlan(t *testing.T, d *datadriven.TestData, plan fsm.DialPlan) fsm.Dial {
	cmd := fsm.Dial{
		Caller: plan.Caller, CallerDevice: plan.CallerDevice, CallerLeg: plan.CallerLeg, CallerID: plan.Caller.Number,
		Callee: plan.Callee, CalleeLeg: plan.CalleeLeg, Destination: plan.Destination, Origin: plan.Origin,
		Transfer: h.id, Connected: plan.Connected, AnsweredDevice: plan.AnsweredDevice, Group: plan.Group,
	}
	if !plan.Connected && (plan.Callee.Client != "" || plan.Group != "") {
		switch {
		case d.HasArg("devices"):
			cmd.Devices = list(t, d, "devices")
		case plan.Devices != nil:
			cmd.Devices = plan.Devices
		case plan.Callee.Client != "":
			cmd.Devices = []string{plan.Callee.Client + "-desk"}
		}
		if plan.Group != "" { // ring-all: the members' devices ring
			cmd.Callee = events.Party{Number: plan.Callee.Number, Name: plan.Callee.Name}
		}
		cmd.RingTimeout = duration(t, d, "ring-timeout")
	}
	cmd.Direction = fsm.PartiesDirection(cmd.Caller, cmd.Callee, cmd.Group, cmd.Origin)
	return cmd
}

// applyTransfer folds ev into the transfer. decided says the event came
// from a step: it must then apply.
func (h *transferHarness) applyTransfer(t *testing.T, ev events.Event, decided bool) string {
	t.Helper()
	before := h.xfer.Clone()
	if err := fsm.ApplyTransfer(&h.xfer, ev, h.now); err != nil {
		if !reflect.DeepEqual(before, h.xfer) {
			t.Errorf("a refused %s changed the transfer:\nbefore %+v\nafter  %+v", ev.Type(), before, h.xfer)
		}
		if decided {
			t.Errorf("recorded step %s does not apply: %v", fmtEvent(ev), err)
		}
		return fmt.Sprintf("%s\nrefused: %s\n%s", fmtEvent(ev), strings.TrimSpace(err.Error()), fmtTransferStatus(&h.xfer))
	}
	h.log = append(h.log, logged{ev, h.now})
	if err := h.refold(); err != nil {
		t.Error(err)
	}
	return fmtEvent(ev) + "\n" + fmtTransferStatus(&h.xfer)
}

func (h *transferHarness) refold() error {
	x := fsm.Transfer{ID: h.id}
	for i, l := range h.log {
		if err := fsm.ApplyTransfer(&x, l.ev, l.at); err != nil {
			return fmt.Errorf("refold: event %d (%s): %v", i, fmtEvent(l.ev), err)
		}
	}
	if !reflect.DeepEqual(x, h.xfer) {
		return fmt.Errorf("refold differs:\nrefolded %+v\ncurrent  %+v", x, h.xfer)
	}
	return nil
}

// restart re-folds everything from the logs, as an engine that starts again
// reads its journal; the intent and the step in progress are not journaled.
func (h *transferHarness) restart(t *testing.T) string {
	x := fsm.Transfer{ID: h.id}
	for _, l := range h.log {
		if err := fsm.ApplyTransfer(&x, l.ev, l.at); err != nil {
			t.Fatalf("restart: transfer %s does not fold: %v", h.id, err)
		}
	}
	h.xfer = x
	for _, name := range h.names {
		ch := h.calls[name]
		c := fsm.Call{ID: name}
		for _, l := range ch.log {
			if err := fsm.ApplyCall(&c, l.ev, l.at); err != nil {
				t.Fatalf("restart: call %s does not fold: %v", name, err)
			}
		}
		ch.call = c
	}
	h.hasLast = false
	return "restarted from the journal\n" + h.fmtState()
}

func intent(t *testing.T, d *datadriven.TestData) fsm.Intent {
	switch s := str(t, d, "intent", "none"); s {
	case "none":
		return fsm.NoIntent
	case "complete":
		return fsm.CompleteIntent
	case "cancel":
		return fsm.CancelIntent
	case "fail":
		return fsm.FailIntent
	default:
		d.Fatalf(t, "bad intent %q", s)
	}
	return 0
}

func (h *transferHarness) initiated(t *testing.T, d *datadriven.TestData) events.TransferInitiated {
	ev := events.TransferInitiated{
		Call: str(t, d, "call", ""),
		Kept: side(t, d, "kept"),
		First: events.Party{
			Client: str(t, d, "first", ""), Number: str(t, d, "first-number", ""), Name: str(t, d, "first-name", ""),
		},
		FirstDevice: str(t, d, "first-device", ""),
		Target: events.Party{
			Client: str(t, d, "target", ""), Number: str(t, d, "target-number", ""), Name: str(t, d, "target-name", ""),
		},
		Group:       str(t, d, "group", ""),
		Destination: str(t, d, "dest", ""),
		Consult:     str(t, d, "consult", ""),
		NewCall:     str(t, d, "new", ""),
	}
	s := str(t, d, "kind", "")
	if k, ok := events.ParseTransferKind(s); ok {
		ev.Kind = k
	} else {
		n, err := strconv.ParseUint(s, 10, 8)
		if err != nil {
			d.Fatalf(t, "bad kind %q", s)
		}
		ev.Kind = events.TransferKind(n)
	}
	if dl := str(t, d, "deadline", ""); strings.HasPrefix(dl, "+") {
		ev.Deadline = start + int64(parseOffset(t, d, dl))
	} else if dl != "" {
		n, err := strconv.ParseInt(dl, 10, 64)
		if err != nil {
			d.Fatalf(t, "bad deadline %q", dl)
		}
		ev.Deadline = n
	}
	return ev
}

func transferEvent(t *testing.T, d *datadriven.TestData) events.Event {
	r := str(t, d, "reason", "")
	switch s := str(t, d, "event", ""); s {
	case "answered":
		return events.TransferAnswered{}
	case "not-answered":
		return events.TransferNotAnswered{Reason: r}
	case "completed":
		return events.TransferCompleted{}
	case "not-completed":
		return events.TransferNotCompleted{Reason: r}
	case "canceled":
		return events.TransferCanceled{}
	case "failed":
		return events.TransferFailed{Reason: r}
	case "call-ended": // not a transfer event
		return events.CallEnded{Reason: events.Hangup}
	default:
		d.Fatalf(t, "bad event %q", s)
	}
	return nil
}

func fmtStep(s fsm.Step) string {
	switch s.Kind {
	case fsm.StepWait:
		if !reflect.DeepEqual(s, fsm.Step{}) {
			return fmt.Sprintf("wait (with a payload: %+v)", s)
		}
		return "wait"
	case fsm.StepDial:
		return "dial " + s.Call + " " + fmtPlan(s.Dial)
	case fsm.StepCommand:
		return "command " + s.Call + " " + fmtCommand(s.Command)
	case fsm.StepRecord:
		return "record " + fmtEvent(s.Event)
	}
	return fmt.Sprintf("step(%d) %+v", s.Kind, s)
}

func fmtPlan(p fsm.DialPlan) string {
	var b strings.Builder
	kv := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, " %s=%s", k, v)
		}
	}
	b.WriteString("caller=" + fmtParty(p.Caller))
	kv("device", p.CallerDevice)
	kv("caller-leg", p.CallerLeg)
	b.WriteString(" callee=" + fmtParty(p.Callee))
	kv("callee-leg", p.CalleeLeg)
	kv("group", p.Group)
	kv("dest", quoteSpaces(p.Destination))
	kv("origin", p.Origin)
	if p.Connected {
		b.WriteString(" connected")
		kv("answered", p.AnsweredDevice)
	} else {
		kv("answered", p.AnsweredDevice)
	}
	if p.Devices != nil {
		kv("devices", fmt.Sprint(p.Devices))
	}
	return b.String()
}

func fmtCommand(cmd fsm.CallCommand) string {
	switch c := cmd.(type) {
	case fsm.Hold:
		return "Hold by=" + fmtSide(c.By)
	case fsm.Resume:
		return "Resume by=" + fmtSide(c.By)
	case fsm.Hangup:
		return "Hangup by=" + fmtSide(c.By)
	case fsm.TransferAway:
		return "TransferAway by=" + fmtSide(c.By)
	case fsm.Fail:
		return "Fail reason=" + c.Reason.String() + " by=" + fmtSide(c.By)
	}
	return fmt.Sprintf("%T%+v", cmd, cmd)
}

func fmtTransferStatus(x *fsm.Transfer) string {
	st := string(x.Status)
	if st == "" {
		st = "none"
	}
	if x.Reason != "" {
		st += fmt.Sprintf(" (%s)", x.Reason)
	}
	return fmt.Sprintf("transfer %s v%d: %s\n", x.ID, x.Version, st)
}

func (h *transferHarness) fmtState() string {
	var b strings.Builder
	x := &h.xfer
	b.WriteString(fmtTransferStatus(x))
	if x.Status != fsm.NoTransfer {
		line := "  " + x.Kind.String()
		if x.Call != "" {
			line += fmt.Sprintf(" call=%s kept=%s transferor=%s", x.Call, fmtSide(x.Kept), fmtSide(x.TransferorSide()))
		}
		if x.First != (events.Party{}) {
			line += " first=" + fmtParty(x.First)
		}
		line += " target=" + fmtParty(x.Target)
		if x.Group != "" {
			line += " group=" + x.Group
		}
		if x.Consult != "" {
			line += " consult=" + x.Consult
		}
		line += " new=" + x.NewCall
		if x.Deadline != 0 {
			line += " deadline=" + rel(x.Deadline)
		}
		fmt.Fprintf(&b, "%s\n  started=%s ended=%s\n", line, rel(x.StartedAt), rel(x.EndedAt))
	}
	for _, name := range h.names {
		fmt.Fprintf(&b, "  call %s\n", callLine(&h.calls[name].call))
	}
	return b.String()
}

// callLine sums a call up on one line.
func callLine(c *fsm.Call) string {
	if c.Status == fsm.NoCall {
		return c.ID + ": not placed"
	}
	s := fmt.Sprintf("%s v%d: %s %s→%s", c.ID, c.Version, c.Status, fmtParty(c.Caller), fmtParty(c.Callee))
	if h := sides(c.HeldBy); h != "none" {
		s += " held-by=" + h
	}
	if c.Status == fsm.Ended {
		s += " ended=" + c.Reason.String()
		if c.EndedBy != events.NoSide {
			s += " by=" + fmtSide(c.EndedBy)
		}
		s += " at=" + rel(c.ReleaseAt)
	}
	return s
}
