package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callengine/callengine/journal"
)

// runWithStdin runs callengine with stdin reading in.
func runWithStdin(t *testing.T, in []byte, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	old := stdin
	stdin = bytes.NewReader(in)
	defer func() { stdin = old }()
	return runCLI(args...)
}

// backup --out - writes the journal to stdout (it used to create a file
// named "-"), the report to stderr; --json is the report as JSON.
func TestBackupToStdoutAndJSON(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	engineWithCalls(t, data).Close()
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)

	code, out, errs := runCLI("backup", "--data", data, "--out", "-")
	if code != 0 || !strings.Contains(errs, "copied ") || !strings.Contains(errs, " to -") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "-")); !os.IsNotExist(err) {
		t.Fatalf("backup --out - made a file named -: %v", err)
	}
	copyPath := filepath.Join(dir, "from-stdout.db")
	if err := os.WriteFile(copyPath, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	j, err := journal.Open(copyPath, journal.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatalf("stdout is not a journal: %v", err)
	}
	if err := j.Check(); err != nil || j.LastSeq() == 0 {
		t.Fatalf("the copy on stdout: check %v, last seq %d", err, j.LastSeq())
	}
	last := j.LastSeq()
	j.Close()

	code, out, errs = runCLI("backup", "--data", data, "--out", filepath.Join(dir, "b.db"), "--json")
	var doc struct {
		Copy    string `json:"copy"`
		Events  uint64 `json:"events"`
		Checked bool   `json:"checked"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &doc) != nil || doc.Events != last || !doc.Checked || doc.Copy != filepath.Join(dir, "b.db") {
		t.Fatalf("--json: exit %d, %+v, stdout %q, stderr %q", code, doc, out, errs)
	}

	// The copy on stdout is what replay and history read from stdin.
	raw, _ := os.ReadFile(copyPath)
	if code, out, errs := runWithStdin(t, raw, "replay", "-"); code != 0 || !strings.Contains(out, "3 calls, 1 live") {
		t.Errorf("replay -: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := runWithStdin(t, raw, "history", "--journal", "-", "--client", "bob"); code != 0 || !strings.Contains(out, "3 calls") {
		t.Errorf("history --journal -: exit %d\n%s%s", code, out, errs)
	}
}

// replay --html - writes the page to stdout, the summary to stderr.
func TestReplayHTMLToStdout(t *testing.T) {
	file := v1FixtureCopy(t)
	code, out, errs := runCLI("replay", file, "--call", v1FirstCall, "--html", "-")
	if code != 0 || !strings.HasPrefix(out, "<!DOCTYPE html>") || !strings.Contains(errs, "wrote -: call "+v1FirstCall) {
		t.Fatalf("exit %d, stdout %.60q, stderr %q", code, out, errs)
	}
	if _, err := os.Stat("-"); !os.IsNotExist(err) {
		t.Fatal("a file named - was written")
	}
}

// sim --json prints one JSON document (sim had no --json); FILE - reads the
// scenario from stdin.
func TestSimJSONAndStdin(t *testing.T) {
	const file = "../../examples/scenarios/basic-call.yaml"
	code, out, errs := runCLI("sim", file, "--json")
	var doc simJSON
	if code != 0 || json.Unmarshal([]byte(out), &doc) != nil {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if len(doc.Scenarios) != 1 || !doc.Scenarios[0].OK || doc.Scenarios[0].Events != 6 || len(doc.Scenarios[0].Timeline) == 0 ||
		len(doc.Scenarios[0].Digest) != 64 || doc.Failed != 0 {
		t.Errorf("doc %+v", doc)
	}
	code, out, _ = runCLI("sim", "--quiet", "--json", "../../simulator/testdata/failures.yaml", file)
	doc = simJSON{}
	if code != 1 || json.Unmarshal([]byte(out), &doc) != nil || doc.Failed != 1 || len(doc.Scenarios[0].Failures) == 0 ||
		doc.Scenarios[0].Timeline != nil {
		t.Errorf("failing scenario: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI("sim", "--random", "2", "--json")
	var rnd simRandomJSON
	if code != 0 || json.Unmarshal([]byte(out), &rnd) != nil || !rnd.OK || rnd.Scenarios != 2 {
		t.Errorf("--random --json: exit %d\n%s", code, out)
	}

	yaml, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs = runWithStdin(t, yaml, "sim", "-")
	if code != 0 || !strings.Contains(out, "ok  -: 7 steps, 6 events") {
		t.Errorf("sim -: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := runWithStdin(t, yaml, "sim", "-", "-"); code != 2 || !strings.Contains(errs, "give - once") {
		t.Errorf("sim - -: exit %d, %q", code, errs)
	}
}

// Every command that prints data takes --json.
func TestEveryDataCommandTakesJSON(t *testing.T) {
	for name := range commands {
		if name == "demo" { // a narrated story, not data
			continue
		}
		_, out, _ := runCLI(name, "-h")
		if !strings.Contains(out, "  -json") {
			t.Errorf("%s has no --json", name)
		}
	}
}
