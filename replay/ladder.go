package replay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

// WriteLadder writes one call as a ladder (sequence) diagram: a self-contained
// HTML page, with its CSS and script inline and no external resource, that
// opens in any browser without a network.
//
// The page has one vertical lifeline per party — the caller (client and
// device, or the external number), the engine in the middle, each callee
// device that rang (or the callee client when none did, or the external
// callee number), and each party that unparked the call — and one
// horizontal arrow per message an event implies, in event order, top to
// bottom: CallDialed caller→engine; CallRinging engine→each ringing device;
// CallAnswered answering device→engine and engine→caller; CallHeld,
// CallResumed, CallDigits and CallParked the side→engine→the other side;
// CallMuted, CallUnmuted, CallIgnored, CallRecordingStarted and
// CallRecordingStopped the side→engine; CallUnparked the party that took the
// call→engine→the parked side (the side's later messages come from that
// party's lane); CallJoined engine→both sides; CallEnded the side that ended
// it→engine→the other side (from the engine to both for a timeout or a
// failure). Each arrow is labelled with the event type, its key fields and
// its time offset from the setup.
//
// envs may also hold events of the transfers that name the call and of its
// group (Log.Timeline gives them with the call's own, in seq order): each is
// drawn as a labelled note across every lane, at its place in time — "the
// caller of this call goes to carol in call N", "joined in call N" — and the
// header describes each transfer on one line.
//
// The events (in their JSON form, see events.Envelope.MarshalJSON) and the
// lanes, arrows and notes derived from them are embedded as JSON in a
// <script type="application/json" id="ladder-data"> element; a small inline
// script draws the SVG from it. A header gives the call id, the parties, the
// final state and reason, and the durations; a static table lists every
// event with its arrows, for reading without the script.
//
// envs are the envelopes of one call in order (replay's Log.Envelopes gives
// them), from its CallDialed on, with events of transfer and group streams
// anywhere among them. Bad input — no events, events of several calls or of
// another kind of stream, a first call event that is not CallDialed, an
// event of the wrong kind for its stream, events out of order, events that
// do not fold into a call (or a transfer) — is an *errcode.Error with code
// invalid_params, and nothing is written. title is the page title; empty
// means "Call <id>".
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
	// Transfers describes each transfer whose events are drawn, one line
	// each (as the timeline's heading does).
	Transfers []string `json:"transfers,omitempty"`
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
	// Note: an event of a transfer or a group, drawn as a labelled note
	// across every lane (From is the first lane, To the last), with Detail
	// on a second line.
	Note   bool   `json:"note,omitempty"`
	Detail string `json:"detail,omitempty"`
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

// ladderCallEvent reports whether t is an event of a call's stream.
func ladderCallEvent(t events.Type) bool {
	return t >= events.TypeCallDialed && t <= events.TypeCallEnded || t >= events.TypeCallDigits && t <= events.TypeCallJoined
}

