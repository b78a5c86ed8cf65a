package journal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callengine/callengine/errcode"
)

// fillJournal appends n records to streams s0…s(streams-1), in batches of 8.
func fillJournal(t testing.TB, j *Journal, streams, n int) {
	t.Helper()
	fillJournalBatch(t, j, streams, n, 8)
}

func fillJournalBatch(t testing.TB, j *Journal, streams, n, size int) {
	t.Helper()
	versions := make([]uint64, streams)
	rec := bytes.Repeat([]byte("x"), 120)
	for i := 0; i < n; {
		s := i % streams
		batch := min(size, n-i)
		recs := make([][]byte, batch)
		for k := range recs {
			recs[k] = append([]byte(fmt.Sprintf("%d-%d:", s, versions[s]+uint64(k)+1)), rec...)
		}
		if _, err := j.Append(bg, fmt.Sprintf("s%d", s), versions[s], recs, false); err != nil {
			t.Fatal(err)
		}
		versions[s] += uint64(batch)
		i += batch
	}
}

// verifyCopyFile opens a copy, checks it, and checks that every stream's
// versions run 1, 2, 3… in sequence order. It returns the copy's records.
func verifyCopyFile(t testing.TB, path string) []Record {
	t.Helper()
	c, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("the copy does not open: %v", err)
	}
	defer c.Close()
	if err := c.Check(); err != nil {
		t.Fatalf("the copy does not check: %v", err)
	}
	recs := scanAll(t, c, 1)
	next := map[string]uint64{}
	for i, r := range recs {
		if r.Seq != uint64(i+1) {
			t.Fatalf("copy: record %d has seq %d", i, r.Seq)
		}
		if r.Version != next[r.Stream]+1 {
			t.Fatalf("copy: %s version %d follows %d", r.Stream, r.Version, next[r.Stream])
		}
		next[r.Stream] = r.Version
	}
	if c.LastSeq() != uint64(len(recs)) {
		t.Fatalf("copy: LastSeq %d, %d records", c.LastSeq(), len(recs))
	}
	return recs
}

func sameRecords(t testing.TB, got, want []Record) {
	t.Helper()
	if len(got) > len(want) {
		t.Fatalf("copy has %d records, the journal only %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Seq != w.Seq || g.Stream != w.Stream || g.Version != w.Version || !bytes.Equal(g.Data, w.Data) {
			t.Fatalf("record %d: copy %+v, journal %+v", i, g, w)
		}
	}
}

func wantCode(t testing.TB, err error, code errcode.Code) {
	t.Helper()
	if errcode.CodeOf(err) != code {
		t.Fatalf("error %v: code %q, want %q", err, errcode.CodeOf(err), code)
	}
}

// noTempFiles fails if a temporary copy was left in dir.
func noTempFiles(t testing.TB, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func setHook(t *testing.T, fn func(int)) {
	testHookRawCopied = fn
	t.Cleanup(func() { testHookRawCopied = nil })
}

func TestMetaPagesReadLikeBbolt(t *testing.T) {
	for _, size := range []int{4096, 16384} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			path := tempPath(t)
			db, err := bolt.Open(path, 0o600, &bolt.Options{PageSize: size, Timeout: time.Second})
			must(t, err)
			for i := 0; i < 5; i++ {
				must(t, db.Update(func(tx *bolt.Tx) error {
					b, err := tx.CreateBucketIfNotExists([]byte("b"))
					if err != nil {
						return err
					}
					return b.Put([]byte(fmt.Sprint(i)), bytes.Repeat([]byte{byte(i)}, 3000))
				}))
			}
			var txid int
			must(t, db.View(func(tx *bolt.Tx) error { txid = tx.ID(); return nil }))
			pgsize := db.Info().PageSize
			f, err := os.Open(path)
			must(t, err)
			defer f.Close()
			p, err := readMetaPages(f)
			must(t, err)
			must(t, db.Close())
			if !p.meta[0].valid || !p.meta[1].valid {
				t.Fatalf("meta pages not both valid: %+v", p.meta)
			}
			m, ok := p.newest()
			if !ok || int(m.txid) != txid || int(m.pageSize) != pgsize || m.slot != txid%2 {
				t.Fatalf("newest meta %+v, bbolt says txid %d page size %d", m, txid, pgsize)
			}
			if other := p.meta[1-m.slot]; other.txid != m.txid-1 {
				t.Fatalf("older meta txid %d, want %d", other.txid, m.txid-1)
			}
			// A torn meta page (one byte flipped) is not valid; the other is.
			p.raw[m.slot][metaOff+metaPgid] ^= 0xff
			if parseMeta(m.slot, p.raw[m.slot]).valid {
				t.Fatal("a damaged meta page validates")
			}
		})
	}
}

