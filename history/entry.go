package history

import (
	"strings"
	"time"

	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

// Streams the projection reads; every other stream of the journal is passed
// over.
const (
	CallStreamPrefix   = events.CallStreamPrefix
	ClientStreamPrefix = events.ClientStreamPrefix
)

// Kind is what a call was for one client.
type Kind string

const (
	// Made: the client placed the call (it is the caller).
	Made Kind = "made"
	// Received: the client is the callee and answered — or the call still
	// rings, or the client took it from a park slot.
	Received Kind = "received"
	// Missed: the client is the callee and never answered: the caller gave
	// up, it rang out, the client rejected it, it went to voicemail, or
	// another member of a ring-all group answered it.
	Missed Kind = "missed"
)

// ParseKind parses "made", "received" or "missed".
func ParseKind(s string) (Kind, bool) {
	switch k := Kind(s); k {
	case Made, Received, Missed:
		return k, true
	}
	return "", false
}

// State is the state of a call as one client's history shows it. It is the
// call's state (fsm.CallStatus) while the client is on the call, with
// Voicemail while the caller leaves a message in the callee's box, and
// Ended for a client that left a call that goes on.
type State string

const (
	Connecting State = "connecting"
	Ringing    State = "ringing"
	Connected  State = "connected"
	Held       State = "held"
	Voicemail  State = "voicemail"
	Ended      State = "ended"
)

// Entry is one call in one client's history.
//
// Timestamps are the engine-clock times of the call's events, in UTC; a
// zero time is an instant that has not happened (or never will). Setup is
// the call's; Ringing is when it started to ring (zero for a client that
// took it from a park slot); Answer is when this client's side was
// connected; End is when the call ended — or when this client left a call
// that went on (a ring-all member when another member answered; a client
// that parked the call when another client took it from the slot).
type Entry struct {
	Call      string           `json:"call"`
	Client    string           `json:"client"`
	Kind      Kind             `json:"kind"`
	Side      events.Side      `json:"side"` // the side the client is (was) on
	Direction events.Direction `json:"direction"`
	// Other is the party on the other side: the caller for a received or
	// missed call, the callee (the member that answered a ring-all group
	// call, the client that took a parked call) for a made one.
	Other    events.Party `json:"other"`
	CallerID string       `json:"caller_id,omitempty"` // the number presented to the callee
	Group    string       `json:"group,omitempty"`     // the group the callee was reached through
	Transfer string       `json:"transfer,omitempty"`  // the transfer that placed the call
	State    State        `json:"state"`

	SetupAt     time.Time `json:"setup_at"`
	RingingAt   time.Time `json:"ringing_at,omitzero"`
	AnswerAt    time.Time `json:"answer_at,omitzero"`
	VoicemailAt time.Time `json:"voicemail_at,omitzero"` // when the caller reached the callee's box
	EndAt       time.Time `json:"end_at,omitzero"`
	// RingDuration runs from RingingAt to the answer, the voicemail box or
	// the end; TalkDuration from AnswerAt to the end. For an entry that
	// has not ended they run to the time of the query (Options.Now), or to
	// UpdatedAt without a clock.
	RingDuration time.Duration `json:"ring_duration_ns"`
	TalkDuration time.Duration `json:"talk_duration_ns"`

	// Reason is why the call ended as this client sees it (fsm's
	// Call.ReasonFor: a callee that never answered a call given up or rung
	// out sees missed); NoReason while it is live. A client that left a
	// call going on sees missed (a ring-all member: AnsweredBy took it) or
	// transferred (it parked the call and another client took it).
	Reason  events.Reason `json:"reason,omitempty"`
	EndedBy events.Side   `json:"ended_by,omitempty"` // the side whose action ended the call
	// Voicemail: the caller left a voicemail message in this call (C7).
	Voicemail bool `json:"voicemail,omitempty"`
	// AnsweredBy: for a member of a ring-all group that did not answer,
	// the member that did.
	AnsweredBy string `json:"answered_by,omitempty"`
	// UpdatedAt is the time of the last event that changed the entry.
	UpdatedAt time.Time `json:"updated_at"`
}

// Cursor names the entry's place in its client's history: give it as
// Query.Before to list the entries after it (older ones).
func (e *Entry) Cursor() string { return formatCursor(e.SetupAt.UnixNano(), e.Call) }

// Live reports whether the entry has not ended.
func (e *Entry) Live() bool { return e.State != Ended }

// measure sets the durations, measuring a live entry to now (zero: to
// UpdatedAt).
func (e *Entry) measure(now time.Time) {
	end := e.EndAt
	if end.IsZero() {
		end = now
		if end.IsZero() || end.Before(e.UpdatedAt) {
			end = e.UpdatedAt
		}
	}
	e.RingDuration, e.TalkDuration = 0, 0
	if !e.RingingAt.IsZero() {
		stop := end
		for _, t := range []time.Time{e.AnswerAt, e.VoicemailAt} {
			if !t.IsZero() && t.Before(stop) {
				stop = t
			}
		}
		e.RingDuration = max(stop.Sub(e.RingingAt), 0)
	}
	if !e.AnswerAt.IsZero() {
		e.TalkDuration = max(end.Sub(e.AnswerAt), 0)
	}
}

// Message is a voicemail message in a client's box (C7), named by the call
// that left it.
type Message struct {
	Call     string        `json:"call"`
	Client   string        `json:"client"` // the box's owner
	From     events.Party  `json:"from"`
	Duration time.Duration `json:"duration_ns"`
	// At is when the caller reached the box (the message's start).
	At  time.Time `json:"at"`
	New bool      `json:"new"` // not listed by a VoicemailHeard yet
}

// Counts are the numbers behind a message-waiting indicator.
type Counts struct {
	New   int `json:"new"`
	Total int `json:"total"`
}

// Op is what a Change does.
type Op uint8

const (
	PutEntry      Op = iota + 1 // write Entry (added or changed)
	DeleteEntry                 // remove Client's entry of Call
	PutMessage                  // write Message (a new voicemail message)
	HeardMessage                // Client's message of Call is no longer new
	DeleteMessage               // remove Client's message of Call
)

var opNames = [...]string{"", "put", "delete", "message", "heard", "delete-message"}

func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return "op?"
}

