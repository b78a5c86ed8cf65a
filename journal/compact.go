package journal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callengine/callengine/errcode"
)

// CompactInfo describes a compaction.
type CompactInfo struct {
	Src     string `json:"src"`
	Dst     string `json:"dst"`
	Records uint64 `json:"records"`  // events copied (the journal's records)
	LastSeq uint64 `json:"last_seq"` // LastSeq of the copy, as of the source
	Live    int    `json:"live"`     // live streams in the copy
	// Before is the source's size, After the copy's. The copy has no free
	// pages and full pages: its in-use bytes are at most the source's.
	Before   Usage         `json:"before"`
	After    Usage         `json:"after"`
	Duration time.Duration `json:"duration"`
}

// compactTxBytes bounds the data one transaction of the copy writes.
const compactTxBytes = 32 << 20

// Compact rewrites the journal at src into a fresh file dst: every bucket
// copied key by key into full pages (bbolt FillPercent 1.0), so the free
// pages that Archive (and the churn of the live set) left in src are gone
// and the file is as small as its data. This is how a journal file shrinks:
// bbolt reuses freed pages but never gives them back.
//
// Compact works offline: it opens src read-only, which takes the file's
// shared lock, so it fails (code unavailable, wrapping ErrLocked) while a
// running engine holds the journal. The copy is written to a temporary file
// next to dst, synced, opened and checked as a journal (Check), then renamed
// over dst. src is not changed; swapping dst in place of src is the caller's
// business (`callengine archive --compact` does it, keeping the old file as
// journal.db.bak until the new one verifies).
//
// Errors are *errcode.Error values: not_found (no src), unavailable (src is
// locked, dst cannot be written), invalid_params (dst is src),
// journal_corrupt (src is damaged or not a journal, or the copy does not
// verify). When ctx ends, the copy is abandoned and ctx's error returned.
func Compact(ctx context.Context, src, dst string) (CompactInfo, error) {
	if err := ctx.Err(); err != nil {
		return CompactInfo{}, err
	}
	st, err := os.Stat(src)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return CompactInfo{}, errcode.Wrap(errcode.NotFound, err, "no journal at "+src)
	case err != nil:
		return CompactInfo{}, errcode.Wrap(errcode.Unavailable, err, "cannot read "+src)
	case st.IsDir():
		return CompactInfo{}, errcode.Newf(errcode.InvalidParams, "%s is a directory, not a journal file", src)
	}
	if err := checkNotSame(src, dst); err != nil {
		return CompactInfo{}, err
	}
	j, err := Open(src, Options{ReadOnly: true, Timeout: 100 * time.Millisecond})
	if err != nil {
		if errors.Is(err, ErrLocked) {
			return CompactInfo{}, errcode.Wrap(errcode.Unavailable, err, "the journal "+src+" is held by another process (a running engine?): compact it while nothing has it open")
		}
		return CompactInfo{}, sourceError(src, err)
	}
	info, err := j.CompactTo(ctx, dst)
	if cerr := j.Close(); err == nil && cerr != nil {
		err = errcode.Wrap(errcode.Unavailable, cerr, "cannot close "+src)
	}
	if err != nil {
		return CompactInfo{}, err
	}
	return info, nil
}

// CompactTo writes a compacted copy of the journal to dst, as of one read
// transaction, like Compact does for a file. The journal stays usable; what
// is appended after the read transaction began is not in the copy (a caller
// that swaps the copy in must make sure nothing appends meanwhile).
func (j *Journal) CompactTo(ctx context.Context, dst string) (CompactInfo, error) {
	start := time.Now()
	if j.isClosed.Load() {
		return CompactInfo{}, errcode.Wrap(errcode.Closed, fmt.Errorf("journal: %s: %w", j.path, ErrClosed), "the journal is closed")
	}
	if err := checkNotSame(j.path, dst); err != nil {
		return CompactInfo{}, err
	}
	before, err := j.Usage()
	if err != nil {
		return CompactInfo{}, sourceError(j.path, err)
	}
	tmp, err := createTemp(dst)
	if err != nil {
		return CompactInfo{}, err
	}
	defer tmp.discard()
	info := CompactInfo{Src: j.path, Dst: dst, Before: before}
	db, err := bolt.Open(tmp.name, 0o600, &bolt.Options{Timeout: time.Second, NoSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return CompactInfo{}, errcode.Wrap(errcode.Unavailable, err, "cannot write the copy to "+dst)
	}
	dbOpen := true
	defer func() {
		if dbOpen {
			_ = db.Close()
		}
	}()
	var werr error // an error of the copy (dst), kept apart from the source's
	err = j.view(func(stx *bolt.Tx) error {
		last, err := j.checkLayout(stx)
		if err != nil {
			return err
		}
		info.LastSeq = last
		dtx, err := db.Begin(true)
		if err != nil {
			werr = err
			return werr
		}
		defer func() {
			if dtx != nil {
				_ = dtx.Rollback()
			}
		}()
		size := 0
		err = stx.ForEach(func(name []byte, b *bolt.Bucket) error {
			nb, err := dtx.CreateBucket(name)
			if err != nil {
				werr = err
				return werr
			}
			nb.FillPercent = 1.0
			events := string(name) == string(bucketEvents)
			c := b.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				if v == nil {
					return corruptf("%s: nested bucket %q in bucket %q", j.path, k, name)
				}
				if size >= compactTxBytes {
					if err := ctx.Err(); err != nil {
						werr = err
						return werr
					}
					if werr = dtx.Commit(); werr != nil {
						dtx = nil
						return werr
					}
					if dtx, werr = db.Begin(true); werr != nil {
						return werr
					}
					nb = dtx.Bucket(name)
					nb.FillPercent = 1.0
					size = 0
				}
				// k and v live in the source's read transaction, which
				// outlasts every write transaction of the copy.
				if werr = nb.Put(k, v); werr != nil {
					return werr
				}
				size += len(k) + len(v)
				if events {
					info.Records++
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		werr = dtx.Commit()
		dtx = nil
		return werr
	})
	if err != nil {
		if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
			return CompactInfo{}, cerr
		}
		if werr != nil && errors.Is(err, werr) {
			return CompactInfo{}, errcode.Wrap(errcode.Unavailable, err, "cannot write the copy to "+dst)
		}
		return CompactInfo{}, sourceError(j.path, err)
	}
	if err := db.Sync(); err != nil {
		return CompactInfo{}, errcode.Wrap(errcode.Unavailable, err, "cannot write the copy to "+dst)
	}
	_ = db.View(func(tx *bolt.Tx) error {
		info.After = usageOf(tx, true)
		return nil
	})
	dbOpen = false
	if err := db.Close(); err != nil {
		return CompactInfo{}, errcode.Wrap(errcode.Unavailable, err, "cannot write the copy to "+dst)
	}
	var ci CopyInfo
	if err := tmp.finish(ctx, dst, &ci, CopyOptions{}); err != nil {
		return CompactInfo{}, err
	}
	if ci.LastSeq != info.LastSeq {
		return CompactInfo{}, errcode.Newf(errcode.JournalCorrupt, "the compacted copy of %s ends at seq %d, the journal at %d", j.path, ci.LastSeq, info.LastSeq)
	}
	info.Live = ci.LiveStreams
	info.After.FileBytes = ci.Bytes
	info.Duration = time.Since(start)
	return info, nil
}
