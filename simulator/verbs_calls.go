package simulator

import (
	"context"
	"strings"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/fsm"
)

// dial places a call from the client: "alice dial 102 [from DEVICE]
// [caller-id NUMBER] [as LABEL]".
type dial struct {
	client, dest     string
	device, callerID string
	as               string
}

func parseDial(a *args) (command, error) {
	if len(a.rest) == 0 {
		return nil, a.bad("dial what?")
	}
	c := &dial{client: a.who, dest: a.rest[0]}
	a.rest = a.rest[1:]
	return c, a.options(textOption("from", &c.device), textOption("caller-id", &c.callerID), labelOption(&c.as))
}

func (c *dial) run(s *sim) error {
	e, ctx := s.eng, s.ctx
	s.nextLabel = c.as
	if c.as == "" {
		s.nextLabel = s.autoLabel()
	} else if _, taken := s.labels[c.as]; taken {
		return errcode.Newf(errcode.AlreadyExists, "label %q names another call", c.as)
	}
	label := s.nextLabel
	device := c.device
	if cl, err := e.Client(ctx, c.client); err == nil && device == "" && len(cl.Devices) == 1 {
		device = cl.Devices[0].ID // the client's only phone dials
	}
	call, err := e.Dial(ctx, engine.DialRequest{From: c.client, Device: device, To: c.dest, CallerID: c.callerID})
	s.nextLabel = ""
	if err == nil && s.names[call.ID] == "" {
		s.labels[label], s.names[call.ID] = call.ID, label
	}
	return err
}

// onCall is the call a client's command acts on: "bob hold c1".
type onCall struct {
	client, call string
	verb         string
}

// callAsParty is a call as the client that acts on it sees it.
type callAsParty struct {
	id     string
	call   engine.Call
	side   engine.Side // the client's side
	member bool        // the client is a member of the ring-all group the call rings
}

// asParty finds the call and the client's side of it, as the client's phone
// would: a client acts only on calls it is a party to, on its own side, and
// only the callee answers, rejects or ignores a call (calleeOnly). With
// tokens on, the command carries the client's token and the engine's access
// control decides (a client that is no party acts as the caller).
func (c onCall) asParty(s *sim, calleeOnly bool) (callAsParty, error) {
	id, err := s.callID(c.call)
	if err != nil {
		return callAsParty{}, err
	}
	call, err := s.eng.Call(s.ctx, id)
	if err != nil {
		return callAsParty{}, err
	}
	p := callAsParty{id: id, call: call, side: call.SideOf(c.client)}
	p.member = p.side == 0 && call.State == engine.Ringing && call.Group != "" && call.Callee.Client == "" && ringsFor(&call, c.client)
	if p.member {
		p.side = engine.Callee
	}
	switch {
	case s.tokens != nil:
		if p.side == 0 {
			p.side = engine.Caller
		}
	case p.side == 0:
		return callAsParty{}, errcode.Newf(errcode.Forbidden, "%s is not a party to call %s", c.client, c.call)
	case p.side != engine.Callee && calleeOnly:
		return callAsParty{}, errcode.Newf(errcode.Forbidden, "%s is the caller of %s: only the callee can %s it", c.client, c.call, c.verb)
	}
	return p, nil
}

// oneCall reads "<verb> <call>" and nothing more.
func oneCall(a *args) (onCall, error) {
	if len(a.rest) != 1 {
		return onCall{}, a.bad("%s takes one call", a.verb)
	}
	return onCall{client: a.who, call: a.rest[0], verb: a.verb}, nil
}

// answer picks up a call that rings: "bob answer c1 [on DEVICE]".
type answer struct {
	onCall
	device string
}

func parseAnswer(a *args) (command, error) {
	if len(a.rest) == 0 {
		return nil, a.bad("answer which call?")
	}
	c := &answer{onCall: onCall{client: a.who, call: a.rest[0], verb: a.verb}}
	a.rest = a.rest[1:]
	return c, a.options(textOption("on", &c.device))
}

func (c *answer) run(s *sim) error {
	p, err := c.asParty(s, true)
	if err != nil {
		return err
	}
	device := c.device
	switch {
	case p.member && device == "":
		if mine := memberDevices(&p.call, c.client); len(mine) == 1 {
			device = mine[0] // the member's phone that rings picks up
		}
	case p.member && !strings.Contains(device, "/"):
		device = c.client + "/" + device // ring-all: "member/device"
	case device == "" && len(p.call.RingingDevices) == 1:
		device = p.call.RingingDevices[0] // the phone that rings picks up
	}
	_, err = s.eng.Answer(s.ctx, p.id, device)
	return err
}

