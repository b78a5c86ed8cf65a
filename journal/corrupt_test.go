package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callengine/callengine/errcode"
	bolt "go.etcd.io/bbolt"
)

func boltOpen(t testing.TB, path string) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestOpenGarbage(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, size := range []int{1, 100, 4095, 4096, 8192, 16384, 100_000} {
		for _, kind := range []string{"random", "zeros"} {
			path := filepath.Join(t.TempDir(), "garbage")
			b := make([]byte, size)
			if kind == "random" {
				rng.Read(b)
			}
			must(t, os.WriteFile(path, b, 0o600))
			for _, ro := range []bool{false, true} {
				j, err := Open(path, Options{ReadOnly: ro})
				if err == nil {
					j.Close()
					t.Fatalf("%s %d bytes (read-only %v): Open succeeded", kind, size, ro)
				}
				if !isKindOf(err, ErrNotJournal, ErrCorrupt) {
					t.Fatalf("%s %d bytes: %v (code %q)", kind, size, err, errcode.Classify(err, ""))
				}
			}
		}
	}
}

func TestOpenOtherFiles(t *testing.T) {
	dir := t.TempDir()

	other := filepath.Join(dir, "other.bolt")
	db := boltOpen(t, other)
	must(t, db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("users"))
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), []byte("v"))
	}))
	must(t, db.Close())
	for _, ro := range []bool{false, true} {
		_, err := Open(other, Options{ReadOnly: ro})
		if !errors.Is(err, ErrNotJournal) || errcode.Classify(err, "") != errcode.JournalCorrupt {
			t.Fatalf("bbolt file with other buckets (ro %v): %v", ro, err)
		}
	}

	// An empty bbolt file becomes a journal, except read-only.
	empty := filepath.Join(dir, "empty.bolt")
	must(t, boltOpen(t, empty).Close())
	_, err := Open(empty, Options{ReadOnly: true})
	wantErr(t, err, ErrNotJournal)
	j := mustOpen(t, empty, Options{})
	mustAppend(t, j, "s", 0, false, "x")
	must(t, j.Close())

	// A zero-length file is a new journal too.
	zero := filepath.Join(dir, "zero")
	must(t, os.WriteFile(zero, nil, 0o600))
	_, err = Open(zero, Options{ReadOnly: true})
	if err == nil {
		t.Fatal("read-only open of an empty file succeeded")
	}
	must(t, mustOpen(t, zero, Options{}).Close())

	// Edit the meta bucket of a real journal.
	edit := func(name string, fn func(meta *bolt.Bucket, tx *bolt.Tx) error) string {
		p := filepath.Join(dir, name)
		j := mustOpen(t, p, Options{})
		mustAppend(t, j, "s", 0, false, "x")
		must(t, j.Close())
		db := boltOpen(t, p)
		must(t, db.Update(func(tx *bolt.Tx) error { return fn(tx.Bucket(bucketMeta), tx) }))
		must(t, db.Close())
		return p
	}
	cases := []struct {
		name string
		fn   func(*bolt.Bucket, *bolt.Tx) error
		want error
	}{
		{"schema2", func(m *bolt.Bucket, _ *bolt.Tx) error { return m.Put(keySchema, []byte{0, 2}) }, ErrNewerSchema},
		{"schema0", func(m *bolt.Bucket, _ *bolt.Tx) error { return m.Put(keySchema, []byte{0, 0}) }, ErrCorrupt},
		{"schema-long", func(m *bolt.Bucket, _ *bolt.Tx) error { return m.Put(keySchema, []byte{0, 0, 1}) }, ErrCorrupt},
		{"magic", func(m *bolt.Bucket, _ *bolt.Tx) error { return m.Put(keyMagic, []byte("something-else")) }, ErrNotJournal},
		{"nomagic", func(m *bolt.Bucket, _ *bolt.Tx) error { return m.Delete(keyMagic) }, ErrNotJournal},
		{"nolive", func(_ *bolt.Bucket, tx *bolt.Tx) error { return tx.DeleteBucket(bucketLive) }, ErrCorrupt},
		{"watermark", func(m *bolt.Bucket, _ *bolt.Tx) error { return m.Put(keyIndexed, []byte{0, 0, 0, 0, 0, 0, 0, 9}) }, ErrCorrupt},
		{"nometa", func(_ *bolt.Bucket, tx *bolt.Tx) error { return tx.DeleteBucket(bucketMeta) }, ErrNotJournal},
	}
	for _, c := range cases {
		p := edit(c.name, c.fn)
		for _, ro := range []bool{false, true} {
			_, err := Open(p, Options{ReadOnly: ro})
			if !errors.Is(err, c.want) {
				t.Errorf("%s (ro %v): %v, want %v", c.name, ro, err, c.want)
			}
		}
	}
	if _, err := Open(filepath.Join(dir, "schema2"), Options{}); !errors.Is(err, ErrNewerSchema) || errcode.Classify(err, "") != errcode.Unavailable {
		t.Fatalf("code %q", errcode.Classify(err, ""))
	}
}

