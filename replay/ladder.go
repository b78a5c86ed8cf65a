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
	return t >= events.TypeCallDialed && t <= events.TypeCallEnded || t >= events.TypeCallDigits && t <= events.TypeCallJoined ||
		t == events.TypeCallLegRecorded || t == events.TypeCallLeftConference
}

// buildLadder checks envs and derives the lanes, arrows and header.
func buildLadder(title string, envs []events.Envelope) (ladderPage, error) {
	stream, own, err := checkLadder(envs)
	if err != nil {
		return ladderPage{}, err
	}
	id := strings.TrimPrefix(stream, events.CallStreamPrefix)
	if title == "" {
		title = "Call " + id
	}
	f, err := foldLadder(envs, stream, id)
	if err != nil {
		return ladderPage{}, err
	}
	lanes := newLadderLanes(own[0].Event.(events.CallDialed), own, envs, f.before)
	p := ladderPage{Title: title, Lanes: lanes.lanes}
	// Replay the transfers again for the notes: each note shows the
	// transfer as its event left it.
	noteTransfers := map[string]*fsm.Transfer{}
	setup := own[0].Time
	for i, env := range envs {
		st := &ladderStep{ladderLanes: lanes, s: &f.before[i], event: i, typ: env.Event.Type().String(),
			offset: ladderOffset(time.Duration(env.Time - setup))}
		if !st.drawCallEvent(env) {
			st.note(ladderNote(env, noteTransfers, id))
		}
		p.Rows = append(p.Rows, ladderRowOf(env, st, p.Lanes))
		p.Arrows = append(p.Arrows, st.arrows...)
		env.Type = env.Event.Type()
		p.Events = append(p.Events, env)
	}
	p.Call = ladderHeaderOf(id, f, setup, envs[len(envs)-1].Time)
	return p, nil
}

// checkLadder checks that envs are the events of one call, with events of
// transfers and groups among them, in order. It returns the call's stream
// and its events.
func checkLadder(envs []events.Envelope) (stream string, own []events.Envelope, err error) {
	if len(envs) == 0 {
		return "", nil, ladderBad("no events to draw")
	}
	stream = ladderCallStream(envs)
	if stream == "" {
		return "", nil, ladderBad("no call event to draw")
	}
	for i, env := range envs {
		note, err := checkLadderEvent(envs, i, stream, len(own) == 0)
		if err != nil {
			return "", nil, err
		}
		if note {
			continue
		}
		if n := len(own); n > 0 && env.Version != 0 && own[n-1].Version != 0 && env.Version <= own[n-1].Version {
			return "", nil, ladderBad("event %d (%s) is out of order", i+1, env.Event.Type())
		}
		own = append(own, env)
	}
	return stream, own, nil
}

// ladderCallStream returns the call's stream: the first one that is not a
// transfer's or a group's (events of those are drawn as notes), or "".
func ladderCallStream(envs []events.Envelope) string {
	for _, env := range envs {
		if k, _ := kindOf(env.Stream); k != transferStream && k != groupStream {
			return env.Stream
		}
	}
	return ""
}

// checkLadderEvent checks envs[i] against the call's stream and the event
// before it; first says that no event of the call came before it. It
// reports whether the event is drawn as a note.
func checkLadderEvent(envs []events.Envelope, i int, stream string, first bool) (note bool, err error) {
	env := envs[i]
	kind, _ := kindOf(env.Stream)
	switch {
	case env.Stream == stream:
	case kind == transferStream || kind == groupStream:
		note = true
	default:
		return false, ladderBad("events of several streams (%q and %q): a ladder shows one call", stream, env.Stream)
	}
	if env.Event == nil {
		if first && !note {
			return false, ladderBad("the first event is %s, not CallDialed", ladderTypeOf(env))
		}
		return false, ladderBad("event %d has no payload", i+1)
	}
	t := env.Event.Type()
	switch {
	case note && kind == transferStream && (t < events.TypeTransferInitiated || t > events.TypeTransferFailed),
		note && kind == groupStream && (t < events.TypeGroupDefined || t > events.TypeGroupMemberPicked):
		return false, ladderBad("event %d of %s is %s", i+1, env.Stream, t)
	case !note && first && t != events.TypeCallDialed:
		return false, ladderBad("the first event is %s, not CallDialed", t)
	case !note && !ladderCallEvent(t):
		return false, ladderBad("event %d is %s, not a call event", i+1, t)
	}
	if env.Type != 0 && env.Type != t {
		return false, ladderBad("event %d says %s but holds %s", i+1, env.Type, t)
	}
	if i > 0 {
		prev := envs[i-1]
		sameStream := prev.Stream == env.Stream
		if (sameStream && env.Version != 0 && env.Version <= prev.Version) || (env.Seq != 0 && env.Seq <= prev.Seq) || env.Time < prev.Time {
			return false, ladderBad("event %d (%s) is out of order", i+1, t)
		}
	}
	return note, nil
}

