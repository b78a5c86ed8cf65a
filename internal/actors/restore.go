package actors

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/callengine/callengine/fsm"
)

// RestoreCall starts the actor of a call the engine restored from the
// journal: stream is the call's stream (the actor's name), c its state,
// which the actor copies before RestoreCall returns. The call's pending
// deadline (ring timeout, voicemail limit) is armed on the clock before
// RestoreCall returns, from the caller's goroutine: calls restored one after
// the other in the journal's order register their timers in that order.
func RestoreCall(root *actor.RootContext, deps *Deps, stream string, c *fsm.Call) (*actor.PID, error) {
	deps.hosts()
	return deps.calls.restore(root, stream, c)
}
