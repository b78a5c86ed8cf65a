package journal

// Hot copies of a journal that is in use.
//
// There are two ways to copy a bbolt file that someone is writing to.
//
// 1. Through a read transaction (Journal.HotCopy, and CopyFile when it can get
//    a shared lock on the file). bbolt's Tx.WriteTo writes the pages the
//    transaction sees; the open read transaction stops the writer from
//    reusing any of them, so the copy is exact whatever the writer does
//    meanwhile. This needs the *bolt.DB that the writer uses, so it only works
//    in the process that has the journal open (Engine.Backup), or when nobody
//    has it open for writing.
//
// 2. From outside, without the lock (CopyFile when another process holds the
//    journal: bbolt keeps an exclusive flock on the file for as long as a
//    writer has it open, so a second process cannot open it at all). The file
//    is read as plain bytes, with a stability protocol built on how bbolt
//    commits (go.etcd.io/bbolt v1.5.0, tx.go Commit, write, writeMeta;
//    freelist ReleasePendingPages):
//
//    - The file starts with two meta pages, page 0 and page 1. Each holds a
//      16-byte page header and a meta: magic, version, page size, flags, root
//      bucket, freelist page, high-water mark (pgid), transaction id and an
//      FNV-64a checksum. The valid meta with the highest txid is the
//      database; transaction T writes its meta into page T%2.
//    - A commit is copy on write. It writes every changed page to a page that
//      is free as of the last committed meta, fsyncs, and only then writes its
//      own meta page (and fsyncs again). The pages reachable from meta T are
//      freed by transaction T+1 but go to a pending list; they can be reused
//      at the earliest by transaction T+2, which can only begin after T+1 has
//      written its meta page (a single writer holds bbolt's writer lock
//      through the whole commit).
//    - So: read both meta pages (T is the newest valid one), copy the whole
//      file, read both meta pages again. If they are byte-identical, no meta
//      was written during the copy, so T+1 had at most written data pages
//      that T does not reach, and T+2 had not begun: every page reachable from
//      meta T was stable for the whole copy, and the copy holds transaction T
//      exactly. Every commit writes a meta page with a new txid, so a commit
//      cannot go unnoticed. If the metas differ, the copy is thrown away and
//      taken again, up to CopyOptions.MaxAttempts times and while ctx lasts;
//      then CopyFile fails with ErrBusy.
//    - In the copy, the older meta page is replaced by meta T with txid T-1
//      (as Tx.WriteTo does): the older meta's tree may have been overwritten
//      by T+1's data pages during the copy, and a reader of the copy must
//      never fall back to it.
//    - The copy is then opened as a journal (read-only) and checked with
//      Check: the protocol is the argument, the check is the proof.
//
//    Limits: the writer and the copier must see the same file contents, which
//    a local file system on one machine gives (the page cache is shared;
//    bbolt writes with pwrite, not through a writable mmap). Not for network
//    file systems. A writer that commits more often than a copy of the whole
//    file takes never leaves a quiet window: the copy then fails with ErrBusy
//    and the way out is the read-transaction copy in the writer's process
//    (Engine.Backup). The copy holds what was committed (meta written) when it
//    was taken, which includes everything acknowledged before CopyFile began,
//    and possibly a commit whose final fsync had not returned yet.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callengine/callengine/errcode"
)

// ErrBusy: a copy of a journal held by another process was tried
// CopyOptions.MaxAttempts times (or until the context ended) and every time
// the journal committed during the copy. It is wrapped in an errcode error
// with code unavailable.
var ErrBusy = errors.New("journal: too busy to copy from another process")

// CopyMethod says how a copy was taken.
type CopyMethod string

const (
	// CopyReadTx: through a bbolt read transaction (Tx.WriteTo) of an open
	// journal: exact whatever the writer does meanwhile.
	CopyReadTx CopyMethod = "read-transaction"
	// CopyStableMeta: the raw file, copied while another process held it,
	// accepted because the meta pages did not change during the copy.
	CopyStableMeta CopyMethod = "raw-stable-meta"
)