// ladderFold is what folding a ladder's events gives: the call's state
// before each event and at the end, and the transfers its notes come from.
type ladderFold struct {
	before    []fsm.Call // indexed like the events
	final     fsm.Call
	transfers map[string]*fsm.Transfer
	order     []string // transfer ids, in the order they first appear
}

// foldLadder folds the call of stream (id) and the transfers and groups of
// its notes.
func foldLadder(envs []events.Envelope, stream, id string) (ladderFold, error) {
	f := ladderFold{before: make([]fsm.Call, len(envs)), transfers: map[string]*fsm.Transfer{}}
	c := fsm.Call{ID: id}
	groups := map[string]*fsm.Group{}
	for i, env := range envs {
		f.before[i] = c.Clone()
		var err error
		switch k, sid := kindOf(env.Stream); {
		case env.Stream == stream:
			err = fsm.ApplyCall(&c, env.Event, env.Time)
		case k == transferStream:
			err = f.applyTransfer(sid, env)
		default:
			err = applyLadderGroup(groups, sid, env)
		}
		if err != nil {
			return ladderFold{}, errcode.Wrap(errcode.InvalidParams, err, fmt.Sprintf("ladder: event %d (%s) does not fold into the %s", i+1, env.Event.Type(), strings.TrimSuffix(env.Stream[:strings.IndexByte(env.Stream+"/", '/')], "/")))
		}
	}
	f.final = c
	return f, nil
}

// applyTransfer folds an event of transfer sid. A transfer given from after
// its TransferInitiated on is not folded.
func (f *ladderFold) applyTransfer(sid string, env events.Envelope) error {
	t := f.transfers[sid]
	if t == nil {
		t = &fsm.Transfer{ID: sid}
		f.transfers[sid] = t
		f.order = append(f.order, sid)
	}
	if t.Version > 0 || env.Event.Type() == events.TypeTransferInitiated {
		return fsm.ApplyTransfer(t, env.Event, env.Time)
	}
	return nil
}

// applyLadderGroup folds an event of group sid into groups.
func applyLadderGroup(groups map[string]*fsm.Group, sid string, env events.Envelope) error {
	g := groups[sid]
	if g == nil {
		// The group's stream may be given from a pick on: only what the
		// notes need is folded.
		g = &fsm.Group{ID: sid}
		groups[sid] = g
	}
	if p, ok := env.Event.(events.GroupMemberPicked); ok {
		g.Last = p.Member
		return nil
	}
	return fsm.ApplyGroup(g, env.Event, env.Time)
}

// The first two lanes.
const ladderCallerLane, ladderEngineLane = 0, 1

// ladderLanes holds the lifelines of a ladder and says which lane the
// messages of each side come from and go to.
type ladderLanes struct {
	lanes []ladderLane
	// device maps a callee device that rang to its lane.
	device map[string]int
	// calleeDefault is the first callee lane.
	calleeDefault int
	// unpark maps the index of a CallUnparked event to the lane of the party
	// that unparked the call.
	unpark map[int]int
	// taken holds the lane of a side whose party unparked the call; it
	// changes as the events are drawn.
	taken map[events.Side]int
}

// newLadderLanes places the lanes: caller, engine, callee devices in the
// order they first rang, then the parties that unparked the call.
func newLadderLanes(dialed events.CallDialed, own, envs []events.Envelope, before []fsm.Call) *ladderLanes {
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
	l := &ladderLanes{
		lanes: []ladderLane{
			{Role: "caller", Label: "caller · " + ladderPartyName(dialed.Caller), Sub: strings.Join(callerSub, " · "),
				Name: ladderLaneName(dialed.Caller, dialed.CallerDevice)},
			{Role: "engine", Label: "callengine", Sub: dialed.Direction.String() + " call", Name: "engine"},
		},
		device:        map[string]int{},
		calleeDefault: ladderEngineLane + 1,
		unpark:        map[int]int{},
		taken:         map[events.Side]int{},
	}
	l.addCallees(dialed, own)
	l.addUnparkers(envs, before)
	return l
}

