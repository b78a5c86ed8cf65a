package actors

import (
	"log/slog"
	"sync"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/internal/aggregate"
	"github.com/callengine/callengine/journal"
)

// Deps is what every actor of an engine shares.
type Deps struct {
	Journal    *journal.Journal
	Clock      clock.Clock
	Publisher  Publisher
	Log        *slog.Logger
	Dispatcher actor.Dispatcher // nil: protoactor's default
	// Background runs the transfer actors, which carry a transfer on
	// after the command that started it was answered. Nil: Dispatcher.
	Background actor.Dispatcher
	Supervisor actor.SupervisorStrategy
	// Gone answers a message that reached an actor after it stopped (a
	// call that ended between the lookup and the delivery). Nil: such a
	// message is dropped.
	Gone func(pid *actor.PID, msg any)
	// RingTimeout, when set, gives the command a call's ring timer sends
	// instead of fsm.RingTimeout, or nil for RingTimeout itself: a
	// round-robin group call moves on to the next member (fsm.RingNext).
	// It runs on the call's actor goroutine and must not send requests to
	// the call.
	RingTimeout func(c *fsm.Call) fsm.CallCommand

	once     sync.Once
	calls    *host[fsm.Call, fsm.CallCommand, fsm.CallStatus]
	clients  *host[fsm.Client, fsm.ClientCommand, fsm.ClientStatus]
	sessions *host[fsm.Session, fsm.SessionCommand, fsm.SessionStatus]
	sessPub  SessionPublisher
}

// CallChange is one durable call event with the status before and after it.
type CallChange = aggregate.Change[fsm.CallStatus]

// Publisher hears of every durable event, in stream order, from the goroutine
// of the actor that owns the stream, before the command's caller is answered.
// It must not block and must not send requests to the calling actor.
type Publisher interface {
	PublishCall(state *fsm.Call, changes []CallChange)
	PublishClient(state *fsm.Client, envs []events.Envelope)
	PublishTransfer(state *fsm.Transfer, envs []events.Envelope)
}

// props returns the Props of an actor made by producer, with the engine's
// dispatcher (or, for a transfer, the background one), supervisor and
// mailbox.
func (d *Deps) props(producer actor.Producer, background bool) *actor.Props {
	opts := make([]actor.PropsOption, 0, 3)
	opts = append(opts, actor.WithMailbox(mailboxProducer(d.Gone)))
	if background && d.Background != nil {
		opts = append(opts, actor.WithDispatcher(d.Background))
	} else if d.Dispatcher != nil {
		opts = append(opts, actor.WithDispatcher(d.Dispatcher))
	}
	if d.Supervisor != nil {
		opts = append(opts, actor.WithSupervisor(d.Supervisor))
	}
	return actor.PropsFromProducer(producer, opts...)
}

// hosts builds the machines of the engine's aggregates, once.
func (d *Deps) hosts() {
	d.once.Do(func() {
		d.calls = newHost(d, callMachine(d))
		d.clients = newHost(d, clientMachine(d))
		d.sessions = newHost(d, sessionMachine(d))
	})
}
