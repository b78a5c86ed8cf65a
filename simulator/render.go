package simulator

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

// offset prints a time of the scenario relative to its start: 00:01.500,
// or 1:02:03.000 past an hour.
func offset(d time.Duration) string {
	ms := d.Milliseconds()
	h, m, s, frac := ms/3_600_000, ms/60_000%60, ms/1000%60, ms%1000
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d.%03d", h, m, s, frac)
	}
	return fmt.Sprintf("%02d:%02d.%03d", m, s, frac)
}

// eventNames are the words a timeline uses for event types. The label in
// front of an event says whose stream it is on (a call, a client, a
// transfer, a group, a message), so two kinds may share a word.
var eventNames = map[events.Type]string{
	events.TypeClientRegistered: "registered", events.TypeClientUnregistered: "unregistered",
	events.TypeDeviceAdded: "device-added", events.TypeDeviceRemoved: "device-removed",
	events.TypeClientUpdated: "updated",
	events.TypeCallDialed:    "dialed", events.TypeCallRinging: "ringing", events.TypeCallAnswered: "answered",
	events.TypeCallHeld: "held", events.TypeCallResumed: "resumed", events.TypeCallMuted: "muted",
	events.TypeCallUnmuted: "unmuted", events.TypeCallIgnored: "ignored", events.TypeCallEnded: "ended",
	events.TypeCallDigits: "dtmf", events.TypeCallRecordingStarted: "recording",
	events.TypeCallRecordingStopped: "recording-stopped", events.TypeCallParked: "parked",
	events.TypeCallUnparked: "unparked", events.TypeCallJoined: "joined",
	events.TypeCallLeftConference: "left-conference",

	events.TypeTransferInitiated: "initiated", events.TypeTransferAnswered: "answered",
	events.TypeTransferNotAnswered: "not-answered", events.TypeTransferCompleted: "completed",
	events.TypeTransferNotCompleted: "not-completed", events.TypeTransferCanceled: "canceled",
	events.TypeTransferFailed: "failed",

	events.TypeGroupDefined: "defined", events.TypeGroupRemoved: "removed", events.TypeGroupMemberPicked: "picked",

	events.TypeMessageSent: "sent", events.TypeMessageDelivered: "delivered", events.TypeMessageFailed: "failed",

	events.TypeClientPresenceSet: "presence-set", events.TypeClientVoicemailSet: "voicemail-set",
	events.TypeClientPasswordSet: "password-set",
	events.TypeHistoryDeleted:    "history-deleted", events.TypeVoicemailHeard: "voicemail-heard",
	events.TypeVoicemailDeleted: "voicemail-deleted", events.TypePresenceChanged: "presence-changed",
	events.TypeCallToVoicemail: "to-voicemail", events.TypeVoicemailLeft: "voicemail-left",
	events.TypeCallLegRecorded: "leg-recorded",

	events.TypeSessionCreated: "created", events.TypeSessionRestored: "restored",
	events.TypeSessionConnectionClosed: "connection-closed", events.TypeSessionDestroyed: "destroyed",
	events.TypeSessionSubscribed: "subscribed", events.TypeSessionUnsubscribed: "unsubscribed",
	events.TypeSessionAutoAnswerSet: "auto-answer",
}

// callEvent reports whether t is an event of a call's stream: the events
// an adapter is handed.
func callEvent(t events.Type) bool {
	return t >= events.TypeCallDialed && t < events.TypeTransferInitiated
}

func eventName(t events.Type) string {
	if n, ok := eventNames[t]; ok {
		return n
	}
	return t.String()
}

// party prints one side of a call: a client (with its device) or a number.
func party(p events.Party, device string) string {
	if p.Client == "" {
		return p.Number
	}
	if device != "" {
		return p.Client + "/" + device
	}
	return p.Client
}

// word prints a free text as one word: spaces become underscores.
func word(s string) string { return strings.Join(strings.Fields(s), "_") }

// words prints key=value pairs, leaving out the empty values.
type line []string

func (w *line) add(k, v string) {
	if v != "" {
		*w = append(*w, k+"="+v)
	}
}

