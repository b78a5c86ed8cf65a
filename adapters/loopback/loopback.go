package loopback

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
)

// Outcome is what the far end finally does with a call placed to it.
type Outcome uint8

const (
	Answer   Outcome = iota // answer after AnswerAfter
	Busy                    // answer busy after RingFor (no ringing when RingFor is 0)
	NoAnswer                // ring until the engine's ring timeout, or until RingFor (upstream gives up: no-answer)
	Fail                    // fail after RingFor (network error, invalid number)
	Reject                  // decline after RingFor
	Manual                  // do nothing: the test drives the far end by hand
)

// Behavior scripts the far end of one number.
type Behavior struct {
	Outcome     Outcome
	RingAfter   time.Duration // delay before it rings (180); negative: never rings
	AnswerAfter time.Duration // for Answer: delay from ringing to answer
	RingFor     time.Duration // for Busy, Fail, Reject, NoAnswer: delay before the outcome (0 for NoAnswer: forever)
	HangupAfter time.Duration // after answering, hang up after this long (0: never)

	// Text messages to the number (C15): delivered after MessageAfter,
	// or failed with MessageFailure when it is set.
	MessageAfter   time.Duration
	MessageFailure string
}

// Adapter is the loopback adapter. Create it with New, pass it as
// engine.Config.Adapter, script numbers with Script.
type Adapter struct {
	clock    clock.Clock
	log      *slog.Logger
	mu       sync.Mutex
	far      engine.FarEnd
	scripts  map[string]Behavior
	fallback Behavior
	timers   map[string][]clock.Timer // call id → pending actions
	received []engine.Event
	keep     bool
}

// New returns an adapter that acts on c. By default every number answers
// after ringing for one second.
func New(c clock.Clock) *Adapter {
	return &Adapter{
		clock: c, log: slog.New(slog.DiscardHandler),
		scripts:  map[string]Behavior{},
		fallback: Behavior{Outcome: Answer, AnswerAfter: time.Second},
		timers:   map[string][]clock.Timer{},
	}
}

// SetLogger sets where the adapter logs failed reports.
func (a *Adapter) SetLogger(l *slog.Logger) { a.log = l }

// Script sets the behavior of a number (E.164 or URI as the engine routes it).
func (a *Adapter) Script(number string, b Behavior) {
	a.mu.Lock()
	a.scripts[number] = b
	a.mu.Unlock()
}

// Default sets the behavior of numbers that have no script.
func (a *Adapter) Default(b Behavior) {
	a.mu.Lock()
	a.fallback = b
	a.mu.Unlock()
}

// Record makes the adapter keep every event it receives, for Received.
func (a *Adapter) Record(on bool) {
	a.mu.Lock()
	a.keep = on
	a.mu.Unlock()
}

// Received returns the events the adapter was handed while recording.
func (a *Adapter) Received() []engine.Event {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]engine.Event(nil), a.received...)
}

// Attach implements engine.Adapter.
func (a *Adapter) Attach(far engine.FarEnd) {
	a.mu.Lock()
	a.far = far
	a.mu.Unlock()
}