// CopyOptions tune HotCopy and CopyFile. The zero value is a good default.
type CopyOptions struct {
	// LockTimeout is how long CopyFile waits for a shared lock on the source
	// before it copies the raw file instead; 0 means 10 ms (bbolt then tries
	// the lock once: a running engine holds it for as long as it runs).
	LockTimeout time.Duration
	// MaxAttempts bounds the raw copies CopyFile takes of a journal that
	// keeps changing; 0 means 20. The context bounds them too.
	MaxAttempts int
	// RetryDelay is the pause after the first failed raw attempt; it doubles
	// after each further one, up to 50 ms. 0 means 1 ms.
	RetryDelay time.Duration
	// SkipCheck skips Check on the copy. The copy is still opened as a
	// journal (which reads its layout and its last records).
	SkipCheck bool
}

// CopyInfo describes a copy that was written.
type CopyInfo struct {
	Path        string     // where the copy is
	Bytes       int64      // its size
	LastSeq     uint64     // the last record in the copy; records are 1…LastSeq
	LiveStreams int        // streams that are live in the copy
	TxID        uint64     // the bbolt transaction the copy is as of
	Method      CopyMethod // how it was taken
	Attempts    int        // raw copies taken (1 for a read-transaction copy)
	Checked     bool       // Check ran on the copy and passed
	// Window is how long the copy itself took: from the first read of the
	// meta pages to the last (raw copy), or how long the read transaction
	// was open. A raw copy succeeds only if no commit falls in its window.
	Window   time.Duration
	Duration time.Duration // wall time, verification included
}

const (
	defaultCopyLockTimeout = 10 * time.Millisecond
	defaultCopyAttempts    = 20
	defaultRetryDelay      = time.Millisecond
	maxRetryDelay          = 50 * time.Millisecond
	copyChunk              = 8 << 20
)

// testHookRawCopied, if set, runs after each raw copy and before the meta
// pages are read again (tests use it to commit in the middle of a copy).
var testHookRawCopied func(attempt int)

// HotCopy writes a consistent copy of the journal to dst while the journal
// stays in use: through a bbolt read transaction, into a temporary file in
// dst's directory that is synced, opened and checked as a journal, then
// renamed over dst (and the directory synced). dst is never left half
// written. The copy holds every record committed before HotCopy was called.
//
// Errors are *errcode.Error: closed (the journal is closed), unavailable
// (dst cannot be written), journal_corrupt (the copy does not verify),
// invalid_params (dst is the journal itself). When ctx ends first, the
// context's error is returned (wrapped).
func (j *Journal) HotCopy(ctx context.Context, dst string, opts CopyOptions) (CopyInfo, error) {
	start := time.Now()
	if j.isClosed.Load() {
		return CopyInfo{}, errcode.Wrap(errcode.Closed, fmt.Errorf("journal: %s: %w", j.path, ErrClosed), "the journal is closed")
	}
	if err := ctx.Err(); err != nil {
		return CopyInfo{}, err
	}
	if err := checkNotSame(j.path, dst); err != nil {
		return CopyInfo{}, err
	}
	tmp, err := createTemp(dst)
	if err != nil {
		return CopyInfo{}, err
	}
	defer tmp.discard()
	var last, txid uint64
	w := &ctxWriter{ctx: ctx, f: tmp.f}
	g := &guardWriter{w: w}
	txStart := time.Now()
	var window time.Duration
	err = j.view(func(tx *bolt.Tx) error {
		defer func() { window = time.Since(txStart) }()
		txid = uint64(tx.ID())
		if k, _ := tx.Bucket(bucketEvents).Cursor().Last(); len(k) == seqLen {
			last = binary.BigEndian.Uint64(k)
		}
		_, err := tx.WriteTo(g)
		return err
	})
	if g.panicked != nil {
		panic(g.panicked)
	}
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return CopyInfo{}, fmt.Errorf("journal: copy of %s: %w", j.path, ctx.Err())
	case errors.Is(err, ErrCorrupt):
		return CopyInfo{}, errcode.Wrap(errcode.JournalCorrupt, err, "the journal is damaged")
	case errors.Is(err, ErrClosed):
		return CopyInfo{}, errcode.Wrap(errcode.Closed, err, "the journal is closed")
	default:
		return CopyInfo{}, errcode.Wrap(errcode.Unavailable, err, "cannot write the copy to "+dst)
	}
	info := CopyInfo{Path: dst, TxID: txid, Method: CopyReadTx, Attempts: 1, Window: window}
	if err := tmp.finish(ctx, dst, &info, opts); err != nil {
		return CopyInfo{}, err
	}
	if info.LastSeq != last {
		// The copy is of the transaction that read last: a mismatch means
		// the copy is not what was read.
		return CopyInfo{}, errcode.Newf(errcode.JournalCorrupt, "the copy of %s ends at seq %d, the transaction it was taken in at %d", j.path, info.LastSeq, last)
	}
	info.Duration = time.Since(start)
	return info, nil
}