// addCallees adds a lane for each callee device that rang or answered, or
// one for the callee when none did.
func (l *ladderLanes) addCallees(dialed events.CallDialed, own []events.Envelope) {
	if dialed.Callee.Client != "" || dialed.Group != "" {
		for _, env := range own {
			switch e := env.Event.(type) {
			case events.CallRinging:
				for _, d := range e.Devices {
					l.addDevice(dialed, d)
				}
			case events.CallAnswered:
				l.addDevice(dialed, e.Device)
			}
		}
	}
	if len(l.device) > 0 {
		return
	}
	sub := dialed.Callee.Number
	switch {
	case dialed.Callee.Client == "" && dialed.Group == "":
		sub = strings.TrimPrefix(sub+" · external", " · ")
	default:
		sub = strings.TrimPrefix(sub+" · no device rang", " · ")
	}
	l.lanes = append(l.lanes, ladderLane{Role: "callee", Label: "callee · " + ladderPartyName(dialed.Callee), Sub: sub,
		Name: ladderLaneName(dialed.Callee, "")})
}

// addDevice adds a lane for the callee device dev, unless it has one.
func (l *ladderLanes) addDevice(dialed events.CallDialed, dev string) {
	if _, ok := l.device[dev]; ok || dev == "" {
		return
	}
	l.device[dev] = len(l.lanes)
	callee, sub := dialed.Callee, dev
	if member, device, ok := fsm.SplitMemberDevice(dev); ok && dialed.Group != "" && dialed.Callee.Client == "" {
		// A ring-all group call rings "member/device".
		callee, sub = events.Party{Client: member}, device
	}
	if dialed.Callee.Number != "" {
		sub += " · " + dialed.Callee.Number
	}
	l.lanes = append(l.lanes, ladderLane{Role: "callee", Label: "callee · " + ladderPartyName(callee), Sub: sub,
		Name: ladderLaneName(callee, strings.TrimPrefix(dev, callee.Client+"/"))})
}

// addUnparkers adds a lane for each party that unparks the call: it takes
// the place of the side that parked it.
func (l *ladderLanes) addUnparkers(envs []events.Envelope, before []fsm.Call) {
	for i, env := range envs {
		if e, ok := env.Event.(events.CallUnparked); ok {
			side := before[i].ParkedSide.Other()
			sub := e.Device
			if e.Party.Number != "" {
				sub = strings.TrimPrefix(sub+" · "+e.Party.Number, " · ")
			}
			l.unpark[i] = len(l.lanes)
			l.lanes = append(l.lanes, ladderLane{Role: side.String(), Label: side.String() + " · " + ladderPartyName(e.Party) + " (unparked)",
				Sub: sub, Name: ladderLaneName(e.Party, e.Device)})
		}
	}
}

// laneOf returns the lane of the callee device dev.
func (l *ladderLanes) laneOf(dev string) int {
	if n, ok := l.device[dev]; ok {
		return n
	}
	return l.calleeDefault
}

// answeredLane returns the lane of the device that answered, in the state s.
func (l *ladderLanes) answeredLane(s *fsm.Call) int {
	if n, ok := l.device[s.AnsweredDevice]; ok {
		return n
	}
	return l.laneOf(s.Callee.Client + "/" + s.AnsweredDevice) // a ring-all group call
}

// calleeSource returns the callee lane a callee action comes from, in the
// state s before the event.
func (l *ladderLanes) calleeSource(s *fsm.Call) int {
	switch {
	case l.taken[events.Callee] != 0:
		return l.taken[events.Callee]
	case s.AnsweredDevice != "":
		return l.answeredLane(s)
	case len(s.Ringing) > 0:
		return l.laneOf(s.Ringing[0])
	}
	return l.calleeDefault
}

