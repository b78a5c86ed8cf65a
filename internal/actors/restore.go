package actors

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/callengine/callengine/fsm"
)

// RestoreCall starts the actor of a call the engine restored from the
// journal: stream is the call's stream (the actor's name), c its state,
// which the actor copies before RestoreCall returns. The call's pending
// deadline (ring timeout, voicemail limit), if any, is returned not yet
// armed: the caller Arms it. Calls may be restored in parallel; arming
// their deadlines in the journal's order registers them on the clock in
// that order on every run.
func RestoreCall(root *actor.RootContext, deps *Deps, stream string, c *fsm.Call) (*actor.PID, *PendingTimer, error) {
	deps.hosts()
	return deps.calls.restore(root, stream, c)
}