// CopyFile writes a consistent copy of the journal file src to dst, whether
// or not another process has it open. It first tries to open src read-only
// (a shared lock, waiting at most opts.LockTimeout) and then copies it through
// a read transaction, like HotCopy. If another process holds the file (a
// running engine), it copies the raw file instead and keeps the copy only if
// no commit happened while it was copied (see the comment at the top of
// hotcopy.go for why that is safe), trying again up to opts.MaxAttempts
// times. Either way the copy is written to a temporary file next to dst,
// synced, opened and checked as a journal, then renamed over dst.
//
// Errors are *errcode.Error (test with errcode.CodeOf; the journal error is
// the cause): not_found (no file at src), journal_corrupt (src is not a
// journal, or is damaged, or the copy does not verify), unavailable (dst
// cannot be written; or ErrBusy: the journal changed during every attempt —
// use Engine.Backup in the engine's process), invalid_params (dst is src).
// When ctx ends before the first attempt, the context's error is returned.
func CopyFile(ctx context.Context, src, dst string, opts CopyOptions) (CopyInfo, error) {
	start := time.Now()
	if err := ctx.Err(); err != nil {
		return CopyInfo{}, err
	}
	st, err := os.Stat(src)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return CopyInfo{}, errcode.Wrap(errcode.NotFound, err, "no journal at "+src)
	case err != nil:
		return CopyInfo{}, errcode.Wrap(errcode.Unavailable, err, "cannot read "+src)
	case st.IsDir():
		return CopyInfo{}, errcode.Newf(errcode.InvalidParams, "%s is a directory, not a journal file", src)
	}
	if err := fileProblem(src, true); err != nil {
		// before the copy: the input's fault, not the output's
		if errors.Is(err, ErrNotJournal) {
			return CopyInfo{}, errcode.Wrap(errcode.JournalCorrupt, err, src+" is empty: not a journal")
		}
		return CopyInfo{}, sourceError(src, err)
	}
	if err := checkNotSame(src, dst); err != nil {
		return CopyInfo{}, err
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = defaultCopyLockTimeout
	}
	j, err := Open(src, Options{ReadOnly: true, Timeout: opts.LockTimeout})
	if err == nil {
		info, err := j.HotCopy(ctx, dst, opts)
		if cerr := j.Close(); err == nil && cerr != nil {
			err = errcode.Wrap(errcode.Unavailable, cerr, "cannot close "+src)
		}
		if err != nil {
			return CopyInfo{}, err
		}
		info.Duration = time.Since(start)
		return info, nil
	}
	if !errors.Is(err, ErrLocked) {
		return CopyInfo{}, sourceError(src, err)
	}
	info, err := copyRaw(ctx, src, dst, opts)
	if err != nil {
		return CopyInfo{}, err
	}
	info.Duration = time.Since(start)
	return info, nil
}

