package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/callengine/callengine/errcode"
	bolt "go.etcd.io/bbolt"
)

// Tombstones (retention): when Archive moves a stream out of the hot
// journal, it leaves one entry in the "archived" bucket, which the first
// Archive creates:
//
//	archived   stream → crc32c(4) | last version (8 BE) | last seq (8 BE) | uvarint(len file) | file
//
// file is the base name of the archive file that holds the stream's records.
// The CRC32C covers the stream name and the rest of the value. The bucket is
// an addition to schema 1: a journal that never archived has no such bucket
// and is exactly what it was (see Archive for what a tombstone changes).
//
// An archive file is a journal too; its meta has "archive" → "1". Its
// sequence numbers have holes (the records that stayed in the hot journal, or
// went to another archive file), which Check accepts there.
var (
	bucketArchived = []byte("archived")
	keyArchiveFile = []byte("archive") // meta key of an archive file
)

const tombMinLen = crcLen + verLen + seqLen + 1

// ErrArchived: the stream was moved to an archive file (see Archive). An
// Append to an archived stream fails with an *ArchivedError, which matches
// both ErrArchived and ErrConflict (code conflict): the stream's history
// is closed, whatever version the caller expected.
var ErrArchived = errors.New("journal: stream archived")

// ArchivedStream is the tombstone of a stream that Archive moved out of the
// hot journal.
type ArchivedStream struct {
	Stream  string `json:"stream"`
	Archive string `json:"archive"`  // base name of the archive file that holds its records
	Version uint64 `json:"version"`  // its last version: the number of records it had
	LastSeq uint64 `json:"last_seq"` // the seq of its last record
}

// ArchivedError is returned by Append to a stream that was archived.
type ArchivedError struct {
	Stream   string
	Expected uint64 // the version the caller expected
	Version  uint64 // the stream's last version, in the archive
	Archive  string // the archive file's base name
}

// Error implements error.
func (e *ArchivedError) Error() string {
	return fmt.Sprintf("journal: version conflict on stream %q: expected %d; the stream ended at version %d and was archived to %s",
		e.Stream, e.Expected, e.Version, e.Archive)
}

// Is makes errors.Is match ErrArchived and ErrConflict.
func (e *ArchivedError) Is(target error) bool { return target == ErrArchived || target == ErrConflict }

// ErrorCode returns errcode.Conflict, the code of ErrConflict.
func (e *ArchivedError) ErrorCode() errcode.Code { return errcode.Conflict }

func appendTombstone(dst []byte, stream string, t ArchivedStream) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint64(dst, t.Version)
	dst = binary.BigEndian.AppendUint64(dst, t.LastSeq)
	dst = binary.AppendUvarint(dst, uint64(len(t.Archive)))
	dst = append(dst, t.Archive...)
	c := crc32.Update(0, castagnoli, []byte(stream))
	c = crc32.Update(c, castagnoli, dst[start+crcLen:])
	binary.LittleEndian.PutUint32(dst[start:], c)
	return dst
}

func decodeTombstone(stream, v []byte) (ArchivedStream, error) {
	if len(v) < tombMinLen {
		return ArchivedStream{}, corruptf("tombstone of %q: value too short", stream)
	}
	c := crc32.Update(0, castagnoli, stream)
	if got, want := crc32.Update(c, castagnoli, v[crcLen:]), binary.LittleEndian.Uint32(v); got != want {
		return ArchivedStream{}, corruptf("tombstone of %q: checksum mismatch", stream)
	}
	t := ArchivedStream{
		Stream:  string(stream),
		Version: binary.BigEndian.Uint64(v[crcLen:]),
		LastSeq: binary.BigEndian.Uint64(v[crcLen+verLen:]),
	}
	rest := v[crcLen+verLen+seqLen:]
	n, w := binary.Uvarint(rest)
	if w <= 0 || n != uint64(len(rest)-w) {
		return ArchivedStream{}, corruptf("tombstone of %q: bad file name length", stream)
	}
	t.Archive = string(rest[w:])
	if t.Version == 0 || t.LastSeq == 0 {
		return ArchivedStream{}, corruptf("tombstone of %q: version %d, last seq %d", stream, t.Version, t.LastSeq)
	}
	return t, nil
}

// tombstone returns the tombstone of stream in tx, if any.
func tombstone(tx *bolt.Tx, stream []byte) (ArchivedStream, bool, error) {
	b := tx.Bucket(bucketArchived)
	if b == nil {
		return ArchivedStream{}, false, nil
	}
	v := b.Get(stream)
	if v == nil {
		return ArchivedStream{}, false, nil
	}
	t, err := decodeTombstone(stream, v)
	return t, err == nil, err
}

// hasTombstones reports whether tx holds at least one tombstone.
func hasTombstones(tx *bolt.Tx) bool {
	b := tx.Bucket(bucketArchived)
	if b == nil {
		return false
	}
	k, _ := b.Cursor().First()
	return k != nil
}

// isArchiveFile reports whether tx is of an archive file written by Archive.
func isArchiveFile(tx *bolt.Tx) bool {
	meta := tx.Bucket(bucketMeta)
	return meta != nil && meta.Get(keyArchiveFile) != nil
}

// Archived returns the tombstone of stream when Archive moved it out of this
// journal; ok is false for a stream that was not archived (present or
// unknown).
func (j *Journal) Archived(stream string) (t ArchivedStream, ok bool, err error) {
	err = j.view(func(tx *bolt.Tx) error {
		t, ok, err = tombstone(tx, []byte(stream))
		return err
	})
	if err != nil {
		return ArchivedStream{}, false, err
	}
	return t, ok, nil
}

// ArchivedStreams calls fn for the tombstone of every archived stream, in
// byte order of the stream names, stopping at the first error of fn and
// returning it. fn is called outside of any transaction.
func (j *Journal) ArchivedStreams(fn func(ArchivedStream) error) error {
	var after []byte
	list := make([]ArchivedStream, 0, 64)
	for {
		list = list[:0]
		more := false
		err := j.view(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketArchived)
			if b == nil {
				return nil
			}
			c := b.Cursor()
			var k, v []byte
			if after == nil {
				k, v = c.First()
			} else if k, v = c.Seek(after); string(k) == string(after) {
				k, v = c.Next()
			}
			for ; k != nil; k, v = c.Next() {
				if len(list) >= chunkRecords {
					more = true
					return nil
				}
				t, err := decodeTombstone(k, v)
				if err != nil {
					return err
				}
				list = append(list, t)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, t := range list {
			if err := fn(t); err != nil {
				return err
			}
		}
		if !more || len(list) == 0 {
			return nil
		}
		after = []byte(list[len(list)-1].Stream)
	}
}

// IsArchiveFile reports whether the journal is an archive file written by
// Archive (its sequence numbers have holes; it holds ended streams only).
func (j *Journal) IsArchiveFile() (bool, error) {
	var ok bool
	err := j.view(func(tx *bolt.Tx) error {
		ok = isArchiveFile(tx)
		return nil
	})
	return ok, err
}
