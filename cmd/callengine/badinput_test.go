package main

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBackupAndArchiveOfUnreadableInput: backup and archive of a file that
// is not a whole journal — empty, cut short at several lengths (within the
// first pages and later), garbage — exit 2 and say what is wrong with the
// input, the same words on every run; they write no output and leave the
// input as it was.
func TestBackupAndArchiveOfUnreadableInput(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	engineWithCalls(t, data).Close()
	full, err := os.ReadFile(filepath.Join(data, "journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	garbage := make([]byte, 3*4096+17)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range garbage {
		garbage[i] = byte(r.Uint32())
	}
	cases := []struct {
		name    string
		content []byte
		want    string
	}{
		{"empty", nil, "is empty: not a journal"},
		{"cut-100", full[:100], "is truncated"},
		{"cut-2048", full[:2048], "is truncated"},
		{"cut-4096", full[:4096], "is truncated"},
		{"cut-6000", full[:6000], "is truncated"},
		{"cut-third", full[:len(full)/3], "is truncated"},
		{"garbage", garbage, "is not a callengine journal"},
		{"text", bytes.Repeat([]byte("not a journal\n"), 1000), "is not a callengine journal"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := filepath.Join(dir, c.name+".db")
			if err := os.WriteFile(in, c.content, 0o600); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, c.name+"-copy.db")
			var first string
			for i := range 3 {
				code, stdout, errs := runBackup(t, "--journal", in, "--out", out)
				if code != 2 || stdout != "" || !strings.Contains(errs, in+" "+c.want) || strings.Contains(errs, out) ||
					strings.Contains(errs, "descriptor") || strings.Contains(errs, "EOF") {
					t.Fatalf("backup: exit %d, stdout %q, stderr %q; want exit 2 and %q", code, stdout, errs, in+" "+c.want)
				}
				if i == 0 {
					first = errs
				} else if errs != first {
					t.Fatalf("backup said something else on run %d:\n%s\n%s", i+1, first, errs)
				}
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("a failed backup wrote %s: %v", out, err)
			}
			for i := range 2 {
				code, stdout, errs := runArchive(t, "--journal", in, "--older-than", "1h")
				if code != 2 || stdout != "" || !strings.Contains(errs, in) || !strings.Contains(errs, "journal_corrupt") {
					t.Fatalf("archive run %d: exit %d, stdout %q, stderr %q; want exit 2, journal_corrupt", i+1, code, stdout, errs)
				}
			}
			if c.want != "is not a callengine journal" && c.want != "is empty: not a journal" {
				_, _, errs := runArchive(t, "--journal", in, "--older-than", "1h")
				if !strings.Contains(errs, "truncated") {
					t.Fatalf("archive of a journal cut short does not say truncated: %q", errs)
				}
			}
			after, err := os.ReadFile(in)
			if err != nil || !bytes.Equal(after, c.content) {
				t.Fatalf("the input changed: %d bytes before, %d after (%v)", len(c.content), len(after), err)
			}
			if _, err := os.Stat(in + "-archive"); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("archive made an archive directory: %v", err)
			}
		})
	}
}
