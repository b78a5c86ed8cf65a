package replay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/callengine/callengine/actors"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

// WriteLadder writes one call as a ladder (sequence) diagram: a self-contained
// HTML page, with its CSS and script inline and no external resource, that
// opens in any browser without a network.
//
// The page has one vertical lifeline per party — the caller (client and
// device, or the external number), the engine in the middle, and each callee
// device that rang (or the callee client when none did, or the external
// callee number) — and one horizontal arrow per message an event implies, in
// event order, top to bottom: CallDialed caller→engine; CallRinging
// engine→each ringing device; CallAnswered answering device→engine and
// engine→caller; CallHeld and CallResumed the side→engine→the other side;
// CallMuted, CallUnmuted and CallIgnored the side→engine; CallEnded the side
// that ended it→engine→the other side (from the engine to both for a timeout
// or a failure). Each arrow is labelled with the event type, its key fields
// and its time offset from the setup.
//
// The events (in their JSON form, see events.Envelope.MarshalJSON) and the
// lanes and arrows derived from them are embedded as JSON in a
// <script type="application/json" id="ladder-data"> element; a small inline
// script draws the SVG from it. A header gives the call id, the parties, the
// final state and reason, and the durations; a static table lists every
// event with its arrows, for reading without the script.
//
// envs are the envelopes of one call in order (replay's Log.Envelopes gives
// them), from its CallDialed on. Bad input — no events, events of several
// streams, a first event that is not CallDialed, an event that is not a call
// event, events out of order, events that do not fold into a call — is an
// *errcode.Error with code invalid_params, and nothing is written. title is
// the page title; empty means "Call <id>".
func WriteLadder(w io.Writer, title string, envs []events.Envelope) error {
	page, err := buildLadder(title, envs)
	if err != nil {
		return err
	}
	data, err := json.Marshal(page) // escapes <, > and & as \u003c…: safe inside <script>
	if err != nil {
		return errcode.Wrap(errcode.Internal, err, "ladder: cannot encode the page data")
	}
	var buf bytes.Buffer
	if err := ladderTemplate.Execute(&buf, ladderView{ladderPage: page, Data: template.JS(data), Script: template.JS(ladderScript), CSS: template.CSS(ladderCSS)}); err != nil {
		return errcode.Wrap(errcode.Internal, err, "ladder: cannot render the page")
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return errcode.Wrap(errcode.Unavailable, err, "ladder: cannot write the page")
	}
	return nil
}

// ladderPage is what the page shows; it is also the JSON the script reads.
type ladderPage struct {
	Title  string            `json:"title"`
	Call   ladderHeader      `json:"call"`
	Lanes  []ladderLane      `json:"lanes"`
	Arrows []ladderArrow     `json:"arrows"`
	Events []events.Envelope `json:"events"`
	Rows   []ladderRow       `json:"-"` // the static table
}

// ladderHeader summarises the call.
type ladderHeader struct {
	ID        string `json:"id"`
	Caller    string `json:"caller"`
	Callee    string `json:"callee"`
	Direction string `json:"direction"`
	State     string `json:"state"`
	Reason    string `json:"reason,omitempty"`
	EndedBy   string `json:"ended_by,omitempty"`
	Missed    bool   `json:"missed,omitempty"`
	Setup     string `json:"setup"`              // RFC 3339, UTC
	Duration  string `json:"duration"`           // setup to release (or to the last event)
	Ringing   string `json:"ringing,omitempty"`  // time it rang
	Talk      string `json:"talk,omitempty"`     // connected time
	Released  string `json:"released,omitempty"` // RFC 3339, UTC
}

// ladderLane is one lifeline.
type ladderLane struct {
	Role  string `json:"role"`  // caller, engine or callee
	Label string `json:"label"` // first line: role and party
	Sub   string `json:"sub"`   // second line: device, number, kind
	Name  string `json:"name"`  // short name for text: party and device
}

// ladderArrow is one message: from lane From to lane To.
type ladderArrow struct {
	Event  int    `json:"event"` // index in events
	Type   string `json:"type"`  // the event type
	From   int    `json:"from"`
	To     int    `json:"to"`
	Label  string `json:"label"`
	Offset string `json:"offset"` // from the setup, e.g. "+1.250s"
}

