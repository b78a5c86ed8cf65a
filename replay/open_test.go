package replay_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/journal"
	"github.com/callengine/callengine/replay"
)

// A running engine holds its journal locked: Open says so at once, with code
// unavailable, and points to `callengine backup`.
func TestOpenLockedJournal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	copyFile(t, fixturePath, path)
	j, err := journal.Open(path, journal.Options{}) // the writer's exclusive lock
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	start := time.Now()
	l, err := replay.Open(path)
	if err == nil {
		l.Close()
		t.Fatal("opened a journal a writer holds")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Open waited %v for the lock", took)
	}
	if errcode.CodeOf(err) != errcode.Unavailable || !strings.Contains(err.Error(), "callengine backup") {
		t.Errorf("error %v: want unavailable, telling to take a copy with callengine backup", err)
	}
}

func TestOpenBadFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// edit copies the fixture and changes it with bbolt directly.
	edit := func(name string, fn func(tx *bolt.Tx) error) string {
		p := filepath.Join(dir, name)
		copyFile(t, fixturePath, p)
		db, err := bolt.Open(p, 0o600, &bolt.Options{Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(fn); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name string
		path string
		code errcode.Code
		says string
	}{
		{"missing", filepath.Join(dir, "nothing-here"), errcode.NotFound, "no journal"},
		{"data dir without a journal", dir, errcode.NotFound, "no journal"},
		{"empty file", write("empty", nil), errcode.JournalCorrupt, "not a callengine journal"},
		{"text file", write("text", []byte(strings.Repeat("not a journal\n", 1000))), errcode.JournalCorrupt, "not a callengine journal"},
		{"bbolt file of another program", edit("other", func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("meta")).Put([]byte("magic"), []byte("something-else"))
		}), errcode.JournalCorrupt, "not a callengine journal"},
		{"newer schema", edit("schema2", func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte{0, 2})
		}), errcode.Unavailable, "newer callengine"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := replay.Open(tc.path)
			if err == nil {
				l.Close()
				t.Fatal("opened")
			}
			if errcode.CodeOf(err) != tc.code || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error %v: want code %s saying %q", err, tc.code, tc.says)
			}
		})
	}
}

// A data directory stands for its journal.db.
func TestOpenDataDirectory(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, fixturePath, filepath.Join(dir, "journal.db"))
	l, err := replay.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Path() != filepath.Join(dir, "journal.db") || l.LastSeq() == 0 {
		t.Errorf("path %s, %d events", l.Path(), l.LastSeq())
	}
}

// A record whose checksum fails is journal_corrupt, for every reader that
// reads it.
func TestDamagedRecord(t *testing.T) {
	p := filepath.Join(t.TempDir(), "damaged.journal")
	copyFile(t, fixturePath, p)
	db, err := bolt.Open(p, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("events"))
		k, v := b.Cursor().First() // a record Open does not read
		v = append([]byte(nil), v...)
		v[len(v)-1] ^= 0xff
		return b.Put(append([]byte(nil), k...), v)
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	l, err := replay.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Calls(replay.Filter{}); errcode.CodeOf(err) != errcode.JournalCorrupt {
		t.Errorf("Calls: %v", err)
	}
	if _, err := l.Verify(); errcode.CodeOf(err) != errcode.JournalCorrupt {
		t.Errorf("Verify: %v", err)
	}
	if _, err := l.At(dayStart.Add(time.Hour)); errcode.CodeOf(err) != errcode.JournalCorrupt {
		t.Errorf("At: %v", err)
	}
}
