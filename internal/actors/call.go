package actors

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/internal/aggregate"
)

// The messages of a call actor.
type (
	CallRequest = Request[fsm.Call, fsm.CallCommand]
	CallResult  = Result[fsm.Call]
	GetCall     = Get[fsm.Call]
)

// CallDeadline is the deadline a call's state holds, 0 when none: the ring
// timeout while it rings, the voicemail box's limit while the caller is in
// the box. A restored call without one needs no actor until a command
// reaches it.
func CallDeadline(c *fsm.Call) int64 {
	switch {
	case c.Status == fsm.Ringing:
		return c.RingDeadline
	case c.InVoicemail():
		return c.VoicemailDeadline
	}
	return 0
}

// callMachine runs calls: their deadline is the ring timeout while they
// ring, or the voicemail box's limit while the caller is in the box.
func callMachine(d *Deps) *Machine[fsm.Call, fsm.CallCommand, fsm.CallStatus] {
	return &Machine[fsm.Call, fsm.CallCommand, fsm.CallStatus]{
		Kind:     aggregate.Calls,
		Decide:   fsm.DecideCallInto,
		Deadline: CallDeadline,
		Timeout: func(c *fsm.Call, deadline int64) (fsm.CallCommand, bool) {
			switch {
			case c.Status == fsm.Ringing && deadline == c.RingDeadline:
				if d.RingTimeout != nil {
					if cmd := d.RingTimeout(c); cmd != nil {
						return cmd, true
					}
				}
				return fsm.RingTimeout{}, true
			case c.InVoicemail() && deadline == c.VoicemailDeadline:
				return fsm.VoicemailTimeout{}, true
			}
			return nil, false
		},
		Publish:   func(c *fsm.Call, changes []CallChange) { d.Publisher.PublishCall(c, changes) },
		StopAtEnd: true,
	}
}

// SpawnCall starts the actor of call id. With initial set (a new call, or a
// call restored from the journal by the engine), the actor starts from it;
// otherwise — and after every restart by its supervisor — it reads its stream
// back from the journal.
func SpawnCall(root *actor.RootContext, deps *Deps, id string, initial *fsm.Call) (*actor.PID, error) {
	deps.hosts()
	return deps.calls.spawn(root, id, initial)
}

// SpawnNewCall starts the actor of call id, which has no events yet.
func SpawnNewCall(root *actor.RootContext, deps *Deps, id string) (*actor.PID, error) {
	deps.hosts()
	return deps.calls.spawnNew(root, id)
}
