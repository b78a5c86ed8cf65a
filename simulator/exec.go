package simulator

import (
	"context"
	"path/filepath"
	"strings"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/fsm"
)

// exec issues one command on behalf of a client, of the far end, or of the
// operator (crash). It acts as the client's phone would: a client acts only
// on calls it is a party to, on its own side.
func (s *sim) exec(o op) error {
	if s.tokens != nil && o.client != "" {
		switch o.verb {
		case "login":
			role := engine.RoleAgent
			if o.supervisor {
				role = engine.RoleSupervisor
			}
			t, err := s.eng.IssueTokens(s.ctx, o.client, role) // the operator issues them
			if err == nil {
				s.tokens[o.client] = t
			}
			return err
		case "refresh":
			t, err := s.eng.RefreshTokens(s.ctx, s.tokens[o.client].Refresh)
			if err == nil {
				s.tokens[o.client] = t
			}
			return err
		case "register", "unregister":
			// the operator manages clients
		default:
			// The client's phone sends the command with its access token.
			saved := s.ctx
			ctx, _, err := s.eng.Authenticate(saved, s.tokens[o.client].Access)
			if err != nil {
				return err
			}
			s.ctx = ctx
			defer func() { s.ctx = saved }()
		}
	}
	e, ctx := s.eng, s.ctx
	switch o.verb {
	case "archive":
		rep, err := e.Archive(ctx, o.duration)
		if err == nil && rep.File == "" {
			s.say("~ nothing to archive; %d held back", rep.HeldBack+rep.KeptCalls+rep.Undelivered)
		} else if err == nil {
			s.say("~ archived %d calls, %d transfers, %d messages (%d records) to %s; %d held back",
				rep.Calls, rep.Transfers, rep.Messages, rep.Records, filepath.Base(rep.File), rep.HeldBack+rep.KeptCalls+rep.Undelivered)
		}
		return err
	case "login", "refresh":
		return errcode.New(errcode.Unavailable, "tokens are off in this scenario (tokens:)")
	case "crash":
		return s.crash()
	case "dial":
		s.nextLabel = o.as
		if o.as == "" {
			s.nextLabel = s.autoLabel()
		} else if _, taken := s.labels[o.as]; taken {
			return errcode.Newf(errcode.AlreadyExists, "label %q names another call", o.as)
		}
		label := s.nextLabel
		device := o.device
		if cl, err := e.Client(ctx, o.client); err == nil && device == "" && len(cl.Devices) == 1 {
			device = cl.Devices[0].ID // the client's only phone dials
		}
		c, err := e.Dial(ctx, engine.DialRequest{From: o.client, Device: device, To: o.dest, CallerID: o.callerID})
		s.nextLabel = ""
		if err == nil && s.names[c.ID] == "" {
			s.labels[label], s.names[c.ID] = c.ID, label
		}
		return err
	case "far-dial":
		label := o.as
		if label == "" {
			label = s.autoLabel()
		} else if _, taken := s.labels[label]; taken {
			return errcode.Newf(errcode.AlreadyExists, "label %q names another call", label)
		}
		_, err := s.net.send("far-dial", label, func(far engine.FarEnd) (engine.Call, error) {
			s.nextLabel = label
			c, err := far.Inbound(ctx, engine.InboundRequest{From: o.number, FromName: o.name, To: o.dest})
			s.nextLabel = ""
			if err == nil && s.names[c.ID] == "" {
				s.labels[label], s.names[c.ID] = c.ID, label
			}
			return c, err
		}, false)
		return err
	case "register":
		spec, known := s.clients[o.client]
		if !known || len(o.extensions)+len(o.numbers)+len(o.devices) > 0 || o.name != "" {
			spec = ClientSpec{ID: o.client, Name: o.name, Extensions: o.extensions, Numbers: o.numbers, Devices: o.devices}
		}
		if len(o.permissions) > 0 {
			spec.Permissions = o.permissions
		}
		_, err := e.RegisterClient(ctx, clientSpec(spec))
		if err == nil {
			s.clients[o.client] = spec
		}
		return err
	case "unregister":
		_, err := e.UnregisterClient(ctx, o.client)
		return err
	case "add-device":
		_, err := e.AddDevice(ctx, o.client, engine.Device{ID: o.device, Kind: "sim"})
		return err
	case "remove-device":
		_, err := e.RemoveDevice(ctx, o.client, o.device)
		return err
	case "accept-inbound":
		_, err := e.SetAcceptInbound(ctx, o.client, o.on)
		return err
	case "complete", "cancel":
		return s.endTransfer(o)
	case "click-to-call":
		return s.clickToCall(o)
	case "message":
		return s.message(o)
	case "unpark":
		if cl, err := e.Client(ctx, o.client); err == nil && o.device == "" && len(cl.Devices) == 1 {
			o.device = cl.Devices[0].ID // the client's only phone takes the call
		}
		if o.call == "" {
			_, err := e.UnparkSlot(ctx, o.slot, o.client, o.device)
			return err
		}
		id, err := s.callID(o.call)
		if err != nil {
			return err
		}
		_, err = e.Unpark(ctx, id, o.client, o.device) // any client may take a parked call
		return err
	case "create-session":
		return s.createSession(o)
	case "restore-session", "close-connection", "destroy-session", "subscribe", "unsubscribe", "auto-answer":
		return s.sessionCommand(o)
	case "presence":
		_, err := e.SetPresence(ctx, o.client, o.presence, o.activity)
		return err
	case "voicemail":
		_, err := e.SetVoicemail(ctx, o.client, o.on, o.maxLength)
		return err
	case "far-deliver":
		return s.farMessage(o)
	case "far-fail", "far-reject":
		if _, ok := s.msgs.byName[o.call]; ok {
			return s.farMessage(o)
		}
	}

	id, err := s.callID(o.call)
	if err != nil {
		return err
	}
	if far, ok := farCommands[o.verb]; ok {
		_, err := s.net.send(far.message, o.call, func(fe engine.FarEnd) (engine.Call, error) {
			return far.do(s, fe, id, o)
		}, false)
		return err
	}
	c, err := e.Call(ctx, id)
	if err != nil {
		return err
	}
	side := c.SideOf(o.client)
	member := side == 0 && c.State == engine.Ringing && c.Group != "" && c.Callee.Client == "" && ringsFor(&c, o.client)
	if member {
		side = engine.Callee // a member of the ring-all group the call rings
	}
	switch {
	case s.tokens != nil:
		// The command carries the client's token: the engine's access
		// control decides (a client that is no party acts as the caller).
		if side == 0 {
			side = engine.Caller
		}
	case side == 0:
		return errcode.Newf(errcode.Forbidden, "%s is not a party to call %s", o.client, o.call)
	case side != engine.Callee && (o.verb == "answer" || o.verb == "reject" || o.verb == "busy" || o.verb == "ignore"):
		return errcode.Newf(errcode.Forbidden, "%s is the caller of %s: only the callee can %s it", o.client, o.call, o.verb)
	}
	switch o.verb {
	case "answer":
		device := o.device
		switch {
		case member && device == "":
			if mine := memberDevices(&c, o.client); len(mine) == 1 {
				device = mine[0] // the member's phone that rings picks up
			}
		case member && !strings.Contains(device, "/"):
			device = o.client + "/" + device // ring-all: "member/device"
		case device == "" && len(c.RingingDevices) == 1:
			device = c.RingingDevices[0] // the phone that rings picks up
		}
		_, err = e.Answer(ctx, id, device)
	case "reject":
		_, err = e.Reject(ctx, id, false)
	case "busy":
		_, err = e.Reject(ctx, id, true)
	case "ignore":
		_, err = e.Ignore(ctx, id)
	case "hangup":
		_, err = e.Hangup(ctx, id, side)
	case "hold":
		_, err = e.Hold(ctx, id, side)
	case "resume":
		_, err = e.Resume(ctx, id, side)
	case "mute":
		_, err = e.Mute(ctx, id, side)
	case "unmute":
		_, err = e.Unmute(ctx, id, side)
	case "transfer", "consult", "supervise":
		err = s.transfer(o, id, side)
	case "park":
		_, err = e.Park(ctx, id, side, o.slot)
	case "pause":
		_, err = e.Pause(ctx, id, side)
	case "swap":
		_, err = e.Swap(ctx, o.client, id, o.device)
	case "merge":
		err = s.merge(o, id, side)
	case "dtmf":
		_, err = e.SendDigits(ctx, id, side, o.digits, engine.ToneOptions{Duration: o.duration, Gap: o.gap})
	case "record":
		_, err = e.StartRecording(ctx, id, side, o.ref)
	case "stop-recording":
		_, err = e.StopRecording(ctx, id, side)
	}
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

// transfer starts a blind, attended or supervised transfer of the other
// party of call id: the client transfers, from its side.
func (s *sim) transfer(o op, id string, side engine.Side) error {
	label, err := s.nextFree(s.transfers, o.as)
	if err != nil {
		return err
	}
	req := engine.TransferRequest{Call: id, Side: side.Other(), To: o.target, InviteTimer: o.timer}
	start := map[string]func(context.Context, engine.TransferRequest) (engine.Transfer, error){
		"transfer": s.eng.BlindTransfer, "consult": s.eng.AttendedTransfer, "supervise": s.eng.SupervisedTransfer,
	}[o.verb]
	s.transfers.next = label
	t, err := start(s.ctx, req)
	s.transfers.next = ""
	if t.ID != "" {
		s.named(s.transfers, label, t.ID)
		s.transferBy[s.transfers.byID[t.ID]] = o.client
	}
	return err
}

// endTransfer completes or cancels a transfer on behalf of the client that
// transfers.
func (s *sim) endTransfer(o op) error {
	id, err := idOf(s.transfers, "transfer", o.transfer)
	if err != nil {
		return err
	}
	t, err := s.eng.GetTransfer(s.ctx, id)
	if err != nil {
		return err
	}
	if t.Call != "" {
		c, err := s.eng.Call(s.ctx, t.Call)
		if err != nil {
			return err
		}
		by := c.Caller
		if t.Kept == engine.Caller {
			by = c.Callee
		}
		if by.Client != o.client && s.transferBy[o.transfer] != o.client {
			return errcode.Newf(errcode.Forbidden, "%s does not transfer %s: only the transferring party can %s it", o.client, o.transfer, o.verb)
		}
	}
	if o.verb == "complete" {
		_, err = s.eng.CompleteTransfer(s.ctx, id)
	} else {
		_, err = s.eng.CancelTransfer(s.ctx, id)
	}
	return err
}

// clickToCall bridges two parties (C14): the client itself and a
// destination, or — by an application — any two.
func (s *sim) clickToCall(o op) error {
	label, err := s.nextFree(s.transfers, o.as)
	if err != nil {
		return err
	}
	req := engine.ClickToCallRequest{First: o.first, FirstDevice: o.device, Second: o.target}
	if o.client != "" {
		req.First = o.client
	}
	s.transfers.next = label
	t, err := s.eng.ClickToCall(s.ctx, req)
	s.transfers.next = ""
	if t.ID != "" {
		s.named(s.transfers, label, t.ID)
		s.transferBy[s.transfers.byID[t.ID]] = o.client
	}
	return err
}

// merge joins the client's two calls into a conference of three: the other
// party of each call joins.
func (s *sim) merge(o op, id string, side engine.Side) error {
	other, err := s.callID(o.other)
	if err != nil {
		return err
	}
	c, err := s.eng.Call(s.ctx, other)
	if err != nil {
		return err
	}
	otherSide := c.SideOf(o.client)
	if otherSide == 0 {
		return errcode.Newf(errcode.Forbidden, "%s is not a party to call %s", o.client, o.other)
	}
	label, err := s.nextFree(s.confs, o.as)
	if err != nil {
		return err
	}
	s.confs.next = label
	conf, err := s.eng.Merge(s.ctx, engine.MergeRequest{Call: id, Side: side.Other(), Other: other, OtherSide: otherSide.Other()})
	s.confs.next = ""
	if conf.ID != "" {
		s.named(s.confs, label, conf.ID)
	}
	return err
}

// message sends a text message from the client (C15).
func (s *sim) message(o op) error {
	label, err := s.nextFree(s.msgs, o.as)
	if err != nil {
		return err
	}
	s.msgs.next = label
	m, err := s.eng.SendMessage(s.ctx, engine.MessageRequest{From: o.client, To: o.target, Text: o.message})
	s.msgs.next = ""
	if m.ID != "" {
		s.named(s.msgs, label, m.ID)
	}
	return err
}

// farMessage reports a text message's delivery for the far end.
func (s *sim) farMessage(o op) error {
	id, err := idOf(s.msgs, "message", o.call)
	if err != nil {
		return err
	}
	reason := ""
	if o.verb != "far-deliver" {
		reason = o.reason.String()
	}
	return s.net.result(id, o.call, o.verb == "far-deliver", reason, false)
}

// farCommands are what the far end can do to a call, and the message that
// carries each.
var farCommands = map[string]struct {
	message string
	do      func(s *sim, fe engine.FarEnd, id string, o op) (engine.Call, error)
}{
	"far-ring": {"far-ringing", func(s *sim, fe engine.FarEnd, id string, o op) (engine.Call, error) {
		return fe.FarRinging(s.ctx, id)
	}},
	"far-answer": {"far-answered", func(s *sim, fe engine.FarEnd, id string, o op) (engine.Call, error) {
		return fe.FarAnswered(s.ctx, id)
	}},
	"far-hold": {"far-hold", func(s *sim, fe engine.FarEnd, id string, o op) (engine.Call, error) {
		return fe.FarHold(s.ctx, id)
	}},
	"far-resume": {"far-resume", func(s *sim, fe engine.FarEnd, id string, o op) (engine.Call, error) {
		return fe.FarResume(s.ctx, id)
	}},
	"far-hangup":    {"far-ended", farEnd},
	"far-busy":      {"far-ended", farEnd},
	"far-reject":    {"far-ended", farEnd},
	"far-fail":      {"far-ended", farEnd},
	"far-no-answer": {"far-ended", farEnd},
}

func farEnd(s *sim, fe engine.FarEnd, id string, o op) (engine.Call, error) {
	return fe.FarEnded(s.ctx, id, o.reason)
}

// createSession opens a session for the client (CL4) and follows its events
// (SessionEvents) as the client's connection would.
func (s *sim) createSession(o op) error {
	label, err := s.nextFree(s.sessions, o.as)
	if err != nil {
		return err
	}
	s.sessions.next = label
	v, err := s.eng.CreateSession(s.ctx, o.client, engine.SessionOptions{NoAutoAnswer: o.noAuto})
	s.sessions.next = ""
	if v.ID != "" {
		s.named(s.sessions, label, v.ID)
		s.sessionOwner[label] = o.client
		s.follow(label)
	}
	return err
}

// sessionCommand runs a command on one of the client's sessions: a client
// acts on its own sessions only (forbidden otherwise).
func (s *sim) sessionCommand(o op) error {
	id, err := idOf(s.sessions, "session", o.session)
	if err != nil {
		return err
	}
	if owner := s.sessionOwner[o.session]; owner != o.client {
		return errcode.Newf(errcode.Forbidden, "session %s is %s's, not %s's", o.session, owner, o.client)
	}
	e, ctx := s.eng, s.ctx
	switch o.verb {
	case "restore-session":
		_, err = e.RestoreSession(ctx, id)
	case "close-connection":
		_, err = e.CloseConnection(ctx, id)
	case "destroy-session":
		err = e.DestroySession(ctx, id)
	case "subscribe":
		_, err = e.SubscribeLine(ctx, id, o.line)
	case "unsubscribe":
		_, err = e.UnsubscribeLine(ctx, id, o.line)
	case "auto-answer":
		_, err = e.SetAutoAnswer(ctx, id, o.on)
	}
	return err
}