// alterValue changes one stored value directly with bbolt.
func alterValue(t testing.TB, path string, bucket, key []byte, fn func(v []byte)) {
	t.Helper()
	db := boltOpen(t, path)
	must(t, db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		v := append([]byte(nil), b.Get(key)...)
		if v == nil {
			return fmt.Errorf("key %x not found", key)
		}
		fn(v)
		return b.Put(key, v)
	}))
	must(t, db.Close())
}

func seqKeyOf(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

func TestAlteredEventValue(t *testing.T) {
	path := tempPath(t)
	j := mustOpen(t, path, Options{})
	for i := 0; i < 5; i++ {
		mustAppend(t, j, "a", uint64(i), false, fmt.Sprint("a-record-", i))
		mustAppend(t, j, "b", uint64(i), false, fmt.Sprint("b-record-", i))
	}
	must(t, j.SaveSnapshot(bg, "a", 5, []byte("snapshot")))
	must(t, j.Close())

	// seq 3 is a/2: flip its last data byte. seq 6 is b/3: alter its version.
	alterValue(t, path, bucketEvents, seqKeyOf(3), func(v []byte) { v[len(v)-1] ^= 0x01 })
	alterValue(t, path, bucketEvents, seqKeyOf(6), func(v []byte) { v[crcLen+verLen-1] ^= 0x40 })
	alterValue(t, path, bucketSnapshots, []byte("a"), func(v []byte) { v[len(v)-1] ^= 0x80 })

	j = mustOpen(t, path, Options{})
	err := j.ReadStream("a", 0, func(Record) error { return nil })
	if !errors.Is(err, ErrCorrupt) || errcode.Classify(err, "") != errcode.JournalCorrupt || !strings.Contains(err.Error(), "seq 3") {
		t.Fatalf("ReadStream of a damaged record: %v", err)
	}
	// Records before the damaged one are delivered; reading after it works.
	n := 0
	_ = j.ReadStream("a", 0, func(Record) error { n++; return nil })
	if n != 0 && n != 1 {
		t.Fatalf("delivered %d records of a chunk holding a damaged record", n)
	}
	expectRecords(t, readAll(t, j, "a", 3), "a", 3, "a-record-2", "a-record-3", "a-record-4")
	err = j.ReadStream("b", 0, func(Record) error { return nil })
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "seq 6") {
		t.Fatalf("ReadStream b: %v", err)
	}
	err = j.Scan(1, func(Record) error { return nil })
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "seq 3") {
		t.Fatalf("Scan: %v", err)
	}
	if err := j.Scan(7, func(Record) error { return nil }); err != nil {
		t.Fatalf("Scan after the damage: %v", err)
	}
	if _, _, _, err := j.LoadSnapshot("a"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("LoadSnapshot: %v", err)
	}
	if err := j.Check(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Check: %v", err)
	}
	// Appends still work.
	mustAppend(t, j, "a", 5, false, "a-record-5")
}

// TestAlteredUnflushedEvent: a damaged record whose index runs must be
// rebuilt at Open fails Open with ErrCorrupt.
func TestAlteredUnflushedEvent(t *testing.T) {
	dir := t.TempDir()
	j := mustOpen(t, filepath.Join(dir, "j"), Options{})
	for i := 0; i < 5; i++ {
		mustAppend(t, j, "a", uint64(i), false, "x")
	}
	copyPath := filepath.Join(dir, "copy")
	must(t, j.BackupFile(copyPath)) // the index is not flushed yet in the copy
	alterValue(t, copyPath, bucketEvents, seqKeyOf(2), func(v []byte) { v[len(v)-1] ^= 1 })
	_, err := Open(copyPath, Options{ReadOnly: true})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "seq 2") {
		t.Fatalf("Open: %v", err)
	}
}

