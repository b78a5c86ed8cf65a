package replay

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

// TimeLayout is how the text output writes engine-clock instants: RFC 3339 in
// UTC with milliseconds, fixed width.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(TimeLayout)
}

// fmtDuration writes h:mm:ss, with milliseconds when there are any.
func fmtDuration(d time.Duration) string {
	d = d.Round(time.Millisecond)
	h, m, s, ms := d/time.Hour, d%time.Hour/time.Minute, d%time.Minute/time.Second, d%time.Second/time.Millisecond
	if ms != 0 {
		return fmt.Sprintf("%d:%02d:%02d.%03d", h, m, s, ms)
	}
	return fmt.Sprintf("%d:%02d:%02d", h, m, s)
}

// party writes a party as its client id, or its number for an external one,
// with a device when one is known.
func party(p events.Party, device string) string {
	s := p.Client
	if s == "" {
		s = p.Number
	}
	if s == "" {
		s = "?"
	}
	if device != "" {
		s += "/" + device
	}
	return s
}

// stateText is a call's state in a few words: the status, then for an ended
// call its reason, side and whether it was missed.
func stateText(c *CallSummary) string {
	if c.State != fsm.Ended {
		return string(c.State)
	}
	s := "ended " + c.Reason.String()
	if c.EndedBy != events.NoSide {
		s += " by " + c.EndedBy.String()
	}
	if c.Missed {
		s += ", missed"
	}
	return s
}

// details lists what a live call is doing besides its status: devices that
// ring, the answering device (with answered), who holds, who is muted. An
// ended call does nothing.
func details(c *CallSummary, answered bool) string {
	if !c.Live {
		return ""
	}
	var parts []string
	if len(c.Ringing) > 0 {
		parts = append(parts, "ringing="+strings.Join(c.Ringing, ","))
	}
	if c.Ignored {
		parts = append(parts, "ignored")
	}
	if !c.RingDeadline.IsZero() {
		parts = append(parts, "deadline="+fmtTime(c.RingDeadline))
	}
	if answered && c.AnsweredDevice != "" {
		parts = append(parts, "answered="+c.AnsweredDevice)
	}
	if s := sides(c.HeldByCaller, c.HeldByCallee); s != "" {
		parts = append(parts, "held="+s)
	}
	if s := sides(c.MutedCaller, c.MutedCallee); s != "" {
		parts = append(parts, "muted="+s)
	}
	if c.ParkSlot != "" {
		parts = append(parts, "parked="+c.ParkedSide.String(), "slot="+c.ParkSlot)
	}
	if c.Conference != "" {
		parts = append(parts, "conference="+c.Conference)
	}
	if c.Recording {
		parts = append(parts, "recording")
	}
	return strings.Join(parts, " ")
}

func sides(caller, callee bool) string {
	switch {
	case caller && callee:
		return "caller,callee"
	case caller:
		return "caller"
	case callee:
		return "callee"
	}
	return ""
}

// WriteCalls writes calls as an aligned table: id, setup time, from, to,
// state (or how it ended) and connected duration.
func WriteCalls(w io.Writer, calls []CallSummary) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSETUP\tFROM\tTO\tSTATE\tDURATION")
	for i := range calls {
		c := &calls[i]
		dur := "-"
		if !c.ConnectAt.IsZero() {
			dur = fmtDuration(c.Duration)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, fmtTime(c.SetupAt),
			party(c.Caller, c.CallerDevice), party(c.Callee, c.AnsweredDevice), stateText(c), dur)
	}
	return tw.Flush()
}

// EventFields writes an event's payload as key=value pairs separated by
// spaces, as the timeline prints them: lists are comma-separated, free text
// is quoted, and an event without a payload is "". Every event type has its
// fields; an unknown one (from a newer schema) is its JSON.
func EventFields(ev events.Event) string { return eventFields(ev) }

