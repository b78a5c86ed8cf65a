package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/journal"
)

// engineWithCalls opens an engine on dir with two clients and a few calls.
func engineWithCalls(t *testing.T, dir string) *engine.Engine {
	t.Helper()
	ctx := context.Background()
	e, err := engine.Open(ctx, engine.Config{DataDir: dir, RingTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []engine.ClientSpec{
		{ID: "alice", Extensions: []string{"101"}, Devices: []engine.Device{{ID: "alice-desk"}}},
		{ID: "bob", Extensions: []string{"102"}, Devices: []engine.Device{{ID: "bob-desk"}}},
	} {
		if _, err := e.RegisterClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		c, err := e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Answer(ctx, c.ID, "bob-desk"); err != nil {
			t.Fatal(err)
		}
		if i < 2 {
			if _, err := e.Hangup(ctx, c.ID, engine.Caller); err != nil {
				t.Fatal(err)
			}
		}
	}
	return e
}

func runBackup(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"backup"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func checkCopy(t *testing.T, path string, wantEvents uint64) {
	t.Helper()
	j, err := journal.Open(path, journal.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatalf("the copy does not open: %v", err)
	}
	defer j.Close()
	if err := j.Check(); err != nil {
		t.Fatal(err)
	}
	if j.LastSeq() < wantEvents {
		t.Fatalf("the copy has %d events, want at least %d", j.LastSeq(), wantEvents)
	}
}

func TestBackupCommandOfAClosedJournal(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	e := engineWithCalls(t, dir)
	events := e.Journal().LastSeq()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "backup.db")
	code, out, errs := runBackup(t, "--data", dir, "--out", dst)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		"copied " + filepath.Join(dir, "journal.db") + " to " + dst,
		"read transaction", fmt.Sprintf("events    %d (seq 1 to %d)", events, events),
		"live      3 streams", "check     passed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	checkCopy(t, dst, events)

	// --journal names the file; --no-check skips the full check.
	dst2 := filepath.Join(t.TempDir(), "b2.db")
	code, out, errs = runBackup(t, "--journal", filepath.Join(dir, "journal.db"), "--out", dst2, "--no-check")
	if code != 0 || !strings.Contains(out, "skipped (--no-check)") {
		t.Fatalf("exit %d: %s%s", code, out, errs)
	}
	checkCopy(t, dst2, events)
}

// An engine in this process holds the journal (bbolt's flock is per open
// file, so the command cannot open it): the command copies the raw file,
// while calls go on.
func TestBackupCommandWhileAnEngineRuns(t *testing.T) {
	dir := t.TempDir()
	e := engineWithCalls(t, dir)
	defer e.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			c, err := e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"})
			if err != nil {
				return
			}
			time.Sleep(time.Millisecond)
			if _, err := e.Hangup(ctx, c.ID, engine.Caller); err != nil {
				return
			}
		}
	}()
	out := t.TempDir()
	for i := 0; i < 3; i++ {
		before := e.Journal().LastSeq()
		dst := filepath.Join(out, fmt.Sprint("b", i))
		code, stdout, errs := runBackup(t, "--data", dir, "--out", dst, "--attempts", "200")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		if !strings.Contains(stdout, "raw copy with stable meta pages") {
			t.Fatalf("not a raw copy:\n%s", stdout)
		}
		checkCopy(t, dst, before)
		t.Log(stdout)
	}
	cancel()
	wg.Wait()
}

func TestBackupCommandFailures(t *testing.T) {
	dir := t.TempDir()
	code, _, errs := runBackup(t, "--data", filepath.Join(dir, "nothing"), "--out", filepath.Join(dir, "b.db"))
	if code != 2 || !strings.Contains(errs, "not_found") {
		t.Fatalf("missing journal: exit %d, %q", code, errs)
	}
	junk := filepath.Join(dir, "junk.db")
	if err := os.WriteFile(junk, bytes.Repeat([]byte("junk"), 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errs = runBackup(t, "--journal", junk, "--out", filepath.Join(dir, "b.db"))
	if code != 2 || !strings.Contains(errs, "journal_corrupt") || !strings.Contains(errs, "not a callengine journal") {
		t.Fatalf("not a journal: exit %d, %q", code, errs)
	}
	data := filepath.Join(dir, "data")
	engineWithCalls(t, data).Close()
	code, _, errs = runBackup(t, "--data", data, "--out", filepath.Join(dir, "no", "dir", "b.db"))
	if code != 1 || !strings.Contains(errs, "unavailable") {
		t.Fatalf("unwritable target: exit %d, %q", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "b.db")); !os.IsNotExist(err) {
		t.Fatalf("a failed backup wrote something: %v", err)
	}
}

func TestBackupCommandUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--data", "d"},
		{"--out", "f"},
		{"--data", "d", "--journal", "j", "--out", "f"},
		{"--data", "d", "--out", "f", "extra"},
		{"--data", "d", "--out", "f", "--attempts", "0"},
		{"--data", "d", "--out", "f", "--timeout", "0s"},
		{"--frobnicate"},
	} {
		code, out, errs := runBackup(t, args...)
		if code != 2 || !strings.Contains(errs, "usage: callengine backup") || out != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
	code, out, _ := runBackup(t, "-h")
	if code != 0 || !strings.Contains(out, "--data DIR --out FILE") {
		t.Errorf("-h: exit %d, %q", code, out)
	}
}

// TestBackupCommandBadInput: an empty or truncated input is reported as
// such, the same way every run, not as a failure to write the output.
func TestBackupCommandBadInput(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runBackup(t, "--journal", empty, "--out", filepath.Join(dir, "b.db"))
	if code != 2 || !strings.Contains(errs, empty+" is empty: not a journal") || strings.Contains(errs, "descriptor") {
		t.Fatalf("empty journal: exit %d, %q", code, errs)
	}
	full, err := os.ReadFile(v1Fixture)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.db")
	if err := os.WriteFile(cut, full[:len(full)/3], 0o600); err != nil {
		t.Fatal(err)
	}
	var first string
	for i := range 3 {
		code, _, errs := runBackup(t, "--journal", cut, "--out", filepath.Join(dir, "b.db"))
		if code != 2 || !strings.Contains(errs, cut+" is truncated") || strings.Contains(errs, "cannot write") {
			t.Fatalf("truncated journal: exit %d, %q", code, errs)
		}
		if i == 0 {
			first = errs
		} else if errs != first {
			t.Fatalf("the message changed between runs:\n%s\n%s", first, errs)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "b.db")); !os.IsNotExist(err) {
		t.Fatalf("a failed backup wrote something: %v", err)
	}
}
