package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/callengine/callengine/simulator"
)

func sim(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errs bytes.Buffer
	code := run(context.Background(), append([]string{"sim"}, args...), &out, &errs)
	return code, out.String(), errs.String()
}

var digestLine = regexp.MustCompile(`(?m)^digest: ([0-9a-f]{64})$`)

func TestSimPrintsTheTimelineAndADigest(t *testing.T) {
	journal := filepath.Join(t.TempDir(), "kept.db")
	code, out, errs := sim(t, "../../examples/scenarios/basic-call.yaml", "--digest", "--journal", journal)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		"== basic internal call", "> alice dial 102 as c1", "c1 answered device=bob-mobile",
		"= timeline of 6 events as expected", "ok  ../../examples/scenarios/basic-call.yaml: 7 steps, 6 events",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	m := digestLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no digest line:\n%s", out)
	}
	kept, _, err := simulator.Digest(journal)
	if err != nil || kept != m[1] {
		t.Fatalf("kept journal digest %s (%v), printed %s", kept, err, m[1])
	}
	_, again, _ := sim(t, "--quiet", "--digest", "../../examples/scenarios/basic-call.yaml")
	if m2 := digestLine.FindStringSubmatch(again); m2 == nil || m2[1] != m[1] {
		t.Fatalf("second run printed another digest:\n%s", again)
	}
}

func TestSimExitsOneOnAnUnmetExpectation(t *testing.T) {
	code, out, _ := sim(t, "--quiet", "../../simulator/testdata/failures.yaml", "../../examples/scenarios/basic-call.yaml")
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	for _, want := range []string{
		"FAIL  ../../simulator/testdata/failures.yaml", "ok  ../../examples/scenarios/basic-call.yaml",
		`c1: want "connected"`, "  - c1 answered device=bob-mobile", "  + c1 answered device=bob-desk",
		"1 of 2 scenarios failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestSimBadUsage(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("steps:\n  - do: alice teleport\n"), 0o644)
	for _, args := range [][]string{
		{},
		{"no-such-file.yaml"},
		{bad},
		{"--random", "2", "x.yaml"},
		{"--journal", "j.db", "a.yaml", "b.yaml"},
		{"--frobnicate"},
	} {
		if code, out, errs := sim(t, args...); code != 2 {
			t.Errorf("sim %v: exit %d, want 2\n%s%s", args, code, out, errs)
		}
	}
	if code, out, _ := sim(t, "-h"); code != 0 || !strings.Contains(out, "usage: callengine sim") {
		t.Errorf("sim -h: exit %d, %q", code, out)
	}
	if _, _, errs := sim(t, bad); !strings.Contains(errs, "line 2") || !strings.Contains(errs, "malformed") {
		t.Errorf("a malformed scenario's message does not say where: %q", errs)
	}
}

func TestSimRandom(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := sim(t, "--random", "5", "--seed", "42", "--out", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if !strings.Contains(out, "ok  5 random scenarios from seed 42") || strings.Count(out, "\nseed ") != 4 {
		t.Fatalf("output:\n%s", out)
	}
	if files, _ := os.ReadDir(dir); len(files) != 0 {
		t.Fatalf("a passing run wrote %d files", len(files))
	}
}

// Sessions and voicemail deadlines come back after a crash: the scenarios
// that show it pass, with the same journal on a second run.
func TestSimSessionsAndVoicemailAcrossACrash(t *testing.T) {
	files := []string{
		"../../examples/scenarios/session-grace-after-crash.yaml",
		"../../examples/scenarios/voicemail-after-crash.yaml",
	}
	code, out, errs := sim(t, append([]string{"--quiet", "--digest"}, files...)...)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, f := range files {
		if !strings.Contains(out, "ok  "+f) {
			t.Errorf("output lacks ok for %s:\n%s", f, out)
		}
	}
	_, again, _ := sim(t, append([]string{"--quiet", "--digest"}, files...)...)
	first, second := digestLine.FindAllString(out, -1), digestLine.FindAllString(again, -1)
	if len(first) != 2 || strings.Join(first, "\n") != strings.Join(second, "\n") {
		t.Fatalf("digests differ between runs:\n%s\n---\n%s", out, again)
	}
}