// eventFields writes an event's payload as key=value pairs.
func eventFields(ev events.Event) string {
	var f []string
	add := func(k, v string) {
		if strings.ContainsAny(v, " \t\"=") {
			v = fmt.Sprintf("%q", v) // one field, whatever it holds
		}
		if v != "" {
			f = append(f, k+"="+v)
		}
	}
	flag := func(k string, on bool) {
		if on {
			f = append(f, k)
		}
	}
	list := func(k string, v []string) { add(k, strings.Join(v, ",")) }
	quoted := func(k, v string) {
		if v != "" {
			f = append(f, fmt.Sprintf("%s=%q", k, v))
		}
	}
	yesNo := func(k string, v bool) {
		if v {
			add(k, "yes")
		} else {
			add(k, "no")
		}
	}
	switch e := ev.(type) {
	case events.ClientRegistered:
		quoted("name", e.Name)
		list("numbers", e.Numbers)
		list("extensions", e.Extensions)
		devs := make([]string, len(e.Devices))
		for i, d := range e.Devices {
			devs[i] = deviceText(d)
		}
		list("devices", devs)
		yesNo("inbound", e.AcceptInbound)
		list("permissions", e.Permissions)
	case events.ClientUnregistered, events.CallIgnored, events.SessionRestored:
	case events.DeviceAdded:
		add("device", deviceText(e.Device))
	case events.DeviceRemoved:
		add("device", e.ID)
	case events.ClientUpdated:
		quoted("name", e.Name)
		yesNo("inbound", e.AcceptInbound)
	case events.ClientPresenceSet:
		add("presence", e.Presence.String())
		quoted("activity", e.Activity)
	case events.PresenceChanged:
		add("presence", e.Presence.String())
		quoted("activity", e.Activity)
	case events.ClientPasswordSet:
		yesNo("password", e.Hash != "") // never the hash
	case events.ClientVoicemailSet:
		yesNo("voicemail", e.Enabled)
		if e.MaxLength != 0 {
			add("max-length", time.Duration(e.MaxLength).String())
		}
	case events.HistoryDeleted:
		list("calls", e.Calls)
	case events.VoicemailHeard:
		list("calls", e.Calls)
	case events.VoicemailDeleted:
		list("calls", e.Calls)
	case events.CallHoldNotAvailable:
		add("by", e.By.String())
		add("reason", e.Reason)
	case events.CallToVoicemail:
		add("reason", e.Reason.String())
		if e.Deadline != 0 {
			add("deadline", fmtTime(instant(e.Deadline)))
		}
	case events.CallLegRecorded:
		add("side", e.Side.String())
		add("adapter", e.Adapter)
		add("bytes", strconv.Itoa(len(e.Data))) // opaque: never its content
	case events.VoicemailLeft:
		add("client", e.Client)
		add("from", party(e.From, ""))
		add("length", fmtDuration(time.Duration(e.Duration)))
	case events.GroupDefined:
		quoted("name", e.Name)
		list("extensions", e.Extensions)
		list("numbers", e.Numbers)
		list("members", e.Members)
		add("strategy", e.Strategy.String())
	case events.SessionCreated:
		add("client", e.Client)
		flag("auto-answer", e.AutoAnswer)
	case events.SessionConnectionClosed:
		if e.Deadline != 0 {
			add("deadline", fmtTime(instant(e.Deadline)))
		}
	case events.SessionDestroyed:
		flag("expired", e.Expired)
	case events.SessionSubscribed:
		add("line", e.Line)
	case events.SessionUnsubscribed:
		add("line", e.Line)
	case events.SessionAutoAnswerSet:
		yesNo("auto-answer", e.On)
	case events.CallDialed:
		add("caller", party(e.Caller, ""))
		if e.Caller.Client == "" && e.Caller.Name != "" {
			quoted("name", e.Caller.Name)
		}
		add("device", e.CallerDevice)
		add("caller-id", e.CallerID)
		add("callee", party(e.Callee, ""))
		add("destination", e.Destination)
		add("direction", e.Direction.String())
		add("group", e.Group)
		add("transfer", e.Transfer)
		add("caller-leg", e.CallerLeg)
		add("callee-leg", e.CalleeLeg)
		add("origin", e.Origin)
	case events.CallRinging:
		add("devices", strings.Join(e.Devices, ","))
		if e.Deadline != 0 {
			add("deadline", fmtTime(instant(e.Deadline)))
		}
	case events.CallAnswered:
		add("device", e.Device)
	case events.CallHeld:
		add("by", e.By.String())
	case events.CallResumed:
		add("by", e.By.String())
	case events.CallMuted:
		add("side", e.Side.String())
	case events.CallUnmuted:
		add("side", e.Side.String())
	case events.CallEnded:
		add("reason", e.Reason.String())
		add("by", e.By.String())
		if e.Missed {
			f = append(f, "missed")
		}
	case events.CallDigits:
		add("side", e.Side.String())
		add("digits", e.Digits)
		if e.Duration != int64(fsm.DefaultToneDuration) || e.Gap != int64(fsm.DefaultToneGap) {
			add("tone", time.Duration(e.Duration).String())
			add("gap", time.Duration(e.Gap).String())
		}
	case events.CallRecordingStarted:
		add("by", e.By.String())
		add("ref", e.Ref)
	case events.CallRecordingStopped:
		add("by", e.By.String())
	case events.CallParked:
		add("side", e.Side.String())
		add("slot", e.Slot)
		add("by", e.By.String())
	case events.CallUnparked:
		add("party", party(e.Party, e.Device))
	case events.CallJoined:
		add("conference", e.Conference)
		add("peer", e.Peer)
	case events.CallLeftConference:
		add("conference", e.Conference)
		add("peer", e.Peer)
	case events.TransferInitiated:
		add("kind", e.Kind.String())
		add("call", e.Call)
		add("kept", e.Kept.String())
		if e.First != (events.Party{}) {
			add("first", party(e.First, e.FirstDevice))
		}
		add("target", party(e.Target, ""))
		add("group", e.Group)
		add("destination", e.Destination)
		add("consult", e.Consult)
		add("new-call", e.NewCall)
		if e.Deadline != 0 {
			add("deadline", fmtTime(instant(e.Deadline)))
		}
	case events.TransferNotAnswered:
		add("reason", e.Reason)
	case events.TransferNotCompleted:
		add("reason", e.Reason)
	case events.TransferFailed:
		add("reason", e.Reason)
	case events.TransferAnswered, events.TransferCompleted, events.TransferCanceled, events.GroupRemoved, events.MessageDelivered:
	case events.GroupMemberPicked:
		add("member", e.Member)
		add("call", e.Call)
	case events.MessageSent:
		add("from", party(e.From, ""))
		add("to", e.To)
		quoted("text", e.Text)
	case events.MessageFailed:
		add("reason", e.Reason)
	default:
		return strings.TrimPrefix(describe(ev), ev.Type().String()+" ")
	}
	return strings.Join(f, " ")
}