// calleeTargets returns the lanes a message to the callee goes to, in the
// state s before the event.
func (l *ladderLanes) calleeTargets(s *fsm.Call) []int {
	switch {
	case l.taken[events.Callee] != 0:
		return []int{l.taken[events.Callee]}
	case s.AnsweredDevice != "":
		return []int{l.answeredLane(s)}
	case len(s.Ringing) > 0 && !s.Ignored:
		out := make([]int, len(s.Ringing))
		for i, d := range s.Ringing {
			out[i] = l.laneOf(d)
		}
		return out
	}
	return []int{l.calleeDefault}
}

// sideLane returns the lane an action of side comes from, in the state s
// before the event.
func (l *ladderLanes) sideLane(s *fsm.Call, side events.Side) int {
	if side == events.Caller {
		if n := l.taken[events.Caller]; n != 0 {
			return n
		}
		return ladderCallerLane
	}
	return l.calleeSource(s)
}

// ladderStep collects the arrows of one event.
type ladderStep struct {
	*ladderLanes
	s      *fsm.Call // the call's state before the event
	event  int       // the event's index
	typ    string    // the event's type
	offset string    // the event's offset from the setup
	arrows []ladderArrow
}

// add adds an arrow from lane from to lane to.
func (st *ladderStep) add(from, to int, label string) {
	st.arrows = append(st.arrows, ladderArrow{Event: st.event, Type: st.typ, From: from, To: to, Label: label, Offset: st.offset})
}

// note adds a note across every lane.
func (st *ladderStep) note(label, detail string) {
	st.arrows = append(st.arrows, ladderArrow{Event: st.event, Type: st.typ, From: 0, To: len(st.lanes) - 1, Label: label, Detail: detail, Offset: st.offset, Note: true})
}

// toOther adds the arrows from the engine to the side other than by.
func (st *ladderStep) toOther(by events.Side, label string) {
	if by == events.Callee {
		st.add(ladderEngineLane, st.sideLane(st.s, events.Caller), label)
		return
	}
	for _, l := range st.calleeTargets(st.s) {
		st.add(ladderEngineLane, l, label)
	}
}

// toBoth adds the arrows from the engine to both sides.
func (st *ladderStep) toBoth(label string) {
	st.add(ladderEngineLane, st.sideLane(st.s, events.Caller), label)
	for _, l := range st.calleeTargets(st.s) {
		st.add(ladderEngineLane, l, label)
	}
}

// drawCallEvent adds the arrows of a call event. It reports false for an
// event of another stream, which is drawn as a note.
func (st *ladderStep) drawCallEvent(env events.Envelope) bool {
	typ, s := st.typ, st.s
	switch e := env.Event.(type) {
	case events.CallDialed:
		st.dialed(e)
	case events.CallRinging:
		st.ringing(e, env.Time)
	case events.CallAnswered:
		if e.Device != "" {
			st.add(st.laneOf(e.Device), ladderEngineLane, typ+" on "+e.Device)
		} else {
			st.add(st.calleeDefault, ladderEngineLane, typ)
		}
		st.add(ladderEngineLane, st.sideLane(s, events.Caller), typ)
	case events.CallHeld:
		st.add(st.sideLane(s, e.By), ladderEngineLane, typ+" by "+e.By.String())
		st.toOther(e.By, typ+" (on hold)")
	case events.CallResumed:
		st.add(st.sideLane(s, e.By), ladderEngineLane, typ+" by "+e.By.String())
		st.toOther(e.By, typ)
	case events.CallMuted:
		st.add(st.sideLane(s, e.Side), ladderEngineLane, typ+" "+e.Side.String())
	case events.CallUnmuted:
		st.add(st.sideLane(s, e.Side), ladderEngineLane, typ+" "+e.Side.String())
	case events.CallIgnored:
		st.add(st.calleeSource(s), ladderEngineLane, typ+" (devices stop ringing)")
	case events.CallDigits:
		st.add(st.sideLane(s, e.Side), ladderEngineLane, typ+" "+e.Digits)
		st.toOther(e.Side, typ+" "+e.Digits)
	case events.CallRecordingStarted:
		st.add(st.sideLane(s, e.By), ladderEngineLane, typ+" by "+e.By.String()+" ("+e.Ref+")")
	case events.CallRecordingStopped:
		st.add(st.sideLane(s, e.By), ladderEngineLane, typ+" by "+e.By.String())
	case events.CallParked:
		st.add(st.sideLane(s, e.By), ladderEngineLane, fmt.Sprintf("%s %s in slot %s by %s", typ, e.Side, e.Slot, e.By))
		st.toOther(e.By, typ+" (on hold, slot "+e.Slot+")")
	case events.CallUnparked:
		st.unparked(e)
	case events.CallJoined:
		st.add(ladderEngineLane, st.sideLane(s, events.Caller), typ+" conference "+e.Conference)
		for _, l := range st.calleeTargets(s) {
			st.add(ladderEngineLane, l, typ+" with call "+e.Peer)
		}
	case events.CallLeftConference:
		st.add(ladderEngineLane, st.sideLane(s, events.Caller), typ+" "+e.Conference+" (call "+e.Peer+" ended)")
		for _, l := range st.calleeTargets(s) {
			st.add(ladderEngineLane, l, typ+" "+e.Conference)
		}
	case events.CallEnded:
		st.ended(e)
	case events.CallLegRecorded:
		st.add(st.sideLane(s, e.Side), ladderEngineLane, fmt.Sprintf("%s %s (%s, %d bytes)", typ, e.Side, e.Adapter, len(e.Data)))
	default:
		return false
	}
	return true
}