// sourceError turns an error met while opening or reading src into an
// *errcode.Error.
func sourceError(src string, err error) error {
	switch {
	case isTruncated(err):
		return errcode.Wrap(errcode.JournalCorrupt, err, src+" is truncated: the file ends before its last commit's pages (a copy cut short? take it again)")
	case errors.Is(err, ErrCorrupt):
		return errcode.Wrap(errcode.JournalCorrupt, err, "the journal at "+src+" is damaged")
	case errors.Is(err, ErrNotJournal):
		return errcode.Wrap(errcode.JournalCorrupt, err, src+" is not a callengine journal")
	case errors.Is(err, ErrNewerSchema):
		return errcode.Wrap(errcode.Unavailable, err, "the journal at "+src+" was written by a newer callengine")
	case errors.Is(err, ErrLocked):
		return errcode.Wrap(errcode.Unavailable, err, "the journal at "+src+" is locked")
	}
	if errors.Is(err, os.ErrNotExist) {
		return errcode.Wrap(errcode.NotFound, err, "no journal at "+src)
	}
	return errcode.Wrap(errcode.Unavailable, err, "cannot read the journal at "+src)
}

// copyRaw copies src, which another process holds, with the stable-meta
// protocol.
func copyRaw(ctx context.Context, src, dst string, opts CopyOptions) (CopyInfo, error) {
	maxAttempts := opts.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = defaultCopyAttempts
	}
	delay := opts.RetryDelay
	if delay <= 0 {
		delay = defaultRetryDelay
	}
	f, err := os.Open(src)
	if err != nil {
		return CopyInfo{}, sourceError(src, err)
	}
	defer f.Close()
	tmp, err := createTemp(dst)
	if err != nil {
		return CopyInfo{}, err
	}
	defer tmp.discard()

	var changed []string // why each failed attempt was thrown away
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		if attempt > 1 {
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return CopyInfo{}, busyError(src, attempt-1, changed, ctx.Err())
			case <-t.C:
			}
			delay = min(2*delay, maxRetryDelay)
		}
		if err := ctx.Err(); err != nil {
			if attempt == 1 {
				return CopyInfo{}, err
			}
			return CopyInfo{}, busyError(src, attempt-1, changed, err)
		}
		m, window, ok, why, err := rawAttempt(ctx, f, tmp.f, attempt)
		if err != nil {
			switch {
			case ctx.Err() != nil && len(changed) == 0:
				return CopyInfo{}, fmt.Errorf("journal: copy of %s: %w", src, ctx.Err())
			case ctx.Err() != nil:
				return CopyInfo{}, busyError(src, attempt, changed, ctx.Err())
			}
			return CopyInfo{}, err
		}
		if !ok {
			changed = append(changed, why)
			continue
		}
		info := CopyInfo{Path: dst, TxID: m.txid, Method: CopyStableMeta, Attempts: attempt, Window: window}
		if err := tmp.finish(ctx, dst, &info, opts); err != nil {
			return CopyInfo{}, err
		}
		return info, nil
	}
	return CopyInfo{}, busyError(src, maxAttempts, changed, nil)
}

func busyError(src string, attempts int, changed []string, cause error) error {
	err := fmt.Errorf("%w: %s changed during %d copy attempt(s) (%s)", ErrBusy, src, attempts, summarize(changed))
	if cause != nil {
		err = fmt.Errorf("%w; stopped: %w", err, cause)
	}
	return errcode.Wrap(errcode.Unavailable, err,
		"the journal is too busy to copy from outside the engine: it committed during every copy; "+
			"take the backup inside the engine process (Engine.Backup), retry with more attempts, or when traffic is lower")
}

func summarize(changed []string) string {
	if len(changed) == 0 {
		return "no attempt finished"
	}
	if len(changed) <= 3 {
		return strings.Join(changed, "; ")
	}
	return strings.Join(changed[:2], "; ") + fmt.Sprintf("; … %d more; ", len(changed)-3) + changed[len(changed)-1]
}

