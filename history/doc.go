// Package history keeps the call history of every client (FEATURES H1) and
// their voicemail boxes (C7) as a projection of the journal: a file that can
// be deleted at any time and rebuilt from the journal, never a second source
// of truth.
//
// Data enters from the journal only. A follower goroutine (History.Follow)
// reads the journal (journal.ScanBatch) from the last record it applied,
// decodes each record of a call stream ("call/<id>") or a client stream
// ("client/<id>") of a type the fold reads with events.DecodeBody and
// folds it with Projection.Apply, the pure part: deterministic, no I/O, no
// clock. The fold turns a call's
// events into one Entry per client of the call — made for the caller,
// received or missed for the callee — updated as the call goes (ringing,
// connected, held, voicemail, ended), and a VoicemailLeft into a Message in
// the callee's box. A client's HistoryDeleted, VoicemailHeard and
// VoicemailDeleted events (journaled by the engine's DeleteHistory,
// MarkVoicemailHeard and DeleteVoicemail) remove entries from that client's
// history only, mark messages heard, and delete messages.
//
// The file (bbolt) holds each client's entries keyed for a newest-first
// listing, its messages, the fold's state of the calls that have not ended,
// and a checkpoint — the sequence number of the last journal record applied
// — written in the same transaction as the changes it covers. Entries are
// written in flushes about 3 seconds apart (or every 32,768 changed
// entries): between them the changed entries are held in memory, and
// queries read the file through them; a change of a voicemail message is
// flushed at once. After a restart the follower carries on from the
// checkpoint (after a crash, the last flush's). The file is written
// without fsync (see store); Open rebuilds it from the first record of the
// journal when it is missing, unreadable, of another format, was left open by
// a machine that since restarted, or does not match the journal (its
// checkpoint beyond the journal's last record: the journal was restored from
// an older copy). Rebuild does the same on demand.
//
// Data leaves through queries that first wait until every record journaled
// before the query began is applied (read-your-writes, bounded by the
// context): History.Calls lists a client's entries filtered by number, time
// range, end reason and kind, newest first, a page at a time (Query.Before);
// History.Voicemail returns a client's messages with their new and total
// counts (the message-waiting indicator); NotInHistory and NotInBox let the
// engine refuse to journal a delete of calls a client does not have.
//
// Decisions worth knowing (docs/history.md has the user's view):
//
//   - A ring-all group call is in the history of every member it rang. The
//     member that answers has a received entry; each other member a missed
//     one, ended at the answer, with AnsweredBy naming who took it. If
//     nobody answers, every member missed it.
//   - A client that parks a call keeps its entry (held) while the call waits
//     in the slot; when another client takes the call, the parker's entry
//     ends (reason transferred) and the taker gets a received entry,
//     answered when it took the call. The other party's entry follows the
//     call and shows the taker as its other party.
//   - A call that goes to voicemail is missed by the callee and made by the
//     caller, both with the Voicemail flag; the message is in the callee's
//     box until it deletes it, whatever it does with its history.
//   - Entries of calls archived out of the journal (retention) stay in the
//     file until it is rebuilt; a rebuilt history no longer has them.
package history
