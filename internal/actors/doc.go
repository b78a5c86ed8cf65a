// Package actors runs the aggregates of callengine — every call and every
// client — as protoactor-go actors. Each actor owns one stream of the journal
// and handles one message at a time:
//
//  1. decide:  fsm/ turns (state, command, now) into events or a typed error;
//  2. persist: the events are appended to the journal (group commit, fsync);
//  3. apply:   fsm/ folds them into the state;
//  4. publish: the Publisher hears of them, then the caller is answered.
//
// A refused command journals nothing and changes nothing. An event that the
// FSM would refuse to fold is never journaled: the fold runs on a copy before
// the append. If the append fails, the state stays as it was.
//
// Timers are state: a ringing call keeps its deadline in its state, and its
// actor arms a clock timer for it whenever the actor starts — first spawn,
// restore after a crash, restart after a panic — firing at once if the
// deadline has passed.
//
// A panicking actor is restarted by its supervisor; the new incarnation reads
// its stream back from the journal, so it holds exactly the durable state.
// Requests enter as *CallRequest and *ClientRequest with a reply channel;
// requests that reach an actor that has stopped are answered by the engine's
// dead-letter hook.
package actors
