package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/journal"
)

// The fixture's day (replay/testdata/v1.journal, see replay/fixture_test.go):
// 11 calls, the first alice → bob with holds on both sides.
const (
	v1FirstCall    = "01KE6P8KT04R5Y3V0X11ADXBE2" // alice → bob, held and resumed, bob hangs up
	v1OutboundCall = "01KE6QJQF0C28E5WWQP7FPYV8Q" // alice → +33144556677
	v1Fixture      = "../../replay/testdata/v1.journal"
)

// v1FixtureCopy copies the fixture journal to a temporary file.
func v1FixtureCopy(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(v1Fixture)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "incident.journal")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func runReplay(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"replay"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// replayOK runs the command and fails unless it exits 0.
func replayOK(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := runReplay(t, args...)
	if code != 0 {
		t.Fatalf("replay %v: exit %d\nstderr: %s", args, code, errs)
	}
	return out
}

func TestReplayListsCalls(t *testing.T) {
	file := v1FixtureCopy(t)
	out := replayOK(t, file)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 13 { // heading, 11 calls, total
		t.Fatalf("%d lines:\n%s", len(lines), out)
	}
	for _, want := range []string{"ID", "SETUP", "FROM", "TO", "STATE", "DURATION"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("heading %q lacks %s", lines[0], want)
		}
	}
	first := strings.Fields(lines[1])
	if want := []string{v1FirstCall, "2026-01-05T09:02:00.000Z", "alice/alice-desk", "bob/bob-web", "ended", "hangup", "by", "callee", "0:03:45"}; strings.Join(first, " ") != strings.Join(want, " ") {
		t.Errorf("first call %q, want %q", first, want)
	}
	// The columns line up: every row has its SETUP where the heading has it.
	col := strings.Index(lines[0], "SETUP")
	for _, l := range lines[1:12] {
		if !strings.HasPrefix(l[col:], "2026-01-05T") {
			t.Errorf("misaligned row %q", l)
		}
	}
	if lines[12] != "11 calls, 2 live" {
		t.Errorf("last line %q", lines[12])
	}
}

func TestReplayFilters(t *testing.T) {
	file := v1FixtureCopy(t)
	count := func(args ...string) int {
		t.Helper()
		out := replayOK(t, append([]string{file}, args...)...)
		return strings.Count(out, "\n01KE")
	}
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"--client", "dave"}, 3},
		{[]string{"--number", "+1 415 555 0103"}, 4},
		{[]string{"--reason", "busy"}, 2},
		{[]string{"--reason", "missed"}, 2},
		{[]string{"--since", "2026-01-05T09:30:00Z"}, 5},
		{[]string{"--since", "2026-01-05T09:10:00.000Z", "--until", "2026-01-05T09:30:00Z", "--client", "alice"}, 3},
		{[]string{"--client", "nobody"}, 0},
	} {
		if got := count(tc.args...); got != tc.want {
			t.Errorf("%v: %d calls, want %d", tc.args, got, tc.want)
		}
	}
	// Flags may come before the file too.
	if out := replayOK(t, "--client", "dave", file); !strings.Contains(out, "3 calls, 0 live") {
		t.Errorf("flags first:\n%s", out)
	}
}

