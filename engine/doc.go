// Package engine is the public Go API of callengine: typed commands in, typed
// events out, typed errors.
//
// Open an engine on a data directory, register clients with their numbers,
// extensions and devices, and place calls between them or to numbers that an
// Adapter reaches:
//
//	e, err := engine.Open(ctx, engine.Config{DataDir: "data"})
//	...
//	defer e.Close()
//	e.RegisterClient(ctx, engine.ClientSpec{ID: "alice", Extensions: []string{"101"}, Devices: ...})
//	call, err := e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"})
//	e.Answer(ctx, call.ID, "bob-phone")
//
// Every method takes a context first and returns an error that is, or wraps, an
// *errcode.Error with a stable code (invalid_state, not_found, invalid_params,
// …), or the context's own error when ctx ends first. A method returns after
// the events it caused are durable in the journal; a refused command journals
// nothing. A command whose context ends while it is in flight may still take
// effect: look at the call (Engine.Call) to know.
//
// Routing: each call and each client is an actor (package actors) that owns one
// stream of the journal. The engine keeps projections that it can rebuild from
// the journal at any time — the directory of clients, numbers and extensions,
// and which live calls each client is on — and a bus that delivers events to
// subscribers (Subscribe) and to the Adapter.
//
// Open restores every client and every call that had not ended, in the state
// it had, with ring timers re-armed for the time left (FEATURES E1).
package engine