// rawAttempt takes one raw copy of f into out and reports whether it is
// consistent (ok), with the meta it is a copy of and how long the copy took.
// why says what changed when it is not. err is a failure that retrying does
// not mend.
func rawAttempt(ctx context.Context, f, out *os.File, attempt int) (m boltMeta, window time.Duration, ok bool, why string, err error) {
	start := time.Now()
	before, err := readMetaPages(f)
	if err != nil {
		return boltMeta{}, window, false, "", err
	}
	m, okMeta := before.newest()
	if !okMeta {
		// Neither meta page is valid. A meta page being written can be torn,
		// but only one at a time: a bbolt file always has a valid one.
		return boltMeta{}, window, false, "", errcode.Wrap(errcode.JournalCorrupt,
			fmt.Errorf("journal: %s: no valid bbolt meta page: %w", f.Name(), ErrNotJournal), f.Name()+" is not a callengine journal")
	}
	if err := out.Truncate(0); err != nil {
		return boltMeta{}, window, false, "", errcode.Wrap(errcode.Unavailable, err, "cannot write the copy")
	}
	if _, err := out.Seek(0, io.SeekStart); err != nil {
		return boltMeta{}, window, false, "", errcode.Wrap(errcode.Unavailable, err, "cannot write the copy")
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return boltMeta{}, window, false, "", errcode.Wrap(errcode.Unavailable, err, "cannot read "+f.Name())
	}
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return boltMeta{}, window, false, "", err
		}
		// *os.File to *os.File through a LimitedReader: copy_file_range on
		// Linux, the data does not pass through user space.
		c, err := io.CopyN(out, f, copyChunk)
		n += c
		if err == io.EOF {
			break
		}
		if err != nil {
			return boltMeta{}, window, false, "", errcode.Wrap(errcode.Unavailable, err, "cannot copy "+f.Name())
		}
	}
	if testHookRawCopied != nil {
		testHookRawCopied(attempt)
	}
	after, err := readMetaPages(f)
	window = time.Since(start)
	if err != nil {
		return boltMeta{}, window, false, "", err
	}
	if !bytes.Equal(before.raw[0], after.raw[0]) || !bytes.Equal(before.raw[1], after.raw[1]) {
		a, _ := after.newest()
		return boltMeta{}, window, false, fmt.Sprintf("tx %d → %d in %v", m.txid, a.txid, window.Round(time.Microsecond)), nil
	}
	if need := int64(m.pgid) * int64(m.pageSize); n < need {
		// Cannot happen while the file only grows; a file that shrank was
		// not written by bbolt.
		return boltMeta{}, window, false, fmt.Sprintf("copied %d bytes, tx %d needs %d", n, m.txid, need), nil
	}
	// The meta pages in the copy must be the ones that were compared.
	var got [2][]byte
	for i := range got {
		got[i] = make([]byte, len(before.raw[i]))
		if _, err := out.ReadAt(got[i], int64(i)*int64(m.pageSize)); err != nil {
			return boltMeta{}, window, false, "", errcode.Wrap(errcode.Unavailable, err, "cannot read back the copy")
		}
		if !bytes.Equal(got[i], before.raw[i]) {
			return boltMeta{}, window, false, fmt.Sprintf("meta page %d changed during the copy", i), nil
		}
	}
	// Both meta pages of the copy describe transaction m (see the top of the
	// file): the older one becomes m with txid-1.
	if m.txid > 0 {
		page := bytes.Clone(before.raw[m.slot])
		older := 1 - m.slot
		binary.NativeEndian.PutUint64(page[0:8], uint64(older)) // page id
		binary.NativeEndian.PutUint64(page[metaOff+metaTxid:], m.txid-1)
		binary.NativeEndian.PutUint64(page[metaOff+metaChecksum:], metaSum(page[metaOff:metaOff+metaChecksum]))
		if _, err := out.WriteAt(page, int64(older)*int64(m.pageSize)); err != nil {
			return boltMeta{}, window, false, "", errcode.Wrap(errcode.Unavailable, err, "cannot write the copy")
		}
	}
	return m, window, true, "", nil
}

