package journal

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// MeasureAppend measures durable append throughput: it opens a fresh journal
// in a new temporary directory under dir, starts writers goroutines that
// together make total 1-record Appends of recordSize bytes, each goroutine to
// its own stream named with a time-ordered id ("call/%016x"), and returns the
// committed records per second (Open and Close not timed). The temporary
// directory is removed afterwards.
func MeasureAppend(ctx context.Context, dir string, writers, total, recordSize int) (eventsPerSec float64, err error) {
	if writers <= 0 || total <= 0 || recordSize < 0 {
		return 0, fmt.Errorf("journal: measure: bad parameters writers=%d total=%d recordSize=%d", writers, total, recordSize)
	}
	writers = min(writers, total)
	sub, err := os.MkdirTemp(dir, "journal-measure-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(sub)
	j, err := Open(filepath.Join(sub, "measure.journal"), Options{})
	if err != nil {
		return 0, err
	}
	defer func() {
		if cerr := j.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	rec := make([]byte, recordSize)
	for i := range rec {
		rec[i] = byte('a' + i%26)
	}
	base := uint64(time.Now().UnixNano())
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
		start    = make(chan struct{})
	)
	for w := 0; w < writers; w++ {
		n := total / writers
		if w < total%writers {
			n++
		}
		wg.Add(1)
		go func(stream string, n int) {
			defer wg.Done()
			recs := [][]byte{rec}
			<-start
			for v := 0; v < n; v++ {
				if _, err := j.Append(ctx, stream, uint64(v), recs, false); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
			}
		}(fmt.Sprintf("call/%016x", base+uint64(w)), n)
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	elapsed := time.Since(t0)
	if firstErr != nil {
		return 0, firstErr
	}
	if got := j.Stats().Records; got != uint64(total) {
		return 0, fmt.Errorf("journal: measure: %d records committed, want %d", got, total)
	}
	return float64(total) / elapsed.Seconds(), nil
}

// MeasureRawBolt measures plain bbolt as a ceiling for MeasureAppend: total
// puts of recordSize-byte values under sequential 8-byte keys, perTx puts per
// db.Update (fsync on every commit, default bbolt options and fill percent),
// in a fresh file in a new temporary directory under dir (removed
// afterwards). It returns puts per second.
func MeasureRawBolt(dir string, total, perTx, recordSize int) (eventsPerSec float64, err error) {
	if total <= 0 || perTx <= 0 || recordSize < 0 {
		return 0, fmt.Errorf("journal: measure: bad parameters total=%d perTx=%d recordSize=%d", total, perTx, recordSize)
	}
	sub, err := os.MkdirTemp(dir, "bolt-measure-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(sub)
	db, err := bolt.Open(filepath.Join(sub, "raw.bolt"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return 0, err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	name := []byte("events")
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket(name); return err }); err != nil {
		return 0, err
	}
	val := make([]byte, recordSize)
	var seq uint64
	t0 := time.Now()
	for done := 0; done < total; {
		n := min(perTx, total-done)
		err := db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(name)
			var k [8]byte
			for i := 0; i < n; i++ {
				binary.BigEndian.PutUint64(k[:], seq+uint64(i)+1)
				if err := b.Put(k[:], val); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
		seq += uint64(n)
		done += n
	}
	return float64(total) / time.Since(t0).Seconds(), nil
}