// calleeAction is the callee's refusal of a call that rings: "bob reject
// c1", "bob busy c1", "bob ignore c1".
type calleeAction struct {
	onCall
	do func(e *engine.Engine, ctx context.Context, id string) (engine.Call, error)
}

func calleeVerb(do func(*engine.Engine, context.Context, string) (engine.Call, error)) func(*args) (command, error) {
	return func(a *args) (command, error) {
		call, err := oneCall(a)
		return calleeAction{onCall: call, do: do}, err
	}
}

func (c calleeAction) run(s *sim) error {
	p, err := c.asParty(s, true)
	if err != nil {
		return err
	}
	_, err = c.do(s.eng, s.ctx, p.id)
	return err
}

func rejectCall(e *engine.Engine, ctx context.Context, id string) (engine.Call, error) {
	return e.Reject(ctx, id, false)
}

func busyCall(e *engine.Engine, ctx context.Context, id string) (engine.Call, error) {
	return e.Reject(ctx, id, true)
}

func ignoreCall(e *engine.Engine, ctx context.Context, id string) (engine.Call, error) {
	return e.Ignore(ctx, id)
}

// sideAction is a client's command on its side of a call that takes nothing
// more: "alice hangup c1", hold, resume, mute, unmute, pause,
// stop-recording.
type sideAction struct {
	onCall
	do func(e *engine.Engine, ctx context.Context, id string, side engine.Side) (engine.Call, error)
}

func sideVerb(do func(*engine.Engine, context.Context, string, engine.Side) (engine.Call, error)) func(*args) (command, error) {
	return func(a *args) (command, error) {
		call, err := oneCall(a)
		return sideAction{onCall: call, do: do}, err
	}
}

func (c sideAction) run(s *sim) error {
	p, err := c.asParty(s, false)
	if err != nil {
		return err
	}
	_, err = c.do(s.eng, s.ctx, p.id, p.side)
	return err
}

// swap makes one of the client's calls the active one: "alice swap c2 [on
// DEVICE]".
type swap struct {
	onCall
	device string
}

func parseSwap(a *args) (command, error) {
	if len(a.rest) == 0 {
		return nil, a.bad("swap to which call?")
	}
	c := &swap{onCall: onCall{client: a.who, call: a.rest[0], verb: a.verb}}
	a.rest = a.rest[1:]
	return c, a.options(textOption("on", &c.device))
}

func (c *swap) run(s *sim) error {
	p, err := c.asParty(s, false)
	if err != nil {
		return err
	}
	_, err = s.eng.Swap(s.ctx, c.client, p.id, c.device)
	return err
}

// dtmf sends digits on a call: "alice dtmf c1 123# [duration D] [gap D]".
type dtmf struct {
	onCall
	digits string
	tones  engine.ToneOptions
}

func parseDTMF(a *args) (command, error) {
	if len(a.rest) < 2 {
		return nil, a.bad("expected dtmf <call> <digits>")
	}
	c := &dtmf{onCall: onCall{client: a.who, call: a.rest[0], verb: a.verb}, digits: a.rest[1]}
	a.rest = a.rest[2:]
	return c, a.options(durationOption("duration", &c.tones.Duration), durationOption("gap", &c.tones.Gap))
}

func (c *dtmf) run(s *sim) error {
	p, err := c.asParty(s, false)
	if err != nil {
		return err
	}
	_, err = s.eng.SendDigits(s.ctx, p.id, p.side, c.digits, c.tones)
	return err
}

// record starts recording a call: "alice record c1 [ref REF]".
type record struct {
	onCall
	ref string
}

func parseRecord(a *args) (command, error) {
	if len(a.rest) == 0 {
		return nil, a.bad("record which call?")
	}
	c := &record{onCall: onCall{client: a.who, call: a.rest[0], verb: a.verb}}
	a.rest = a.rest[1:]
	return c, a.options(textOption("ref", &c.ref))
}

func (c *record) run(s *sim) error {
	p, err := c.asParty(s, false)
	if err != nil {
		return err
	}
	_, err = s.eng.StartRecording(s.ctx, p.id, p.side, c.ref)
	return err
}

// ringsFor reports whether a ring-all group call rings a device of client
// ("member/device").
func ringsFor(c *engine.Call, client string) bool { return len(memberDevices(c, client)) > 0 }

func memberDevices(c *engine.Call, client string) []string {
	var out []string
	for _, d := range c.RingingDevices {
		if m, _, ok := fsm.SplitMemberDevice(d); ok && m == client {
			out = append(out, d)
		}
	}
	return out
}
