package fsm

import (
	"context"
	"sync"

	lfsm "github.com/looplab/fsm"
)

// A machine is a pool of looplab/fsm instances of one definition. Instances
// hold no aggregate state between uses: each use sets the state first.
type machine struct {
	initial string
	events  lfsm.Events
	pool    sync.Pool
}

func newMachine(initial string, evs lfsm.Events) *machine {
	m := &machine{initial: initial, events: evs}
	m.pool.New = func() any { return lfsm.NewFSM(initial, evs, nil) }
	return m
}

// can reports whether event may fire in state.
func (m *machine) can(state, event string) bool {
	f := m.pool.Get().(*lfsm.FSM)
	f.SetState(state)
	ok := f.Can(event)
	m.pool.Put(f)
	return ok
}

// fire returns the state that event leads to from state, or the looplab error.
func (m *machine) fire(state, event string) (string, error) {
	f := m.pool.Get().(*lfsm.FSM)
	f.SetState(state)
	err := f.Event(context.Background(), event)
	next := f.Current()
	m.pool.Put(f)
	return next, err
}

// Definition returns a fresh looplab/fsm instance of the machine, for
// inspection and drawing (e.g. lfsm.Visualize).
func (m *machine) Definition() *lfsm.FSM { return lfsm.NewFSM(m.initial, m.events, nil) }

// Transitions of the call machine (FEATURES C2).
const (
	evRing   = "ring"
	evAnswer = "answer"
	evHold   = "hold"
	evResume = "resume"
	evEnd    = "end"
)

// CallMachine is the call's state machine:
//
//	connecting → ringing → connected ⇄ held → ended
//
// and every live state may end. A call may also be answered straight from
// connecting (a far end that answers without alerting first).
var CallMachine = newMachine(string(Connecting), lfsm.Events{
	{Name: evRing, Src: []string{string(Connecting)}, Dst: string(Ringing)},
	{Name: evAnswer, Src: []string{string(Connecting), string(Ringing)}, Dst: string(Connected)},
	{Name: evHold, Src: []string{string(Connected)}, Dst: string(Held)},
	{Name: evResume, Src: []string{string(Held)}, Dst: string(Connected)},
	{Name: evEnd, Src: []string{string(Connecting), string(Ringing), string(Connected), string(Held)}, Dst: string(Ended)},
})

// Transitions of the client machine.
const (
	evRegister   = "register"
	evUnregister = "unregister"
)

// ClientMachine is the client's state machine: unknown → registered →
// unregistered, and an unregistered client may register again.
var ClientMachine = newMachine(string(ClientUnknown), lfsm.Events{
	{Name: evRegister, Src: []string{string(ClientUnknown), string(ClientGone)}, Dst: string(ClientActive)},
	{Name: evUnregister, Src: []string{string(ClientActive)}, Dst: string(ClientGone)},
})
