// Package retention decides which ended streams of a journal may leave the
// hot journal, and moves them into an archive file (journal.Archive), which
// leaves a tombstone per stream in the hot journal. See docs/retention.md.
//
// It needs only a *journal.Journal, a directory and a cutoff: the running
// engine (engine.Engine.Archive, and its periodic archiving with
// Config.RetainEnded) and `callengine archive`, on a journal no engine has
// open, decide the same.
//
// What goes, decided from the journal alone, with the engine-clock times the
// events carry:
//
//   - a call stream ("call/…") that is not live, whose last event is a
//     CallEnded before the cutoff, and that no live transfer names (as the
//     call it transfers, its consultation call or its new call);
//   - a transfer stream ("transfer/…") that is not live (it has its
//     outcome), whose last event is before the cutoff, and each of whose
//     calls goes too, went before (a tombstone), or was never placed;
//   - a message stream ("message/…") that is not live, whose last event is
//     its MessageDelivered or MessageFailed, before the cutoff.
//
// Clients, groups, sessions and every live stream stay. An ended transfer
// may stay while a call it names is archived (the call was due, the
// transfer's new call was not); `replay --verify` accepts the reference
// because the tombstone says where the call went. The reverse cannot happen:
// a transfer goes only with, or after, all of its calls.
package retention