// HandleEvent implements engine.Adapter: a CallDialed outbound starts the
// script of the dialled number; a CallEnded cancels what is pending.
func (a *Adapter) HandleEvent(ev engine.Event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.keep {
		a.received = append(a.received, ev)
	}
	id := ev.CallID()
	switch e := ev.Event.(type) {
	case events.CallDialed:
		// A new leg to a number outside; a transferred party's leg that
		// goes on in this call (CalleeLeg) was placed already.
		if e.Direction != events.Outbound && e.Direction != events.Transit || e.CalleeLeg != "" {
			return
		}
		b, ok := a.scripts[e.Callee.Number]
		if !ok {
			b = a.fallback
		}
		a.play(id, b)
	case events.CallAnswered:
		if c := ev.Call; c != nil && (c.Direction == events.Outbound || c.Direction == events.Transit) && c.CalleeLeg == "" && c.Callee.Client == "" {
			b, ok := a.scripts[ev.Call.Callee.Number]
			if !ok {
				b = a.fallback
			}
			if b.HangupAfter > 0 {
				a.after(id, b.HangupAfter, func(far engine.FarEnd) error {
					_, err := far.FarEnded(context.Background(), id, events.Hangup)
					return err
				})
			}
		}
	case events.CallEnded:
		if e.Reason == events.Transferred {
			return // the call's far-end leg goes on in the transfer's new call
		}
		legs := []string{id}
		if c := ev.Call; c != nil {
			legs = append(legs, c.CallerLeg, c.CalleeLeg)
		}
		for _, leg := range legs {
			for _, t := range a.timers[leg] {
				t.Stop()
			}
			delete(a.timers, leg)
		}
	}
}

// play schedules the far end's script for an outbound call. Called with mu held.
func (a *Adapter) play(id string, b Behavior) {
	if b.Outcome == Manual {
		return
	}
	ring := b.RingAfter >= 0 && !(b.Outcome != Answer && b.Outcome != NoAnswer && b.RingFor == 0)
	at := time.Duration(0)
	if ring {
		at = b.RingAfter
		a.after(id, at, func(far engine.FarEnd) error {
			_, err := far.FarRinging(context.Background(), id)
			return err
		})
	}
	end := func(r events.Reason) func(engine.FarEnd) error {
		return func(far engine.FarEnd) error {
			_, err := far.FarEnded(context.Background(), id, r)
			return err
		}
	}
	switch b.Outcome {
	case Answer:
		a.after(id, at+b.AnswerAfter, func(far engine.FarEnd) error {
			_, err := far.FarAnswered(context.Background(), id)
			return err
		})
	case Busy:
		a.after(id, at+b.RingFor, end(events.Busy))
	case Fail:
		a.after(id, at+b.RingFor, end(events.Failed))
	case Reject:
		a.after(id, at+b.RingFor, end(events.Rejected))
	case NoAnswer:
		if b.RingFor > 0 {
			a.after(id, at+b.RingFor, end(events.NoAnswer))
		}
	}
}

// after runs f on the far end after d, on the adapter's clock. Called with mu held.
func (a *Adapter) after(id string, d time.Duration, f func(engine.FarEnd) error) {
	t := a.clock.AfterFunc(d, func() {
		a.mu.Lock()
		far := a.far // the engine attached now: a restarted engine takes over
		a.mu.Unlock()
		if far == nil {
			return
		}
		if err := f(far); err != nil {
			a.log.Debug("loopback far end report refused", slog.String("call", id), slog.Any("err", err))
		}
	})
	a.timers[id] = append(a.timers[id], t)
}

// SendMessage implements engine.MessageSender: the number's script says
// whether and when the message is delivered.
func (a *Adapter) SendMessage(m engine.Message) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.keep {
		a.received = append(a.received, engine.Event{Message: &m})
	}
	b, ok := a.scripts[m.To]
	if !ok {
		b = a.fallback
	}
	if b.Outcome == Manual {
		return
	}
	a.after(m.ID, b.MessageAfter, func(far engine.FarEnd) error {
		r, ok := far.(engine.MessageReporter)
		if !ok {
			return nil
		}
		_, err := r.FarMessageResult(context.Background(), m.ID, b.MessageFailure == "", b.MessageFailure)
		return err
	})
}

// Call places an inbound call from number from (with a display name) to a
// client's number or extension, as a far end would.
func (a *Adapter) Call(ctx context.Context, from, fromName, to string) (engine.Call, error) {
	a.mu.Lock()
	far := a.far
	a.mu.Unlock()
	if far == nil {
		return engine.Call{}, errNotAttached
	}
	return far.Inbound(ctx, engine.InboundRequest{From: from, FromName: fromName, To: to})
}