// ladderRow is one line of the static table.
type ladderRow struct {
	Seq, Version uint64
	Offset, Time string
	Type, Fields string
	Arrows       []string
}

type ladderView struct {
	ladderPage
	Data   template.JS
	Script template.JS
	CSS    template.CSS
}

func ladderBad(format string, args ...any) error {
	return errcode.Newf(errcode.InvalidParams, "ladder: "+format, args...)
}

// buildLadder checks envs and derives the lanes, arrows and header.
func buildLadder(title string, envs []events.Envelope) (ladderPage, error) {
	if len(envs) == 0 {
		return ladderPage{}, ladderBad("no events to draw")
	}
	stream := envs[0].Stream
	if envs[0].Event == nil || envs[0].Event.Type() != events.TypeCallDialed {
		return ladderPage{}, ladderBad("the first event is %s, not CallDialed", ladderTypeOf(envs[0]))
	}
	for i, env := range envs {
		if env.Stream != stream {
			return ladderPage{}, ladderBad("events of several streams (%q and %q): a ladder shows one call", stream, env.Stream)
		}
		if env.Event == nil {
			return ladderPage{}, ladderBad("event %d has no payload", i+1)
		}
		if t := env.Event.Type(); t < events.TypeCallDialed || t > events.TypeCallEnded {
			return ladderPage{}, ladderBad("event %d is %s, not a call event", i+1, t)
		}
		if env.Type != 0 && env.Type != env.Event.Type() {
			return ladderPage{}, ladderBad("event %d says %s but holds %s", i+1, env.Type, env.Event.Type())
		}
		if i > 0 {
			prev := envs[i-1]
			if (env.Version != 0 && env.Version <= prev.Version) || (env.Seq != 0 && env.Seq <= prev.Seq) || env.Time < prev.Time {
				return ladderPage{}, ladderBad("event %d (%s) is out of order", i+1, env.Event.Type())
			}
		}
	}
	id := strings.TrimPrefix(stream, actors.CallStreamPrefix)
	if title == "" {
		title = "Call " + id
	}

	// Fold the call, keeping the state before each event.
	before := make([]fsm.Call, len(envs))
	c := fsm.Call{ID: id}
	for i, env := range envs {
		before[i] = c.Clone()
		if err := fsm.ApplyCall(&c, env.Event, env.Time); err != nil {
			return ladderPage{}, errcode.Wrap(errcode.InvalidParams, err, fmt.Sprintf("ladder: event %d (%s) does not fold into the call", i+1, env.Event.Type()))
		}
	}
	final := c

	p := ladderPage{Title: title}
	// Lanes: caller, engine, callee devices in the order they first rang.
	dialed := envs[0].Event.(events.CallDialed)
	callerSub := []string{}
	if dialed.CallerDevice != "" {
		callerSub = append(callerSub, dialed.CallerDevice)
	}
	if dialed.Caller.Number != "" {
		callerSub = append(callerSub, dialed.Caller.Number)
	}
	if dialed.Caller.Client == "" {
		callerSub = append(callerSub, "external")
	}
	p.Lanes = append(p.Lanes,
		ladderLane{Role: "caller", Label: "caller · " + ladderPartyName(dialed.Caller), Sub: strings.Join(callerSub, " · "),
			Name: ladderLaneName(dialed.Caller, dialed.CallerDevice)},
		ladderLane{Role: "engine", Label: "callengine", Sub: dialed.Direction.String() + " call", Name: "engine"},
	)
	const callerLane, engineLane = 0, 1
	deviceLane := map[string]int{}
	addDevice := func(dev string) {
		if _, ok := deviceLane[dev]; ok || dev == "" {
			return
		}
		deviceLane[dev] = len(p.Lanes)
		sub := dev
		if dialed.Callee.Number != "" {
			sub += " · " + dialed.Callee.Number
		}
		p.Lanes = append(p.Lanes, ladderLane{Role: "callee", Label: "callee · " + ladderPartyName(dialed.Callee), Sub: sub,
			Name: ladderLaneName(dialed.Callee, dev)})
	}
	if dialed.Callee.Client != "" {
		for _, env := range envs {
			switch e := env.Event.(type) {
			case events.CallRinging:
				for _, d := range e.Devices {
					addDevice(d)
				}
			case events.CallAnswered:
				addDevice(e.Device)
			}
		}
	}
	calleeDefault := engineLane + 1 // the first callee lane
	if len(deviceLane) == 0 {
		sub := dialed.Callee.Number
		switch {
		case dialed.Callee.Client == "":
			sub = strings.TrimPrefix(sub+" · external", " · ")
		default:
			sub = strings.TrimPrefix(sub+" · no device rang", " · ")
		}
		p.Lanes = append(p.Lanes, ladderLane{Role: "callee", Label: "callee · " + ladderPartyName(dialed.Callee), Sub: sub,
			Name: ladderLaneName(dialed.Callee, "")})
	}
	laneOf := func(dev string) int {
		if l, ok := deviceLane[dev]; ok {
			return l
		}
		return calleeDefault
	}
	// The callee lane a callee action comes from, and the lanes a message to
	// the callee goes to, in the state s before the event.
	calleeSource := func(s *fsm.Call) int {
		switch {
		case s.AnsweredDevice != "":
			return laneOf(s.AnsweredDevice)
		case len(s.Ringing) > 0:
			return laneOf(s.Ringing[0])
		}
		return calleeDefault
	}
	calleeTargets := func(s *fsm.Call) []int {
		switch {
		case s.AnsweredDevice != "":
			return []int{laneOf(s.AnsweredDevice)}
		case len(s.Ringing) > 0 && !s.Ignored:
			out := make([]int, len(s.Ringing))
			for i, d := range s.Ringing {
				out[i] = laneOf(d)
			}
			return out
		}
		return []int{calleeDefault}
	}
	sideLane := func(s *fsm.Call, side events.Side) int {
		if side == events.Caller {
			return callerLane
		}
		return calleeSource(s)
	}

	setup := envs[0].Time
	for i, env := range envs {
		s := &before[i]
		off := ladderOffset(time.Duration(env.Time - setup))
		typ := env.Event.Type().String()
		var arrows []ladderArrow
		add := func(from, to int, label string) {
			arrows = append(arrows, ladderArrow{Event: i, Type: typ, From: from, To: to, Label: label, Offset: off})
		}
		switch e := env.Event.(type) {
		case events.CallDialed:
			label := typ + " " + e.Destination
			if e.CallerID != "" && e.CallerID != e.Caller.Number {
				label += " as " + e.CallerID
			}
			add(callerLane, engineLane, label)
		case events.CallRinging:
			extra := ""
			if e.Deadline != 0 {
				extra = fmt.Sprintf(" (timeout %s)", ladderOffset(time.Duration(e.Deadline - env.Time))[1:])
			}
			if len(e.Devices) == 0 {
				add(engineLane, calleeDefault, typ+extra)
			}
			for _, d := range e.Devices {
				add(engineLane, laneOf(d), typ+" "+d+extra)
			}
		case events.CallAnswered:
			if e.Device != "" {
				add(laneOf(e.Device), engineLane, typ+" on "+e.Device)
			} else {
				add(calleeDefault, engineLane, typ)
			}
			add(engineLane, callerLane, typ)
		case events.CallHeld:
			add(sideLane(s, e.By), engineLane, typ+" by "+e.By.String())
			ladderToOther(add, s, e.By, callerLane, engineLane, calleeTargets, typ+" (on hold)")
		case events.CallResumed:
			add(sideLane(s, e.By), engineLane, typ+" by "+e.By.String())
			ladderToOther(add, s, e.By, callerLane, engineLane, calleeTargets, typ)
		case events.CallMuted:
			add(sideLane(s, e.Side), engineLane, typ+" "+e.Side.String())
		case events.CallUnmuted:
			add(sideLane(s, e.Side), engineLane, typ+" "+e.Side.String())
		case events.CallIgnored:
			add(calleeSource(s), engineLane, typ+" (devices stop ringing)")
		case events.CallEnded:
			label := typ + " " + e.Reason.String()
			if e.Missed {
				label += ", missed"
			}
			switch e.By {
			case events.Caller, events.Callee:
				add(sideLane(s, e.By), engineLane, label+" by "+e.By.String())
				ladderToOther(add, s, e.By, callerLane, engineLane, calleeTargets, typ)
			default:
				add(engineLane, callerLane, label)
				for _, l := range calleeTargets(s) {
					add(engineLane, l, label)
				}
			}
		}
		row := ladderRow{Seq: env.Seq, Version: env.Version, Offset: off, Time: env.At().Format("15:04:05.000"),
			Type: typ, Fields: ladderFields(env.Event)}
		for _, a := range arrows {
			row.Arrows = append(row.Arrows, p.Lanes[a.From].Name+" → "+p.Lanes[a.To].Name)
		}
		p.Rows = append(p.Rows, row)
		p.Arrows = append(p.Arrows, arrows...)
		env.Type = env.Event.Type()
		p.Events = append(p.Events, env)
	}

	last := envs[len(envs)-1].Time
	end := last
	if final.ReleaseAt != 0 {
		end = final.ReleaseAt
	}
	h := ladderHeader{
		ID:        id,
		Caller:    ladderPartyText(final.Caller, final.CallerDevice),
		Callee:    ladderPartyText(final.Callee, final.AnsweredDevice),
		Direction: final.Direction.String(),
		State:     string(final.Status),
		Setup:     time.Unix(0, setup).UTC().Format(time.RFC3339Nano),
		Duration:  ladderOffset(time.Duration(end - setup))[1:],
	}
	if final.Status == fsm.Ended {
		h.Reason = final.Reason.String()
		h.EndedBy = final.EndedBy.String()
		h.Missed = final.Missed
		h.Released = time.Unix(0, final.ReleaseAt).UTC().Format(time.RFC3339Nano)
	}
	if d := final.RingingDuration(); d > 0 {
		h.Ringing = ladderOffset(d)[1:]
	}
	if d := final.Duration(last); d > 0 {
		h.Talk = ladderOffset(d)[1:]
	}
	p.Call = h
	return p, nil
}

