package journal

import (
	"bytes"
	"context"
	"encoding/binary"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Check verifies the whole journal and returns an error wrapping ErrCorrupt
// that describes the first problems found, or nil. It reads every record
// (checksums, sequence numbers without gaps), every index, live and snapshot
// entry, and runs bbolt's own consistency check (Tx.Check). On a writable
// journal the bbolt check runs in the writer, so appends wait for it. Check
// reads the whole file: it is meant for tools and tests, not the hot path.
func (j *Journal) Check() error {
	if err := j.view(j.verifyEntries); err != nil {
		return err
	}
	if j.readOnly {
		return j.view(j.boltCheck)
	}
	r := getRequest()
	r.kind = kindCheck
	err := j.submit(context.Background(), r)
	putRequest(r)
	return err
}

// checkInWriter runs bbolt's check in a write transaction that is rolled
// back; bbolt's check is not safe in a read transaction next to a writer.
func (j *Journal) checkInWriter() error {
	return j.writeTx(j.boltCheck, false)
}

// boltCheck runs tx.Check and collects its findings.
func (j *Journal) boltCheck(tx *bolt.Tx) error {
	var msgs []string
	n := 0
	for err := range tx.Check() {
		if n < 10 {
			msgs = append(msgs, err.Error())
		}
		n++
	}
	if n > 0 {
		return corruptf("check %s: bbolt found %d problem(s): %s", j.path, n, strings.Join(msgs, "; "))
	}
	return nil
}

// verifyEntries decodes every entry of the journal buckets.
//
// Sequence numbers run from 1 without gaps, except where Archive moved
// records out: in a journal with tombstones, the number of missing seqs up
// to the last one assigned must equal the number of records the tombstones
// account for (each archived stream had versions 1…its last version, all of
// them in the journal until archived); an archive file (meta "archive") holds
// only the records of the streams archived into it, so its gaps are not
// counted.
func (j *Journal) verifyEntries(tx *bolt.Tx) error {
	last, err := j.checkLayout(tx)
	if err != nil {
		return err
	}
	archiveFile, tombs := isArchiveFile(tx), hasTombstones(tx)
	var want uint64 = 1
	var holes uint64
	err = tx.Bucket(bucketEvents).ForEach(func(k, v []byte) error {
		if len(k) != seqLen {
			return corruptf("check: event key %x of %d bytes", k, len(k))
		}
		seq := binary.BigEndian.Uint64(k)
		if seq != want {
			if seq < want || !archiveFile && !tombs {
				return corruptf("check: event seq %d found where %d was expected", seq, want)
			}
			holes += seq - want
		}
		want = seq + 1
		_, _, _, err := decodeEvent(seq, v)
		return err
	})
	if err != nil {
		return err
	}
	if want-1 > last {
		return corruptf("check: event seq %d beyond the last seq %d", want-1, last)
	}
	holes += last - (want - 1)
	indexed := binary.BigEndian.Uint64(tx.Bucket(bucketMeta).Get(keyIndexed))
	var runs []indexEntry
	err = tx.Bucket(bucketStreams).ForEach(func(k, v []byte) error {
		n, w := binary.Uvarint(k)
		if w <= 0 || uint64(len(k)) != uint64(w)+n+verLen {
			return corruptf("check: index key %x malformed", k)
		}
		first, _ := indexKeyVersion(k[:len(k)-verLen], k)
		var err error
		if runs, err = decodeIndexRuns(first, k, v, runs[:0]); err != nil {
			return err
		}
		for _, r := range runs {
			if r.seq+r.count-1 > min(last, indexed) {
				return corruptf("check: index entry %x points past the indexed events", k)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Every entry against the events it names: a damaged key that still
	// decodes names another stream, or none.
	if err := checkIndexTx(tx); err != nil {
		return err
	}
	err = tx.Bucket(bucketLive).ForEach(func(k, v []byte) error {
		_, err := decodeLive(k, v)
		return err
	})
	if err != nil {
		return err
	}
	if err := verifyTombstones(tx, last, holes, archiveFile); err != nil {
		return err
	}
	return tx.Bucket(bucketSnapshots).ForEach(func(k, v []byte) error {
		_, _, err := decodeSnapshot(bytes.Clone(k), v)
		return err
	})
}

// verifyTombstones decodes every tombstone, checks that an archived stream
// left nothing behind (no index entry, not live, its last record gone) and
// that the tombstones account for the holes in the sequence.
func verifyTombstones(tx *bolt.Tx, last, holes uint64, archiveFile bool) error {
	var archived uint64
	if b := tx.Bucket(bucketArchived); b != nil {
		index, live, events := tx.Bucket(bucketStreams).Cursor(), tx.Bucket(bucketLive), tx.Bucket(bucketEvents)
		var key []byte
		err := b.ForEach(func(k, v []byte) error {
			t, err := decodeTombstone(k, v)
			if err != nil {
				return err
			}
			if t.LastSeq > last {
				return corruptf("check: tombstone of %q: last seq %d beyond the last seq %d", k, t.LastSeq, last)
			}
			if live.Get(k) != nil {
				return corruptf("check: archived stream %q is live", k)
			}
			key = appendIndexPrefix(key[:0], string(k))
			if ik, _ := index.Seek(key); ik != nil {
				if _, ok := indexKeyVersion(key, ik); ok {
					return corruptf("check: archived stream %q still has index entries", k)
				}
			}
			var sk [seqLen]byte
			putSeq(sk[:], t.LastSeq)
			if events.Get(sk[:]) != nil {
				return corruptf("check: archived stream %q: its last record (seq %d) is still in the journal", k, t.LastSeq)
			}
			archived += t.Version
			return nil
		})
		if err != nil {
			return err
		}
	}
	if !archiveFile && holes != archived {
		return corruptf("check: %d seqs missing from 1…%d, the tombstones account for %d archived records", holes, last, archived)
	}
	return nil
}
