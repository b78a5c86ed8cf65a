package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// RawBoltResult is what RawBoltProbe measured.
type RawBoltResult struct {
	Puts       int
	PerTx      int
	Elapsed    time.Duration
	PutsPerSec float64
}

// RawBoltProbe measures plain bbolt as the journal workload's
// journal.MeasureRawBolt does — perTx puts of recordSize-byte values under
// sequential 8-byte keys per db.Update, fsync on every commit, default
// options — but bounded in time: it commits transactions until d has passed
// (at least one), in a fresh file in a new temporary directory under dir
// (removed afterwards). It is the raw bbolt reference of a run that did not
// run the journal workload. A cancelled ctx stops it with its error.
func RawBoltProbe(ctx context.Context, dir string, d time.Duration, perTx, recordSize int) (r RawBoltResult, err error) {
	if perTx <= 0 || recordSize < 0 || d <= 0 {
		return r, fmt.Errorf("bench: raw bbolt probe: bad parameters perTx=%d recordSize=%d d=%v", perTx, recordSize, d)
	}
	sub, err := os.MkdirTemp(dir, "bolt-probe-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(sub)
	db, err := bolt.Open(filepath.Join(sub, "raw.bolt"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return r, err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	name := []byte("events")
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket(name); return err }); err != nil {
		return r, err
	}
	val := make([]byte, recordSize)
	var seq uint64
	t0 := time.Now()
	for r.Puts == 0 || time.Since(t0) < d {
		if err := ctx.Err(); err != nil {
			return RawBoltResult{}, err
		}
		err := db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(name)
			var k [8]byte
			for i := 0; i < perTx; i++ {
				seq++
				binary.BigEndian.PutUint64(k[:], seq)
				if err := b.Put(k[:], val); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return RawBoltResult{}, err
		}
		r.Puts += perTx
	}
	r.PerTx, r.Elapsed = perTx, time.Since(t0)
	r.PutsPerSec = float64(r.Puts) / r.Elapsed.Seconds()
	return r, nil
}
