// Package actors runs the aggregates of callengine that have actors — every
// call, every client, every live session and every live transfer — as
// protoactor-go actors. Each actor owns one stream of the journal, is
// registered under the stream's id, and handles one message at a time.
//
// Calls, clients and sessions share one generic host (host.go): a Machine
// says what differs between them (the aggregate.Kind, the decision, the
// deadline the state holds and the command it runs, the publisher), and
// one Props per kind spawns all its actors. A command arrives as a Request
// and takes one path (aggregateActor.run):
//
//  1. decide:  fsm/ turns (state, command, now) into events or a typed error;
//  2. commit:  aggregate.Kind.Commit folds the events on a copy, appends them
//     to the journal (group commit, fsync) and only then adopts the copy;
//  3. timer:   the clock timer is set to the deadline the new state holds;
//  4. publish: the Publisher hears of the changes, then the caller is
//     answered (on Reply, or through Done).
//
// A refused command journals nothing and changes nothing. An event that the
// FSM would refuse to fold is never journaled. If the append fails, the
// state stays as it was; on conflict the actor reads its stream again.
//
// The transfer actor (transfer.go) is not a Machine: it runs the pure step
// function fsm.NextTransferStep, places and commands calls through its
// TransferHost, and commits its own events through aggregate.Transfers.
//
// Timers are state: a ringing call keeps its deadline in its state, and its
// actor arms a clock timer for it whenever the actor starts — first spawn,
// restore after a crash, restart after a panic — firing at once if the
// deadline has passed (timer.go).
//
// An actor spawned with a state (a new aggregate, or one the engine
// restored) takes it from the host's seeds when it handles Started; an
// actor restarted by its supervisor finds no seed and reads its stream back
// from the journal, so it holds exactly the durable state.
//
// Every actor has the engine's mailbox (mailbox.go). It schedules like
// protoactor's default mailbox but allocates nothing per message, and a
// message still queued when its actor stops, or posted after, goes to
// Deps.Gone instead of being dropped: every request is answered exactly
// once, by its actor or by the engine, and nothing polls. InlineDispatcher
// (dispatcher.go) runs a mailbox on the goroutine that posts to it; the
// engine uses it for calls, clients and sessions, and runs transfers on
// Deps.Background.
package actors