func TestCopyFileUnlockedUsesReadTransaction(t *testing.T) {
	src := tempPath(t)
	j := mustOpen(t, src, Options{})
	fillJournal(t, j, 7, 500)
	want := scanAll(t, j, 1)
	must(t, j.Close())

	dst := filepath.Join(t.TempDir(), "copy.journal")
	info, err := CopyFile(bg, src, dst, CopyOptions{})
	must(t, err)
	if info.Method != CopyReadTx || info.Attempts != 1 || !info.Checked || info.LastSeq != 500 || info.LiveStreams != 7 || info.Path != dst {
		t.Fatalf("info %+v", info)
	}
	if st, err := os.Stat(dst); err != nil || st.Size() != info.Bytes {
		t.Fatalf("copy size %v (%v), info says %d", st, err, info.Bytes)
	}
	got := verifyCopyFile(t, dst)
	if len(got) != len(want) {
		t.Fatalf("copy has %d records, want %d", len(got), len(want))
	}
	sameRecords(t, got, want)
	noTempFiles(t, filepath.Dir(dst))
	// The source is not held by the copy any more: it opens for writing.
	j2 := mustOpen(t, src, Options{Timeout: 100 * time.Millisecond})
	mustAppend(t, j2, "s0", 72, false, "after")
}

func TestCopyFileLockedCopiesTheRawFile(t *testing.T) {
	src := tempPath(t)
	j := mustOpen(t, src, Options{}) // holds the exclusive lock
	fillJournal(t, j, 5, 2000)
	mustAppend(t, j, "ended", 0, true, "a", "b")
	want := scanAll(t, j, 1)

	dst := filepath.Join(t.TempDir(), "copy.journal")
	info, err := CopyFile(bg, src, dst, CopyOptions{})
	must(t, err)
	if info.Method != CopyStableMeta || info.Attempts != 1 || !info.Checked || info.LastSeq != 2002 || info.LiveStreams != 5 {
		t.Fatalf("info %+v", info)
	}
	t.Logf("raw copy of %d bytes, %d records in %v", info.Bytes, info.LastSeq, info.Duration)
	got := verifyCopyFile(t, dst)
	if len(got) != len(want) {
		t.Fatalf("copy has %d records, want %d", len(got), len(want))
	}
	sameRecords(t, got, want)

	// Both meta pages of the copy describe the copied transaction.
	f, err := os.Open(dst)
	must(t, err)
	defer f.Close()
	p, err := readMetaPages(f)
	must(t, err)
	m, _ := p.newest()
	other := p.meta[1-m.slot]
	if !other.valid || m.txid != info.TxID || other.txid != m.txid-1 || other.pgid != m.pgid ||
		!bytes.Equal(p.raw[0][metaOff+metaRoot:metaOff+metaTxid], p.raw[1][metaOff+metaRoot:metaOff+metaTxid]) {
		t.Fatalf("meta pages of the copy: %+v", p.meta)
	}
	// The journal goes on after the copy.
	mustAppend(t, j, "s0", 400, false, "more")
}

// Appenders commit without pause while copies of the raw file are taken.
func TestCopyFileLockedWhileAppending(t *testing.T) {
	src := tempPath(t)
	j := mustOpen(t, src, Options{})
	fillJournal(t, j, 4, 4000)
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	var wg sync.WaitGroup
	var appended atomic.Int64
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			stream := fmt.Sprintf("w%d", w)
			var v uint64
			for ctx.Err() == nil {
				// Paced like call traffic: a command every few milliseconds.
				time.Sleep(2 * time.Millisecond)
				if _, err := j.Append(ctx, stream, v, [][]byte{[]byte(fmt.Sprintf("%s-%d", stream, v+1))}, false); err != nil {
					if ctx.Err() == nil {
						t.Error(err)
					}
					return
				}
				v++
				appended.Add(1)
			}
		}(w)
	}
	dir := t.TempDir()
	var prev uint64
	var attempts, copies int
	for i := 0; i < 8; i++ {
		before := j.LastSeq()
		dst := filepath.Join(dir, fmt.Sprintf("copy-%d.journal", i))
		info, err := CopyFile(ctx, src, dst, CopyOptions{MaxAttempts: 100})
		if err != nil {
			t.Fatalf("copy %d: %v", i, err)
		}
		if info.Method != CopyStableMeta {
			t.Fatalf("copy %d by %s", i, info.Method)
		}
		if info.LastSeq < before || info.LastSeq < prev {
			t.Fatalf("copy %d ends at seq %d; before the copy the journal was at %d, the previous copy at %d", i, info.LastSeq, before, prev)
		}
		prev = info.LastSeq
		attempts += info.Attempts
		copies++
		verifyCopyFile(t, dst)
		t.Logf("copy %d: %d bytes, seq %d, %d attempt(s), window %v, %v", i, info.Bytes, info.LastSeq, info.Attempts, info.Window, info.Duration)
	}
	cancel()
	wg.Wait()
	if appended.Load() == 0 {
		t.Fatal("nothing was appended during the copies")
	}
	final := scanAll(t, j, 1)
	sameRecords(t, verifyCopyFile(t, filepath.Join(dir, "copy-7.journal")), final)
	t.Logf("%d copies, %d attempts, %d records appended meanwhile", copies, attempts, appended.Load())
}