// ladderToOther draws engine → the side other than by.
func ladderToOther(add func(from, to int, label string), s *fsm.Call, by events.Side, callerLane, engineLane int, calleeTargets func(*fsm.Call) []int, label string) {
	if by == events.Callee {
		add(engineLane, callerLane, label)
		return
	}
	for _, l := range calleeTargets(s) {
		add(engineLane, l, label)
	}
}

func ladderTypeOf(env events.Envelope) string {
	if env.Event == nil {
		return "an empty event"
	}
	return env.Event.Type().String()
}

func ladderPartyName(p events.Party) string {
	switch {
	case p.Name != "":
		return p.Name
	case p.Client != "":
		return p.Client
	case p.Number != "":
		return p.Number
	}
	return "?"
}

// ladderLaneName names a lane in text: the party, and the device if any.
func ladderLaneName(p events.Party, device string) string {
	if device == "" {
		return ladderPartyName(p)
	}
	return ladderPartyName(p) + " (" + device + ")"
}

func ladderPartyText(p events.Party, device string) string {
	var parts []string
	if p.Client != "" {
		parts = append(parts, "client "+p.Client)
	} else {
		parts = append(parts, "external")
	}
	if p.Name != "" {
		parts = append(parts, p.Name)
	}
	if p.Number != "" {
		parts = append(parts, p.Number)
	}
	if device != "" {
		parts = append(parts, "device "+device)
	}
	return strings.Join(parts, " · ")
}

