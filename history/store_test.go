package history_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/history"
	"github.com/callengine/callengine/journal"
)

func openJournal(t testing.TB, path string) *journal.Journal {
	t.Helper()
	j, err := journal.Open(path, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

func fixedNow() time.Time { return base.Add(24 * time.Hour) }

func dumpAll(t testing.TB, h *history.History) string {
	return dump(t, h, workloadClients)
}

// The follower applies what is journaled while the history is open, and a
// query sees every record journaled before it began (read-your-writes).
func TestFollowerReadYourWrites(t *testing.T) {
	dir := t.TempDir()
	j := openJournal(t, filepath.Join(dir, "journal.db"))
	h := openHistory(t, filepath.Join(dir, "history.db"), j, fixedNow)
	defer h.Close()
	h.Follow()
	h.Follow() // a second call is a no-op

	versions := map[string]uint64{}
	for i, r := range workload(1, 40) {
		appendRecord(t, j, versions, r)
		d, ok := r.ev.(events.CallDialed)
		if !ok || d.Caller.Client == "" {
			continue
		}
		// The call just dialed is at the top of its caller's history.
		got, err := h.Calls(context.Background(), history.Query{Client: d.Caller.Client, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Call != strings.TrimPrefix(r.stream, "call/") || got[0].Kind != history.Made {
			t.Fatalf("record %d: %s's latest entry %+v, want the call just dialed, %s", i, d.Caller.Client, got, r.stream)
		}
	}
	if _, err := h.Voicemail(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	if h.Applied() != j.LastSeq() {
		t.Errorf("applied %d of %d", h.Applied(), j.LastSeq())
	}
	if s := h.Stats(); s.LiveCalls != 0 || s.Skipped != 0 {
		t.Errorf("stats %+v", s)
	}
}

// Many writers and readers at once (run with -race): every query waits for
// what was journaled before it.
func TestFollowerConcurrent(t *testing.T) {
	dir := t.TempDir()
	j := openJournal(t, filepath.Join(dir, "journal.db"))
	h := openHistory(t, filepath.Join(dir, "history.db"), j, fixedNow)
	defer h.Close()
	h.Follow()
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			client := workloadClients[w%len(workloadClients)]
			for i := 0; i < 25; i++ {
				id := client + "-" + string(rune('a'+w)) + "-" + string(rune('a'+i))
				ev := events.CallDialed{Caller: events.Party{Client: client}, Callee: events.Party{Number: "+33144556677"}, Direction: events.Outbound}
				if _, err := j.Append(context.Background(), "call/"+id, 0, [][]byte{events.EncodeBody(nil, base.Add(time.Duration(i)*time.Second).UnixNano(), ev)}, false); err != nil {
					t.Error(err)
					return
				}
				missing, err := h.NotInHistory(context.Background(), client, []string{id})
				if err != nil || len(missing) != 0 {
					t.Errorf("%s not in %s's history right after it was journaled: %v %v", id, client, missing, err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
}

// A history rebuilt from the journal lists the same as the one that
// followed it — whatever the batch size, and across restarts.
func TestRebuildEquivalence(t *testing.T) {
	dir := t.TempDir()
	j := openJournal(t, filepath.Join(dir, "journal.db"))
	recs := workload(7, 400)

	// Follow the journal while it grows, restarting the history now and then.
	path := filepath.Join(dir, "history.db")
	h := openHistory(t, path, j, fixedNow)
	h.Follow()
	versions := map[string]uint64{}
	for i, r := range recs {
		appendRecord(t, j, versions, r)
		if i%97 == 96 {
			if err := h.Close(); err != nil {
				t.Fatal(err)
			}
			h = openHistory(t, path, j, fixedNow)
			if why := h.Rebuilt(); why != "" {
				t.Fatalf("restart rebuilt the file: %s", why)
			}
			h.Follow()
		}
	}
	followed := dumpAll(t, h)
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if strings.Count(followed, "\n") < 400 {
		t.Fatalf("the workload gave only %d lines:\n%s", strings.Count(followed, "\n"), followed)
	}

	// Delete the file: Open starts afresh and the queries catch up.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	h = openHistory(t, path, j, fixedNow)
	if got := dumpAll(t, h); got != followed {
		t.Errorf("history rebuilt after the file was deleted differs:\n%s", diff(followed, got))
	}
	h.Close()

	// Rebuild in batches of 7 records.
	small := filepath.Join(dir, "small.db")
	if err := history.Rebuild(context.Background(), small, j, history.Options{BatchSize: 7}); err != nil {
		t.Fatal(err)
	}
	h = openHistory(t, small, j, fixedNow)
	if got := dumpAll(t, h); got != followed {
		t.Errorf("history rebuilt in small batches differs:\n%s", diff(followed, got))
	}
	h.Close()
}

// diff shows the first differing line of two dumps.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < min(len(w), len(g)); i++ {
		if w[i] != g[i] {
			return "line " + strconv.Itoa(i+1) + ":\nwant " + w[i] + "\ngot  " + g[i]
		}
	}
	return "lengths differ"
}

// The journal is restored from an older backup: the file's checkpoint is
// beyond the journal's last record, so Open rebuilds it — and the history
// is the backup's.
func TestStaleCheckpointRebuilds(t *testing.T) {
	dir := t.TempDir()
	jpath, path := filepath.Join(dir, "journal.db"), filepath.Join(dir, "history.db")
	j, err := journal.Open(jpath, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	recs := workload(3, 100)
	versions := map[string]uint64{}
	for _, r := range recs[:len(recs)/2] {
		appendRecord(t, j, versions, r)
	}
	backup := filepath.Join(dir, "backup.db")
	if err := j.BackupFile(backup); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs[len(recs)/2:] {
		appendRecord(t, j, versions, r)
	}
	h := openHistory(t, path, j, fixedNow)
	if err := h.CatchUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	full := dumpAll(t, h)
	h.Close()
	j.Close()

	// Restore the backup over the journal.
	data, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(jpath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	j = openJournal(t, jpath)
	h = openHistory(t, path, j, fixedNow)
	defer h.Close()
	if why := h.Rebuilt(); !strings.Contains(why, "beyond the journal's last record") {
		t.Fatalf("Rebuilt() = %q, want the checkpoint beyond the journal", why)
	}
	got := dumpAll(t, h)
	if got == full {
		t.Fatal("the history still shows calls the restored journal does not have")
	}
	if err := history.Rebuild(context.Background(), filepath.Join(dir, "fresh.db"), j, history.Options{}); err != nil {
		t.Fatal(err)
	}
	fresh := openHistory(t, filepath.Join(dir, "fresh.db"), j, fixedNow)
	defer fresh.Close()
	if want := dumpAll(t, fresh); got != want {
		t.Errorf("rebuilt after the restore differs from a fresh rebuild:\n%s", diff(want, got))
	}
}

// The journal was restored from a backup and has since grown past the
// file's checkpoint: the record where the file's last one was is another
// one, so Open rebuilds.
func TestOtherJournalRebuilds(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "history.db")
	recs := workload(5, 60)

	j1 := openJournal(t, filepath.Join(dir, "one.db"))
	journalOf(t, j1, recs[:40], 1)
	h := openHistory(t, path, j1, fixedNow)
	if err := h.CatchUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.Close()

	// Another journal with more records.
	j2 := openJournal(t, filepath.Join(dir, "two.db"))
	journalOf(t, j2, workload(6, 80), 1)
	h = openHistory(t, path, j2, fixedNow)
	defer h.Close()
	if why := h.Rebuilt(); !strings.Contains(why, "another record") {
		t.Fatalf("Rebuilt() = %q, want another record at the checkpoint", why)
	}
}

// A file that cannot be trusted is rebuilt: garbage, another format, left
// open by a machine that restarted since.
func TestBadFilesRebuild(t *testing.T) {
	dir := t.TempDir()
	j := openJournal(t, filepath.Join(dir, "journal.db"))
	journalOf(t, j, workload(9, 30), 1)
	good := filepath.Join(dir, "good.db")
	if err := history.Rebuild(context.Background(), good, j, history.Options{}); err != nil {
		t.Fatal(err)
	}
	h := openHistory(t, good, j, fixedNow)
	want := dumpAll(t, h)
	h.Close()

	copyFile := func(name string) string {
		data, err := os.ReadFile(good)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	edit := func(name string, fn func(tx *bolt.Tx) error) string {
		p := copyFile(name)
		db, err := bolt.Open(p, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(fn); err != nil {
			t.Fatal(err)
		}
		db.Close()
		return p
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, path, why string
	}{
		{"garbage", write("garbage.db", []byte(strings.Repeat("not a database\n", 2000))), "unreadable"},
		{"empty", write("empty.db", nil), ""}, // bbolt makes an empty file a new database
		{"another bbolt file", edit("other.db", func(tx *bolt.Tx) error {
			if err := tx.DeleteBucket([]byte("meta")); err != nil {
				return err
			}
			_, err := tx.CreateBucket([]byte("something"))
			return err
		}), "not a call history"},
		{"another format", edit("format.db", func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("meta")).Put([]byte("format"), []byte("callengine-history 0"))
		}), "format"},
		{"left open by another boot", edit("boot.db", func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("meta")).Put([]byte("open"), []byte("some-other-boot"))
		}), "machine restarted"},
		{"left open by this boot (a process that died)", edit("crash.db", func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("meta")).Put([]byte("open"), []byte(thisBoot()))
		}), crashWhy()},
		{"a live call that does not decode", edit("live.db", func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("live")).Put([]byte("c1"), []byte("{"))
		}), "does not decode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := history.Open(tc.path, j, history.Options{Now: fixedNow})
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			if !strings.Contains(h.Rebuilt(), tc.why) || tc.why == "" && h.Rebuilt() != "" {
				t.Errorf("Rebuilt() = %q, want %q", h.Rebuilt(), tc.why)
			}
			if got := dumpAll(t, h); got != want {
				t.Errorf("history differs:\n%s", diff(want, got))
			}
		})
	}
	// A file closed cleanly opens as it is.
	h = openHistory(t, good, j, fixedNow)
	defer h.Close()
	if why := h.Rebuilt(); why != "" {
		t.Errorf("a good file was rebuilt: %s", why)
	}
}