// bigJournal writes a journal of about 4 MB and closes it.
func bigJournal(t testing.TB, path string) {
	j := mustOpen(t, path, Options{flushRecords: 3000})
	var wg sync.WaitGroup
	data := make([]byte, 150)
	for w := 0; w < 40; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for v := 0; v < 500; v += 5 {
				recs := [][]byte{data, data, data, data, data}
				if _, err := j.Append(bg, streamName(w), uint64(v), recs, v == 495 && w%2 == 0); err != nil {
					t.Error(err)
					return
				}
			}
			if err := j.SaveSnapshot(bg, streamName(w), 500, data); err != nil {
				t.Error(err)
			}
		}(w)
	}
	wg.Wait()
	must(t, j.Close())
}

type pageRef struct {
	id  int
	typ string
}

func listPages(t testing.TB, path string) (pages []pageRef, pageSize int) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true, PreLoadFreelist: true})
	must(t, err)
	defer db.Close()
	pageSize = db.Info().PageSize
	must(t, db.View(func(tx *bolt.Tx) error {
		for id := 2; ; id++ {
			info, err := tx.Page(id)
			if err != nil {
				return err
			}
			if info == nil {
				return nil
			}
			pages = append(pages, pageRef{id, info.Type})
			id += info.OverflowCount
		}
	}))
	return pages, pageSize
}

// exercise opens path and uses every read and write path; it returns the
// errors seen. A panic fails the test (the process dies).
func exercise(t testing.TB, path string, ro bool) []error {
	var errs []error
	j, err := Open(path, Options{ReadOnly: ro, Timeout: 100 * time.Millisecond})
	if err != nil {
		if !isKind(err) {
			t.Errorf("Open error without a journal code: %v", err)
		}
		return []error{err}
	}
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	nop := func(Record) error { return nil }
	add(j.Scan(0, nop))
	for w := 0; w < 40; w++ {
		add(j.ReadStream(streamName(w), 0, nop))
		_, err := j.StreamVersion(streamName(w))
		add(err)
		_, _, _, err = j.LoadSnapshot(streamName(w))
		add(err)
	}
	add(j.Live(func(string, uint64) error { return nil }))
	add(j.Check())
	if !ro {
		_, err := j.Append(bg, streamName(1), 500, [][]byte{[]byte("more")}, false)
		add(err)
		_, err = j.Append(bg, "new-stream", 0, [][]byte{[]byte("more")}, false)
		add(err)
	}
	add(j.Close())
	for _, err := range errs {
		if !isKind(err) {
			t.Errorf("error without a journal code: %v", err)
		}
	}
	return errs
}