// ladderOffset formats a duration from the setup: "+1.250s", "+4m05.250s",
// "+1h04m05.250s".
func ladderOffset(d time.Duration) string {
	sign := "+"
	if d < 0 {
		sign, d = "-", -d
	}
	ms := d.Milliseconds()
	h, m, s, frac := ms/3600000, ms/60000%60, ms/1000%60, ms%1000
	switch {
	case h > 0:
		return fmt.Sprintf("%s%dh%02dm%02d.%03ds", sign, h, m, s, frac)
	case m > 0:
		return fmt.Sprintf("%s%dm%02d.%03ds", sign, m, s, frac)
	}
	return fmt.Sprintf("%s%d.%03ds", sign, s, frac)
}

// ladderFields is an event's payload as text for the static table.
func ladderFields(ev events.Event) string {
	b, err := json.Marshal(ev)
	if err != nil || string(b) == "{}" {
		return ""
	}
	return string(b)
}

const ladderCSS = `
:root { color-scheme: light; --ink: #1d2330; --muted: #5b6475; --line: #c9cfdb; --bg: #ffffff; --panel: #f4f6fa; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg); }
h1 { font-size: 20px; margin: 0 0 12px; }
h2 { font-size: 16px; margin: 28px 0 8px; }
dl.summary { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0 0 20px; padding: 12px 16px; background: var(--panel); border-radius: 8px; }
dl.summary dt { color: var(--muted); }
dl.summary dd { margin: 0; font-weight: 500; }
.state-ended { color: #b42318; }
.state-connected, .state-held { color: #067647; }
#ladder { margin: 0; overflow-x: auto; }
#ladder svg { display: block; background: #fff; }
#ladder .error { color: #b42318; }
svg .lane rect { fill: var(--panel); stroke: var(--line); }
svg .lane.engine rect { fill: #e8eefc; }
svg .lane text { font-size: 12px; text-anchor: middle; fill: var(--ink); }
svg .lane text.sub { fill: var(--muted); font-size: 11px; }
svg .lifeline { stroke: var(--line); stroke-width: 1.5; stroke-dasharray: 5 4; }
svg .arrow line { stroke-width: 1.8; }
svg .arrow text { font-size: 12px; text-anchor: middle; paint-order: stroke; stroke: #fff; stroke-width: 4px; stroke-linejoin: round; }
svg .arrow text.offset { text-anchor: start; fill: var(--muted); font-size: 11px; font-variant-numeric: tabular-nums; stroke: none; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 500; }
td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
td code { font-size: 12px; word-break: break-all; }
`