func TestCopyFileRetriesAfterACommitDuringTheCopy(t *testing.T) {
	src := tempPath(t)
	j := mustOpen(t, src, Options{})
	fillJournal(t, j, 3, 300)
	var v uint64
	setHook(t, func(attempt int) {
		if attempt <= 2 {
			mustAppend(t, j, "mid", v, false, fmt.Sprint("during attempt ", attempt))
			v++
		}
	})
	dst := filepath.Join(t.TempDir(), "copy.journal")
	info, err := CopyFile(bg, src, dst, CopyOptions{})
	must(t, err)
	if info.Attempts != 3 || info.LastSeq != 302 || info.Method != CopyStableMeta {
		t.Fatalf("info %+v, want 3 attempts and seq 302", info)
	}
	sameRecords(t, verifyCopyFile(t, dst), scanAll(t, j, 1))
}

func TestCopyFileTooBusy(t *testing.T) {
	src := tempPath(t)
	j := mustOpen(t, src, Options{})
	fillJournal(t, j, 3, 30)
	var v uint64
	setHook(t, func(int) {
		mustAppend(t, j, "mid", v, false, "commit during the copy")
		v++
	})
	dir := t.TempDir()
	dst := filepath.Join(dir, "copy.journal")
	_, err := CopyFile(bg, src, dst, CopyOptions{MaxAttempts: 4})
	wantCode(t, err, errcode.Unavailable)
	if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "Engine.Backup") || !strings.Contains(err.Error(), "4 copy attempt") {
		t.Fatalf("error %v", err)
	}
	if v != 4 {
		t.Fatalf("%d attempts, want 4", v)
	}
	if _, err := os.Stat(dst); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed copy left %s: %v", dst, err)
	}
	noTempFiles(t, dir)

	// The context bounds the attempts too.
	first := v
	ctx, cancel := context.WithTimeout(bg, 300*time.Millisecond)
	defer cancel()
	_, err = CopyFile(ctx, src, dst, CopyOptions{LockTimeout: 10 * time.Millisecond, MaxAttempts: 1 << 20, RetryDelay: 5 * time.Millisecond})
	wantCode(t, err, errcode.Unavailable)
	if !errors.Is(err, ErrBusy) || !errors.Is(err, context.DeadlineExceeded) || v-first < 2 {
		t.Fatalf("error %v after %d attempts", err, v-first)
	}
	noTempFiles(t, dir)
}

func TestCopyFileCancelledDuringTheCopy(t *testing.T) {
	src := tempPath(t)
	j := mustOpen(t, src, Options{})
	fillJournal(t, j, 3, 30)
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	var v uint64
	setHook(t, func(attempt int) {
		if attempt == 2 {
			cancel()
			return
		}
		mustAppend(t, j, "mid", v, false, "commit during the copy")
		v++
	})
	dir := t.TempDir()
	_, err := CopyFile(ctx, src, filepath.Join(dir, "copy"), CopyOptions{})
	wantErr(t, err, context.Canceled)
	if errcode.CodeOf(err) != "" && !errors.Is(err, ErrBusy) {
		t.Fatalf("error %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("a cancelled copy left %v", ents)
	}
}

func TestCopyFileErrors(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "copy.journal")

	_, err := CopyFile(bg, filepath.Join(dir, "missing.db"), dst, CopyOptions{})
	wantCode(t, err, errcode.NotFound)

	_, err = CopyFile(bg, dir, dst, CopyOptions{})
	wantCode(t, err, errcode.InvalidParams)

	junk := filepath.Join(dir, "junk.db")
	must(t, os.WriteFile(junk, bytes.Repeat([]byte("not a journal "), 2000), 0o600))
	_, err = CopyFile(bg, junk, dst, CopyOptions{})
	wantCode(t, err, errcode.JournalCorrupt)
	wantErr(t, err, ErrNotJournal)

	// The same file while someone holds a lock on it: the raw path.
	f, err := os.Open(junk)
	must(t, err)
	defer f.Close()
	must(t, syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB))
	_, err = CopyFile(bg, junk, dst, CopyOptions{LockTimeout: 20 * time.Millisecond})
	wantCode(t, err, errcode.JournalCorrupt)
	wantErr(t, err, ErrNotJournal)

	// A bbolt file that is not a journal, locked by its bbolt holder.
	other := filepath.Join(dir, "other.db")
	db, err := bolt.Open(other, 0o600, &bolt.Options{Timeout: time.Second})
	must(t, err)
	must(t, db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("x")); return err }))
	_, err = CopyFile(bg, other, dst, CopyOptions{LockTimeout: 20 * time.Millisecond})
	wantCode(t, err, errcode.JournalCorrupt)
	wantErr(t, err, ErrNotJournal)
	must(t, db.Close())

	src := tempPath(t)
	j := mustOpen(t, src, Options{})
	mustAppend(t, j, "s", 0, false, "a")
	_, err = CopyFile(bg, src, src, CopyOptions{})
	wantCode(t, err, errcode.InvalidParams)
	_, err = CopyFile(bg, src, filepath.Join(dir, "no", "such", "dir", "copy"), CopyOptions{})
	wantCode(t, err, errcode.Unavailable)
	_, err = CopyFile(bg, src, dir, CopyOptions{})
	wantCode(t, err, errcode.InvalidParams)
	_, err = CopyFile(bg, src, "", CopyOptions{})
	wantCode(t, err, errcode.MissingParameter)

	ctx, cancel := context.WithCancel(bg)
	cancel()
	_, err = CopyFile(ctx, src, dst, CopyOptions{})
	wantErr(t, err, context.Canceled)
	if _, err := os.Stat(dst); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s exists after failed copies: %v", dst, err)
	}
	noTempFiles(t, dir)
}

