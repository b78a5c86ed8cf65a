package fsm

import (
	"context"
	"errors"

	lfsm "github.com/looplab/fsm"
)

// A machine is a looplab/fsm definition and the transition table it
// defines. The table is read off looplab instances once, when the package
// loads — every (state, event) pair is fired on a fresh instance — so that
// deciding and folding are map lookups instead of a looplab Event per event
// (which costs a context, callbacks and several allocations: too much at
// tens of thousands of events per second). The looplab definition stays the
// single source of the transitions.
type machine struct {
	initial string
	events  lfsm.Events
	table   map[transitionKey]string
}

type transitionKey struct{ state, event string }

func newMachine(initial string, evs lfsm.Events) *machine {
	m := &machine{initial: initial, events: evs, table: map[transitionKey]string{}}
	states := map[string]bool{initial: true}
	for _, e := range evs {
		states[e.Dst] = true
		for _, s := range e.Src {
			states[s] = true
		}
	}
	for s := range states {
		for _, e := range evs {
			f := lfsm.NewFSM(s, evs, nil)
			if !f.Can(e.Name) {
				continue
			}
			if err := f.Event(context.Background(), e.Name); err != nil {
				var nt lfsm.NoTransitionError
				if !errors.As(err, &nt) {
					panic("fsm: looplab machine refused " + e.Name + " from " + s + ": " + err.Error())
				}
			}
			m.table[transitionKey{s, e.Name}] = f.Current()
		}
	}
	return m
}

// can reports whether event may fire in state.
func (m *machine) can(state, event string) bool {
	_, ok := m.table[transitionKey{state, event}]
	return ok
}

// fire returns the state that event leads to from state.
func (m *machine) fire(state, event string) (string, error) {
	to, ok := m.table[transitionKey{state, event}]
	if !ok {
		return state, lfsm.InvalidEventError{Event: event, State: state}
	}
	return to, nil
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
