// Package fsm is the functional core of callengine: the state machines of calls
// and clients, as pure functions.
//
//	DecideCall(state, command, now) → events, or a typed error
//	ApplyCall(state, event)         → next state
//
// The same pair exists for clients (DecideClient, ApplyClient). Nothing here
// touches a file, a socket, a goroutine, the wall clock or a random source: time
// arrives as an argument, ids arrive inside commands. Given the same state and
// input the output is always the same, which is what lets live traffic, restore
// after a crash, the simulator and incident replay share one code path.
//
// The allowed transitions are looplab/fsm machines (CallMachine and
// ClientMachine). Their transition tables are read off looplab once at start;
// state itself lives in plain structs, so a hundred thousand live calls do not
// hold a hundred thousand machine instances (≈1.3 KB each).
//
// A command that the state does not allow returns an *errcode.Error with code
// invalid_state and no events; a malformed command returns invalid_params.
package fsm
