package journal

import (
	"context"
	"fmt"
	"math"

	bolt "go.etcd.io/bbolt"
)

// Append appends records to stream and returns the global sequence number of
// the first one; the records get consecutive sequence numbers and the
// versions expectedVersion+1, expectedVersion+2, ...
//
// expectedVersion is the stream's current version: the number of records it
// holds, 0 for a stream that must not exist yet. If it does not match, Append
// returns a *ConflictError (errors.Is(err, ErrConflict)) and writes nothing for
// this call; other calls committed in the same transaction are not affected.
//
// Append returns only after the bbolt transaction holding its records
// committed, fsync included. Concurrent Appends share transactions (group
// commit). end=true marks the stream ended in the same transaction: it leaves
// the live set (see Live). An ended stream can be appended to again with its
// correct version: an append with end=false puts it back in the live set (a
// client that unregistered and registers again).
//
// If ctx is done before the writer took the request, Append returns ctx.Err()
// and nothing is written; once taken, the request is committed or failed
// regardless of ctx. Append with no records returns ErrEmpty; on a read-only
// journal ErrReadOnly; after Close ErrClosed. The journal does not keep
// references to records after Append returns.
func (j *Journal) Append(ctx context.Context, stream string, expectedVersion uint64, records [][]byte, end bool) (firstSeq uint64, err error) {
	if len(records) == 0 {
		return 0, fmt.Errorf("journal: append to %q: no records: %w", stream, ErrEmpty)
	}
	if err := checkStream(stream); err != nil {
		return 0, err
	}
	if uint64(len(records)) > math.MaxUint32 {
		return 0, fmt.Errorf("journal: append to %q: %d records in one call (max %d)", stream, len(records), uint32(math.MaxUint32))
	}
	for _, rec := range records {
		if int64(eventSize(stream, rec)) > bolt.MaxValueSize {
			return 0, fmt.Errorf("journal: append to %q: record of %d bytes is too large", stream, len(rec))
		}
	}
	r := getRequest()
	r.kind = kindAppend
	r.stream = stream
	r.expected = expectedVersion
	r.records = records
	r.end = end
	err = j.submit(ctx, r)
	firstSeq = r.firstSeq
	putRequest(r)
	if err != nil {
		return 0, err
	}
	return firstSeq, nil
}

// SaveSnapshot stores data as the snapshot of stream at version, replacing any
// earlier snapshot of the stream. It is written through the writer like an
// Append and returns after the commit. The journal does not check version
// against the stream. ctx works as for Append.
func (j *Journal) SaveSnapshot(ctx context.Context, stream string, version uint64, data []byte) error {
	if err := checkStream(stream); err != nil {
		return err
	}
	if int64(len(data)+crcLen+verLen) > bolt.MaxValueSize {
		return fmt.Errorf("journal: snapshot of %q: %d bytes is too large", stream, len(data))
	}
	r := getRequest()
	r.kind = kindSnapshot
	r.stream = stream
	r.expected = version
	r.data = data
	err := j.submit(ctx, r)
	putRequest(r)
	return err
}

func checkStream(stream string) error {
	if len(stream) == 0 || len(stream) > MaxStreamLen {
		return fmt.Errorf("journal: stream name of %d bytes (want 1..%d)", len(stream), MaxStreamLen)
	}
	return nil
}
