package server

import (
	"context"
	"slices"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
)

// echo answers, on its device, every call that rings the echo client, until
// ctx ends: the calls that ring it when it starts (restored ones), then
// each call its events show ringing. Before each answer, and for the live
// calls it has when it starts (restored after a restart), it calls
// OnEchoCall(id, true) — the media relay puts a party that plays back
// what it hears on the call's callee side — and OnEchoCall(id, false)
// when the call ends.
func (s *Server) echo(ctx context.Context, e *engine.Engine, client string) {
	device := client // echoSpec names the device as the client
	answered := map[string]bool{}
	hook := func(id string, live bool) {
		if f := s.OnEchoCall; f != nil {
			f(id, live)
		}
	}
	answer := func(c *engine.Call) {
		if c == nil || answered[c.ID] {
			return
		}
		if (c.State == engine.Connected || c.State == engine.Held) && c.Callee.Client == client {
			answered[c.ID] = true // answered before a restart: its echo comes back
			hook(c.ID, true)
			return
		}
		if c.State != engine.Ringing || !slices.Contains(c.RingingDevices, device) {
			return
		}
		answered[c.ID] = true
		hook(c.ID, true)
		if _, err := e.Answer(ctx, c.ID, device); err != nil {
			// The caller gave up, another member of a group answered: not
			// the echo test's business.
			lvl := s.log.Warn
			if code := errcode.CodeOf(err); code == errcode.InvalidState || code == errcode.NotFound {
				lvl = s.log.Debug
			}
			lvl("echo: cannot answer", "call", c.ID, "err", err)
			return
		}
		s.log.Debug("echo: answered", "call", c.ID)
	}
	for ctx.Err() == nil {
		sub, err := subscribe(ctx, e, engine.Filter{Clients: []string{client}})
		if err != nil {
			return // the engine is closed
		}
		// Calls that rang before the subscription (restored, or missed by a
		// subscription that fell behind).
		if calls, err := e.Calls(ctx, client); err == nil {
			for i := range calls {
				answer(&calls[i])
			}
		}
		for ev := range sub.Events() {
			answer(ev.Call)
			if ev.Call != nil && ev.Call.State == engine.Ended && answered[ev.Call.ID] {
				delete(answered, ev.Call.ID)
				hook(ev.Call.ID, false)
			}
		}
		if sub.Err() == nil || ctx.Err() != nil {
			return
		}
		s.log.Warn("echo: subscription ended; subscribing again", "err", sub.Err())
	}
}

// subscribe is e.Subscribe ended by ctx. The engine's subscription is made
// without ctx and closed when ctx ends: (*engine.bus).addSub sets
// Subscription.stop after registering context.AfterFunc, which races with a
// cancellation from another goroutine (go test -race sees it); a context
// that never ends registers nothing.
func subscribe(ctx context.Context, e *engine.Engine, f engine.Filter) (*engine.Subscription, error) {
	sub, err := e.Subscribe(context.Background(), f)
	if err != nil {
		return nil, err
	}
	context.AfterFunc(ctx, sub.Close)
	return sub, nil
}
