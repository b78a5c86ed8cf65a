// Package aggregate is the write path of every aggregate of callengine —
// calls, clients, sessions, transfers, groups and text messages — written
// once, and the fold that reads an aggregate back from the journal.
//
// An aggregate kind is described by a Kind: how to fold an event into its
// state (fsm/), how to copy the state, its version, its status and when its
// stream ends. Commit is the one path a decided command takes:
//
//  1. fold the events on a copy of the state (an event the machine would
//     refuse is never journaled: the command is answered internal);
//  2. append them to the aggregate's stream at the state's version (group
//     commit, fsync; a version mismatch is conflict);
//  3. only then adopt the copy.
//
// It returns one Change per event: the durable envelope with the status
// before and after it, for the publisher. Nothing here knows actors, sockets
// or wall-clock time: the caller passes the time and owns the state.
//
// Load folds a stream from the journal with the same Kind; restore, replay,
// the simulator and the bench read aggregates through it.
package aggregate
