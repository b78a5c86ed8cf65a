package engine_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/callengine/callengine/adapters/loopback"
	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/ids"
	"github.com/callengine/callengine/journal"
)

// A transfer's effects come before the event that records its outcome, and
// its actor re-reads its calls from the journal when it starts: a transfer
// half done when the process dies comes back half done, and carries on.
//
// The SIGKILL tests run the engine in a child process (this test binary
// again, chosen by transferCrashEnv: "<mode>:<data dir>"), let it reach a
// point of a transfer, print a line "killpoint key=value …", and kill it
// there with SIGKILL; the parent reopens the journal. Both processes use a
// virtual clock that starts at start: the parent sets its own to the
// instant the child's read when it was killed, or later.

const transferCrashEnv = "CALLENGINE_TRANSFER_CRASH_CHILD"

func init() {
	// The child process never gets to TestMain: it drives its engine and
	// waits to be killed.
	if spec := os.Getenv(transferCrashEnv); spec != "" {
		os.Exit(transferCrashChild(spec))
	}
}

// Times of the child's script, from start.
const (
	crashDialAt     = 0
	crashAnswerAt   = time.Second     // bob answers alice
	crashTransferAt = 3 * time.Second // bob starts the transfer to carol
	crashConsultAns = 5 * time.Second // carol answers the consultation (mode answered)
	crashKillAfter  = 4 * time.Second // mode supervised: killed this long after the transfer started
	crashRingFor    = 30 * time.Second
	crashInvite     = 10 * time.Second
)

// transferCrashConfig is the child's engine configuration: the harness's,
// with call ids "k1", "k2", … (the parent's harness hands out "c…": no
// collision after the restart).
func transferCrashConfig(dir string, clk *clock.Virtual) engine.Config {
	return engine.Config{
		DataDir: dir, Clock: clk, IDs: &ids.Sequence{Prefix: "k"},
		RingTimeout: crashRingFor, Adapter: loopback.New(clk), Domain: "example.com",
		Numbers: []string{"+14155550100"},
	}
}

// transferCrashChild is the process that gets killed. It sets up alice
// (101, a1) calling bob (102, b1), answered; bob transfers alice to carol
// (103, c1); it stops where mode says, prints the killpoint line and waits.
func transferCrashChild(spec string) int {
	mode, dir, _ := strings.Cut(spec, ":")
	fail := func(what string, err error) int {
		fmt.Fprintf(os.Stderr, "transfer crash child (%s): %s: %v\n", mode, what, err)
		return 2
	}
	clk := clock.NewVirtual(start)
	e, err := engine.Open(context.Background(), transferCrashConfig(dir, clk))
	if err != nil {
		return fail("open", err)
	}
	for _, c := range []struct{ id, ext, dev string }{{"alice", "101", "a1"}, {"bob", "102", "b1"}, {"carol", "103", "c1"}} {
		if _, err := e.RegisterClient(ctx, engine.ClientSpec{ID: c.id, Name: c.id, Extensions: []string{c.ext},
			Devices: []engine.Device{{ID: c.dev, Kind: "loopback"}}}); err != nil {
			return fail("register "+c.id, err)
		}
	}
	if mode == "session" {
		return sessionCrashChild(e, clk, fail)
	}
	x, err := e.Dial(ctx, engine.DialRequest{From: "alice", Device: "a1", To: "102"})
	if err != nil {
		return fail("dial", err)
	}
	clk.Set(start.Add(crashAnswerAt))
	if _, err := e.Answer(ctx, x.ID, "b1"); err != nil {
		return fail("answer", err)
	}
	clk.Set(start.Add(crashTransferAt))
	req := engine.TransferRequest{Call: x.ID, Side: engine.Caller, To: "carol"}
	var tr engine.Transfer
	if mode == "supervised" {
		req.InviteTimer = crashInvite
		tr, err = e.SupervisedTransfer(ctx, req)
	} else {
		tr, err = e.AttendedTransfer(ctx, req)
	}
	if err != nil {
		return fail("transfer", err)
	}
	// The transfer answers once the consultation rings: the hold and the
	// consultation are durable.
	z, err := e.Call(ctx, tr.Consult)
	if err != nil || z.State != engine.Ringing || tr.Status != fsm.Consulting {
		return fail("consultation", fmt.Errorf("transfer %s, consultation %s (%v)", tr.Status, z.State, err))
	}
	switch mode {
	case "consulting":
	case "answered":
		clk.Set(start.Add(crashConsultAns))
		if _, err := e.Answer(ctx, z.ID, "c1"); err != nil {
			return fail("answer the consultation", err)
		}
		// The transfer actor records TransferAnswered on its own goroutine.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
			if tr, err = e.Transfer(ctx, tr.ID); err == nil && tr.Status == fsm.Answered {
				break
			}
			if time.Now().After(deadline) {
				return fail("wait for answered", fmt.Errorf("status %s (%v)", tr.Status, err))
			}
		}
	case "supervised":
		clk.Advance(crashKillAfter)
	default:
		return fail("mode", fmt.Errorf("unknown mode %q", mode))
	}
	fmt.Printf("killpoint transfer=%s call=%s consult=%s newcall=%s status=%s ring=%d deadline=%d now=%d\n",
		tr.ID, tr.Call, tr.Consult, tr.NewCall, tr.Status, z.RingDeadline.UnixNano(), tr.Deadline.UnixNano(), clk.Now().UnixNano())
	for {
		time.Sleep(time.Hour) // until SIGKILL
	}
}