func (w *line) flag(name string, on bool) {
	if on {
		*w = append(*w, name)
	}
}

func (w line) String() string { return strings.Join(w, " ") }

// eventLine prints an event as "<label> <name> key=value …".
func (s *sim) eventLine(label string, env *events.Envelope) string {
	w := line{label, eventName(env.Type)}
	if sessionEventLine(&w, env) {
		return w.String()
	}
	switch ev := env.Event.(type) {
	case events.ClientRegistered:
		w.add("ext", strings.Join(ev.Extensions, ","))
		w.add("numbers", strings.Join(ev.Numbers, ","))
		ids := make([]string, len(ev.Devices))
		for i, d := range ev.Devices {
			ids[i] = d.ID
		}
		w.add("devices", strings.Join(ids, ","))
		w.add("permissions", strings.Join(ev.Permissions, ","))
		if !ev.AcceptInbound {
			w.add("accept-inbound", "off")
		}
	case events.DeviceAdded:
		w.add("device", ev.Device.ID)
	case events.DeviceRemoved:
		w.add("device", ev.ID)
	case events.ClientUpdated:
		w.add("accept-inbound", onOff(ev.AcceptInbound))
	case events.CallDialed:
		w.add("from", party(ev.Caller, ev.CallerDevice))
		w.add("to", party(ev.Callee, ""))
		w.add("dir", ev.Direction.String())
		if ev.CallerID != "" && ev.CallerID != ev.Caller.Number {
			w.add("caller-id", ev.CallerID)
		}
		w.add("group", ev.Group)
		w.add("transfer", s.nameOf(s.transfers, ev.Transfer))
		w.add("caller-leg", s.labelOf(ev.CallerLeg))
		w.add("callee-leg", s.labelOf(ev.CalleeLeg))
		w.add("origin", ev.Origin)
		if ev.VoicemailLimit > 0 {
			w.add("voicemail", durationOf(ev.VoicemailLimit))
		}
	case events.CallRinging:
		w.add("devices", strings.Join(ev.Devices, ","))
		if ev.Deadline != 0 {
			w.add("timeout", time.Duration(ev.Deadline-env.Time).String())
		}
	case events.CallAnswered:
		w.add("device", ev.Device)
	case events.CallHeld:
		w.add("by", ev.By.String())
	case events.CallResumed:
		w.add("by", ev.By.String())
	case events.CallMuted:
		w.add("side", ev.Side.String())
	case events.CallUnmuted:
		w.add("side", ev.Side.String())
	case events.CallEnded:
		w.add("reason", ev.Reason.String())
		w.add("by", ev.By.String())
		w.flag("missed", ev.Missed)
	case events.CallDigits:
		w.add("side", ev.Side.String())
		w.add("digits", ev.Digits)
		w.add("duration", time.Duration(ev.Duration).String())
		w.add("gap", time.Duration(ev.Gap).String())
	case events.CallRecordingStarted:
		w.add("by", ev.By.String())
		w.add("ref", s.relabel(ev.Ref))
	case events.CallRecordingStopped:
		w.add("by", ev.By.String())
	case events.CallParked:
		w.add("slot", ev.Slot)
		w.add("by", ev.By.String())
	case events.CallUnparked:
		w.add("by", party(ev.Party, ev.Device))
	case events.CallJoined:
		w.add("conference", s.nameOf(s.confs, ev.Conference))
		w.add("peer", s.labelOf(ev.Peer))
	case events.CallLeftConference:
		w.add("conference", s.nameOf(s.confs, ev.Conference))
		w.add("peer", s.labelOf(ev.Peer))

	case events.TransferInitiated:
		w.add("kind", ev.Kind.String())
		w.add("call", s.labelOf(ev.Call))
		w.add("kept", ev.Kept.String())
		w.add("first", party(ev.First, ev.FirstDevice))
		w.add("to", party(ev.Target, ""))
		w.add("group", ev.Group)
		if ev.Deadline != 0 {
			w.add("within", time.Duration(ev.Deadline-env.Time).String())
		}
	case events.TransferNotAnswered:
		w.add("reason", word(s.relabel(ev.Reason)))
	case events.TransferNotCompleted:
		w.add("reason", word(s.relabel(ev.Reason)))
	case events.TransferFailed:
		w.add("reason", word(s.relabel(ev.Reason)))

	case events.GroupDefined:
		w.add("name", word(ev.Name))
		w.add("ext", strings.Join(ev.Extensions, ","))
		w.add("numbers", strings.Join(ev.Numbers, ","))
		w.add("members", strings.Join(ev.Members, ","))
		w.add("strategy", ev.Strategy.String())
	case events.GroupMemberPicked:
		w.add("member", ev.Member)
		w.add("call", s.labelOf(ev.Call))

	case events.MessageSent:
		w.add("from", party(ev.From, ""))
		w.add("to", ev.To)
		w.add("text", word(ev.Text))
	case events.MessageFailed:
		w.add("reason", word(ev.Reason))

	case events.ClientPresenceSet:
		w.add("presence", ev.Presence.String())
		w.add("activity", word(ev.Activity))
	case events.PresenceChanged:
		w.add("presence", ev.Presence.String())
		w.add("activity", word(ev.Activity))
	case events.ClientPasswordSet:
		w.add("password", onOff(ev.Hash != "")) // never the hash
	case events.ClientVoicemailSet:
		w.add("voicemail", onOff(ev.Enabled))
		if ev.Enabled {
			w.add("max", durationOf(ev.MaxLength))
		}
	case events.HistoryDeleted:
		w.add("calls", s.callLabels(ev.Calls))
	case events.VoicemailHeard:
		w.add("calls", s.callLabels(ev.Calls))
	case events.VoicemailDeleted:
		w.add("calls", s.callLabels(ev.Calls))
	case events.CallToVoicemail:
		w.add("reason", ev.Reason.String())
		w.add("limit", durationOf(ev.Deadline-env.Time))
	case events.CallLegRecorded:
		w.add("side", ev.Side.String())
		w.add("adapter", ev.Adapter)
		w.add("bytes", strconv.Itoa(len(ev.Data)))
	case events.VoicemailLeft:
		w.add("for", ev.Client)
		w.add("from", party(ev.From, ""))
		w.add("length", durationOf(ev.Duration))
	}
	return w.String()
}

