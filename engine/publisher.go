package engine

import (
	"context"
	"log/slog"
	"strings"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/internal/actors"
)

// publisher is the engine's side of actors.Publisher: it keeps the
// projections current and fans events out. An actor calls it with the events
// it has just journaled, on its own goroutine, before it replies: first the
// projections (projections.go), then the bus and the action log (subscribe.go,
// actionlog.go), the adapter for a call with a party outside (adapter.go),
// presence notices (presence.go), and the live transfer a call belongs to
// (transfers.go).
type publisher struct{ e *Engine }

func (p publisher) PublishCall(c *fsm.Call, changes []actors.CallChange) {
	e := p.e
	var flips presenceFlips
	// The projections first, event by event, and what an event sets off
	// besides: auto-answer on a ringing click-to-call leg, a log line.
	proj := e.projections()
	for _, ch := range changes {
		proj.applyCall(c, ch.Envelope.Event, &flips)
		switch ch.Envelope.Event.(type) {
		case events.CallRinging:
			e.autoAnswer(c)
		case events.CallEnded:
			if c.Conference != "" {
				// After this call's events: the conference dropped to
				// the two parties of the other call (T4).
				defer e.leaveConference(c)
			}
			if e.cfg.Logger.Enabled(context.Background(), slog.LevelDebug) {
				e.cfg.Logger.Debug("call ended", slog.String("call", c.ID), slog.String("reason", c.Reason.String()),
					slog.Duration("talked", c.Duration(c.ReleaseAt)))
			}
		}
	}
	defer e.publishPresence(&flips) // after the call's events
	// The transfer hears of the change after the subscribers: its own
	// events follow the call's on the bus.
	if pid := e.xfer.of(c.ID); pid != nil {
		defer p.tellTransfer(pid, c)
	}
	// Then the bus (and the action log), and the adapter for a call with a
	// party outside.
	external := c.Direction != events.Internal && e.cfg.Adapter != nil
	if external || e.observed() {
		p.emitCall(c, changes, external)
	}
}

// tellTransfer tells the transfer actor pid that call c changed. Apart
// from PublishCall, as emitCall, so that the copies of a call they make
// are on the stack only when they are needed: PublishCall runs on every
// command's path, deep in the stack of the goroutine that runs it.
func (p publisher) tellTransfer(pid *actor.PID, c *fsm.Call) {
	p.e.root.Send(pid, &actors.CallChanged{Call: c.Clone()})
}

// emitCall puts changes of call c on the bus, and hands them to the
// adapter if external.
func (p publisher) emitCall(c *fsm.Call, changes []actors.CallChange, external bool) {
	e := p.e
	view := callView(c, e.now())
	for _, ch := range changes {
		ev := Event{Envelope: ch.Envelope, Prev: ch.Prev, State: ch.Status, Call: &view}
		e.emit(&ev)
		if external {
			e.cfg.Adapter.HandleEvent(ev)
		}
	}
}

func (p publisher) PublishTransfer(t *fsm.Transfer, envs []events.Envelope) {
	if !p.e.observed() {
		return
	}
	view := transferView(t)
	for _, env := range envs {
		p.e.emit(&Event{Envelope: env, Transfer: &view})
	}
}

func (p publisher) PublishClient(c *fsm.Client, envs []events.Envelope) {
	e := p.e
	before := e.projections().applyClient(c)
	for _, env := range envs {
		switch env.Event.(type) {
		case events.ClientRegistered, events.ClientUnregistered:
			e.cfg.Logger.Info(strings.ToLower(strings.TrimPrefix(env.Type.String(), "Client"))+" client", slog.String("client", c.ID))
		}
		if _, ok := env.Event.(events.ClientUnregistered); ok {
			// After the events and the notice: the sessions hear their
			// client go before they are destroyed.
			defer e.endSessions(c.ID)
		}
	}
	if !e.observed() {
		return
	}
	view := e.viewClient(c)
	for _, env := range envs {
		e.emit(&Event{Envelope: env, Client: &view})
	}
	busy := e.live.busy(c.ID)
	if before == nil || before.EffectivePresence(busy) != c.EffectivePresence(busy) || before.Activity != c.Activity {
		e.presenceNotice(&view)
	}
}

// PublishSession keeps the registry current and tells subscribers.
func (p publisher) PublishSession(s *fsm.Session, envs []events.Envelope) {
	e := p.e
	en := e.sess.get(s.ID)
	if en != nil {
		cp := s.Clone()
		en.snap.Store(&cp)
	}
	if s.Status == fsm.SessionDestroyed {
		e.sess.drop(s.ID)
		e.cfg.Logger.Info("session destroyed", slog.String("session", s.ID), slog.String("client", s.Client), slog.Bool("expired", s.Expired))
	}
	if !e.observed() {
		return
	}
	view := sessionView(s)
	for _, env := range envs {
		e.emit(&Event{Envelope: env, Session: &view})
	}
	if s.Status == fsm.SessionDestroyed {
		e.bus.endSession(s.ID, invalidSessionErr(s))
	}
}

// leaveConference tells the other call of the conference of c, which just
// ended, that it is an ordinary two-party call again (T4): LeaveConference,
// journaled as CallLeftConference on that call. It is sent like any
// command, without waiting; a peer that ended too, or left already, refuses
// it and nothing is written.
func (e *Engine) leaveConference(c *fsm.Call) {
	if c.Peer == "" {
		return
	}
	if pid := e.live.pid(c.Peer); pid != nil {
		e.root.Send(pid, &actors.CallRequest{Command: fsm.LeaveConference{Peer: c.ID}, Reply: make(chan actors.CallResult, 1)})
	}
}
