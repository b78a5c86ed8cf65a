package engine

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
)

// Event is a durable event as subscribers and adapters receive it. Seq is its
// stable id: a consumer that sees an event twice (after re-subscribing) can
// drop it by Seq (H2).
type Event struct {
	events.Envelope
	// For call events: the call's state before and after this event (C2),
	// and the call as the command that caused the event left it.
	Prev, State CallState
	Call        *Call
	// For client events: the client after the event.
	Client *Client
	// For transfer events: the transfer after the event.
	Transfer *Transfer
	// For group events: the group after the event.
	Group *Group
	// For text message events: the message after the event.
	Message *Message
	// For session events: the session after the event.
	Session *Session
}

// CallID returns the id of the call the event belongs to, or "".
func (e *Event) CallID() string {
	if e.Call != nil {
		return e.Call.ID
	}
	return ""
}

// SDKName returns the name the client SDKs give the event (T1, T2), or ""
// for an event that has none. Unlike events.SDKName it knows the kind of
// the transfer a transfer event belongs to: a blind transfer is named
// TRANSFER_BLIND_INIT when it starts and TRANSFER_FAILED when it fails, and
// never by a warm-transfer name — its completion has no SDK name.
func (e *Event) SDKName() string {
	if t := e.Transfer; t != nil && t.Kind == events.Blind {
		switch e.Type {
		case events.TypeTransferInitiated, events.TypeTransferFailed:
			return events.SDKName(e.Event)
		}
		return ""
	}
	return events.SDKName(e.Event)
}

// Filter selects events. Empty fields select everything; a set field must
// match. Clients matches the events of a client's own stream and of every
// call the client is a party of; Lines matches calls by the caller's or the
// callee's number or extension.
type Filter struct {
	Clients []string
	Calls   []string
	Lines   []string
	Types   []events.Type
	// Presence adds the PresenceChanged notices of the clients the filter
	// selects (CL8). They are left out otherwise, unless Types lists
	// events.TypePresenceChanged.
	Presence bool
}

func (f *Filter) match(ev *Event) bool {
	if len(f.Types) > 0 && !slices.Contains(f.Types, ev.Type) {
		return false
	}
	if ev.Type == events.TypePresenceChanged && !f.Presence && len(f.Types) == 0 {
		return false
	}
	if c := ev.Call; c != nil {
		if len(f.Calls) > 0 && !slices.Contains(f.Calls, c.ID) {
			return false
		}
		if len(f.Clients) > 0 && !slices.Contains(f.Clients, c.Caller.Client) && !slices.Contains(f.Clients, c.Callee.Client) &&
			!slices.ContainsFunc(c.RangMembers, func(m string) bool { return slices.Contains(f.Clients, m) }) &&
			!slices.ContainsFunc(c.Tried, func(m string) bool { return slices.Contains(f.Clients, m) }) {
			return false
		}
		if len(f.Lines) > 0 && !slices.Contains(f.Lines, c.Caller.Number) && !slices.Contains(f.Lines, c.Callee.Number) &&
			!(slices.Contains(f.Lines, CallparkLine) && matchesCallpark(ev)) {
			return false
		}
		return true
	}
	if t := ev.Transfer; t != nil {
		calls := []string{t.Call, t.Consult, t.NewCall}
		if len(f.Calls) > 0 && !slices.ContainsFunc(calls, func(c string) bool { return c != "" && slices.Contains(f.Calls, c) }) {
			return false
		}
		parties := []string{t.Target.Client, t.First.Client, t.Transferor.Client, t.Transferee.Client}
		if len(f.Clients) > 0 && !slices.ContainsFunc(parties, func(c string) bool { return c != "" && slices.Contains(f.Clients, c) }) {
			return false
		}
		return len(f.Lines) == 0 || slices.Contains(f.Lines, t.Target.Number)
	}
	if m := ev.Message; m != nil {
		if len(f.Calls) > 0 || len(f.Clients) > 0 && !slices.Contains(f.Clients, m.From.Client) {
			return false
		}
		return len(f.Lines) == 0 || slices.Contains(f.Lines, m.To) || slices.Contains(f.Lines, m.From.Number)
	}
	if g := ev.Group; g != nil {
		if len(f.Calls) > 0 || len(f.Clients) > 0 && !slices.ContainsFunc(g.Members, func(m string) bool { return slices.Contains(f.Clients, m) }) {
			return false
		}
		return len(f.Lines) == 0 || slices.ContainsFunc(f.Lines, func(l string) bool {
			return slices.Contains(g.Extensions, l) || slices.Contains(g.Numbers, l)
		})
	}
	if se := ev.Session; se != nil {
		return len(f.Calls) == 0 && len(f.Lines) == 0 && (len(f.Clients) == 0 || slices.Contains(f.Clients, se.Client))
	}
	if c := ev.Client; c != nil {
		if len(f.Calls) > 0 || len(f.Lines) > 0 && !slices.ContainsFunc(f.Lines, func(l string) bool {
			return slices.Contains(c.Numbers, l) || slices.Contains(c.Extensions, l)
		}) {
			return false
		}
		return len(f.Clients) == 0 || slices.Contains(f.Clients, c.ID)
	}
	return false
}