// durationOf prints nanoseconds as a duration: 1m30s.
func durationOf(ns int64) string { return time.Duration(ns).String() }

// callLabels prints calls, named by id, by their labels.
func (s *sim) callLabels(ids []string) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = s.labelOf(id)
	}
	return strings.Join(out, ",")
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// callState prints a call as an expectation reads it: "<state> from=… to=…
// caller-id=… caller-name=… ringing=… answered=… held-by=… muted=… ignored
// group=… tried=… transfer=… parked=… recording=on|off ref=… conference=… peer=… digits=…
// reason=… by=… missed" (spaces in a name become underscores).
func (s *sim) callState(c *engine.Call) string {
	w := line{string(c.State)}
	w.add("from", party(c.Caller, c.CallerDevice))
	w.add("to", party(c.Callee, ""))
	w.add("caller-id", c.CallerID)
	w.add("caller-name", word(c.Caller.Name))
	w.add("ringing", strings.Join(c.RingingDevices, ","))
	w.add("answered", c.AnsweredDevice)
	w.add("held-by", sides(c.HeldByCaller, c.HeldByCallee))
	w.add("muted", sides(c.MutedCaller, c.MutedCallee))
	w.flag("ignored", c.Ignored)
	w.add("group", c.Group)
	w.add("tried", strings.Join(c.Tried, ","))
	w.add("transfer", s.nameOf(s.transfers, c.Transfer))
	w.add("parked", c.ParkSlot)
	if c.RecordingRef != "" {
		w.add("recording", onOff(c.Recording))
		w.add("ref", s.relabel(c.RecordingRef))
	}
	w.add("conference", s.nameOf(s.confs, c.Conference))
	w.add("peer", s.labelOf(c.Peer))
	if c.Digits > 0 {
		w.add("digits", strconv.Itoa(c.Digits))
	}
	w.flag("in-voicemail", c.InVoicemail)
	if c.State == engine.Ended {
		w.add("reason", c.Reason.String())
		w.add("by", c.EndedBy.String())
		w.flag("missed", c.Missed)
		if !c.VoicemailAt.IsZero() {
			w.add("message", c.VoicemailLength.String())
		}
	}
	return w.String()
}