func TestHotCopyWhileAppending(t *testing.T) {
	src := tempPath(t)
	j := mustOpen(t, src, Options{})
	fillJournal(t, j, 4, 1000)
	ctx, cancel := context.WithCancel(bg)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var v uint64
			for ctx.Err() == nil {
				if _, err := j.Append(ctx, fmt.Sprintf("w%d", w), v, [][]byte{[]byte("r")}, false); err != nil {
					return
				}
				v++
			}
		}(w)
	}
	dir := t.TempDir()
	var prev uint64
	for i := 0; i < 5; i++ {
		before := j.LastSeq()
		dst := filepath.Join(dir, fmt.Sprint("hot-", i))
		info, err := j.HotCopy(bg, dst, CopyOptions{})
		must(t, err)
		if info.Method != CopyReadTx || info.LastSeq < before || info.LastSeq < prev || !info.Checked {
			t.Fatalf("copy %d: %+v (journal at %d before, previous copy %d)", i, info, before, prev)
		}
		prev = info.LastSeq
		verifyCopyFile(t, dst)
	}
	cancel()
	wg.Wait()
	sameRecords(t, verifyCopyFile(t, filepath.Join(dir, "hot-4")), scanAll(t, j, 1))

	// Over an existing copy: replaced whole.
	info, err := j.HotCopy(bg, filepath.Join(dir, "hot-0"), CopyOptions{SkipCheck: true})
	must(t, err)
	if info.Checked || info.LastSeq != j.LastSeq() {
		t.Fatalf("info %+v, journal at %d", info, j.LastSeq())
	}
	sameRecords(t, verifyCopyFile(t, filepath.Join(dir, "hot-0")), scanAll(t, j, 1))

	cctx, ccancel := context.WithCancel(bg)
	ccancel()
	_, err = j.HotCopy(cctx, filepath.Join(dir, "cancelled"), CopyOptions{})
	wantErr(t, err, context.Canceled)
	must(t, j.Close())
	_, err = j.HotCopy(bg, filepath.Join(dir, "closed"), CopyOptions{})
	wantCode(t, err, errcode.Closed)
	wantErr(t, err, ErrClosed)
	noTempFiles(t, dir)
}

// A bigger journal: how long a raw copy and a read-transaction copy take.
func TestCopyFileSizeAndTime(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	src := tempPath(t)
	j := mustOpen(t, src, Options{})
	fillJournalBatch(t, j, 1000, 100000, 100)
	dir := t.TempDir()
	raw, err := CopyFile(bg, src, filepath.Join(dir, "raw"), CopyOptions{})
	must(t, err)
	rawQuick, err := CopyFile(bg, src, filepath.Join(dir, "raw-quick"), CopyOptions{SkipCheck: true})
	must(t, err)
	hot, err := j.HotCopy(bg, filepath.Join(dir, "hot"), CopyOptions{})
	must(t, err)
	must(t, j.Close())
	for _, info := range []CopyInfo{raw, rawQuick, hot} {
		if info.LastSeq != 100000 {
			t.Fatalf("copy %+v", info)
		}
	}
	t.Logf("100,000 records: raw copy (journal held) %d bytes: window %v, %v with the check, %v without; read-transaction copy %d bytes: window %v, %v with the check",
		raw.Bytes, raw.Window, raw.Duration, rawQuick.Duration, hot.Bytes, hot.Window, hot.Duration)
}
