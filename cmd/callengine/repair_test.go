package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callengine/callengine/journal"
)

func runRepair(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"repair"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// streamsOf reads every stream of the journal at path, record by record
// through ReadStream (the index), and the streams' versions.
func streamsOf(t *testing.T, path string) (map[string][]journal.Record, error) {
	t.Helper()
	j, err := journal.Open(path, journal.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	names := map[string]bool{}
	if err := j.Scan(1, func(r journal.Record) error { names[r.Stream] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	out := map[string][]journal.Record{}
	for s := range names {
		err := j.ReadStream(s, 0, func(r journal.Record) error { out[s] = append(out[s], r); return nil })
		if err != nil {
			return nil, err
		}
		if v, err := j.StreamVersion(s); err != nil {
			return nil, err
		} else if v != uint64(len(out[s])) {
			t.Fatalf("%s: version %d, %d records", s, v, len(out[s]))
		}
	}
	return out, nil
}

// indexKey is the on-disk streams-index key of (stream, version).
func indexKey(stream string, version uint64) []byte {
	k := binary.AppendUvarint(nil, uint64(len(stream)))
	k = append(k, stream...)
	return binary.BigEndian.AppendUint64(k, version)
}

// TestRepairRebuildsADamagedIndex: damage one index key of a real journal
// on disk; replay --verify, backup and lookups report it; repair rebuilds
// the index; everything reads again with identical contents.
func TestRepairRebuildsADamagedIndex(t *testing.T) {
	path := v1FixtureCopy(t)
	want, err := streamsOf(t, path)
	if err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	victim := ""
	for s := range want {
		if bytes.Count(file, indexKey(s, 1)) == 1 && strings.HasPrefix(s, "call") {
			victim = s
			break
		}
	}
	if victim == "" {
		t.Fatal("no index key found in the file")
	}
	at := bytes.Index(file, indexKey(victim, 1))
	file[at+len(victim)-2] ^= 0x20 // the key still decodes: it names another stream
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}

	if _, err := streamsOf(t, path); err == nil || !strings.Contains(err.Error(), "index entry") {
		t.Fatalf("lookups on the damaged journal: %v", err)
	}
	code, _, errs := runReplay(t, path, "--verify")
	if code == 0 || !strings.Contains(errs, "journal_corrupt") || !strings.Contains(errs, "index entry") {
		t.Fatalf("replay --verify on the damaged journal: exit %d, %q", code, errs)
	}
	code, _, errs = runBackup(t, "--journal", path, "--out", filepath.Join(t.TempDir(), "b.db"))
	if code != 2 || !strings.Contains(errs, "index entry") {
		t.Fatalf("backup of the damaged journal: exit %d, %q", code, errs)
	}
	// Every reader notices it, the listings too (they read events in
	// sequence, not through the index, and used to print as if nothing
	// were wrong).
	readers := [][]string{
		{"replay", path}, {"replay", path, "--transfers"}, {"replay", path, "--call", v1FirstCall},
		{"replay", path, "--at", "2026-01-05T12:00:00Z"}, {"history", "--journal", path, "--client", "alice"},
	}
	for _, args := range readers {
		code, out, errs := runCLI(args...)
		if code != 2 || out != "" || !strings.Contains(errs, "journal_corrupt") || !strings.Contains(errs, "streams index") ||
			!strings.Contains(errs, "callengine repair") {
			t.Fatalf("%v on the damaged journal: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}

	code, out, errs := runRepair(t, "--journal", path)
	if code != 0 {
		t.Fatalf("repair: exit %d, %q", code, errs)
	}
	if !strings.Contains(out, "rebuilt the streams index") || !strings.Contains(out, "check     passed") {
		t.Fatalf("repair said %q", out)
	}
	got, err := streamsOf(t, path)
	if err != nil {
		t.Fatalf("after the repair: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d streams after the repair, %d before", len(got), len(want))
	}
	for s, recs := range want {
		g := got[s]
		if len(g) != len(recs) {
			t.Fatalf("%s: %d records after the repair, %d before", s, len(g), len(recs))
		}
		for i := range recs {
			if g[i].Seq != recs[i].Seq || g[i].Version != recs[i].Version || !bytes.Equal(g[i].Data, recs[i].Data) {
				t.Fatalf("%s version %d differs after the repair", s, recs[i].Version)
			}
		}
	}
	replayOK(t, path, "--verify")
	for _, args := range readers {
		if code, _, errs := runCLI(args...); code != 0 {
			t.Fatalf("%v after the repair: exit %d, %q", args, code, errs)
		}
	}
	if code, _, errs := runBackup(t, "--journal", path, "--out", filepath.Join(t.TempDir(), "b.db")); code != 0 {
		t.Fatalf("backup after the repair: exit %d, %q", code, errs)
	}
}

func TestRepairFailures(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{}, 2, "which journal?"},
		{[]string{"--journal", filepath.Join(dir, "none.db")}, 2, "no such file"},
		{[]string{"--journal", empty}, 2, "is empty: not a journal"},
		{[]string{"--journal", dir}, 2, "is a directory"},
	} {
		code, _, errs := runRepair(t, c.args...)
		if code != c.code || !strings.Contains(errs, c.want) {
			t.Errorf("repair %v: exit %d, %q; want exit %d, %q", c.args, code, errs, c.code, c.want)
		}
	}
	// a journal an engine holds is not repaired
	data := filepath.Join(dir, "data")
	e := engineWithCalls(t, data)
	defer e.Close()
	code, _, errs := runRepair(t, "--data", data, "--timeout", "50ms")
	if code != 2 || !strings.Contains(errs, "locked") {
		t.Fatalf("repair of a held journal: exit %d, %q", code, errs)
	}
}
