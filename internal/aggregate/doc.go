// Package aggregate is the write path of every aggregate of callengine —
// calls, clients, sessions, transfers, groups and text messages — written
// once, and the fold that reads an aggregate back from the journal.
//
// An aggregate kind is described by a Kind (Calls, Clients, Sessions,
// Transfers, Groups, Messages): its stream kind, how to fold an event into
// its state (fsm/), how to fork and clone the state, its version, its status
// and when its stream ends. Commit is the one path a decided command takes:
//
//  1. fold the events on a fork of the state (an event the machine would
//     refuse is never journaled: the command is answered internal);
//  2. append them to the aggregate's stream at the state's version (group
//     commit, fsync; a version mismatch is conflict);
//  3. only then adopt the fork.
//
// It returns one Change per event: the durable envelope with the status
// before and after it, for the publisher. The actor host of calls, clients
// and sessions, the transfer actor, and the engine's groups and messages
// all commit through it. Nothing here knows actors, sockets or wall-clock
// time: the caller passes the time and owns the state.
//
// A failed append keeps the errcode code the journal's error carries
// (errcode.Classify); a journal error without one is unavailable.
//
// Load folds a stream from the journal with the same Kind (LoadCall,
// LoadClient, LoadSession, LoadTransfer); ReadStream decodes a stream's
// envelopes. The engine's restore and its answers for ended aggregates, and
// the simulator's invariants, read aggregates through them.
package aggregate