// deviceText is a device as id, id/kind or id/kind/contact.
func deviceText(d events.Device) string {
	s := d.ID
	if d.Kind != "" || d.Contact != "" {
		s += "/" + d.Kind
	}
	if d.Contact != "" {
		s += "/" + d.Contact
	}
	return s
}

// WriteTimeline writes a call's steps: a heading with the call's parties and
// a line for each transfer that names the call, then one line per event with
// its time, stream version, global seq, type and fields, and the state after
// it. An event of another stream (a transfer's, a group's) shows its own
// stream's version, the transfer's or the group's id first among its fields,
// and the transfer's status (the member picked) after it.
func WriteTimeline(w io.Writer, steps []Step) error {
	if len(steps) == 0 {
		_, err := fmt.Fprintln(w, "no events")
		return err
	}
	last := steps[len(steps)-1].Call()
	fmt.Fprintf(w, "call %s: %s, %s → %s, %s\n", last.ID, last.Direction,
		party(last.Caller, last.CallerDevice), party(last.Callee, last.AnsweredDevice), stateText(&last))
	// The transfers, as the timeline leaves them.
	final := map[string]*fsm.Transfer{}
	var order []string
	for i := range steps {
		if t := steps[i].Transfer; t != nil {
			if final[t.ID] == nil {
				order = append(order, t.ID)
			}
			final[t.ID] = t
		}
	}
	for _, id := range order {
		fmt.Fprintln(w, transferLine(final[id], last.ID))
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tVER\tSEQ\tEVENT\tFIELDS\tSTATE AFTER")
	for i := range steps {
		s := &steps[i]
		fields := eventFields(s.Envelope.Event)
		var state string
		switch {
		case s.Transfer != nil:
			fields = strings.TrimSpace("transfer=" + s.Transfer.ID + " " + fields)
			state = "transfer " + string(s.Transfer.Status)
			if s.Transfer.Reason != "" && s.Transfer.Status.Done() {
				state += " (" + s.Transfer.Reason + ")"
			}
		case s.Group != nil:
			fields = strings.TrimSpace("group=" + s.Group.ID + " " + fields)
			state = "group " + s.Group.Strategy.String() + ", picked " + s.Group.Last
		default:
			c := s.Call()
			state = stateText(&c)
			if d := details(&c, true); d != "" {
				state += " " + d
			}
			if e, ok := s.Envelope.Event.(events.CallEnded); ok && e.Reason == events.Transferred {
				// Where the party went: the new call of the transfer
				// that ended this call.
				for _, id := range order {
					if t := final[id]; t.Call == c.ID || t.Consult == c.ID {
						fields += " transfer=" + t.ID + " new-call=" + t.NewCall
					}
				}
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\n", fmtTime(s.Envelope.At()), s.Envelope.Version, s.Envelope.Seq,
			s.Envelope.Type, fields, state)
	}
	return tw.Flush()
}

// transferLine describes transfer t on one line, marking which of its calls
// is call id: "transfer T (blind, completed): call A (this call) → new call
// B; its caller goes to carol".
func transferLine(t *fsm.Transfer, id string) string {
	this := func(call string) string {
		if call == id {
			return call + " (this call)"
		}
		return call
	}
	var b strings.Builder
	fmt.Fprintf(&b, "transfer %s (%s, %s", t.ID, t.Kind, t.Status)
	if t.Reason != "" && t.Status.Done() {
		fmt.Fprintf(&b, ": %s", t.Reason)
	}
	b.WriteString("): ")
	switch {
	case t.Kind == events.ClickToCall:
		fmt.Fprintf(&b, "first call %s → new call %s; %s is joined to %s", this(t.Consult), this(t.NewCall),
			party(t.First, t.FirstDevice), party(t.Target, ""))
	default:
		fmt.Fprintf(&b, "call %s → new call %s", this(t.Call), this(t.NewCall))
		if t.Consult != "" {
			fmt.Fprintf(&b, ", after consultation %s", this(t.Consult))
		}
		fmt.Fprintf(&b, "; its %s goes to %s", t.Kept, party(t.Target, ""))
	}
	if t.Group != "" {
		fmt.Fprintf(&b, " (group %s)", t.Group)
	}
	return b.String()
}

// WriteTransfers writes transfers as an aligned table: id, start time, kind,
// the call transferred, who transferred whom to where, the consultation and
// new calls, and the status.
func WriteTransfers(w io.Writer, ts []TransferSummary) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTARTED\tKIND\tCALL\tBY\tKEPT\tTARGET\tCONSULT\tNEW CALL\tSTATUS")
	for i := range ts {
		t := &ts[i]
		by, kept := party(t.Transferor, ""), party(t.KeptParty, "")
		if t.Call == "" {
			by, kept = "-", party(t.First, "")
		} else if t.Kept.Valid() {
			kept += " (" + t.Kept.String() + ")"
		}
		status := string(t.Status)
		if t.Reason != "" && !t.Live {
			status += " (" + t.Reason + ")"
		}
		target := party(t.Target, "")
		if t.Group != "" {
			target += " (group " + t.Group + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, fmtTime(t.StartedAt), t.Kind, dash(t.Call),
			by, kept, target, dash(t.Consult), dash(t.NewCall), status)
	}
	return tw.Flush()
}

// WriteSnapshot writes the clients and the calls of a snapshot as two tables,
// and its transfers as a third when it has any; the calls' state column adds
// what live calls are doing.
func WriteSnapshot(w io.Writer, s Snapshot) error {
	fmt.Fprintf(w, "state at %s: %d clients, %d calls (%d live)\n\n", fmtTime(s.At), len(s.Clients), len(s.Calls), s.LiveCalls())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT\tSTATUS\tNAME\tNUMBERS\tEXTENSIONS\tDEVICES\tINBOUND")
	for _, c := range s.Clients {
		devs := make([]string, len(c.Devices))
		for i, d := range c.Devices {
			devs[i] = d.ID
		}
		inbound := "no"
		if c.AcceptInbound {
			inbound = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Status, dash(c.Name), dash(strings.Join(c.Numbers, ",")),
			dash(strings.Join(c.Extensions, ",")), dash(strings.Join(devs, ",")), inbound)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CALL\tSETUP\tFROM\tTO\tSTATE\tDURATION")
	for i := range s.Calls {
		c := &s.Calls[i]
		dur := "-"
		if !c.ConnectAt.IsZero() {
			dur = fmtDuration(c.Duration)
		}
		state := stateText(c)
		if d := details(c, false); d != "" {
			state += " " + d
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, fmtTime(c.SetupAt),
			party(c.Caller, c.CallerDevice), party(c.Callee, c.AnsweredDevice), state, dur)
	}
	if err := tw.Flush(); err != nil || len(s.Transfers) == 0 {
		return err
	}
	fmt.Fprintln(w)
	return WriteTransfers(w, s.Transfers)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// WriteReport writes the outcome of Verify: one line when no stream
// diverges, else the count and each divergence on three lines.
func WriteReport(w io.Writer, r Report) error {
	head := fmt.Sprintf("verified %d streams, %d events", r.Streams, r.Events)
	if r.Skipped > 0 {
		head += fmt.Sprintf(" (%d streams of unknown kinds skipped)", r.Skipped)
	}
	if r.Archived > 0 {
		head += fmt.Sprintf(" (%d references to archived streams accepted)", r.Archived)
	}
	if r.OK() {
		_, err := fmt.Fprintf(w, "%s: no divergence\n", head)
		return err
	}
	fmt.Fprintf(w, "%s: %d streams diverge\n", head, len(r.Divergences))
	for _, d := range r.Divergences {
		where := fmt.Sprintf("%s version %d", d.Stream, d.Version)
		if d.Seq != 0 {
			where += fmt.Sprintf(" (seq %d)", d.Seq)
		}
		journal := d.Journal
		if journal == "" {
			journal = "nothing"
		}
		fmt.Fprintf(w, "\n%s: %s\n  journal has:  %s\n  current code: %s\n", where, d.Kind, journal, d.Current)
	}
	return nil
}