// Change is one write the fold asks of the store. Deletes and marks of
// entries or messages that do not exist are no-ops.
type Change struct {
	Op      Op
	Client  string
	Call    string
	Entry   Entry   // PutEntry
	Message Message // PutMessage
}

// Projection is the pure fold from journal envelopes to history changes.
// It keeps the state of the calls that have not ended (what it needs to
// turn their next event into entries); ended calls leave it. It does no
// I/O and reads no clock: the same envelopes in the same order give the
// same changes. Feed it every envelope of the journal in sequence order;
// envelopes of streams other than calls and clients are ignored.
//
// A Projection is not safe for concurrent use.
type Projection struct {
	live  map[string]*callState
	dirty map[string]bool // calls whose state changed since takeDirty
	out   []Change
}

// NewProjection returns a projection of an empty journal.
func NewProjection() *Projection {
	return &Projection{live: map[string]*callState{}, dirty: map[string]bool{}}
}

// LiveCalls returns how many calls the projection follows (not ended).
func (p *Projection) LiveCalls() int { return len(p.live) }

// Apply folds one envelope and returns the changes it makes, in order. The
// returned slice is reused by the next Apply.
func (p *Projection) Apply(env events.Envelope) []Change {
	p.out = p.out[:0]
	switch {
	case strings.HasPrefix(env.Stream, CallStreamPrefix):
		p.applyCall(env.Stream[len(CallStreamPrefix):], env)
	case strings.HasPrefix(env.Stream, ClientStreamPrefix):
		p.applyClient(env.Stream[len(ClientStreamPrefix):], env)
	}
	return p.out
}