// The file is locked while open: a second Open fails at once, and does not
// delete it.
func TestOpenLocked(t *testing.T) {
	dir := t.TempDir()
	j := openJournal(t, filepath.Join(dir, "journal.db"))
	path := filepath.Join(dir, "history.db")
	h := openHistory(t, path, j, nil)
	defer h.Close()
	_, err := history.Open(path, j, history.Options{LockTimeout: 50 * time.Millisecond})
	if errcode.CodeOf(err) != errcode.Unavailable {
		t.Fatalf("second Open: %v, want unavailable", err)
	}
	if _, err := h.Calls(context.Background(), history.Query{Client: "alice"}); err != nil {
		t.Fatalf("the first history broke: %v", err)
	}
}

// Without a follower a query catches up itself, within its context.
func TestQueryCatchesUpWithinContext(t *testing.T) {
	dir := t.TempDir()
	j := openJournal(t, filepath.Join(dir, "journal.db"))
	h := openHistory(t, filepath.Join(dir, "history.db"), j, nil)
	defer h.Close()
	journalOf(t, j, workload(11, 20), 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Calls(ctx, history.Query{Client: "alice"}); errcode.CodeOf(err) != errcode.Unavailable || !errors.Is(err, context.Canceled) {
		t.Fatalf("query with a canceled context: %v, want unavailable (canceled)", err)
	}
	if _, err := h.Calls(context.Background(), history.Query{Client: "alice"}); err != nil {
		t.Fatal(err)
	}
	if h.Applied() != j.LastSeq() {
		t.Errorf("applied %d of %d", h.Applied(), j.LastSeq())
	}
}

func TestClosed(t *testing.T) {
	dir := t.TempDir()
	j := openJournal(t, filepath.Join(dir, "journal.db"))
	h := openHistory(t, filepath.Join(dir, "history.db"), j, nil)
	h.Follow()
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := h.Calls(context.Background(), history.Query{Client: "alice"}); errcode.CodeOf(err) != errcode.Closed {
		t.Fatalf("query after Close: %v, want closed", err)
	}
	h.Follow() // no-op after Close
}

// The follower stops when the journal closes under it; Close still works.
func TestJournalClosedUnderFollower(t *testing.T) {
	dir := t.TempDir()
	j, err := journal.Open(filepath.Join(dir, "journal.db"), journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := openHistory(t, filepath.Join(dir, "history.db"), j, nil)
	h.Follow()
	journalOf(t, j, workload(2, 5), 1)
	j.Close()
	done := make(chan error)
	go func() { done <- h.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close hangs after the journal closed")
	}
}

// NotInHistory and NotInBox name what a client does not have.
func TestNotIn(t *testing.T) {
	dir := t.TempDir()
	j := openJournal(t, filepath.Join(dir, "journal.db"))
	h := openHistory(t, filepath.Join(dir, "history.db"), j, nil)
	defer h.Close()
	versions := map[string]uint64{}
	for _, r := range []record{
		{"call/c1", base, events.CallDialed{Caller: events.Party{Client: "alice"}, Callee: events.Party{Client: "bob"}, VoicemailLimit: int64(time.Minute)}},
		{"call/c1", base, events.CallToVoicemail{Reason: events.NoAnswer, Deadline: base.Add(time.Minute).UnixNano()}},
		{"call/c1", base.Add(10 * time.Second), events.VoicemailLeft{Client: "bob", From: events.Party{Client: "alice"}, Duration: int64(10 * time.Second)}},
		{"call/c1", base.Add(10 * time.Second), events.CallEnded{Reason: events.Voicemail, By: events.Caller, Missed: true}},
	} {
		appendRecord(t, j, versions, r)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		fn     func(context.Context, string, []string) ([]string, error)
		client string
		calls  []string
		want   string
	}{
		{h.NotInHistory, "bob", []string{"c1", "c2"}, "c2"},
		{h.NotInHistory, "alice", []string{"c1"}, ""},
		{h.NotInHistory, "carol", []string{"c1"}, "c1"},
		{h.NotInBox, "bob", []string{"c1"}, ""},
		{h.NotInBox, "alice", []string{"c1", "c3"}, "c1,c3"},
	} {
		got, err := tc.fn(ctx, tc.client, tc.calls)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, ",") != tc.want {
			t.Errorf("%s %v: missing %v, want %q", tc.client, tc.calls, got, tc.want)
		}
	}
	if _, err := h.NotInHistory(ctx, "", []string{"c1"}); errcode.CodeOf(err) != errcode.MissingParameter {
		t.Errorf("no client: %v", err)
	}
}

// A record that does not decode is passed over and counted; the rest is
// applied.
func TestUndecodableRecordSkipped(t *testing.T) {
	dir := t.TempDir()
	j := openJournal(t, filepath.Join(dir, "journal.db"))
	h := openHistory(t, filepath.Join(dir, "history.db"), j, nil)
	defer h.Close()
	if _, err := j.Append(context.Background(), "call/bad", 0, [][]byte{[]byte("not an event")}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append(context.Background(), "group/g", 0, [][]byte{[]byte("not read")}, false); err != nil {
		t.Fatal(err)
	}
	journalOf(t, j, workload(4, 3), 1)
	if _, err := h.Calls(context.Background(), history.Query{Client: "alice"}); err != nil {
		t.Fatal(err)
	}
	if s := h.Stats(); s.Skipped != 1 || s.Applied != j.LastSeq() {
		t.Errorf("stats %+v, want 1 skipped, all applied", s)
	}
}

// thisBoot is the machine's boot id, "" where there is none.
func thisBoot() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// crashWhy is why a file left open by this boot is rebuilt: it is not
// where the boot id is known (a process died, its writes are in the page
// cache); it is where it is not.
func crashWhy() string {
	if thisBoot() == "" {
		return "machine restarted"
	}
	return ""
}

// Rebuild refuses a file another holder has open.
func TestRebuildLocked(t *testing.T) {
	dir := t.TempDir()
	j := openJournal(t, filepath.Join(dir, "journal.db"))
	path := filepath.Join(dir, "history.db")
	h := openHistory(t, path, j, nil)
	defer h.Close()
	err := history.Rebuild(context.Background(), path, j, history.Options{LockTimeout: 50 * time.Millisecond})
	if errcode.CodeOf(err) != errcode.Unavailable {
		t.Fatalf("Rebuild of an open file: %v, want unavailable", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the open file was removed: %v", err)
	}
}