// The on-disk meta page of bbolt v1.5.0 (internal/common/page.go and
// meta.go), in the machine's byte order: a 16-byte page header (id uint64,
// flags uint16, count uint16, overflow uint32), then the meta.
const (
	pageHeaderLen   = 16
	metaOff         = pageHeaderLen
	metaMagic       = 0  // uint32
	metaVersion     = 4  // uint32
	metaPageSize    = 8  // uint32
	metaRoot        = 16 // InBucket: root pgid uint64, sequence uint64
	metaFreelist    = 32 // pgid uint64
	metaPgid        = 40 // high-water mark uint64
	metaTxid        = 48 // uint64
	metaChecksum    = 56 // FNV-64a of the 56 bytes before it
	metaLen         = 64
	boltMagic       = 0xED0CDAED
	boltVersion     = 2
	metaPageFlag    = 0x04
	minBoltPageSize = 1024
	maxBoltPageSize = 1 << 24
)

// boltMeta is the part of a meta page the copy needs.
type boltMeta struct {
	slot     int // 0 or 1: the page it was read from
	pageSize uint32
	pgid     uint64
	txid     uint64
	valid    bool
}

// metaPages are both meta pages as read (header and meta, 80 bytes each).
type metaPages struct {
	raw  [2][]byte
	meta [2]boltMeta
}

func (p metaPages) newest() (boltMeta, bool) {
	a, b := p.meta[0], p.meta[1]
	if b.valid && (!a.valid || b.txid > a.txid) {
		return b, true
	}
	return a, a.valid
}

func metaSum(b []byte) uint64 {
	h := fnv.New64a()
	_, _ = h.Write(b)
	return h.Sum64()
}

// parseMeta reads the meta of a page (header included) the way bbolt's
// Meta.Validate does.
func parseMeta(slot int, page []byte) boltMeta {
	if len(page) < metaOff+metaLen {
		return boltMeta{slot: slot}
	}
	m := page[metaOff : metaOff+metaLen]
	ne := binary.NativeEndian
	bm := boltMeta{
		slot:     slot,
		pageSize: ne.Uint32(m[metaPageSize:]),
		pgid:     ne.Uint64(m[metaPgid:]),
		txid:     ne.Uint64(m[metaTxid:]),
	}
	bm.valid = ne.Uint32(m[metaMagic:]) == boltMagic && ne.Uint32(m[metaVersion:]) == boltVersion &&
		ne.Uint16(page[8:10]) == metaPageFlag && ne.Uint64(m[metaChecksum:]) == metaSum(m[:metaChecksum]) &&
		bm.pageSize >= minBoltPageSize && bm.pageSize <= maxBoltPageSize && bm.pageSize&(bm.pageSize-1) == 0
	return bm
}

// readMetaPages reads both meta pages of f. The page size comes from meta 0,
// or, when meta 0 is not valid (torn by a write in progress), from meta 1
// found at the offsets bbolt itself tries (1 KiB … 16 MiB).
func readMetaPages(f *os.File) (metaPages, error) {
	var p metaPages
	p.raw[0] = make([]byte, metaOff+metaLen)
	if _, err := f.ReadAt(p.raw[0], 0); err != nil {
		return p, notBolt(f.Name(), err)
	}
	p.meta[0] = parseMeta(0, p.raw[0])
	var size int64
	if p.meta[0].valid {
		size = int64(p.meta[0].pageSize)
	} else {
		for s := int64(minBoltPageSize); s <= maxBoltPageSize; s <<= 1 {
			buf := make([]byte, metaOff+metaLen)
			if _, err := f.ReadAt(buf, s); err != nil {
				break
			}
			if m := parseMeta(1, buf); m.valid && int64(m.pageSize) == s {
				size = s
				break
			}
		}
		if size == 0 {
			return p, notBolt(f.Name(), errors.New("no valid meta page"))
		}
	}
	p.raw[1] = make([]byte, metaOff+metaLen)
	if _, err := f.ReadAt(p.raw[1], size); err != nil {
		return p, notBolt(f.Name(), err)
	}
	p.meta[1] = parseMeta(1, p.raw[1])
	return p, nil
}

func notBolt(path string, cause error) error {
	return errcode.Wrap(errcode.JournalCorrupt, fmt.Errorf("journal: %s: not a bbolt file (%v): %w", path, cause, ErrNotJournal),
		path+" is not a callengine journal")
}