// killTransferChild runs the child in mode on a fresh data directory, kills
// it with SIGKILL as soon as it printed its killpoint line and returns the
// directory and the line's fields.
func killTransferChild(t *testing.T, mode string) (string, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	return dir, killChildAt(t, transferCrashEnv+"="+mode+":"+dir, "killpoint ")
}

// killChildAt runs this test binary again with env set, waits for the line
// starting with prefix it prints when it reaches its kill point, kills it
// with SIGKILL, checks that it died of it and returns the line's
// key=value fields.
func killChildAt(t *testing.T, env, prefix string) map[string]string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan map[string]string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), prefix); ok {
				kv := map[string]string{}
				for _, f := range strings.Fields(rest) {
					k, v, _ := strings.Cut(f, "=")
					kv[k] = v
				}
				found <- kv
			}
		}
		close(found)
	}()
	var at map[string]string
	select {
	case kv, ok := <-found:
		if !ok {
			cmd.Wait()
			t.Fatalf("child (%s) exited before its kill point: %v", env, cmd.ProcessState)
		}
		at = kv
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("child (%s) did not reach its kill point in 60 s", env)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v", err)
	}
	return at
}

// reopenAfterKill opens the dead child's journal in the parent, with the
// harness's configuration and a virtual clock reading now.
func reopenAfterKill(t *testing.T, dir string, now time.Time) *harness {
	t.Helper()
	h := &harness{t: t, dir: dir, clock: clock.NewVirtual(now)}
	h.lb = loopback.New(h.clock)
	h.open()
	t.Cleanup(func() { h.e.Close() })
	return h
}

func unixTime(t *testing.T, kv map[string]string, key string) time.Time {
	t.Helper()
	ns, err := strconv.ParseInt(kv[key], 10, 64)
	if err != nil {
		t.Fatalf("killpoint %s=%q: %v", key, kv[key], err)
	}
	return time.Unix(0, ns).UTC()
}

