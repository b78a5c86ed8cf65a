package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/journal"
)

func runHistory(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"history"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func historyOK(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := runHistory(t, args...)
	if code != 0 {
		t.Fatalf("history %v: exit %d\nstderr: %s", args, code, errs)
	}
	return out
}

// The v1 fixture (replay/testdata/v1.journal): Alice made five calls,
// received one that still rings, and missed one Carol made.
func TestHistoryListsCalls(t *testing.T) {
	file := v1FixtureCopy(t)
	out := historyOK(t, "--journal", file, "--client", "alice")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 9 { // heading, 7 calls, total
		t.Fatalf("%d lines:\n%s", len(lines), out)
	}
	for _, want := range []string{"CALL", "SETUP", "KIND", "OTHER", "STATE", "REASON", "RANG", "TALKED"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("heading %q lacks %s", lines[0], want)
		}
	}
	// Newest first.
	first, last := strings.Fields(lines[1]), strings.Fields(lines[7])
	if want := "01KE6S9N90621M36MHPMCG07Y3 2026-01-05T09:55:00.000Z received carol +14155550103 ringing -"; strings.Join(first[:7], " ") != want {
		t.Errorf("first line %q, want %q…", lines[1], want)
	}
	if want := v1FirstCall + " 2026-01-05T09:02:00.000Z made bob 102 ended hangup 0:00:03 0:03:45"; strings.Join(last, " ") != want {
		t.Errorf("last line %q, want %q", lines[7], want)
	}
	if !strings.Contains(out, v1OutboundCall) || !strings.Contains(out, "outbound") {
		t.Errorf("the outbound call is missing:\n%s", out)
	}
	if lines[8] != "7 calls" {
		t.Errorf("last line %q", lines[8])
	}
	// The temporary history is gone.
	if matches, _ := filepath.Glob(filepath.Join(os.TempDir(), "callengine-history*")); len(matches) > 0 {
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil && time.Since(fi.ModTime()) < time.Minute {
				t.Errorf("temporary history left behind: %s", m)
			}
		}
	}
}

func TestHistoryFilters(t *testing.T) {
	file := v1FixtureCopy(t)
	count := func(args ...string) int {
		t.Helper()
		out := historyOK(t, append([]string{"--journal", file}, args...)...)
		return strings.Count(out, "\n01KE")
	}
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"--client", "alice", "--kind", "made"}, 5},
		{[]string{"--client", "alice", "--kind", "received,missed"}, 2},
		{[]string{"--client", "alice", "--reason", "hangup"}, 2},
		{[]string{"--client", "alice", "--reason", "hangup, canceled"}, 3},
		{[]string{"--client", "alice", "--number", "+33 1 44 55 66 77"}, 1},
		{[]string{"--client", "alice", "--number", "0103"}, 3}, // carol's number
		{[]string{"--client", "alice", "--since", "2026-01-05T09:15:00Z", "--until", "2026-01-05T09:50:00Z"}, 3},
		{[]string{"--client", "alice", "--number", "+999"}, 0},
	} {
		if got := count(tc.args...); got != tc.want {
			t.Errorf("%v: %d calls, want %d", tc.args, got, tc.want)
		}
	}
}

// A full page ends with the cursor of the next one.
func TestHistoryPaging(t *testing.T) {
	file := v1FixtureCopy(t)
	var seen []string
	args := []string{"--journal", file, "--client", "alice", "--limit", "3"}
	for page := 0; page < 5; page++ {
		out := historyOK(t, args...)
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "01KE") {
				seen = append(seen, strings.Fields(l)[0])
			}
		}
		_, cursor, more := strings.Cut(out, "more with --before ")
		if !more {
			break
		}
		args = []string{"--journal", file, "--client", "alice", "--limit", "3", "--before", strings.TrimSpace(cursor)}
	}
	if len(seen) != 7 || seen[6] != v1FirstCall {
		t.Fatalf("pages listed %v", seen)
	}
}