// dialed adds the arrow of a CallDialed: caller to engine.
func (st *ladderStep) dialed(e events.CallDialed) {
	label := st.typ + " " + e.Destination
	if e.CallerID != "" && e.CallerID != e.Caller.Number {
		label += " as " + e.CallerID
	}
	if e.Transfer != "" {
		label += " (transfer " + e.Transfer + ")"
	}
	st.add(ladderCallerLane, ladderEngineLane, label)
}

// ringing adds the arrows of a CallRinging at time at: engine to each device.
func (st *ladderStep) ringing(e events.CallRinging, at int64) {
	extra := ""
	if e.Deadline != 0 {
		extra = fmt.Sprintf(" (timeout %s)", ladderOffset(time.Duration(e.Deadline - at))[1:])
	}
	if len(e.Devices) == 0 {
		st.add(ladderEngineLane, st.calleeDefault, st.typ+extra)
	}
	for _, d := range e.Devices {
		st.add(ladderEngineLane, st.laneOf(d), st.typ+" "+d+extra)
	}
}

// unparked adds the arrows of a CallUnparked: from the lane of the party
// that took the call, which from now on stands for the side that did not
// park it, and on to the parked side.
func (st *ladderStep) unparked(e events.CallUnparked) {
	l := st.unpark[st.event]
	label := st.typ + " by " + ladderPartyName(e.Party)
	if e.Device != "" {
		label += " on " + e.Device
	}
	st.add(l, ladderEngineLane, label)
	by := st.s.ParkedSide.Other()
	st.taken[by] = l
	st.toOther(by, st.typ)
}

// ended adds the arrows of a CallEnded: from the side that ended it through
// the engine to the other, or from the engine to both.
func (st *ladderStep) ended(e events.CallEnded) {
	label := st.typ + " " + e.Reason.String()
	if e.Missed {
		label += ", missed"
	}
	switch e.By {
	case events.Caller, events.Callee:
		st.add(st.sideLane(st.s, e.By), ladderEngineLane, label+" by "+e.By.String())
		st.toOther(e.By, st.typ)
	default:
		st.toBoth(label)
	}
}

// ladderRowOf returns the static table's row of env, drawn by st.
func ladderRowOf(env events.Envelope, st *ladderStep, lanes []ladderLane) ladderRow {
	row := ladderRow{Seq: env.Seq, Version: env.Version, Offset: st.offset, Time: env.At().Format("15:04:05.000"),
		Type: st.typ, Fields: ladderFields(env.Event)}
	for _, a := range st.arrows {
		if a.Note {
			row.Arrows = append(row.Arrows, strings.TrimSuffix("note: "+a.Detail, ": "))
			continue
		}
		row.Arrows = append(row.Arrows, lanes[a.From].Name+" → "+lanes[a.To].Name)
	}
	return row
}

// ladderHeaderOf summarises the call id folded in f, set up at setup, whose
// last event is at last.
func ladderHeaderOf(id string, f ladderFold, setup, last int64) ladderHeader {
	final := f.final
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
	for _, tid := range f.order {
		if t := f.transfers[tid]; t.Version > 0 {
			h.Transfers = append(h.Transfers, transferLine(t, id))
		}
	}
	return h
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