// completeAndCheck completes an answered attended transfer and checks its
// outcome: alice and carol on the new call (the id given when the transfer
// started), bob's two calls ended transferred.
func completeAndCheck(t *testing.T, h *harness, kv map[string]string) {
	t.Helper()
	tr, err := h.e.CompleteTransfer(ctx, kv["transfer"])
	if err != nil {
		t.Fatalf("complete after the restart: %v", err)
	}
	tr = h.waitTransfer(tr.ID, fsm.Completed)
	if tr.NewCall != kv["newcall"] {
		t.Fatalf("new call %s, the transfer was started with %s", tr.NewCall, kv["newcall"])
	}
	y := h.waitCall(tr.NewCall, engine.Connected)
	if y.Caller.Client != "alice" || y.CallerDevice != "a1" || y.Callee.Client != "carol" || y.AnsweredDevice != "c1" || y.Transfer != tr.ID {
		t.Fatalf("new call %+v", y)
	}
	for _, id := range []string{kv["call"], kv["consult"]} {
		c := h.waitCall(id, engine.Ended)
		if c.Reason != events.Transferred || c.EndedBy != engine.Callee && id == kv["call"] || c.EndedBy != engine.Caller && id == kv["consult"] {
			t.Fatalf("call %s ended %s by %s, want transferred by bob", id, c.Reason, c.EndedBy)
		}
	}
	for _, who := range []string{"alice", "carol"} {
		if cs := must[[]engine.Call](t)(h.e.Calls(ctx, who)); len(cs) != 1 || cs[0].ID != y.ID {
			t.Fatalf("%s's calls after the transfer: %+v", who, cs)
		}
	}
	if cs := must[[]engine.Call](t)(h.e.Calls(ctx, "bob")); len(cs) != 0 {
		t.Fatalf("bob still has %d calls", len(cs))
	}
}

func TestCrashTransferSIGKILLWhileConsultationRings(t *testing.T) {
	dir, kv := killTransferChild(t, "consulting")
	ring := unixTime(t, kv, "ring")
	if want := start.Add(crashTransferAt + crashRingFor); !ring.Equal(want) {
		t.Fatalf("child's consultation ring deadline %v, want %v", ring, want)
	}
	// The engine was down for 2 s.
	h := reopenAfterKill(t, dir, unixTime(t, kv, "now").Add(2*time.Second))
	tr := must[engine.Transfer](t)(h.e.Transfer(ctx, kv["transfer"]))
	if tr.Status != fsm.Consulting || tr.Call != kv["call"] || tr.Consult != kv["consult"] || tr.NewCall != kv["newcall"] {
		t.Fatalf("transfer after the restart: %+v", tr)
	}
	x := must[engine.Call](t)(h.e.Call(ctx, kv["call"]))
	if x.State != engine.Held || !x.HeldByCallee || x.HeldByCaller {
		t.Fatalf("original call after the restart: %s, held by caller %v, by callee %v; want held by bob (callee) only", x.State, x.HeldByCaller, x.HeldByCallee)
	}
	z := must[engine.Call](t)(h.e.Call(ctx, kv["consult"]))
	if z.State != engine.Ringing || !z.RingDeadline.Equal(ring) || len(z.RingingDevices) != 1 || z.RingingDevices[0] != "c1" ||
		z.Caller.Client != "bob" || z.Callee.Client != "carol" || z.Transfer != tr.ID {
		t.Fatalf("consultation after the restart: %+v (ring deadline was %v)", z, ring)
	}
	// The restored ring timer is the original one: not re-armed for 30 s
	// from the restart.
	h.clock.Set(ring.Add(-time.Millisecond))
	if z = must[engine.Call](t)(h.e.Call(ctx, z.ID)); z.State != engine.Ringing {
		t.Fatalf("consultation %s before its deadline", z.State)
	}
	must[engine.Call](t)(h.e.Answer(ctx, z.ID, "c1"))
	h.waitTransfer(tr.ID, fsm.Answered)
	completeAndCheck(t, h, kv)
}

func TestCrashTransferSIGKILLAfterTheTargetAnswered(t *testing.T) {
	dir, kv := killTransferChild(t, "answered")
	if kv["status"] != string(fsm.Answered) {
		t.Fatalf("child killed at status %s", kv["status"])
	}
	h := reopenAfterKill(t, dir, unixTime(t, kv, "now").Add(time.Second))
	tr := must[engine.Transfer](t)(h.e.Transfer(ctx, kv["transfer"]))
	if tr.Status != fsm.Answered {
		t.Fatalf("transfer after the restart: %+v", tr)
	}
	if x := must[engine.Call](t)(h.e.Call(ctx, kv["call"])); x.State != engine.Held || !x.HeldByCallee {
		t.Fatalf("original call after the restart: %+v", x)
	}
	if z := must[engine.Call](t)(h.e.Call(ctx, kv["consult"])); z.State != engine.Connected || z.AnsweredDevice != "c1" ||
		!z.ConnectAt.Equal(start.Add(crashConsultAns)) {
		t.Fatalf("consultation after the restart: %+v", z)
	}
	completeAndCheck(t, h, kv)
}