// ladderScript draws the SVG from the JSON in #ladder-data.
const ladderScript = `
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var COLORS = {
    CallDialed: "#1f5fd1", CallRinging: "#c4710f", CallAnswered: "#067647",
    CallHeld: "#7a3fc2", CallResumed: "#7a3fc2", CallMuted: "#5b6475", CallUnmuted: "#5b6475",
    CallIgnored: "#a15c07", CallEnded: "#b42318"
  };
  function el(name, attrs, text) {
    var e = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function draw() {
    var data = JSON.parse(document.getElementById("ladder-data").textContent);
    var fig = document.getElementById("ladder");
    var gutter = 90, laneW = 210, headH = 58, top = headH + 24, rowH = 46, bottom = 24;
    var lanes = data.lanes, arrows = data.arrows;
    var width = gutter + laneW * lanes.length + 20;
    var height = top + rowH * arrows.length + bottom;
    var x = function (i) { return gutter + laneW * i + laneW / 2; };
    var svg = el("svg", { xmlns: NS, width: width, height: height, viewBox: "0 0 " + width + " " + height,
      role: "img", "aria-label": "Ladder diagram of " + data.title });
    var defs = el("defs");
    Object.keys(COLORS).forEach(function (t) {
      var m = el("marker", { id: "head-" + t, viewBox: "0 0 10 10", refX: 10, refY: 5,
        markerWidth: 8, markerHeight: 8, orient: "auto-start-reverse" });
      m.appendChild(el("path", { d: "M0,0 L10,5 L0,10 z", fill: COLORS[t] }));
      defs.appendChild(m);
    });
    svg.appendChild(defs);
    lanes.forEach(function (lane, i) {
      var g = el("g", { "class": "lane " + lane.role, "data-lane": i });
      g.appendChild(el("line", { "class": "lifeline", x1: x(i), y1: headH, x2: x(i), y2: height - bottom / 2 }));
      g.appendChild(el("rect", { x: x(i) - laneW / 2 + 8, y: 4, width: laneW - 16, height: headH - 8, rx: 6 }));
      g.appendChild(el("text", { x: x(i), y: 26 }, lane.label));
      g.appendChild(el("text", { "class": "sub", x: x(i), y: 43 }, lane.sub));
      svg.appendChild(g);
    });
    arrows.forEach(function (a, k) {
      var y = top + rowH * k + rowH / 2 + 6;
      var color = COLORS[a.type] || "#1d2330";
      var x1 = x(a.from), x2 = x(a.to);
      var g = el("g", { "class": "arrow", "data-index": k, "data-event": a.event, "data-type": a.type,
        "data-from": a.from, "data-to": a.to });
      g.appendChild(el("text", { "class": "offset", x: 8, y: y + 4 }, a.offset));
      g.appendChild(el("line", { x1: x1, y1: y, x2: x2, y2: y, stroke: color, "marker-end": "url(#head-" + a.type + ")" }));
      g.appendChild(el("text", { "class": "label", x: (x1 + x2) / 2, y: y - 7, fill: color }, a.label));
      svg.appendChild(g);
    });
    fig.textContent = "";
    fig.appendChild(svg);
    fig.setAttribute("data-drawn", arrows.length);
  }
  try {
    draw();
  } catch (err) {
    var fig = document.getElementById("ladder");
    fig.textContent = "";
    var p = document.createElement("p");
    p.className = "error";
    p.textContent = "The diagram could not be drawn: " + err + ". The events are listed below.";
    fig.appendChild(p);
    throw err;
  }
})();
`