func TestHistoryJSON(t *testing.T) {
	file := v1FixtureCopy(t)
	var doc struct {
		Journal string `json:"journal"`
		Client  string `json:"client"`
		Calls   []struct {
			Call  string `json:"call"`
			Kind  string `json:"kind"`
			State string `json:"state"`
			Other struct {
				Client string `json:"client"`
				Number string `json:"number"`
			} `json:"other"`
			Reason string        `json:"reason"`
			Talk   time.Duration `json:"talk_duration_ns"`
		} `json:"calls"`
		Next string `json:"next"`
	}
	out := historyOK(t, "--journal", file, "--client", "alice", "--json", "--limit", "7")
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if doc.Journal != file || doc.Client != "alice" || len(doc.Calls) != 7 || doc.Next == "" {
		t.Fatalf("doc %+v", doc)
	}
	last := doc.Calls[6]
	if last.Call != v1FirstCall || last.Kind != "made" || last.State != "ended" || last.Reason != "hangup" ||
		last.Other.Client != "bob" || last.Talk != 3*time.Minute+45*time.Second {
		t.Errorf("first call %+v", last)
	}
	// An empty list is [] in JSON, not null.
	out = historyOK(t, "--journal", file, "--client", "alice", "--number", "+999", "--json")
	if !strings.Contains(out, `"calls": []`) {
		t.Errorf("empty list:\n%s", out)
	}
}

