package actors

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/internal/aggregate"
)

// The messages of a client actor.
type (
	ClientRequest = Request[fsm.Client, fsm.ClientCommand]
	ClientResult  = Result[fsm.Client]
	GetClient     = Get[fsm.Client]
)

func clientMachine(d *Deps) *Machine[fsm.Client, fsm.ClientCommand, fsm.ClientStatus] {
	return &Machine[fsm.Client, fsm.ClientCommand, fsm.ClientStatus]{
		Kind: aggregate.Clients,
		Decide: func(_ []events.Event, c *fsm.Client, cmd fsm.ClientCommand, now int64) ([]events.Event, error) {
			return fsm.DecideClient(c, cmd, now)
		},
		Publish: func(c *fsm.Client, changes []aggregate.Change[fsm.ClientStatus]) {
			d.Publisher.PublishClient(c, aggregate.Envelopes(changes))
		},
	}
}

// SpawnClient starts the actor of client id, from initial when given and from
// the journal otherwise (and after every restart).
func SpawnClient(root *actor.RootContext, deps *Deps, id string, initial *fsm.Client) (*actor.PID, error) {
	deps.hosts()
	return deps.clients.spawn(root, id, initial)
}

// ClientActorName returns the registered name of a client's actor.
func ClientActorName(id string) string { return aggregate.Clients.StreamOf(id) }