var ladderTemplate = template.Must(template.New("ladder").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>{{.CSS}}</style>
</head>
<body>
<header>
<h1>{{.Title}}</h1>
<dl class="summary" id="summary">
<dt>Call</dt><dd id="call-id">{{.Call.ID}}</dd>
<dt>Caller</dt><dd id="call-caller">{{.Call.Caller}}</dd>
<dt>Callee</dt><dd id="call-callee">{{.Call.Callee}}</dd>
<dt>Direction</dt><dd>{{.Call.Direction}}</dd>
<dt>Final state</dt><dd id="call-state" class="state-{{.Call.State}}">{{.Call.State}}{{if .Call.Reason}} · {{.Call.Reason}}{{end}}{{if .Call.EndedBy}} by {{.Call.EndedBy}}{{end}}{{if .Call.Missed}} · missed{{end}}</dd>
<dt>Setup</dt><dd>{{.Call.Setup}}</dd>
{{if .Call.Released}}<dt>Released</dt><dd>{{.Call.Released}}</dd>
{{end}}<dt>Duration</dt><dd id="call-duration">{{.Call.Duration}}{{if .Call.Ringing}} (rang {{.Call.Ringing}}{{if .Call.Talk}}, talked {{.Call.Talk}}{{end}}){{else if .Call.Talk}} (talked {{.Call.Talk}}){{end}}</dd>
<dt>Events</dt><dd>{{len .Events}}</dd>
</dl>
</header>
<main>
<figure id="ladder" aria-label="ladder diagram">
<noscript><p>The diagram is drawn by a script, which is off; the events are listed below.</p></noscript>
</figure>
<h2>Events</h2>
<table id="events">
<thead><tr><th>Seq</th><th>Ver</th><th>Offset</th><th>Time (UTC)</th><th>Event</th><th>Arrows</th><th>Data</th></tr></thead>
<tbody>
{{range .Rows}}<tr><td class="num">{{.Seq}}</td><td class="num">{{.Version}}</td><td class="num">{{.Offset}}</td><td class="num">{{.Time}}</td><td>{{.Type}}</td><td>{{range $i, $a := .Arrows}}{{if $i}}<br>{{end}}{{$a}}{{end}}</td><td><code>{{.Fields}}</code></td></tr>
{{end}}</tbody>
</table>
</main>
<script type="application/json" id="ladder-data">{{.Data}}</script>
<script>{{.Script}}</script>
</body>
</html>
`))