// TestDamagedPages overwrites single pages of a big journal with garbage and
// checks that Open or the reads fail with an error, never a panic.
func TestDamagedPages(t *testing.T) {
	dir := t.TempDir()
	orig := filepath.Join(dir, "big.journal")
	bigJournal(t, orig)
	pages, pageSize := listPages(t, orig)
	content, err := os.ReadFile(orig)
	must(t, err)
	t.Logf("%d bytes, %d pages of %d bytes", len(content), len(pages), pageSize)
	if len(content) < 2<<20 {
		t.Fatalf("journal too small: %d bytes", len(content))
	}
	if errs := exercise(t, orig, false); len(errs) != 0 {
		t.Fatalf("undamaged journal: %v", errs)
	}

	var used []pageRef
	for _, p := range pages {
		if p.typ == "leaf" || p.typ == "branch" {
			used = append(used, p)
		}
	}
	rng := rand.New(rand.NewSource(42))
	var targets []pageRef
	targets = append(targets, used[len(used)/2], used[len(used)/3], used[len(used)-1])
	for _, p := range used {
		if p.typ == "branch" && len(targets) < 6 {
			targets = append(targets, p)
		}
	}
	for i := 0; i < 6; i++ {
		targets = append(targets, used[rng.Intn(len(used))])
	}
	for _, p := range pages {
		if p.typ == "freelist" {
			targets = append(targets, p)
		}
	}

	damage := func(name string, off int, b []byte) string {
		p := filepath.Join(dir, name)
		c := append([]byte(nil), content...)
		copy(c[off:], b)
		must(t, os.WriteFile(p, c, 0o600))
		return p
	}
	for i, p := range targets {
		// Random bytes over the whole page.
		garbage := make([]byte, pageSize)
		rng.Read(garbage)
		path := damage(fmt.Sprintf("random-%d", i), p.id*pageSize, garbage)
		for _, ro := range []bool{true, false} {
			errs := exercise(t, path, ro)
			logFirst(t, fmt.Sprintf("random over %s page %d (ro %v)", p.typ, p.id, ro), errs)
			if len(errs) == 0 && p.typ != "freelist" {
				t.Errorf("%s page %d overwritten (ro %v): no error", p.typ, p.id, ro)
			}
		}

		// A plausible header (right id, leaf or branch flag, many elements)
		// over garbage: element offsets point anywhere, even outside the map.
		if p.typ == "freelist" {
			continue
		}
		hdr := make([]byte, pageSize)
		rng.Read(hdr)
		binary.LittleEndian.PutUint64(hdr, uint64(p.id))
		flag := uint16(0x02) // leaf
		if p.typ == "branch" {
			flag = 0x01
		}
		binary.LittleEndian.PutUint16(hdr[8:], flag)
		binary.LittleEndian.PutUint16(hdr[10:], 200)
		binary.LittleEndian.PutUint32(hdr[12:], 0)
		path = damage(fmt.Sprintf("header-%d", i), p.id*pageSize, hdr)
		for _, ro := range []bool{true, false} {
			errs := exercise(t, path, ro)
			logFirst(t, fmt.Sprintf("plausible header over %s page %d (ro %v)", p.typ, p.id, ro), errs)
			if len(errs) == 0 {
				t.Errorf("%s page %d with garbage elements (ro %v): no error", p.typ, p.id, ro)
			}
		}
	}

	// Wild element pointers: offsets far past the end of the memory map, so
	// that bbolt reads unmapped memory (a fault, not a Go panic).
	for i, p := range targets[:6] {
		if p.typ != "leaf" && p.typ != "branch" {
			continue
		}
		pg := make([]byte, pageSize)
		binary.LittleEndian.PutUint64(pg, uint64(p.id))
		const n = 20
		binary.LittleEndian.PutUint16(pg[10:], n)
		for e := 0; e < n; e++ {
			el := pg[16+16*e:]
			wild := uint32(1<<30 + rng.Intn(1<<29))
			if p.typ == "leaf" {
				binary.LittleEndian.PutUint16(pg[8:], 0x02)
				binary.LittleEndian.PutUint32(el[4:], wild) // pos
				binary.LittleEndian.PutUint32(el[8:], 8)    // ksize
				binary.LittleEndian.PutUint32(el[12:], 8)   // vsize
			} else {
				binary.LittleEndian.PutUint16(pg[8:], 0x01)
				binary.LittleEndian.PutUint32(el[0:], wild) // pos
				binary.LittleEndian.PutUint32(el[4:], 8)    // ksize
				binary.LittleEndian.PutUint64(el[8:], uint64(2+rng.Intn(len(pages))))
			}
		}
		path := damage(fmt.Sprintf("wild-%d", i), p.id*pageSize, pg)
		for _, ro := range []bool{true, false} {
			errs := exercise(t, path, ro)
			logFirst(t, fmt.Sprintf("wild pointers in %s page %d (ro %v)", p.typ, p.id, ro), errs)
			if len(errs) == 0 {
				t.Errorf("%s page %d with wild pointers (ro %v): no error", p.typ, p.id, ro)
			}
		}
	}

	// Both meta pages.
	garbage := make([]byte, 2*pageSize)
	rng.Read(garbage)
	if errs := exercise(t, damage("meta", 0, garbage), false); len(errs) == 0 {
		t.Error("meta pages overwritten: no error")
	}
}

func logFirst(t testing.TB, what string, errs []error) {
	if len(errs) == 0 {
		t.Logf("%s: no error", what)
		return
	}
	msg := errs[0].Error()
	if len(msg) > 160 {
		msg = msg[:160] + "..."
	}
	t.Logf("%s: %d errors, first: %s", what, len(errs), msg)
}