func TestReplayListJSON(t *testing.T) {
	file := v1FixtureCopy(t)
	var doc struct {
		Journal string `json:"journal"`
		Calls   []struct {
			ID       string `json:"id"`
			State    string `json:"state"`
			Reason   string `json:"reason"`
			EndedBy  string `json:"ended_by"`
			Missed   bool   `json:"missed"`
			Live     bool   `json:"live"`
			SetupAt  string `json:"setup_at"`
			Duration int64  `json:"duration_ns"`
		} `json:"calls"`
	}
	if err := json.Unmarshal([]byte(replayOK(t, file, "--json", "--reason", "missed")), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Journal != file || len(doc.Calls) != 2 {
		t.Fatalf("%+v", doc)
	}
	c := doc.Calls[0]
	if c.State != "ended" || c.Reason != "canceled" || c.EndedBy != "caller" || !c.Missed || c.Live || c.SetupAt != "2026-01-05T09:15:00Z" {
		t.Errorf("first missed call %+v", c)
	}
}

func TestReplayCallTimeline(t *testing.T) {
	file := v1FixtureCopy(t)
	out := replayOK(t, file, "--call", v1FirstCall)
	for _, want := range []string{
		"call " + v1FirstCall + ": internal, alice/alice-desk → bob/bob-web, ended hangup by callee",
		"TIME", "VER", "EVENT", "STATE AFTER",
		"CallRinging   devices=bob-desk,bob-web,bob-mobile deadline=2026-01-05T09:02:30.000Z",
		"CallMuted     side=caller", "muted=caller",
		"held answered=bob-web held=caller,callee",
		"CallEnded     reason=hangup by=callee",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("timeline lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\n2026-01-05T"); n != 12 {
		t.Errorf("%d event lines, want 12", n)
	}

	var doc struct {
		Call struct {
			ID       string `json:"id"`
			State    string `json:"state"`
			Duration int64  `json:"duration_ns"`
		} `json:"call"`
		Timeline []struct {
			Event events.Envelope `json:"event"`
			State struct {
				State        string `json:"state"`
				HeldByCaller bool   `json:"held_by_caller"`
				HeldByCallee bool   `json:"held_by_callee"`
			} `json:"state"`
		} `json:"timeline"`
	}
	if err := json.Unmarshal([]byte(replayOK(t, file, "--call", v1OutboundCall, "--json")), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Call.ID != v1OutboundCall || doc.Call.State != "ended" || doc.Call.Duration != 105e9 || len(doc.Timeline) != 6 {
		t.Fatalf("call %+v, %d steps", doc.Call, len(doc.Timeline))
	}
	held := doc.Timeline[3]
	if held.Event.Type != events.TypeCallHeld || held.Event.Event != (events.CallHeld{By: events.Callee}) ||
		held.State.State != "held" || !held.State.HeldByCallee || held.State.HeldByCaller {
		t.Errorf("step 4: %+v", held)
	}
}

func TestReplayAt(t *testing.T) {
	file := v1FixtureCopy(t)
	out := replayOK(t, file, "--at", "2026-01-05T09:55:05Z")
	for _, want := range []string{
		"state at 2026-01-05T09:55:05.000Z: 4 clients, 11 calls (2 live)",
		"dave    unregistered",
		"held held=callee",
		"ringing ringing=alice-desk,alice-web deadline=2026-01-05T09:55:30.000Z",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("snapshot lacks %q:\n%s", want, out)
		}
	}
	var s struct {
		At      string `json:"at"`
		Clients []struct {
			ID      string `json:"id"`
			Status  string `json:"status"`
			Devices []struct {
				ID string `json:"id"`
			} `json:"devices"`
		} `json:"clients"`
		Calls []struct {
			ID   string `json:"id"`
			Live bool   `json:"live"`
		} `json:"calls"`
	}
	// With fractional seconds: the instant of the first both-sides hold.
	if err := json.Unmarshal([]byte(replayOK(t, file, "--at", "2026-01-05T09:04:18.5Z", "--json")), &s); err != nil {
		t.Fatal(err)
	}
	if s.At != "2026-01-05T09:04:18.5Z" || len(s.Clients) != 4 || len(s.Clients[1].Devices) != 3 || len(s.Calls) != 1 || !s.Calls[0].Live {
		t.Errorf("snapshot %+v", s)
	}
}

func TestReplayVerify(t *testing.T) {
	file := v1FixtureCopy(t)
	if out := replayOK(t, file, "--verify"); out != "verified 15 streams, 55 events: no divergence\n" {
		t.Errorf("verify: %q", out)
	}
	var r struct {
		Streams     int   `json:"streams"`
		Events      int   `json:"events"`
		Divergences []any `json:"divergences"`
	}
	if err := json.Unmarshal([]byte(replayOK(t, file, "--verify", "--json")), &r); err != nil {
		t.Fatal(err)
	}
	if r.Streams != 15 || r.Events != 55 || r.Divergences == nil || len(r.Divergences) != 0 {
		t.Errorf("report %+v", r)
	}
}

// A journal where an ended call is answered: --verify exits 1 and says where.
func TestReplayVerifyFindsADivergence(t *testing.T) {
	file := v1FixtureCopy(t)
	j, err := journal.Open(file, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	stream := "call/" + v1FirstCall
	body := events.EncodeBody(nil, 1767604000000000000, events.CallAnswered{Device: "bob-desk"})
	if _, err := j.Append(context.Background(), stream, 12, [][]byte{body}, false); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runReplay(t, file, "--verify")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		"verified 15 streams, 56 events: 1 streams diverge",
		stream + " version 13 (seq 56): after-end",
		`journal has:  CallAnswered {"device":"bob-desk"}`,
		"current code: the call ended at version 12: nothing may follow",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runReplay(t, file, "--verify", "--json")
	var r struct {
		Divergences []struct {
			Stream  string `json:"stream"`
			Version int    `json:"version"`
			Seq     int    `json:"seq"`
			Kind    string `json:"kind"`
		} `json:"divergences"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 1 {
		t.Fatalf("exit %d, %v", code, err)
	}
	if len(r.Divergences) != 1 || r.Divergences[0].Stream != stream || r.Divergences[0].Version != 13 || r.Divergences[0].Kind != "after-end" {
		t.Errorf("divergences %+v", r.Divergences)
	}
	// The call list cannot fold that call: it says so and exits 2.
	if code, _, errs := runReplay(t, file); code != 2 || !strings.Contains(errs, "journal_corrupt") || !strings.Contains(errs, "--verify") {
		t.Errorf("list: exit %d, %s", code, errs)
	}
}

func TestReplayHTML(t *testing.T) {
	file := v1FixtureCopy(t)
	saved := replayLadder
	defer func() { replayLadder = saved }()
	var gotTitle string
	var gotEnvs []events.Envelope
	replayLadder = func(w io.Writer, title string, envs []events.Envelope) error {
		gotTitle, gotEnvs = title, envs
		_, err := fmt.Fprintf(w, "<!DOCTYPE html><title>%s</title>", title)
		return err
	}
	page := filepath.Join(t.TempDir(), "call.html")
	out := replayOK(t, file, "--call", v1OutboundCall, "--html", page)
	if out != fmt.Sprintf("wrote %s: call %s, 6 events\n", page, v1OutboundCall) {
		t.Errorf("stdout %q", out)
	}
	if gotTitle != "Call "+v1OutboundCall+": alice → +33144556677 (outbound)" || len(gotEnvs) != 6 ||
		gotEnvs[0].Type != events.TypeCallDialed || gotEnvs[5].Type != events.TypeCallEnded {
		t.Errorf("ladder drawn with title %q and %d envelopes", gotTitle, len(gotEnvs))
	}
	if b, err := os.ReadFile(page); err != nil || !strings.HasPrefix(string(b), "<!DOCTYPE html>") {
		t.Errorf("page %q, %v", b, err)
	}

	// A failing ladder leaves no page behind.
	replayLadder = func(io.Writer, string, []events.Envelope) error { return fmt.Errorf("boom") }
	broken := filepath.Join(t.TempDir(), "broken.html")
	if code, _, errs := runReplay(t, file, "--call", v1OutboundCall, "--html", broken); code != 2 || !strings.Contains(errs, "boom") {
		t.Errorf("exit %d, %s", code, errs)
	}
	if _, err := os.Stat(broken); !os.IsNotExist(err) {
		t.Errorf("a broken page was left: %v", err)
	}
}

// The real ladder page of a call.
func TestReplayHTMLPage(t *testing.T) {
	file := v1FixtureCopy(t)
	page := filepath.Join(t.TempDir(), "call.html")
	replayOK(t, file, "--call", v1FirstCall, "--html", page)
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<html", "CallAnswered", "alice", "bob"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestReplayUsageErrors(t *testing.T) {
	file := v1FixtureCopy(t)
	for _, tc := range []struct {
		args []string
		says string
	}{
		{nil, "give a FILE"},
		{[]string{file, file}, "one journal at a time"},
		{[]string{filepath.Join(t.TempDir(), "missing.journal")}, "not_found: no journal at"},
		{[]string{file, "--call", v1FirstCall, "--at", "2026-01-05T09:00:00Z"}, "--call and --at: choose one"},
		{[]string{file, "--html", "x.html"}, "--html draws one call"},
		{[]string{file, "--verify", "--since", "2026-01-05T09:00:00Z"}, "--since filters the call list"},
		{[]string{file, "--at", "yesterday"}, `--at "yesterday" is not an RFC 3339 time`},
		{[]string{file, "--until", "2026-01-05 09:00"}, "--until"},
		{[]string{file, "--reason", "bored"}, `--reason "bored"`},
		{[]string{file, "--call", "no-such-call"}, "not_found: the journal has no call no-such-call"},
		{[]string{file, "--call", ""}, "--call needs a call id"},
		{[]string{file, "--frobnicate"}, "flag provided but not defined"},
	} {
		code, out, errs := runReplay(t, tc.args...)
		if code != 2 || !strings.Contains(errs, tc.says) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, errs, tc.says)
		}
		if out != "" {
			t.Errorf("%v: stdout %q", tc.args, out)
		}
	}
	if code, out, _ := runReplay(t, "-h"); code != 0 || !strings.Contains(out, "usage: callengine replay FILE") {
		t.Errorf("-h: exit %d\n%s", code, out)
	}
}

// A running engine holds its journal: replay says to take a copy.
func TestReplayLockedJournal(t *testing.T) {
	file := v1FixtureCopy(t)
	j, err := journal.Open(file, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	code, _, errs := runReplay(t, file)
	if code != 2 || !strings.Contains(errs, "locked") || !strings.Contains(errs, "callengine backup --data DIR --out FILE") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}

// transferJournal writes a small schema 2 journal, as an engine would have:
// alice calls bob (c1), bob sends her on to carol, blind (transfer t1), in a
// new call (c2) where alice sends DTMF.
func transferJournal(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "transfer.journal")
	j, err := journal.Open(path, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 6, 10, 0, 0, 0, time.UTC)
	add := func(stream string, at time.Duration, evs ...events.Event) {
		t.Helper()
		v, err := j.StreamVersion(stream)
		if err != nil {
			t.Fatal(err)
		}
		recs := make([][]byte, len(evs))
		for i, ev := range evs {
			recs[i] = events.EncodeBody(nil, t0.Add(at).UnixNano(), ev)
		}
		if _, err := j.Append(context.Background(), stream, v, recs, events.Ends(evs[len(evs)-1])); err != nil {
			t.Fatal(err)
		}
	}
	party := func(id, ext string) events.Party { return events.Party{Client: id, Number: ext, Name: id} }
	for _, c := range []struct{ id, ext string }{{"alice", "101"}, {"bob", "102"}, {"carol", "103"}} {
		add("client/"+c.id, 0, events.ClientRegistered{Name: c.id, Extensions: []string{c.ext},
			Devices: []events.Device{{ID: c.id + "-desk", Kind: "sip"}}, AcceptInbound: true})
	}
	alice, bob, carol := party("alice", "101"), party("bob", "102"), party("carol", "103")
	add("call/c1", time.Second, events.CallDialed{Caller: alice, Callee: bob, CallerDevice: "alice-desk", CallerID: "101", Destination: "102"},
		events.CallRinging{Devices: []string{"bob-desk"}, Deadline: t0.Add(31 * time.Second).UnixNano()})
	add("call/c1", 3*time.Second, events.CallAnswered{Device: "bob-desk"})
	add("transfer/t1", 30*time.Second, events.TransferInitiated{Kind: events.Blind, Call: "c1", Kept: events.Caller,
		Target: carol, Destination: "103", NewCall: "c2"})
	add("call/c2", 30*time.Second, events.CallDialed{Caller: alice, Callee: carol, CallerDevice: "alice-desk", CallerID: "101", Destination: "103", Transfer: "t1"},
		events.CallRinging{Devices: []string{"carol-desk"}, Deadline: t0.Add(60 * time.Second).UnixNano()})
	add("call/c1", 30*time.Second, events.CallEnded{Reason: events.Transferred, By: events.Callee})
	add("transfer/t1", 30*time.Second, events.TransferCompleted{})
	add("call/c2", 33*time.Second, events.CallAnswered{Device: "carol-desk"})
	add("call/c2", time.Minute, events.CallDigits{Side: events.Caller, Digits: "42#", Duration: 1e8, Gap: 7e7})
	add("call/c2", 2*time.Minute, events.CallEnded{Reason: events.Hangup, By: events.Caller})
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReplayTransfers(t *testing.T) {
	file := transferJournal(t)
	out := replayOK(t, file, "--transfers")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 3 || lines[2] != "1 transfers, 0 live" {
		t.Fatalf("transfers:\n%s", out)
	}
	if got := strings.Join(strings.Fields(lines[0]), " "); got != "ID STARTED KIND CALL BY KEPT TARGET CONSULT NEW CALL STATUS" {
		t.Errorf("heading %q", got)
	}
	if got := strings.Join(strings.Fields(lines[1]), " "); got != "t1 2026-01-06T10:00:30.000Z blind c1 bob alice (caller) carol - c2 completed" {
		t.Errorf("transfer %q", got)
	}
	// The call list's filters, but --reason.
	for args, want := range map[string]string{
		"--client carol":                   "1 transfers",
		"--client dave":                    "0 transfers",
		"--number 103":                     "1 transfers",
		"--since 2026-01-06T10:00:31Z":     "0 transfers",
		"--until 2026-01-06T10:00:31.000Z": "1 transfers",
	} {
		if out := replayOK(t, append([]string{file, "--transfers"}, strings.Fields(args)...)...); !strings.Contains(out, want) {
			t.Errorf("--transfers %s:\n%s", args, out)
		}
	}
	var doc struct {
		Journal   string `json:"journal"`
		Transfers []struct {
			ID         string       `json:"id"`
			Kind       string       `json:"kind"`
			Status     string       `json:"status"`
			Call       string       `json:"call"`
			Kept       string       `json:"kept"`
			Transferor events.Party `json:"transferor"`
			NewCall    string       `json:"new_call"`
			Live       bool         `json:"live"`
		} `json:"transfers"`
	}
	if err := json.Unmarshal([]byte(replayOK(t, file, "--transfers", "--json")), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Transfers) != 1 {
		t.Fatalf("%+v", doc)
	}
	if tr := doc.Transfers[0]; tr.ID != "t1" || tr.Kind != "blind" || tr.Status != "completed" || tr.Call != "c1" || tr.Kept != "caller" ||
		tr.Transferor.Client != "bob" || tr.NewCall != "c2" || tr.Live {
		t.Errorf("transfer %+v", tr)
	}
	// The fixture of the first schema has none.
	if out := replayOK(t, v1FixtureCopy(t), "--transfers"); !strings.HasSuffix(out, "0 transfers, 0 live\n") {
		t.Errorf("v1:\n%s", out)
	}
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{file, "--transfers", "--reason", "busy"}, "--reason filters calls by how they ended"},
		{[]string{file, "--transfers", "--call", "c1"}, "--call and --transfers: choose one"},
		{[]string{file, "--transfers", "--html", "x.html"}, "--html draws one call"},
	} {
		if code, _, errs := runReplay(t, tc.args...); code != 2 || !strings.Contains(errs, tc.says) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, errs, tc.says)
		}
	}
}

// A transferred call's timeline shows the transfer and where the caller went;
// the new call's shows where it came from.
func TestReplayCallWithTransfer(t *testing.T) {
	file := transferJournal(t)
	out := replayOK(t, file, "--call", "c1")
	for _, want := range []string{
		"call c1: internal, alice/alice-desk → bob/bob-desk, ended transferred by callee\n",
		"transfer t1 (blind, completed): call c1 (this call) → new call c2; its caller goes to carol\n",
		"TransferInitiated  transfer=t1 kind=blind call=c1 kept=caller target=carol destination=103 new-call=c2         transfer placing",
		"CallEnded          reason=transferred by=callee transfer=t1 new-call=c2",
		"TransferCompleted  transfer=t1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("timeline lacks %q:\n%s", want, out)
		}
	}
	out = replayOK(t, file, "--call", "c2")
	for _, want := range []string{
		"transfer t1 (blind, completed): call c1 → new call c2 (this call); its caller goes to carol\n",
		"direction=internal transfer=t1",
		"CallDigits         side=caller digits=42#",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("timeline lacks %q:\n%s", want, out)
		}
	}
	var doc struct {
		Call struct {
			ID       string `json:"id"`
			Transfer string `json:"transfer"`
			Digits   int    `json:"digits"`
		} `json:"call"`
		Timeline []struct {
			Event    events.Envelope `json:"event"`
			Transfer *struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"transfer"`
			State *struct {
				State string `json:"state"`
			} `json:"state"`
		} `json:"timeline"`
	}
	if err := json.Unmarshal([]byte(replayOK(t, file, "--call", "c2", "--json")), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Call.ID != "c2" || doc.Call.Transfer != "t1" || doc.Call.Digits != 3 || len(doc.Timeline) != 7 {
		t.Fatalf("call %+v, %d steps", doc.Call, len(doc.Timeline))
	}
	first := doc.Timeline[0]
	if first.Event.Stream != "transfer/t1" || first.Transfer == nil || first.Transfer.Status != "placing" || first.State != nil {
		t.Errorf("first step %+v", first)
	}
	if s := doc.Timeline[1]; s.Event.Type != events.TypeCallDialed || s.Transfer != nil || s.State == nil || s.State.State != "connecting" {
		t.Errorf("second step %+v", s)
	}

	// The ladder gets the transfer's events too, and draws them as notes.
	page := filepath.Join(t.TempDir(), "c1.html")
	if out := replayOK(t, file, "--call", "c1", "--html", page); out != "wrote "+page+": call c1, 6 events\n" {
		t.Errorf("stdout %q", out)
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"TransferInitiated · blind transfer t1", "the caller of this call goes to carol in call c2", `"note":true`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("page lacks %q", want)
		}
	}

	// The journal verifies: 3 clients, 2 calls, 1 transfer.
	if out := replayOK(t, file, "--verify"); out != "verified 6 streams, 14 events: no divergence\n" {
		t.Errorf("verify: %q", out)
	}
	if out := replayOK(t, file, "--at", "2026-01-06T10:00:31Z"); !strings.Contains(out, "t1  2026-01-06T10:00:30.000Z  blind") {
		t.Errorf("--at lacks the transfer:\n%s", out)
	}
}

// A transfer completed after it failed, appended by hand: --verify names the
// transfer's stream and version.
func TestReplayVerifyDoctoredTransfer(t *testing.T) {
	file := transferJournal(t)
	j, err := journal.Open(file, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 6, 10, 5, 0, 0, time.UTC).UnixNano()
	recs := [][]byte{
		events.EncodeBody(nil, at, events.TransferInitiated{Kind: events.Blind, Call: "c2", Kept: events.Caller,
			Target: events.Party{Client: "bob", Number: "102"}, NewCall: "c3"}),
		events.EncodeBody(nil, at, events.TransferFailed{Reason: "the call ended before the transfer"}),
	}
	if _, err := j.Append(context.Background(), "transfer/t2", 0, recs, true); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append(context.Background(), "transfer/t2", 2, [][]byte{events.EncodeBody(nil, at, events.TransferCompleted{})}, true); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runReplay(t, file, "--verify")
	if code != 1 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		"verified 7 streams, 17 events: 1 streams diverge",
		"transfer/t2 version 3 (seq 17): after-end",
		"journal has:  TransferCompleted",
		"current code: the transfer ended at version 2: nothing may follow",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}
