package simulator

import (
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
)

// exec issues one command on behalf of a client, of the far end, or of the
// operator (crash). It acts as the client's phone would: a client acts only
// on calls it is a party to, on its own side.
func (s *sim) exec(o op) error {
	e, ctx := s.eng, s.ctx
	switch o.verb {
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
	if side == 0 {
		return errcode.Newf(errcode.Forbidden, "%s is not a party to call %s", o.client, o.call)
	}
	switch o.verb {
	case "answer", "reject", "busy", "ignore":
		if side != engine.Callee {
			return errcode.Newf(errcode.Forbidden, "%s is the caller of %s: only the callee can %s it", o.client, o.call, o.verb)
		}
	}
	switch o.verb {
	case "answer":
		device := o.device
		if device == "" && len(c.RingingDevices) == 1 {
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
	}
	return err
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