// ErrSlowSubscriber closes a subscription that fell SubscriberBuffer events
// behind. Its code is unavailable; re-subscribe and de-duplicate by Seq.
var ErrSlowSubscriber = errcode.New(errcode.Unavailable, "subscriber fell too far behind; its subscription was closed")

// Subscription delivers the events that match its filter, in the order each
// stream produced them.
type Subscription struct {
	bus    *bus
	filter Filter
	fn     func(*Event) bool // replaces filter when set
	// view, when set, gives the event as this subscriber receives it: a
	// session on a call's caller side is told nothing of an ignore (C4).
	view    func(*Event) Event
	session string // the session a SessionEvents subscription follows
	ch      chan Event
	once    sync.Once
	mu      sync.Mutex
	err     error
	stop    func() bool // guarded by mu
	ended   bool        // guarded by mu
	gone    bool        // removed from the bus; guarded by bus.mu
}

// Events returns the channel of events. It is closed when the subscription
// ends; Err then says why.
func (s *Subscription) Events() <-chan Event { return s.ch }

// Err returns why the subscription ended: nil after Close, the context's
// error, ErrSlowSubscriber, or a closed engine.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close ends the subscription.
func (s *Subscription) Close() { s.end(nil) }

func (s *Subscription) end(err error) {
	s.once.Do(func() {
		s.mu.Lock()
		s.err, s.ended = err, true
		stop := s.stop
		s.mu.Unlock()
		s.bus.remove(s)
		if stop != nil {
			stop()
		}
		close(s.ch)
	})
}

type bus struct {
	mu     sync.Mutex // serialises publish against end
	subs   atomic.Pointer[[]*Subscription]
	buffer int
}

func newBus(buffer int) *bus {
	b := &bus{buffer: buffer}
	b.subs.Store(&[]*Subscription{})
	return b
}

func (b *bus) active() bool { return len(*b.subs.Load()) > 0 }

func (b *bus) add(ctx context.Context, f Filter) *Subscription {
	return b.addSub(ctx, &Subscription{bus: b, filter: f, ch: make(chan Event, b.buffer)})
}

// addFunc subscribes with a match function instead of a Filter; session
// names the session whose destruction ends the subscription.
func (b *bus) addFunc(ctx context.Context, match func(*Event) bool, view func(*Event) Event, session string) *Subscription {
	return b.addSub(ctx, &Subscription{bus: b, fn: match, view: view, session: session, ch: make(chan Event, b.buffer)})
}

// endSession ends the subscriptions that follow session id.
func (b *bus) endSession(id string, err error) {
	for _, s := range *b.subs.Load() {
		if s.session == id {
			s.end(err)
		}
	}
}

func (b *bus) addSub(ctx context.Context, s *Subscription) *Subscription {
	b.mu.Lock()
	cur := *b.subs.Load()
	next := append(slices.Clip(cur), s)
	b.subs.Store(&next)
	b.mu.Unlock()
	if ctx.Done() != nil {
		// The context may end (and end s) before AfterFunc returns, and
		// Close may run on another goroutine: stop is set under mu, and
		// called here when s ended first.
		stop := context.AfterFunc(ctx, func() { s.end(ctx.Err()) })
		s.mu.Lock()
		ended := s.ended
		if !ended {
			s.stop = stop
		}
		s.mu.Unlock()
		if ended {
			stop()
		}
	}
	return s
}

func (b *bus) remove(s *Subscription) {
	b.mu.Lock()
	defer b.mu.Unlock()
	cur := *b.subs.Load()
	next := slices.DeleteFunc(slices.Clone(cur), func(x *Subscription) bool { return x == s })
	b.subs.Store(&next)
	s.gone = true
}

func (b *bus) publish(ev *Event) {
	for _, s := range *b.subs.Load() {
		if s.fn != nil {
			if !s.fn(ev) {
				continue
			}
		} else if !s.filter.match(ev) {
			continue
		}
		out := *ev
		if s.view != nil {
			out = s.view(ev)
		}
		b.mu.Lock()
		if !s.gone {
			select {
			case s.ch <- out:
			default:
				b.mu.Unlock()
				s.end(ErrSlowSubscriber)
				continue
			}
		}
		b.mu.Unlock()
	}
}

func (b *bus) closeAll(err error) {
	for _, s := range *b.subs.Load() {
		s.end(err)
	}
}