func TestCrashTransferSIGKILLDuringSupervisedInviteTimer(t *testing.T) {
	dir, kv := killTransferChild(t, "supervised")
	killedAt := unixTime(t, kv, "now")
	deadline := start.Add(crashTransferAt + crashInvite)
	if !killedAt.Equal(start.Add(crashTransferAt+crashKillAfter)) || !unixTime(t, kv, "deadline").Equal(deadline) {
		t.Fatalf("child killed at %v with invite deadline %v", killedAt, kv["deadline"])
	}
	h := reopenAfterKill(t, dir, killedAt)
	tr := must[engine.Transfer](t)(h.e.Transfer(ctx, kv["transfer"]))
	if tr.Status != fsm.Consulting || tr.Kind != engine.SupervisedTransfer || !tr.Deadline.Equal(deadline) {
		t.Fatalf("transfer after the restart: %+v", tr)
	}
	if x := must[engine.Call](t)(h.e.Call(ctx, kv["call"])); x.State != engine.Held || !x.HeldByCallee {
		t.Fatalf("original call after the restart: %+v", x)
	}
	// Nothing happens before the deadline…
	h.clock.Set(deadline.Add(-time.Millisecond))
	if tr := must[engine.Transfer](t)(h.e.Transfer(ctx, tr.ID)); tr.Status != fsm.Consulting {
		t.Fatalf("transfer %s before its invite deadline", tr.Status)
	}
	// …and at the deadline the consultation is canceled and the call resumed.
	h.clock.Advance(time.Millisecond)
	tr = h.waitTransfer(tr.ID, fsm.NotAnswered)
	if tr.Reason != engine.TransferInviteTimeout || !tr.EndedAt.Equal(deadline) {
		t.Fatalf("transfer ended %q at %v, want invite-timeout at %v", tr.Reason, tr.EndedAt, deadline)
	}
	x := h.waitCall(kv["call"], engine.Connected)
	if x.HeldByCaller || x.HeldByCallee || x.Caller.Client != "alice" || x.Callee.Client != "bob" {
		t.Fatalf("original call after the invite timeout: %+v", x)
	}
	z := h.waitCall(kv["consult"], engine.Ended)
	if !z.ReleaseAt.Equal(deadline) || z.Reason != events.Canceled || z.EndedBy != engine.Caller {
		t.Fatalf("consultation ended %s by %s at %v", z.Reason, z.EndedBy, z.ReleaseAt)
	}
	if _, err := h.e.CompleteTransfer(ctx, tr.ID); err == nil {
		t.Fatal("a transfer that timed out completed")
	}
}

// --- A crash between any two appends of a transfer --------------------------

// transferScript is a transfer run on a fresh engine: setup builds the
// calls, steps are the commands of the transfer, each at its own instant.
// Every step's effects, its transfer steps included, happen at that instant.
type transferScript struct {
	steps []scriptStep
}

type scriptStep struct {
	name string
	at   time.Duration // from start
	run  func(h *harness, ids *scriptIDs) error
	// settle waits for what the step does on the actors' goroutines.
	settle func(h *harness, ids *scriptIDs)
}

// scriptIDs are the ids the original run handed out; a recovered engine
// finds the same ones in its journal.
type scriptIDs struct{ call, transfer, consult, newCall string }

// appendBatch is one Append of the original run: consecutive records of
// one stream at one instant (a Dial's CallDialed and CallRinging are one
// append; two appends to one stream in a row at the same instant are taken
// as one, which only drops cuts).
type appendBatch struct {
	recs []journal.Record
	at   int64
	end  bool
}