// role is how a client came to be in a call.
type role uint8

const (
	roleParty    role = iota // caller or callee as dialed (or the ring-all member that answered)
	roleMember               // rung by a ring-all group call, not (yet) the answerer
	roleUnparked             // took the call from a park slot
)

// participant is one client of a call.
type participant struct {
	Client     string        `json:"client"`
	Side       events.Side   `json:"side"`
	Role       role          `json:"role,omitempty"`
	Joined     int64         `json:"joined,omitempty"`      // roleUnparked: when it took the call
	Left       int64         `json:"left,omitempty"`        // when it left a call that went on; 0 while on it
	LeftReason events.Reason `json:"left_reason,omitempty"` // what it sees then
	AnsweredBy string        `json:"answered_by,omitempty"`
	Hidden     bool          `json:"hidden,omitempty"` // it deleted the call from its history
}

// callState is what the fold keeps of a live call.
type callState struct {
	ID         string           `json:"id"`
	Caller     events.Party     `json:"caller"`
	Callee     events.Party     `json:"callee"`
	CallerID   string           `json:"caller_id,omitempty"`
	Direction  events.Direction `json:"direction"`
	Group      string           `json:"group,omitempty"`
	Transfer   string           `json:"transfer,omitempty"`
	RingAll    bool             `json:"ring_all,omitempty"`
	Setup      int64            `json:"setup"`
	Ringing    int64            `json:"ringing,omitempty"`
	Answer     int64            `json:"answer,omitempty"`
	Voicemail  int64            `json:"voicemail,omitempty"`
	End        int64            `json:"end,omitempty"`
	Updated    int64            `json:"updated"`
	Answerer   string           `json:"answerer,omitempty"` // the callee client whose answer connected the call
	HeldCaller bool             `json:"held_caller,omitempty"`
	HeldCallee bool             `json:"held_callee,omitempty"`
	ParkedSide events.Side      `json:"parked_side,omitempty"`
	Message    bool             `json:"message,omitempty"`
	Reason     events.Reason    `json:"reason,omitempty"`
	By         events.Side      `json:"by,omitempty"`
	Missed     bool             `json:"missed,omitempty"`
	Parts      []participant    `json:"parts,omitempty"`

	dirty bool // in Projection.dirty
}

func (c *callState) party(s events.Side) events.Party {
	if s == events.Callee {
		return c.Callee
	}
	return c.Caller
}

func (c *callState) setParty(s events.Side, p events.Party) {
	if s == events.Callee {
		c.Callee = p
	} else {
		c.Caller = p
	}
}

func (c *callState) part(client string) *participant {
	for i := range c.Parts {
		if c.Parts[i].Client == client {
			return &c.Parts[i]
		}
	}
	return nil
}

// join adds a participant, unless the client is one already.
func (c *callState) join(p participant) *participant {
	if p.Client == "" {
		return nil
	}
	if old := c.part(p.Client); old != nil {
		return old
	}
	c.Parts = append(c.Parts, p)
	return &c.Parts[len(c.Parts)-1]
}

// status is the call's state while a client is on it.
func (c *callState) status() State {
	switch {
	case c.End != 0:
		return Ended
	case c.Voicemail != 0:
		return Voicemail
	case c.HeldCaller || c.HeldCallee:
		return Held
	case c.Answer != 0:
		return Connected
	case c.Ringing != 0:
		return Ringing
	}
	return Connecting
}

