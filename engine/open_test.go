package engine_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
)

func TestOpenRefusesWhatIsNotAJournal(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte("this is not a journal, it is a shopping list: milk, eggs"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := engine.Open(ctx, engine.Config{JournalPath: garbage})
	wantCode(t, err, errcode.JournalCorrupt)

	foreign := filepath.Join(dir, "foreign.db")
	db, err := bolt.Open(foreign, 0o644, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("invoices")); return err })
	db.Close()
	_, err = engine.Open(ctx, engine.Config{JournalPath: foreign})
	wantCode(t, err, errcode.JournalCorrupt)
	// Nothing was written to either file.
	if b, _ := os.ReadFile(garbage); string(b) != "this is not a journal, it is a shopping list: milk, eggs" {
		t.Fatal("garbage file changed")
	}
}

func TestOpenRefusesAJournalHeldByAnother(t *testing.T) {
	dir := t.TempDir()
	first := must[*engine.Engine](t)(engine.Open(ctx, engine.Config{DataDir: dir}))
	defer first.Close()
	start := time.Now()
	_, err := engine.Open(ctx, engine.Config{DataDir: dir, LockTimeout: 100 * time.Millisecond})
	wantCode(t, err, errcode.Unavailable)
	if time.Since(start) > 5*time.Second {
		t.Fatal("Open waited far past its lock timeout")
	}
	// The first engine is unharmed.
	must[engine.Client](t)(first.RegisterClient(ctx, engine.ClientSpec{ID: "alice"}))
}