// ctxWriter stops a copy when its context ends.
type ctxWriter struct {
	ctx context.Context
	f   *os.File
}

func (w *ctxWriter) Write(p []byte) (int, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	return w.f.Write(p)
}

// checkNotSame refuses to copy a file onto itself.
func checkNotSame(src, dst string) error {
	if dst == "" {
		return errcode.New(errcode.MissingParameter, "no path to write the copy to")
	}
	a, err1 := filepath.Abs(src)
	b, err2 := filepath.Abs(dst)
	if err1 == nil && err2 == nil && a == b {
		return errcode.Newf(errcode.InvalidParams, "the copy %s would overwrite the journal itself", dst)
	}
	sa, err1 := os.Stat(src)
	sb, err2 := os.Stat(dst)
	if err1 == nil && err2 == nil && os.SameFile(sa, sb) {
		return errcode.Newf(errcode.InvalidParams, "the copy %s would overwrite the journal itself", dst)
	}
	return nil
}

// tempCopy is the temporary file a copy is written to before the rename.
type tempCopy struct {
	f    *os.File
	name string
	dir  string
	done bool
}

func createTemp(dst string) (*tempCopy, error) {
	dir, base := filepath.Split(dst)
	if dir == "" {
		dir = "."
	}
	if base == "" {
		return nil, errcode.Newf(errcode.InvalidParams, "%s names a directory, not a file", dst)
	}
	if st, err := os.Stat(dst); err == nil && st.IsDir() {
		return nil, errcode.Newf(errcode.InvalidParams, "%s is a directory, not a file", dst)
	}
	f, err := os.CreateTemp(dir, "."+strings.TrimPrefix(base, ".")+".tmp-*")
	if err != nil {
		return nil, errcode.Wrap(errcode.Unavailable, err, "cannot write the copy to "+dst)
	}
	return &tempCopy{f: f, name: f.Name(), dir: dir}, nil
}

// discard removes the temporary file unless finish renamed it.
func (t *tempCopy) discard() {
	if t.done {
		return
	}
	_ = t.f.Close()
	_ = os.Remove(t.name)
}

// finish syncs and closes the temporary file, opens it as a journal (and
// checks it unless opts.SkipCheck), fills info from it, and renames it to
// dst.
func (t *tempCopy) finish(ctx context.Context, dst string, info *CopyInfo, opts CopyOptions) error {
	fail := func(err error) error { return errcode.Wrap(errcode.Unavailable, err, "cannot write the copy to "+dst) }
	if err := t.f.Sync(); err != nil {
		return fail(err)
	}
	st, err := t.f.Stat()
	if err != nil {
		return fail(err)
	}
	info.Bytes = st.Size()
	if err := t.f.Close(); err != nil {
		return fail(err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := verifyCopy(t.name, info, opts); err != nil {
		return err
	}
	if err := os.Chmod(t.name, 0o600); err != nil {
		return fail(err)
	}
	if err := os.Rename(t.name, dst); err != nil {
		return fail(err)
	}
	t.done = true
	if d, err := os.Open(t.dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// verifyCopy opens the copy read-only as a journal, checks it, and reads
// what info reports.
func verifyCopy(path string, info *CopyInfo, opts CopyOptions) error {
	bad := func(err error) error {
		if errors.Is(err, ErrNotJournal) {
			return errcode.Wrap(errcode.JournalCorrupt, err, "the file copied is not a callengine journal; nothing was written")
		}
		return errcode.Wrap(errcode.JournalCorrupt, err, "the copy does not verify as a journal; nothing was written")
	}
	c, err := Open(path, Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return bad(err)
	}
	defer c.Close()
	if !opts.SkipCheck {
		if err := c.Check(); err != nil {
			return bad(err)
		}
		info.Checked = true
	}
	info.LastSeq = c.LastSeq()
	n := 0
	if err := c.LiveStreams(func(string) error { n++; return nil }); err != nil {
		return bad(err)
	}
	info.LiveStreams = n
	return nil
}
