package engine

import (
	"context"

	"github.com/callengine/callengine/fsm"
)

// Config returns the engine's configuration with defaults applied.
func (e *Engine) Config() Config { return e.cfg }

// PanicCallForTest makes the actor of a call panic while it handles a command.
func PanicCallForTest(e *Engine, id string) (Call, error) {
	pid := e.live.pid(id)
	var c Call
	err := e.request(context.Background(), pid, nil, func(*fsm.Call) (fsm.CallCommand, error) { panic("test panic") }, &c)
	return c, err
}
