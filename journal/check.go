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
func (j *Journal) verifyEntries(tx *bolt.Tx) error {
	if _, err := j.checkLayout(tx); err != nil {
		return err
	}
	var want uint64 = 1
	err := tx.Bucket(bucketEvents).ForEach(func(k, v []byte) error {
		if len(k) != seqLen {
			return corruptf("check: event key %x of %d bytes", k, len(k))
		}
		seq := binary.BigEndian.Uint64(k)
		if seq != want {
			return corruptf("check: event seq %d found where %d was expected", seq, want)
		}
		want++
		_, _, _, err := decodeEvent(seq, v)
		return err
	})
	if err != nil {
		return err
	}
	last := want - 1
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
	err = tx.Bucket(bucketLive).ForEach(func(k, v []byte) error {
		_, err := decodeLive(k, v)
		return err
	})
	if err != nil {
		return err
	}
	return tx.Bucket(bucketSnapshots).ForEach(func(k, v []byte) error {
		_, _, err := decodeSnapshot(bytes.Clone(k), v)
		return err
	})
}