func readBatches(t *testing.T, path string) []appendBatch {
	t.Helper()
	j, err := journal.Open(path, journal.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var out []appendBatch
	err = j.Scan(1, func(r journal.Record) error {
		r.Data = bytes.Clone(r.Data)
		env := events.Envelope{Seq: r.Seq, Stream: r.Stream, Version: r.Version}
		if err := events.DecodeBody(r.Data, &env); err != nil {
			return err
		}
		if n := len(out); n > 0 && out[n-1].recs[0].Stream == r.Stream && out[n-1].at == env.Time {
			out[n-1].recs = append(out[n-1].recs, r)
			out[n-1].end = events.Ends(env.Event)
			return nil
		}
		out = append(out, appendBatch{recs: []journal.Record{r}, at: env.Time, end: events.Ends(env.Event)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// writeJournal writes batches to a new journal at path, as a process that
// died after its last append would have left it.
func writeJournal(t *testing.T, path string, batches []appendBatch) {
	t.Helper()
	j, err := journal.Open(path, journal.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for _, b := range batches {
		data := make([][]byte, len(b.recs))
		for i, r := range b.recs {
			data[i] = r.Data
		}
		if _, err := j.Append(ctx, b.recs[0].Stream, b.recs[0].Version-1, data, b.end); err != nil {
			t.Fatalf("append %s v%d: %v", b.recs[0].Stream, b.recs[0].Version, err)
		}
	}
}

// streamsOf returns each stream's records as "version type body".
func streamsOf(batches []appendBatch) map[string][]string {
	out := map[string][]string{}
	for _, b := range batches {
		for _, r := range b.recs {
			out[r.Stream] = append(out[r.Stream], fmt.Sprintf("v%d %x", r.Version, r.Data))
		}
	}
	return out
}

func describeStream(recs []journal.Record) string {
	var b strings.Builder
	for _, r := range recs {
		env := events.Envelope{Seq: r.Seq, Stream: r.Stream, Version: r.Version}
		events.DecodeBody(r.Data, &env)
		fmt.Fprintf(&b, "\n  %s v%d %s at %s %+v", r.Stream, r.Version, env.Type, time.Unix(0, env.Time).UTC().Sub(start), env.Event)
	}
	return b.String()
}

// runTransferCuts runs script to its end, then, for every cut between two
// appends after the transfer started, writes the journal as a crash there
// would have left it, opens an engine on it at the instant of its last
// event, lets it carry on, issues the steps the crash came before (each at
// its instant) and checks that the journal ends, stream by stream, with
// exactly the events of the uninterrupted run.
func runTransferCuts(t *testing.T, script transferScript, check func(t *testing.T, h *harness, ids *scriptIDs)) {
	h := newHarness(t)
	h.connected() // alice (a1) calls bob (b1), answered; carol (c1) is free
	var ids scriptIDs
	ids.call = must[[]engine.Call](t)(h.e.Calls(ctx, "alice"))[0].ID
	firstSeq := make([]uint64, len(script.steps)) // the first seq each step writes
	for i, s := range script.steps {
		h.clock.Set(start.Add(s.at))
		firstSeq[i] = h.e.Journal().LastSeq() + 1
		if err := s.run(h, &ids); err != nil {
			t.Fatalf("step %s: %v", s.name, err)
		}
		if s.settle != nil {
			s.settle(h, &ids)
		}
	}
	check(t, h, &ids)
	h.e.Close()
	full := readBatches(t, filepath.Join(h.dir, "journal.db"))
	want := streamsOf(full)

	cuts := 0
	for n := range full {
		last := full[n].recs[len(full[n].recs)-1].Seq
		if last < firstSeq[0] || n == len(full)-1 {
			continue // before the transfer, or the whole run
		}
		cuts++
		name := fmt.Sprintf("after seq %d (%s v%d)", last, full[n].recs[0].Stream, full[n].recs[0].Version)
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeJournal(t, filepath.Join(dir, "journal.db"), full[:n+1])
			r := &harness{t: t, dir: dir, clock: clock.NewVirtual(time.Unix(0, full[n].at).UTC())}
			r.lb = loopback.New(r.clock)
			r.open()
			defer func() { r.e.Close() }()
			rids := ids
			// The step the crash interrupted: Open carries it on. Then the
			// steps it came before, each at its instant.
			interrupted := 0
			for i := range script.steps {
				if firstSeq[i] <= last {
					interrupted = i
				}
			}
			if s := script.steps[interrupted]; s.settle != nil {
				s.settle(r, &rids)
			}
			for _, s := range script.steps[interrupted+1:] {
				r.clock.Set(start.Add(s.at))
				if err := s.run(r, &rids); err != nil {
					t.Fatalf("step %s after the restart: %v", s.name, err)
				}
				if s.settle != nil {
					s.settle(r, &rids)
				}
			}
			check(t, r, &rids)
			r.e.Close()
			gotBatches := readBatches(t, filepath.Join(dir, "journal.db"))
			got := streamsOf(gotBatches)
			for stream, w := range want {
				if g := got[stream]; strings.Join(g, "\n") != strings.Join(w, "\n") {
					var wantRecs, gotRecs []journal.Record
					for _, b := range full {
						if b.recs[0].Stream == stream {
							wantRecs = append(wantRecs, b.recs...)
						}
					}
					for _, b := range gotBatches {
						if b.recs[0].Stream == stream {
							gotRecs = append(gotRecs, b.recs...)
						}
					}
					t.Errorf("stream %s after recovery differs from the uninterrupted run\n want:%s\n got:%s", stream, describeStream(wantRecs), describeStream(gotRecs))
				}
			}
			for stream := range got {
				if _, ok := want[stream]; !ok {
					t.Errorf("recovery wrote stream %s, which the uninterrupted run does not have", stream)
				}
			}
		})
	}
	if cuts < 3 {
		t.Fatalf("only %d cuts: the script proves little", cuts)
	}
}

// A blind transfer dies after TransferInitiated, after the new call was
// placed, or after the original call ended transferred: Open finishes it —
// the original call ends transferred, TransferCompleted is journaled — and
// the journal is the one the uninterrupted transfer writes.
func TestCrashBlindTransferAnywhereFinishesOnOpen(t *testing.T) {
	script := transferScript{steps: []scriptStep{{
		name: "blind transfer", at: 2 * time.Second,
		run: func(h *harness, ids *scriptIDs) error {
			tr, err := h.e.BlindTransfer(ctx, engine.TransferRequest{Call: ids.call, Side: engine.Caller, To: "103"})
			ids.transfer, ids.newCall = tr.ID, tr.NewCall
			return err
		},
		settle: func(h *harness, ids *scriptIDs) { h.waitTransfer(ids.transfer, fsm.Completed) },
	}}}
	runTransferCuts(t, script, func(t *testing.T, h *harness, ids *scriptIDs) {
		tr := h.waitTransfer(ids.transfer, fsm.Completed)
		if tr.NewCall != ids.newCall || !tr.EndedAt.Equal(start.Add(2*time.Second)) {
			t.Fatalf("transfer %+v", tr)
		}
		x := h.waitCall(ids.call, engine.Ended)
		if x.Reason != events.Transferred || x.EndedBy != engine.Callee {
			t.Fatalf("original call ended %s by %s", x.Reason, x.EndedBy)
		}
		y := h.waitCall(ids.newCall, engine.Ringing)
		if y.Caller.Client != "alice" || y.CallerDevice != "a1" || y.Callee.Client != "carol" || y.Transfer != tr.ID ||
			!y.RingDeadline.Equal(start.Add(32*time.Second)) {
			t.Fatalf("new call %+v", y)
		}
	})
}

// The same for an attended transfer, from its start to its completion: a
// crash anywhere, then the commands the crash came before, give the
// journal of the uninterrupted run.
func TestCrashAttendedTransferAnywhereCompletes(t *testing.T) {
	script := transferScript{steps: []scriptStep{{
		name: "attended transfer", at: 2 * time.Second,
		run: func(h *harness, ids *scriptIDs) error {
			tr, err := h.e.AttendedTransfer(ctx, engine.TransferRequest{Call: ids.call, Side: engine.Caller, To: "103"})
			if err == nil {
				ids.transfer, ids.consult, ids.newCall = tr.ID, tr.Consult, tr.NewCall
			}
			return err
		},
		settle: func(h *harness, ids *scriptIDs) { h.waitCall(ids.consult, engine.Ringing) },
	}, {
		name: "carol answers", at: 5 * time.Second,
		run: func(h *harness, ids *scriptIDs) error {
			_, err := h.e.Answer(ctx, ids.consult, "c1")
			return err
		},
		settle: func(h *harness, ids *scriptIDs) { h.waitTransfer(ids.transfer, fsm.Answered) },
	}, {
		name: "bob completes", at: 9 * time.Second,
		run: func(h *harness, ids *scriptIDs) error {
			_, err := h.e.CompleteTransfer(ctx, ids.transfer)
			return err
		},
		settle: func(h *harness, ids *scriptIDs) { h.waitTransfer(ids.transfer, fsm.Completed) },
	}}}
	runTransferCuts(t, script, func(t *testing.T, h *harness, ids *scriptIDs) {
		tr := h.waitTransfer(ids.transfer, fsm.Completed)
		y := h.waitCall(tr.NewCall, engine.Connected)
		if y.Caller.Client != "alice" || y.Callee.Client != "carol" || y.AnsweredDevice != "c1" || !y.ConnectAt.Equal(start.Add(9*time.Second)) {
			t.Fatalf("new call %+v", y)
		}
		for _, id := range []string{ids.call, ids.consult} {
			if c := h.waitCall(id, engine.Ended); c.Reason != events.Transferred {
				t.Fatalf("call %s ended %s", id, c.Reason)
			}
		}
	})
}

// A supervised transfer whose invite timer runs out: a crash before the
// deadline re-arms the timer for the time left; a crash after the
// consultation was hung up but before the original call was resumed, or
// before the outcome was recorded, finishes the job on Open.
func TestCrashSupervisedTransferTimeoutAnywhere(t *testing.T) {
	script := transferScript{steps: []scriptStep{{
		name: "supervised transfer, 10 s invite timer", at: 2 * time.Second,
		run: func(h *harness, ids *scriptIDs) error {
			tr, err := h.e.SupervisedTransfer(ctx, engine.TransferRequest{Call: ids.call, Side: engine.Caller, To: "103", InviteTimer: 10 * time.Second})
			if err == nil {
				ids.transfer, ids.consult, ids.newCall = tr.ID, tr.Consult, tr.NewCall
			}
			return err
		},
		settle: func(h *harness, ids *scriptIDs) { h.waitCall(ids.consult, engine.Ringing) },
	}, {
		name: "the invite timer runs out", at: 12 * time.Second, // the clock moves there: the timer fires
		run:    func(*harness, *scriptIDs) error { return nil },
		settle: func(h *harness, ids *scriptIDs) { h.waitTransfer(ids.transfer, fsm.NotAnswered) },
	}}}
	runTransferCuts(t, script, func(t *testing.T, h *harness, ids *scriptIDs) {
		tr := h.waitTransfer(ids.transfer, fsm.NotAnswered)
		if tr.Reason != engine.TransferInviteTimeout || !tr.EndedAt.Equal(start.Add(12*time.Second)) {
			t.Fatalf("transfer ended %q at %v", tr.Reason, tr.EndedAt)
		}
		if x := h.waitCall(ids.call, engine.Connected); x.HeldByCallee {
			t.Fatalf("original call %+v", x)
		}
		if z := h.waitCall(ids.consult, engine.Ended); z.Reason != events.Canceled || !z.ReleaseAt.Equal(start.Add(12*time.Second)) {
			t.Fatalf("consultation ended %s at %v", z.Reason, z.ReleaseAt)
		}
	})
}