// With --data the history is kept in the data directory, rebuilt on demand.
func TestHistoryDataDir(t *testing.T) {
	dir := t.TempDir()
	e := engineWithCalls(t, dir)

	// The engine holds the directory: the command says to take a copy.
	code, _, errs := runHistory(t, "--data", dir, "--client", "alice")
	if code != 2 || !strings.Contains(errs, "callengine backup") {
		t.Fatalf("with the engine running: exit %d, %s", code, errs)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	out := historyOK(t, "--data", dir, "--client", "bob")
	if strings.Count(out, "received") != 3 || !strings.Contains(out, "connected") || !strings.HasSuffix(out, "3 calls\n") {
		t.Fatalf("bob's history:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "history.db")); err != nil {
		t.Fatalf("history.db: %v", err)
	}
	code, again, errs := runHistory(t, "--data", dir, "--client", "bob")
	if code != 0 || again != out || errs != "" {
		t.Fatalf("second run: exit %d, stderr %q, output\n%s", code, errs, again)
	}
	if rebuilt := historyOK(t, "--data", dir, "--client", "bob", "--rebuild"); rebuilt != out {
		t.Fatalf("rebuilt:\n%s\nwant:\n%s", rebuilt, out)
	}
	// A damaged history.db is rebuilt, and says so.
	if err := os.WriteFile(filepath.Join(dir, "history.db"), bytes.Repeat([]byte("x"), 10000), 0o600); err != nil {
		t.Fatal(err)
	}
	code, again, errs = runHistory(t, "--data", dir, "--client", "bob")
	if code != 0 || again != out || !strings.Contains(errs, "rebuilt from the journal") {
		t.Fatalf("damaged history.db: exit %d, stderr %q, output\n%s", code, errs, again)
	}
	// The engine opens the history the command left.
	e, err := engine.Open(context.Background(), engine.Config{DataDir: dir, RingTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	entries, err := e.History(context.Background(), "bob", engine.HistoryQuery{})
	if err != nil || len(entries) != 3 {
		t.Fatalf("the engine's history of bob: %d entries, %v", len(entries), err)
	}
}

// A voicemail box from a journal.
func TestHistoryVoicemail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	j, err := journal.Open(path, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	alice := events.Party{Client: "alice", Number: "+14155550101"}
	appendAll := func(stream string, at time.Time, evs ...events.Event) {
		t.Helper()
		for v, ev := range evs {
			if _, err := j.Append(context.Background(), stream, uint64(v), [][]byte{events.EncodeBody(nil, at.Add(time.Duration(v)*5*time.Second).UnixNano(), ev)}, events.Ends(ev)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, id := range []string{"vm-1", "vm-2"} {
		appendAll("call/"+id, t0.Add(time.Duration(i)*time.Hour),
			events.CallDialed{Caller: alice, Callee: events.Party{Client: "bob"}, VoicemailLimit: int64(time.Minute)},
			events.CallRinging{Devices: []string{"bob-desk"}},
			events.CallToVoicemail{Reason: events.NoAnswer},
			events.VoicemailLeft{Client: "bob", From: alice, Duration: int64(5 * time.Second)},
			events.CallEnded{Reason: events.Voicemail, By: events.Caller, Missed: true})
	}
	appendAll("client/bob", t0.Add(2*time.Hour), events.VoicemailHeard{Calls: []string{"vm-1"}})
	j.Close()

	out := historyOK(t, "--journal", path, "--client", "bob", "--voicemail")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 4 || lines[0] != "1 new, 2 in the box" {
		t.Fatalf("box:\n%s", out)
	}
	if f := strings.Fields(lines[2]); strings.Join(f, " ") != "vm-2 2026-01-05T10:00:10.000Z alice +14155550101 0:00:05 new" {
		t.Errorf("newest message %q", lines[2])
	}
	if f := strings.Fields(lines[3]); strings.Join(f, " ") != "vm-1 2026-01-05T09:00:10.000Z alice +14155550101 0:00:05" {
		t.Errorf("oldest message %q", lines[3])
	}
	var doc struct {
		Counts   struct{ New, Total int } `json:"counts"`
		Messages []struct {
			Call string `json:"call"`
			New  bool   `json:"new"`
		} `json:"messages"`
	}
	if err := json.Unmarshal([]byte(historyOK(t, "--journal", path, "--client", "bob", "--voicemail", "--json")), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Counts.New != 1 || doc.Counts.Total != 2 || len(doc.Messages) != 2 || !doc.Messages[0].New {
		t.Errorf("JSON box %+v", doc)
	}
	// The calls are in Bob's history, missed, with the voicemail note.
	if calls := historyOK(t, "--journal", path, "--client", "bob"); strings.Count(calls, "missed") != 4 || strings.Count(calls, "voicemail") != 2 {
		t.Errorf("bob's history:\n%s", calls)
	}
	if empty := historyOK(t, "--journal", path, "--client", "alice", "--voicemail"); empty != "0 new, 0 in the box\n" {
		t.Errorf("alice's box: %q", empty)
	}
}

func TestHistoryUsage(t *testing.T) {
	file := v1FixtureCopy(t)
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"--client", "alice"}, "which journal"},
		{[]string{"--journal", file}, "--client ID is required"},
		{[]string{"--journal", file, "--data", ".", "--client", "alice"}, "not both"},
		{[]string{"--journal", file, "--client", "alice", "--reason", "bored"}, `--reason "bored"`},
		{[]string{"--journal", file, "--client", "alice", "--kind", "lost"}, `--kind "lost"`},
		{[]string{"--journal", file, "--client", "alice", "--limit", "0"}, "--limit 0"},
		{[]string{"--journal", file, "--client", "alice", "--limit", "1001"}, "--limit 1001"},
		{[]string{"--journal", file, "--client", "alice", "--since", "yesterday"}, "RFC 3339"},
		{[]string{"--journal", file, "--client", "alice", "--voicemail", "--number", "1"}, "does not go with --voicemail"},
		{[]string{"--journal", file, "--client", "alice", "--rebuild"}, "goes with --data"},
		{[]string{"--journal", file, "--client", "alice", "extra"}, `unexpected argument "extra"`},
		{[]string{"--journal", file, "--client", "alice", "--before", "nonsense"}, "not a cursor"},
		{[]string{"--journal", filepath.Join(t.TempDir(), "missing.db"), "--client", "alice"}, "no journal"},
		{[]string{"--data", t.TempDir(), "--client", "alice"}, "no journal"},
	} {
		code, _, errs := runHistory(t, tc.args...)
		if code != 2 || !strings.Contains(errs, tc.says) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, errs, tc.says)
		}
	}
	code, out, _ := runHistory(t, "-h")
	if code != 0 || !strings.Contains(out, "usage: callengine history") || !strings.Contains(out, "-voicemail") {
		t.Errorf("-h: exit %d\n%s", code, out)
	}
}

// A client the journal does not know is an error naming it, not "0 calls"
// (it used to list nothing and exit 0).
func TestHistoryUnknownClient(t *testing.T) {
	file := v1FixtureCopy(t)
	for _, args := range [][]string{
		{"--journal", file, "--client", "nobody"},
		{"--journal", file, "--client", "nobody", "--json"},
		{"--journal", file, "--client", "nobody", "--voicemail"},
	} {
		code, out, errs := runHistory(t, args...)
		if code != 2 || !strings.Contains(errs, `no client "nobody"`) || out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 and a message naming the client", args, code, out, errs)
		}
	}
}