// buildLadder checks envs and derives the lanes, arrows and header.
func buildLadder(title string, envs []events.Envelope) (ladderPage, error) {
	if len(envs) == 0 {
		return ladderPage{}, ladderBad("no events to draw")
	}
	// The call's stream is the first one that is not a transfer's or a
	// group's; events of those are drawn as notes.
	stream := ""
	for _, env := range envs {
		if k, _ := kindOf(env.Stream); k != transferStream && k != groupStream {
			stream = env.Stream
			break
		}
	}
	if stream == "" {
		return ladderPage{}, ladderBad("no call event to draw")
	}
	var own []events.Envelope // the call's events
	for i, env := range envs {
		note := false
		kind, _ := kindOf(env.Stream)
		switch {
		case env.Stream == stream:
		case kind == transferStream || kind == groupStream:
			note = true
		default:
			return ladderPage{}, ladderBad("events of several streams (%q and %q): a ladder shows one call", stream, env.Stream)
		}
		if env.Event == nil {
			if len(own) == 0 && !note {
				return ladderPage{}, ladderBad("the first event is %s, not CallDialed", ladderTypeOf(env))
			}
			return ladderPage{}, ladderBad("event %d has no payload", i+1)
		}
		t := env.Event.Type()
		switch {
		case note && kind == transferStream && (t < events.TypeTransferInitiated || t > events.TypeTransferFailed),
			note && kind == groupStream && (t < events.TypeGroupDefined || t > events.TypeGroupMemberPicked):
			return ladderPage{}, ladderBad("event %d of %s is %s", i+1, env.Stream, t)
		case !note && len(own) == 0 && t != events.TypeCallDialed:
			return ladderPage{}, ladderBad("the first event is %s, not CallDialed", t)
		case !note && !ladderCallEvent(t):
			return ladderPage{}, ladderBad("event %d is %s, not a call event", i+1, t)
		}
		if env.Type != 0 && env.Type != t {
			return ladderPage{}, ladderBad("event %d says %s but holds %s", i+1, env.Type, t)
		}
		if i > 0 {
			prev := envs[i-1]
			sameStream := prev.Stream == env.Stream
			if (sameStream && env.Version != 0 && env.Version <= prev.Version) || (env.Seq != 0 && env.Seq <= prev.Seq) || env.Time < prev.Time {
				return ladderPage{}, ladderBad("event %d (%s) is out of order", i+1, t)
			}
		}
		if !note {
			if n := len(own); n > 0 && env.Version != 0 && own[n-1].Version != 0 && env.Version <= own[n-1].Version {
				return ladderPage{}, ladderBad("event %d (%s) is out of order", i+1, t)
			}
			own = append(own, env)
		}
	}
	id := strings.TrimPrefix(stream, events.CallStreamPrefix)
	if title == "" {
		title = "Call " + id
	}

	// Fold the call, keeping the state before each of its events, and the
	// transfers and groups its notes come from.
	before := make([]fsm.Call, len(envs))
	c := fsm.Call{ID: id}
	transfers := map[string]*fsm.Transfer{}
	var torder []string
	groups := map[string]*fsm.Group{}
	for i, env := range envs {
		before[i] = c.Clone()
		var err error
		switch k, sid := kindOf(env.Stream); {
		case env.Stream == stream:
			err = fsm.ApplyCall(&c, env.Event, env.Time)
		case k == transferStream:
			t := transfers[sid]
			if t == nil {
				t = &fsm.Transfer{ID: sid}
				transfers[sid] = t
				torder = append(torder, sid)
			}
			if t.Version > 0 || env.Event.Type() == events.TypeTransferInitiated {
				err = fsm.ApplyTransfer(t, env.Event, env.Time)
			}
		default:
			g := groups[sid]
			if g == nil {
				// The group's stream may be given from a pick on: only
				// what the notes need is folded.
				g = &fsm.Group{ID: sid}
				groups[sid] = g
			}
			if p, ok := env.Event.(events.GroupMemberPicked); ok {
				g.Last = p.Member
			} else {
				err = fsm.ApplyGroup(g, env.Event, env.Time)
			}
		}
		if err != nil {
			return ladderPage{}, errcode.Wrap(errcode.InvalidParams, err, fmt.Sprintf("ladder: event %d (%s) does not fold into the %s", i+1, env.Event.Type(), strings.TrimSuffix(env.Stream[:strings.IndexByte(env.Stream+"/", '/')], "/")))
		}
	}
	final := c

	p := ladderPage{Title: title}
	// Lanes: caller, engine, callee devices in the order they first rang,
	// then the parties that unparked the call.
	dialed := own[0].Event.(events.CallDialed)
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
		callee, sub := dialed.Callee, dev
		if member, device, ok := fsm.SplitMemberDevice(dev); ok && dialed.Group != "" && dialed.Callee.Client == "" {
			// A ring-all group call rings "member/device".
			callee, sub = events.Party{Client: member}, device
		}
		if dialed.Callee.Number != "" {
			sub += " · " + dialed.Callee.Number
		}
		p.Lanes = append(p.Lanes, ladderLane{Role: "callee", Label: "callee · " + ladderPartyName(callee), Sub: sub,
			Name: ladderLaneName(callee, strings.TrimPrefix(dev, callee.Client+"/"))})
	}
	if dialed.Callee.Client != "" || dialed.Group != "" {
		for _, env := range own {
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
		case dialed.Callee.Client == "" && dialed.Group == "":
			sub = strings.TrimPrefix(sub+" · external", " · ")
		default:
			sub = strings.TrimPrefix(sub+" · no device rang", " · ")
		}
		p.Lanes = append(p.Lanes, ladderLane{Role: "callee", Label: "callee · " + ladderPartyName(dialed.Callee), Sub: sub,
			Name: ladderLaneName(dialed.Callee, "")})
	}
	// A party that unparks the call takes the place of the side that
	// parked it: it gets a lane of its own.
	unparkLane := map[int]int{} // index in envs → lane
	for i, env := range envs {
		if e, ok := env.Event.(events.CallUnparked); ok {
			side := before[i].ParkedSide.Other()
			sub := e.Device
			if e.Party.Number != "" {
				sub = strings.TrimPrefix(sub+" · "+e.Party.Number, " · ")
			}
			unparkLane[i] = len(p.Lanes)
			p.Lanes = append(p.Lanes, ladderLane{Role: side.String(), Label: side.String() + " · " + ladderPartyName(e.Party) + " (unparked)",
				Sub: sub, Name: ladderLaneName(e.Party, e.Device)})
		}
	}
	laneOf := func(dev string) int {
		if l, ok := deviceLane[dev]; ok {
			return l
		}
		return calleeDefault
	}
	// taken holds the lane of a side whose party unparked the call.
	taken := map[events.Side]int{}
	// The callee lane a callee action comes from, and the lanes a message to
	// the callee goes to, in the state s before the event.
	answeredLane := func(s *fsm.Call) int {
		if l, ok := deviceLane[s.AnsweredDevice]; ok {
			return l
		}
		return laneOf(s.Callee.Client + "/" + s.AnsweredDevice) // a ring-all group call
	}
	calleeSource := func(s *fsm.Call) int {
		switch {
		case taken[events.Callee] != 0:
			return taken[events.Callee]
		case s.AnsweredDevice != "":
			return answeredLane(s)
		case len(s.Ringing) > 0:
			return laneOf(s.Ringing[0])
		}
		return calleeDefault
	}
	calleeTargets := func(s *fsm.Call) []int {
		switch {
		case taken[events.Callee] != 0:
			return []int{taken[events.Callee]}
		case s.AnsweredDevice != "":
			return []int{answeredLane(s)}
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
			if l := taken[events.Caller]; l != 0 {
				return l
			}
			return callerLane
		}
		return calleeSource(s)
	}
	toOther := func(add func(from, to int, label string), s *fsm.Call, by events.Side, label string) {
		if by == events.Callee {
			add(engineLane, sideLane(s, events.Caller), label)
			return
		}
		for _, l := range calleeTargets(s) {
			add(engineLane, l, label)
		}
	}
	toBoth := func(add func(from, to int, label string), s *fsm.Call, label string) {
		add(engineLane, sideLane(s, events.Caller), label)
		for _, l := range calleeTargets(s) {
			add(engineLane, l, label)
		}
	}

	// Replay the transfers again for the notes: each note shows the
	// transfer as its event left it.
	noteTransfers := map[string]*fsm.Transfer{}
	setup := own[0].Time
	for i, env := range envs {
		s := &before[i]
		off := ladderOffset(time.Duration(env.Time - setup))
		typ := env.Event.Type().String()
		var arrows []ladderArrow
		add := func(from, to int, label string) {
			arrows = append(arrows, ladderArrow{Event: i, Type: typ, From: from, To: to, Label: label, Offset: off})
		}
		note := func(label, detail string) {
			arrows = append(arrows, ladderArrow{Event: i, Type: typ, From: 0, To: len(p.Lanes) - 1, Label: label, Detail: detail, Offset: off, Note: true})
		}
		switch e := env.Event.(type) {
		case events.CallDialed:
			label := typ + " " + e.Destination
			if e.CallerID != "" && e.CallerID != e.Caller.Number {
				label += " as " + e.CallerID
			}
			if e.Transfer != "" {
				label += " (transfer " + e.Transfer + ")"
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
			add(engineLane, sideLane(s, events.Caller), typ)
		case events.CallHeld:
			add(sideLane(s, e.By), engineLane, typ+" by "+e.By.String())
			toOther(add, s, e.By, typ+" (on hold)")
		case events.CallResumed:
			add(sideLane(s, e.By), engineLane, typ+" by "+e.By.String())
			toOther(add, s, e.By, typ)
		case events.CallMuted:
			add(sideLane(s, e.Side), engineLane, typ+" "+e.Side.String())
		case events.CallUnmuted:
			add(sideLane(s, e.Side), engineLane, typ+" "+e.Side.String())
		case events.CallIgnored:
			add(calleeSource(s), engineLane, typ+" (devices stop ringing)")
		case events.CallDigits:
			add(sideLane(s, e.Side), engineLane, typ+" "+e.Digits)
			toOther(add, s, e.Side, typ+" "+e.Digits)
		case events.CallRecordingStarted:
			add(sideLane(s, e.By), engineLane, typ+" by "+e.By.String()+" ("+e.Ref+")")
		case events.CallRecordingStopped:
			add(sideLane(s, e.By), engineLane, typ+" by "+e.By.String())
		case events.CallParked:
			add(sideLane(s, e.By), engineLane, fmt.Sprintf("%s %s in slot %s by %s", typ, e.Side, e.Slot, e.By))
			toOther(add, s, e.By, typ+" (on hold, slot "+e.Slot+")")
		case events.CallUnparked:
			l := unparkLane[i]
			label := typ + " by " + ladderPartyName(e.Party)
			if e.Device != "" {
				label += " on " + e.Device
			}
			add(l, engineLane, label)
			by := s.ParkedSide.Other()
			taken[by] = l
			toOther(add, s, by, typ)
		case events.CallJoined:
			add(engineLane, sideLane(s, events.Caller), typ+" conference "+e.Conference)
			for _, l := range calleeTargets(s) {
				add(engineLane, l, typ+" with call "+e.Peer)
			}
		case events.CallEnded:
			label := typ + " " + e.Reason.String()
			if e.Missed {
				label += ", missed"
			}
			switch e.By {
			case events.Caller, events.Callee:
				add(sideLane(s, e.By), engineLane, label+" by "+e.By.String())
				toOther(add, s, e.By, typ)
			default:
				toBoth(add, s, label)
			}
		default:
			note(ladderNote(env, noteTransfers, id))
		}
		row := ladderRow{Seq: env.Seq, Version: env.Version, Offset: off, Time: env.At().Format("15:04:05.000"),
			Type: typ, Fields: ladderFields(env.Event)}
		for _, a := range arrows {
			if a.Note {
				row.Arrows = append(row.Arrows, strings.TrimSuffix("note: "+a.Detail, ": "))
				continue
			}
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
	for _, tid := range torder {
		if t := transfers[tid]; t.Version > 0 {
			h.Transfers = append(h.Transfers, transferLine(t, id))
		}
	}
	p.Call = h
	return p, nil
}

// ladderNote labels the note of an event of a transfer or a group on two
// lines: the event, the transfer's kind and id (the group's id), then what
// happened. ts holds the transfers as the notes so far left them; id is the
// call drawn.
func ladderNote(env events.Envelope, ts map[string]*fsm.Transfer, id string) (label, detail string) {
	typ := env.Event.Type().String()
	_, sid := kindOf(env.Stream)
	if p, ok := env.Event.(events.GroupMemberPicked); ok {
		return typ + " · group " + sid, p.Member + "'s turn (round-robin)"
	}
	if k, _ := kindOf(env.Stream); k != transferStream {
		return typ + " · group " + sid, ""
	}
	t := ts[sid]
	if t == nil {
		t = &fsm.Transfer{ID: sid}
		ts[sid] = t
	}
	fsm.ApplyTransfer(t, env.Event, env.Time) // buildLadder folded it already; an error leaves t as it was
	this := func(call string) string {
		if call == id {
			return "this call"
		}
		return "call " + call
	}
	label = fmt.Sprintf("%s · %s transfer %s", typ, t.Kind, sid)
	switch e := env.Event.(type) {
	case events.TransferInitiated:
		if e.Kind == events.ClickToCall {
			return label, fmt.Sprintf("%s is called first (%s), then joined to %s in %s", party(e.First, e.FirstDevice), this(e.Consult), party(e.Target, ""), this(e.NewCall))
		}
		detail = fmt.Sprintf("the %s of %s goes to %s", e.Kept, this(e.Call), party(e.Target, ""))
		if e.Consult != "" {
			detail += fmt.Sprintf(" after a consultation (%s)", this(e.Consult))
		}
		return label, detail + " in " + this(e.NewCall)
	case events.TransferAnswered:
		return label, this(t.Consult) + " answered"
	case events.TransferCompleted:
		return label, "joined in " + this(t.NewCall)
	case events.TransferNotAnswered:
		return label, "not answered: " + e.Reason
	case events.TransferNotCompleted:
		return label, "not completed: " + e.Reason
	case events.TransferCanceled:
		return label, "canceled: the call goes on"
	case events.TransferFailed:
		return label, strings.TrimSuffix("failed: "+e.Reason, ": ")
	}
	return label, ""
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
svg .arrow text.offset, svg .note text.offset { text-anchor: start; fill: var(--muted); font-size: 11px; font-variant-numeric: tabular-nums; stroke: none; }
svg .note rect { fill: #fff7e0; stroke: #c4710f; stroke-width: 1.2; }
svg .note text.label { font-size: 12px; font-weight: 600; text-anchor: middle; fill: #6b3d06; }
svg .note text.detail { font-size: 12px; text-anchor: middle; fill: #3d2303; }
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
    CallIgnored: "#a15c07", CallEnded: "#b42318",
    CallDigits: "#0e7490", CallRecordingStarted: "#be185d", CallRecordingStopped: "#be185d",
    CallParked: "#7a3fc2", CallUnparked: "#067647", CallJoined: "#1f5fd1"
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
      if (a.note) {
        var n = el("g", { "class": "note", "data-index": k, "data-event": a.event, "data-type": a.type,
          "data-from": a.from, "data-to": a.to });
        var left = x(a.from) - laneW / 2 + 12, right = x(a.to) + laneW / 2 - 12;
        n.appendChild(el("text", { "class": "offset", x: 8, y: y + 4 }, a.offset));
        n.appendChild(el("rect", { x: left, y: y - 20, width: right - left, height: 38, rx: 5 }));
        n.appendChild(el("text", { "class": "label", x: (left + right) / 2, y: a.detail ? y - 5 : y + 3 }, a.label));
        if (a.detail) {
          n.appendChild(el("text", { "class": "detail", x: (left + right) / 2, y: y + 11 }, a.detail));
        }
        svg.appendChild(n);
        return;
      }
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
{{range .Call.Transfers}}<dt>Transfer</dt><dd class="transfer">{{.}}</dd>
{{end}}<dt>Events</dt><dd>{{len .Events}}</dd>
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
