package actors

import (
	"context"
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

// ClientRequest asks a client actor to run a command.
type ClientRequest struct {
	Ctx     context.Context // nil: background
	Command fsm.ClientCommand
	Reply   chan ClientResult // buffered; answered exactly once
}

// ClientResult answers a ClientRequest or a GetClient.
type ClientResult struct {
	Client fsm.Client
	Events []events.Envelope
	Err    error
}

// GetClient asks a client actor for a copy of its state.
type GetClient struct{ Reply chan ClientResult }

type clientActor struct {
	deps   *Deps
	id     string
	stream string
	state  fsm.Client
	broken error
}

// SpawnClient starts the actor of client id, from initial when given and from
// the journal otherwise (and after every restart).
func SpawnClient(root *actor.RootContext, deps *Deps, id string, initial *fsm.Client) (*actor.PID, error) {
	first := initial
	props := deps.props(func() actor.Actor {
		a := &clientActor{deps: deps, id: id, stream: ClientStream(id)}
		if first != nil {
			a.state = *first
			first = nil
		} else {
			c, err := LoadClient(deps.Journal, id)
			if err != nil {
				deps.Log.Error("client stream cannot be loaded", slog.String("client", id), slog.Any("err", err))
			}
			a.state, a.broken = c, err
		}
		return a
	})
	pid, err := root.SpawnNamed(props, ClientActorName(id))
	if err != nil {
		return nil, errcode.Wrap(errcode.AlreadyExists, err, "client "+id+" is already running")
	}
	return pid, nil
}

// ClientActorName returns the registered name of a client's actor.
func ClientActorName(id string) string { return ClientStream(id) }

func (a *clientActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *ClientRequest:
		a.handle(m)
	case *GetClient:
		m.Reply <- ClientResult{Client: a.state.Clone(), Err: a.broken}
	}
}

func (a *clientActor) handle(req *ClientRequest) {
	answered := false
	reply := func(r ClientResult) {
		if req.Reply != nil && !answered {
			answered = true
			req.Reply <- r
		}
	}
	defer func() {
		if p := recover(); p != nil {
			reply(ClientResult{Err: errcode.Newf(errcode.Internal, "client %s failed: %v", a.id, p)})
			panic(p)
		}
	}()
	if a.broken != nil {
		reply(ClientResult{Err: a.broken})
		return
	}
	now := a.deps.Clock.Now().UnixNano()
	evs, err := fsm.DecideClient(&a.state, req.Command, now)
	if err != nil || len(evs) == 0 {
		reply(ClientResult{Client: a.state.Clone(), Err: err})
		return
	}
	envs, err := commit(req.Ctx, a.deps.Journal, a.stream, &a.state, a.state.Version, evs, now,
		(*fsm.Client).Clone, fsm.ApplyClient, func(c *fsm.Client) bool { return c.Status == fsm.ClientGone })
	if err != nil {
		reply(ClientResult{Client: a.state.Clone(), Err: err})
		return
	}
	a.deps.Publisher.PublishClient(&a.state, envs)
	reply(ClientResult{Client: a.state.Clone(), Events: envs})
}