func sides(caller, callee bool) string {
	switch {
	case caller && callee:
		return "both"
	case caller:
		return "caller"
	case callee:
		return "callee"
	}
	return ""
}

// clientState prints a client: "<state> devices=… ext=… numbers=… calls=…
// presence=… activity=… voicemail=<max> permissions=… accept-inbound=off".
// The presence is what others see (CL8).
func clientState(c *engine.Client, calls []string) string {
	w := line{string(c.State)}
	ids := make([]string, len(c.Devices))
	for i, d := range c.Devices {
		ids[i] = d.ID
	}
	w.add("devices", strings.Join(ids, ","))
	w.add("ext", strings.Join(c.Extensions, ","))
	w.add("numbers", strings.Join(c.Numbers, ","))
	slices.Sort(calls)
	w.add("calls", strings.Join(calls, ","))
	if c.State == fsm.ClientActive {
		w.add("presence", c.Presence.String())
		w.add("activity", word(c.Activity))
	}
	if c.Voicemail {
		w.add("voicemail", c.VoicemailMax.String())
	}
	w.add("permissions", strings.Join(c.Permissions, ","))
	if c.State == fsm.ClientActive && !c.AcceptInbound {
		w.add("accept-inbound", "off")
	}
	return w.String()
}

// transferState prints a transfer: "<status> kind=… call=… kept=… first=…
// to=… group=… consult=… new=… within=… reason=…".
func (s *sim) transferState(t *engine.Transfer) string {
	w := line{string(t.Status)}
	w.add("kind", t.Kind.String())
	w.add("call", s.labelOf(t.Call))
	w.add("kept", t.Kept.String())
	w.add("first", party(t.First, ""))
	w.add("to", party(t.Target, ""))
	w.add("group", t.Group)
	if t.Consult != "" {
		w.add("consult", s.labelOf(t.Consult))
	}
	w.add("new", s.labelOf(t.NewCall))
	if !t.Deadline.IsZero() {
		w.add("within", t.Deadline.Sub(t.StartedAt).String())
	}
	w.add("reason", word(s.relabel(string(t.Reason))))
	return w.String()
}

// groupState prints a group: "defined name=… ext=… numbers=… members=…
// strategy=… last=…", or "removed".
func groupState(g *engine.Group) string {
	w := line{"defined"}
	w.add("name", word(g.Name))
	w.add("ext", strings.Join(g.Extensions, ","))
	w.add("numbers", strings.Join(g.Numbers, ","))
	w.add("members", strings.Join(g.Members, ","))
	w.add("strategy", g.Strategy.String())
	w.add("last", g.Last)
	return w.String()
}

// messageState prints a text message: "<sent|delivered|failed> from=… to=…
// text=… reason=…".
func messageState(m *engine.Message) string {
	w := line{string(m.Status)}
	w.add("from", party(m.From, ""))
	w.add("to", m.To)
	w.add("text", word(m.Text))
	w.add("reason", word(m.Reason))
	return w.String()
}

// callparkKey is the expectation key of the parked calls: "slots 1=c1
// 701=c3" — each slot with the call that waits in it, in slot order.
const callparkKey = "callpark"

func (s *sim) callparkState(parked []engine.Call) string {
	w := line{"slots"}
	for i := range parked {
		w.add(parked[i].ParkSlot, s.labelOf(parked[i].ID))
	}
	return w.String()
}

// directoryKey is the expectation key of the directory (CL9): "listed
// alice=available bob=busy" — every registered client by name, then id,
// with the presence others see.
const directoryKey = "directory"

func directoryState(page engine.DirectoryPage) string {
	w := line{"listed"}
	for _, e := range page.Entries {
		w.add(e.ID, e.Presence.String())
	}
	return w.String()
}
