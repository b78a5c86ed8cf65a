// Package journal is the durable event log of the call engine: one bbolt file
// on disk that holds streams of already-encoded records.
//
// The journal knows bytes, not event types. Callers hand it encoded records
// and get them back unchanged, together with their place in the log:
//
//   - every record has a global sequence number (Seq, starting at 1, gap free
//     until retention archives ended streams: their records leave holes, and
//     a tombstone per stream says where they went — see Archive);
//   - every record belongs to a stream and has a version inside it (the first
//     record of a stream has version 1);
//   - a stream is live from its first record until an Append with end=true;
//     an Append with end=false to an ended stream makes it live again.
//
// # Durability and group commit
//
// One writer goroutine owns all writes. Append hands its records to the writer
// and waits. The writer takes one request, then everything else that is already
// queued (up to Options.MaxBatch records), writes them all in one bbolt write
// transaction and answers each caller only after that transaction committed,
// which includes an fsync. By default there is no timer: a lone writer is
// never held back, and many concurrent writers share transactions. With
// Options.CommitInterval, a commit that would begin sooner than the interval
// after the last one waits for the rest of it and takes what arrives
// meanwhile, unless its request is alone in flight or its batch already
// holds 64 requests: fewer, larger commits under a steady stream of appends
// from many callers. Stats reports how many transactions were needed.
//
// Appends use optimistic concurrency: the caller states the version it expects
// the stream to have, and a mismatch returns a *ConflictError without writing
// anything for that call.
//
// # File layout (schema 1)
//
//	meta       "magic"   → "callengine-journal"
//	           "schema"  → uint16 big-endian (1)
//	           "indexed" → seq (8 BE): the streams index covers every record up to it
//	events     seq (8 BE) → crc32c(4) | version (8 BE) | uvarint(len stream) | stream | record
//	streams    uvarint(len stream) | stream | first version (8 BE) → runs of seqs (see below)
//	live       stream → the version it had when it became live (8 BE), only while it is not ended
//	snapshots  stream → crc32c(4) | version (8 BE) | data
//
// The events bucket is the log and the source of truth. The CRC32C
// (Castagnoli) of an event covers its sequence key and the rest of the value;
// it is verified on every read. The live bucket changes in the transaction of
// the Append that starts a stream (or makes an ended one live again) and of
// the one that ends it; a stream's current version comes from the index.
//
// The streams index maps a stream and a version to sequence numbers. Its keys
// are length-prefixed stream names followed by a version, so one stream's
// entries are contiguous and ordered and no stream's keys run into another's.
// A value holds the record count and runs of consecutive seqs (uvarint
// total, then per run uvarint(seq gap) uvarint(count)) for consecutive
// versions starting at the key's version.
//
// The streams index is derived data and is written lazily: the runs of recent
// records are kept in memory, and every 65536 records (and at Close) they are
// written to the index inside an append transaction, one key per stream,
// together with the "indexed" watermark. After a crash, Open rebuilds the
// in-memory part from the events after the watermark (each event names its
// stream and version). This matters for speed: with many concurrent streams,
// writing each stream's index entry at every commit would dirty one B+tree
// page per stream per transaction; with the lazy index a durable append costs
// one bbolt put per record (plus one in the live set when the stream starts
// or ends), and the index costs one put per stream per flush.
//
// # Damaged files
//
// The journal never panics on a bad file. A file that is not bbolt, or a bbolt
// file that is not a journal, fails Open with ErrNotJournal; a damaged page
// found by a read (bbolt panics on those, or faults: reads run with
// debug.SetPanicOnFault) turns into ErrCorrupt; a record whose checksum does
// not match is ErrCorrupt naming its seq. Open reads the records after the
// index watermark, so a damaged one of those fails Open with ErrCorrupt.
// Check runs a full verification. Each error kind carries the stable errcode
// code it is reported under (see Error and errcode.Classify).
//
// When bbolt panics inside a write transaction the batch fails with
// ErrCorrupt. If it panics again while rolling back, its writer lock is lost:
// the journal then refuses every write with ErrCorrupt, and Close leaves the
// file open (closing it would wait forever) and returns ErrCorrupt.
//
// # Reading while writing
//
// Reads run in bbolt read transactions and see committed data only. Record
// callbacks (ReadStream, Scan, Live) are called outside of any transaction, on
// copies, so a callback may itself call Append. Long reads are done in chunks
// (up to 1024 records or 4 MiB each), so records committed during a read may
// be included. Backup and BackupFile take a consistent hot copy of a journal
// in use.
package journal