func instant(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// entry is participant p's view of the call.
func (c *callState) entry(p *participant) Entry {
	e := Entry{
		Call: c.ID, Client: p.Client, Side: p.Side, Direction: c.Direction,
		Other: c.party(p.Side.Other()), CallerID: c.CallerID, Group: c.Group, Transfer: c.Transfer,
		SetupAt: instant(c.Setup), RingingAt: instant(c.Ringing), VoicemailAt: instant(c.Voicemail),
		EndAt: instant(c.End), EndedBy: c.By, Voicemail: c.Message, AnsweredBy: p.AnsweredBy,
		UpdatedAt: instant(c.Updated),
	}
	answered := false
	switch {
	case p.Role == roleUnparked:
		e.Kind, answered = Received, true
		e.RingingAt, e.AnswerAt = time.Time{}, instant(p.Joined)
	case p.Side == events.Caller:
		e.Kind = Made
		e.AnswerAt = instant(c.Answer)
		answered = c.Answer != 0
	case p.Role == roleParty && c.Answer != 0 && (c.Answerer == "" || c.Answerer == p.Client):
		e.Kind, answered = Received, true
		e.AnswerAt = instant(c.Answer)
	case p.Left != 0 || c.End != 0 || c.Voicemail != 0:
		e.Kind = Missed // a call in the callee's box is never answered
	default:
		e.Kind = Received // still ringing: not missed yet
	}
	switch {
	case p.Left != 0:
		e.State, e.EndAt, e.Reason, e.EndedBy = Ended, instant(p.Left), p.LeftReason, events.NoSide
	case c.End != 0:
		e.State, e.Reason = Ended, c.Reason
		if p.Side == events.Callee && c.Missed && !answered {
			e.Reason = events.Missed // fsm.Call.ReasonFor
		}
	default:
		e.State = c.status()
	}
	e.measure(time.Time{})
	return e
}

// emit writes the entries of every participant still on the call (or that
// just left it: force).
func (p *Projection) emit(c *callState, force *participant) {
	for i := range c.Parts {
		pt := &c.Parts[i]
		if pt.Hidden || pt.Left != 0 && pt != force {
			continue
		}
		p.out = append(p.out, Change{Op: PutEntry, Client: pt.Client, Call: c.ID, Entry: c.entry(pt)})
	}
}

func (p *Projection) applyCall(id string, env events.Envelope) {
	at := env.Time
	if d, ok := env.Event.(events.CallDialed); ok {
		c := &callState{
			ID: id, Caller: d.Caller, Callee: d.Callee, CallerID: d.CallerID, Direction: d.Direction,
			Group: d.Group, Transfer: d.Transfer, RingAll: d.Group != "" && d.Callee.Client == "",
			Setup: at, Updated: at,
		}
		c.join(participant{Client: d.Caller.Client, Side: events.Caller})
		c.join(participant{Client: d.Callee.Client, Side: events.Callee})
		p.live[id] = c
		p.markDirty(id, c)
		p.emit(c, nil)
		return
	}
	c := p.live[id]
	if c == nil {
		return // a call the projection never saw dialed (archived, or a torn journal)
	}
	var left []*participant // participants that leave the call with this event
	switch e := env.Event.(type) {
	case events.CallRinging:
		if c.Ringing == 0 {
			c.Ringing = at
		}
		if c.RingAll {
			for _, dev := range e.Devices {
				if m, _, ok := fsm.SplitMemberDevice(dev); ok {
					c.join(participant{Client: m, Side: events.Callee, Role: roleMember})
				}
			}
		}
	case events.CallAnswered:
		c.Answer = at
		if c.RingAll {
			if m, _, ok := fsm.SplitMemberDevice(e.Device); ok {
				c.Callee.Client = m
				c.Answerer = m
				c.join(participant{Client: m, Side: events.Callee}).Role = roleParty
				for i := range c.Parts {
					pt := &c.Parts[i]
					if pt.Role == roleMember && pt.Left == 0 {
						pt.Left, pt.LeftReason, pt.AnsweredBy = at, events.Missed, m
						left = append(left, pt)
					}
				}
			}
		} else {
			c.Answerer = c.Callee.Client
		}
	case events.CallHeld:
		c.setHeld(e.By, true)
	case events.CallResumed:
		c.setHeld(e.By, false)
	case events.CallParked:
		c.setHeld(e.By, true)
		c.ParkedSide = e.Side
	case events.CallUnparked:
		by := c.ParkedSide.Other()
		if !by.Valid() {
			return
		}
		parker := c.party(by).Client
		if parker != e.Party.Client {
			if pt := c.part(parker); pt != nil && pt.Left == 0 {
				pt.Left, pt.LeftReason = at, events.Transferred
				left = append(left, pt)
			}
		}
		c.setParty(by, e.Party)
		if pt := c.part(e.Party.Client); pt != nil {
			pt.Side, pt.Left, pt.LeftReason, pt.AnsweredBy = by, 0, events.NoReason, ""
			if pt.Role != roleParty {
				pt.Role, pt.Joined = roleUnparked, at
			}
		} else {
			c.join(participant{Client: e.Party.Client, Side: by, Role: roleUnparked, Joined: at})
		}
		c.setHeld(by, false)
		c.ParkedSide = events.NoSide
	case events.CallToVoicemail:
		c.Voicemail = at
	case events.VoicemailLeft:
		c.Message = true
		start := c.Voicemail
		if start == 0 {
			start = at - e.Duration
		}
		p.out = append(p.out, Change{Op: PutMessage, Client: e.Client, Call: id, Message: Message{
			Call: id, Client: e.Client, From: e.From, Duration: time.Duration(e.Duration), At: instant(start), New: true,
		}})
	case events.CallEnded:
		c.End, c.Reason, c.By, c.Missed = at, e.Reason, e.By, e.Missed
	default:
		return // mute, DTMF, recording, ignore, join: nothing the history shows
	}
	c.Updated = at
	for _, pt := range left {
		p.out = append(p.out, Change{Op: PutEntry, Client: pt.Client, Call: id, Entry: c.entry(pt)})
	}
	p.emit(c, nil)
	p.markDirty(id, c)
	if c.End != 0 {
		delete(p.live, id)
	}
}

func (c *callState) setHeld(s events.Side, v bool) {
	switch s {
	case events.Caller:
		c.HeldCaller = v
	case events.Callee:
		c.HeldCallee = v
	}
}

func (p *Projection) applyClient(client string, env events.Envelope) {
	var calls []string
	var op Op
	switch e := env.Event.(type) {
	case events.HistoryDeleted:
		calls, op = e.Calls, DeleteEntry
	case events.VoicemailHeard:
		calls, op = e.Calls, HeardMessage
	case events.VoicemailDeleted:
		calls, op = e.Calls, DeleteMessage
	default:
		return
	}
	for _, id := range calls {
		p.out = append(p.out, Change{Op: op, Client: client, Call: id})
		if op != DeleteEntry {
			continue
		}
		// A call deleted while it goes on stays out of the client's history.
		if c := p.live[id]; c != nil {
			if pt := c.part(client); pt != nil && !pt.Hidden {
				pt.Hidden = true
				p.markDirty(id, c)
			}
		}
	}
}

// eachDirty calls fn for every call whose state changed since the last
// clearDirty, with its state (nil once it ended).
func (p *Projection) eachDirty(fn func(id string, c *callState) error) error {
	for id := range p.dirty {
		if err := fn(id, p.live[id]); err != nil {
			return err
		}
	}
	return nil
}

// markDirty records that the state of call id changed: one map write per
// call between two clearDirty, not one per event.
func (p *Projection) markDirty(id string, c *callState) {
	if !c.dirty {
		c.dirty = true
		p.dirty[id] = true
	}
}

// clearDirty forgets the calls whose state changed.
func (p *Projection) clearDirty() {
	for id := range p.dirty {
		if c := p.live[id]; c != nil {
			c.dirty = false
		}
	}
	clear(p.dirty)
}
