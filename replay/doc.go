// Package replay reads a callengine journal after the fact, for incident
// analysis (FEATURES E3): the calls and transfers it holds, one call's events
// step by step, the state of every client and call at an instant, and a
// check that the current code still decides what the journal recorded.
//
// Data enters through Open, which opens a journal file read-only: a copy taken
// with `callengine backup`, or the journal of an engine that is stopped. (A
// running engine holds its journal locked; Open then fails at once with code
// unavailable and says to take a copy.) Every query reads the records it
// needs from the file (journal.Scan for the whole log, journal.ReadStream for
// one call), decodes each body with events.DecodeBody and folds it with the
// same pure functions the engine uses (fsm.ApplyCall, ApplyClient,
// ApplyTransfer, ApplyGroup, ApplyMessage). No engine, actor, adapter or
// clock is involved; times are the engine-clock times the events carry
// (Envelope.Time).
//
// Data leaves as plain values:
//
//   - Calls: one CallSummary per call, filtered by setup time, client, number
//     or end reason, ordered by setup time;
//   - Timeline: a call's envelopes, each with the call's state after it, with
//     the events of the transfers that name the call (and of the group pick
//     that routed it) among them;
//   - Transfers: one TransferSummary per transfer: the call it transferred,
//     who sent whom where, its consultation and new calls, its outcome;
//   - Envelopes: a call's own decoded envelopes;
//   - At: a Snapshot of every client, call and transfer as of an instant;
//   - Verify: a Report of the first divergence of each stream when the
//     journal is run through the current fsm/ code again (see Verify).
//
// WriteCalls, WriteTimeline, WriteTransfers, WriteSnapshot and WriteReport
// render those values as the aligned text that `callengine replay` prints;
// WriteLadder draws a timeline's envelopes as an HTML ladder diagram; every
// value also marshals to JSON.
//
// Errors are *errcode.Error values: not_found for a journal file or a call
// that does not exist, unavailable for a locked journal or one written by a
// newer callengine, journal_corrupt for a damaged file, a file that is not a
// journal, or records that do not decode or fold.
//
// The journal format is versioned twice: the file's schema (journal meta) and
// each event body's schema (events.SchemaVersion). testdata/v1.journal is a
// journal written by the first schema version; the tests replay it with the
// current code, so a later schema that could not read it fails them.
package replay
