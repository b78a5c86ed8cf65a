package simulator

import (
	"fmt"
	"slices"
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

// eventNames are the words a timeline uses for event types.
var eventNames = map[events.Type]string{
	events.TypeClientRegistered: "registered", events.TypeClientUnregistered: "unregistered",
	events.TypeDeviceAdded: "device-added", events.TypeDeviceRemoved: "device-removed",
	events.TypeClientUpdated: "updated",
	events.TypeCallDialed:    "dialed", events.TypeCallRinging: "ringing", events.TypeCallAnswered: "answered",
	events.TypeCallHeld: "held", events.TypeCallResumed: "resumed", events.TypeCallMuted: "muted",
	events.TypeCallUnmuted: "unmuted", events.TypeCallIgnored: "ignored", events.TypeCallEnded: "ended",
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

// eventLine prints an event as "<label> <name> key=value …".
func eventLine(label string, env *events.Envelope) string {
	w := []string{label, eventNames[env.Type]}
	add := func(k, v string) {
		if v != "" {
			w = append(w, k+"="+v)
		}
	}
	switch ev := env.Event.(type) {
	case events.ClientRegistered:
		add("ext", strings.Join(ev.Extensions, ","))
		add("numbers", strings.Join(ev.Numbers, ","))
		ids := make([]string, len(ev.Devices))
		for i, d := range ev.Devices {
			ids[i] = d.ID
		}
		add("devices", strings.Join(ids, ","))
		if !ev.AcceptInbound {
			add("accept-inbound", "off")
		}
	case events.DeviceAdded:
		add("device", ev.Device.ID)
	case events.DeviceRemoved:
		add("device", ev.ID)
	case events.ClientUpdated:
		add("accept-inbound", onOff(ev.AcceptInbound))
	case events.CallDialed:
		add("from", party(ev.Caller, ev.CallerDevice))
		add("to", party(ev.Callee, ""))
		add("dir", ev.Direction.String())
		if ev.CallerID != "" && ev.CallerID != ev.Caller.Number {
			add("caller-id", ev.CallerID)
		}
	case events.CallRinging:
		add("devices", strings.Join(ev.Devices, ","))
		if ev.Deadline != 0 {
			add("timeout", time.Duration(ev.Deadline-env.Time).String())
		}
	case events.CallAnswered:
		add("device", ev.Device)
	case events.CallHeld:
		add("by", ev.By.String())
	case events.CallResumed:
		add("by", ev.By.String())
	case events.CallMuted:
		add("side", ev.Side.String())
	case events.CallUnmuted:
		add("side", ev.Side.String())
	case events.CallEnded:
		add("reason", ev.Reason.String())
		add("by", ev.By.String())
		if ev.Missed {
			w = append(w, "missed")
		}
	}
	return strings.Join(w, " ")
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// callState prints a call as an expectation reads it: "<state> from=… to=…
// caller-id=… caller-name=… ringing=… answered=… held-by=… muted=… ignored
// reason=… by=… missed" (spaces in a name become underscores).
func callState(c *engine.Call) string {
	w := []string{string(c.State)}
	add := func(k, v string) {
		if v != "" {
			w = append(w, k+"="+v)
		}
	}
	add("from", party(c.Caller, c.CallerDevice))
	add("to", party(c.Callee, ""))
	add("caller-id", c.CallerID)
	if c.Caller.Name != "" {
		add("caller-name", strings.ReplaceAll(c.Caller.Name, " ", "_"))
	}
	add("ringing", strings.Join(c.RingingDevices, ","))
	add("answered", c.AnsweredDevice)
	add("held-by", sides(c.HeldByCaller, c.HeldByCallee))
	add("muted", sides(c.MutedCaller, c.MutedCallee))
	if c.Ignored {
		w = append(w, "ignored")
	}
	if c.State == engine.Ended {
		add("reason", c.Reason.String())
		add("by", c.EndedBy.String())
		if c.Missed {
			w = append(w, "missed")
		}
	}
	return strings.Join(w, " ")
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

// clientState prints a client: "<state> devices=… ext=… numbers=… calls=…".
func clientState(c *engine.Client, calls []string) string {
	w := []string{string(c.State)}
	add := func(k, v string) {
		if v != "" {
			w = append(w, k+"="+v)
		}
	}
	ids := make([]string, len(c.Devices))
	for i, d := range c.Devices {
		ids[i] = d.ID
	}
	add("devices", strings.Join(ids, ","))
	add("ext", strings.Join(c.Extensions, ","))
	add("numbers", strings.Join(c.Numbers, ","))
	slices.Sort(calls)
	add("calls", strings.Join(calls, ","))
	if c.State == fsm.ClientActive && !c.AcceptInbound {
		add("accept-inbound", "off")
	}
	return strings.Join(w, " ")
}
