package sip

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
)

// Dialogs that survive SIGKILL. The engine and the adapter first run in a
// child process (this test binary run again), which journals the dialog
// record of every confirmed leg; the test kills it with SIGKILL while two
// calls are up, then opens the engine again on the same data directory and
// starts the adapter on the same UDP address, in this process. Real phones
// (sipp) see nothing but the requests of the restarted engine:
//
//   - call 1 (alice → bob): alice's phone, which kept the call up through
//     the restart, sends BYE: 200, the engine ends the call (hangup by
//     the caller), and bob's phone gets a BYE built from the journaled
//     record (its tag in To, a CSeq past the reservation).
//   - call 2 (alice → carol): the engine hangs up (the Go API, in this
//     process after the restart): both phones get a BYE they accept; the
//     callee's phone checks the tag and the CSeq.
const restartChildEnv = "CALLENGINE_SIP_RESTART_CHILD" // "<dir> <udp addr>"

func TestSIPpDialogsSurviveSIGKILL(t *testing.T) {
	dir := t.TempDir()
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	child := startRestartChild(t, dir, addr)

	bobPort, carolPort := freePort(t), freePort(t)
	for _, r := range []struct {
		client string
		port   int
	}{{"bob", bobPort}, {"carol", carolPort}} {
		registerPhone(t, addr, r.client, r.port, 300)
	}
	uasBob := runSipp(t, "uas_answer_restart_bye.xml", bobPort, "", "-d", "100")
	uasCarol := runSipp(t, "uas_answer_restart_bye.xml", carolPort, "", "-d", "100")
	caller := func(scenario, service string, keys ...string) *sipp {
		args := []string{"-s", service, "-au", "alice", "-ap", password("alice"), "-key", "caller", "alice"}
		return runSipp(t, scenario, freePort(t), addr, append(args, keys...)...)
	}
	// Call 1's phone hangs up 6 s after its ACK: the engine is killed and
	// restarted meanwhile.
	uac1 := caller("uac_bye_after_restart.xml", "1002", "-d", "6000")
	uac2 := caller("uac_wait_bye.xml", "1003")
	child.waitLegs(t, 4) // both calls up, both sides' dialogs journaled
	child.kill(t)

	h := newHarnessAt(t, dir, addr, nil)
	ctx := context.Background()
	calls, err := h.eng.LegCalls(ctx, adapterName)
	if err != nil || len(calls) != 2 {
		t.Fatalf("calls with SIP dialogs after the restart: %d, %v", len(calls), err)
	}
	var toCarol engine.Call
	for _, c := range calls {
		if len(c.Legs) != 2 || c.State != engine.Connected {
			t.Fatalf("call %s after the restart: %s, legs %+v", c.ID, c.State, c.Legs)
		}
		if c.Callee.Client == "carol" {
			toCarol = c
		}
	}
	// Call 2: the engine hangs up; both phones get a BYE.
	if _, err := h.eng.Hangup(ctx, toCarol.ID, engine.Caller); err != nil {
		t.Fatal(err)
	}
	uasCarol.wait(t, "carol's phone")
	uac2.wait(t, "alice's phone, call 2")
	// Call 1: alice's phone hangs up with BYE after the restart.
	uac1.wait(t, "alice's phone, call 1")
	uasBob.wait(t, "bob's phone")
	for _, c := range calls {
		deadline := time.Now().Add(10 * time.Second)
		for {
			got, err := h.eng.Call(ctx, c.ID)
			if err == nil && got.State == engine.Ended {
				if got.Reason != events.Hangup || got.EndedBy != engine.Caller {
					t.Fatalf("call %s to %s ended %s by %s", c.ID, c.Callee.Client, got.Reason, got.EndedBy)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("call %s to %s did not end: %+v, %v", c.ID, c.Callee.Client, got, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// shortSessionsEnv makes the restart child lower our Min-SE (shortSessions).
const shortSessionsEnv = "CALLENGINE_SIP_SHORT_SESSIONS"

// A session timer survives SIGKILL. alice's phone (sipp) calls bob asking
// for a 6 s session; the child answers, journals both legs and is killed
// with SIGKILL at once; the engine restarts in this process from the
// journal, whose dialog record holds the session timer and when it is due:
//
//   - runs_out (alice refreshes, and never does): the restarted engine
//     ends the call when the session runs out — both phones get a BYE,
//     the call ends hangup by the caller, one session timeout counted;
//   - we_refresh (refresher=uas): the restarted engine re-INVITEs alice
//     each half interval, built from the record; alice answers two and
//     hangs up.
//
// Without the timer in the record, nothing would happen after the restart
// and alice's phone would time out.
func TestSIPpSessionTimerSurvivesSIGKILL(t *testing.T) {
	for _, tc := range []struct {
		name, scenario string
		timeouts       uint64
	}{
		{"runs_out", "uac_timer_expire.xml", 1},
		{"we_refresh", "uac_timer_uas.xml", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shortSessions(t)
			t.Setenv(shortSessionsEnv, "1")
			dir := t.TempDir()
			addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
			child := startRestartChild(t, dir, addr)
			bobPort := freePort(t)
			registerPhone(t, addr, "bob", bobPort, 300)
			uas := runSipp(t, "uas_answer.xml", bobPort, "", "-d", "100")
			uac := runSipp(t, tc.scenario, freePort(t), addr, "-s", "1002", "-au", "alice", "-ap", password("alice"),
				"-key", "caller", "alice", "-key", "se", "6")
			child.waitLegs(t, 2)
			child.kill(t)

			h := newHarnessAt(t, dir, addr, nil)
			c := liveSIPCall(t, h)
			uac.wait(t, "alice's phone")
			uas.wait(t, "bob's phone")
			waitEnded(t, h, c.ID, events.Hangup, engine.Caller)
			if n := h.ad.Stats().SessionTimeouts; n != tc.timeouts {
				t.Errorf("session timeouts after the restart: %d, want %d", n, tc.timeouts)
			}
		})
	}
}

// restartChild is the engine's first life: a child process.
type restartChild struct {
	cmd   *exec.Cmd
	lines chan string
	legs  int // LEG lines read so far (records journaled)
}

func startRestartChild(t *testing.T, dir, addr string) *restartChild {
	t.Helper()
	return startRestartChildTrunks(t, dir, addr, nil)
}

// startRestartChildTrunks is startRestartChild whose engine's far end is
// trunks.
func startRestartChildTrunks(t *testing.T, dir, addr string, trunks []Trunk) *restartChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSIPRestartChild$", "-test.v")
	cmd.Env = append(os.Environ(), restartChildEnv+"="+dir+" "+addr+" "+trunkSpec(trunks))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &restartChild{cmd: cmd, lines: make(chan string, 64)}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
		io.Copy(io.Discard, out)
	}()
	c.waitFor(t, "READY")
	return c
}

// waitFor waits for a line of the child that starts with prefix.
func (c *restartChild) waitFor(t *testing.T, prefix string) string {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				t.Fatalf("the child ended before %s", prefix)
			}
			if testing.Verbose() {
				t.Log("child:", l)
			}
			if strings.HasPrefix(l, "LEG ") {
				c.legs++
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-deadline:
			t.Fatalf("the child never said %s", prefix)
		}
	}
}

// waitLegs waits until the child journaled n leg records of distinct
// call sides.
func (c *restartChild) waitLegs(t *testing.T, n int) {
	t.Helper()
	seen := map[string]bool{}
	for len(seen) < n {
		seen[c.waitFor(t, "LEG ")] = true
	}
}

// waitRecords waits until the child journaled n leg records in all.
func (c *restartChild) waitRecords(t *testing.T, n int) {
	t.Helper()
	for c.legs < n {
		c.waitFor(t, "LEG ")
	}
}

// kill ends the child with SIGKILL: no Close, no flush beyond what the
// journal committed.
func (c *restartChild) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := c.cmd.Wait()
	if ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the child did not die of SIGKILL: %v", err)
	}
}

// TestSIPRestartChild is the child's body; it does nothing in a normal
// run. It serves SIP until it is killed and reports each journaled leg
// record on stdout.
func TestSIPRestartChild(t *testing.T) {
	spec := os.Getenv(restartChildEnv)
	if spec == "" {
		return
	}
	f := strings.Fields(spec)
	var trunks []Trunk
	if len(f) > 2 {
		trunks = parseTrunkSpec(f[2])
	}
	if os.Getenv(shortSessionsEnv) != "" {
		shortSessions(t)
	}
	h := newHarnessTrunks(t, f[0], f[1], nil, trunks)
	sub, err := h.eng.Subscribe(context.Background(), engine.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("READY")
	for ev := range sub.Events() {
		if e, ok := ev.Event.(events.CallLegRecorded); ok {
			fmt.Printf("LEG %s %s\n", ev.Call.ID, e.Side)
		} else {
			fmt.Printf("EVENT %s %s\n", ev.Stream, ev.Type)
		}
	}
}

// trunkSpec writes trunks for the child's environment:
// name=address=prefix,… ("" for none).
func trunkSpec(trunks []Trunk) string {
	var parts []string
	for _, tr := range trunks {
		parts = append(parts, tr.Name+"="+tr.Address+"="+strings.Join(tr.Prefixes, "|"))
	}
	return strings.Join(parts, ",")
}

func parseTrunkSpec(s string) []Trunk {
	var out []Trunk
	for _, p := range strings.Split(s, ",") {
		f := strings.Split(p, "=")
		if len(f) != 3 {
			continue
		}
		tr := Trunk{Name: f[0], Address: f[1]}
		if f[2] != "" {
			tr.Prefixes = strings.Split(f[2], "|")
		}
		out = append(out, tr)
	}
	return out
}

// Trunk legs survive SIGKILL, both directions. Two trunks on trunkIP
// (sipp, one call each: +44 numbers go to A, +33 to B) and dave's phones;
// three calls are up when the child is killed:
//
//   - call 1, dave → +44 (trunk A): the trunk hangs up 8 s after its
//     ACK, after the restart: its BYE gets 200, the call ends hangup by
//     the callee, dave's phone gets a BYE from its record.
//   - call 2, dave → +33 (trunk B): dave's phone hangs up after the
//     restart; trunk B gets a BYE built from the trunk leg's record (its
//     tag, a CSeq past the reservation); the call ends hangup by the
//     caller.
//   - call 3, from trunk A's address to dave's number: the trunk hangs
//     up after the restart (200); dave's registered phone gets a BYE from
//     its record; the call ends hangup by the caller.
func TestSIPpTrunkDialogsSurviveSIGKILL(t *testing.T) {
	dir := t.TempDir()
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	portA, portB := freePortOn(t, trunkIP), freePortOn(t, trunkIP)
	trunks := []Trunk{
		{Name: "a", Address: trunkIP + ":" + strconv.Itoa(portA), Prefixes: []string{"+44"}},
		{Name: "b", Address: trunkIP + ":" + strconv.Itoa(portB), Prefixes: []string{"+33"}},
	}
	child := startRestartChildTrunks(t, dir, addr, trunks)

	davePort := freePort(t)
	registerPhone(t, addr, "dave", davePort, 300)

	trunkA := runSippOn(t, trunkIP, "uas_answer_bye_after_restart.xml", portA, "")
	trunkB := runSippOn(t, trunkIP, "uas_answer_restart_bye.xml", portB, "", "-d", "100")
	davePhone := runSipp(t, "uas_answer_restart_bye.xml", davePort, "", "-d", "100")
	daveCalls := func(scenario, number string, keys ...string) *sipp {
		args := []string{"-s", number, "-au", "dave", "-ap", dave.Password, "-key", "caller", "dave"}
		return runSipp(t, scenario, freePort(t), addr, append(args, keys...)...)
	}
	uac1 := daveCalls("uac_wait_bye.xml", "+442070000001")
	uac2 := daveCalls("uac_bye_after_restart.xml", "+33140000002", "-d", "8000")
	child.waitLegs(t, 4) // calls 1 and 2 up: trunk A's port serves call 1 only
	inbound := runSippOn(t, trunkIP, "trunk_uac.xml", freePortOn(t, trunkIP), addr, "-s", daveNumber, "-d", "8000")
	child.waitLegs(t, 2) // call 3 up
	child.kill(t)

	h := newHarnessTrunks(t, dir, addr, nil, trunks)
	ctx := context.Background()
	calls, err := h.eng.LegCalls(ctx, adapterName)
	if err != nil || len(calls) != 3 {
		t.Fatalf("calls with SIP dialogs after the restart: %d, %v", len(calls), err)
	}
	want := map[string]engine.Side{}
	for _, c := range calls {
		if len(c.Legs) != 2 || c.State != engine.Connected {
			t.Fatalf("call %s after the restart: %s, legs %+v", c.ID, c.State, c.Legs)
		}
		switch {
		case c.Callee.Number == "+442070000001":
			want[c.ID] = engine.Callee // the trunk hangs up
		case c.Callee.Number == "+33140000002":
			want[c.ID] = engine.Caller // dave's phone hangs up
		case c.Callee.Client == "dave":
			want[c.ID] = engine.Caller // the trunk, the caller, hangs up
		default:
			t.Fatalf("unexpected call %s: %s → %s", c.ID, c.Caller.Number, c.Callee.Number)
		}
	}
	if len(want) != 3 {
		t.Fatalf("calls after the restart: %v", want)
	}
	trunkA.wait(t, "trunk A (call 1)")
	uac1.wait(t, "dave's phone, call 1")
	uac2.wait(t, "dave's phone, call 2")
	trunkB.wait(t, "trunk B (call 2)")
	inbound.wait(t, "trunk A (call 3, inbound)")
	davePhone.wait(t, "dave's registered phone (call 3)")
	for id, by := range want {
		deadline := time.Now().Add(10 * time.Second)
		for {
			got, err := h.eng.Call(ctx, id)
			if err == nil && got.State == engine.Ended {
				if got.Reason != events.Hangup || got.EndedBy != by {
					t.Fatalf("call %s to %s ended %s by %s, want hangup by %s", id, got.Callee.Number, got.Reason, got.EndedBy, by)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("call %s did not end: %+v, %v", id, got, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// waitEnded waits until call id ended and checks its reason and side.
func waitEnded(t *testing.T, h *harness, id string, reason engine.Reason, by engine.Side) engine.Call {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := h.eng.Call(context.Background(), id)
		if err == nil && got.State == engine.Ended {
			if got.Reason != reason || got.EndedBy != by {
				t.Fatalf("call %s (%s → %s) ended %s by %s, want %s by %s", id, got.Caller.Client, got.Callee.Client, got.Reason, got.EndedBy, reason, by)
			}
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("call %s did not end: %+v, %v", id, got, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// liveSIPCall is the one live call with SIP dialogs after a restart; it
// has a record on both sides.
func liveSIPCall(t *testing.T, h *harness) engine.Call {
	t.Helper()
	calls, err := h.eng.LegCalls(context.Background(), adapterName)
	if err != nil || len(calls) != 1 {
		t.Fatalf("calls with SIP dialogs after the restart: %+v, %v", calls, err)
	}
	c := calls[0]
	if len(c.Legs) != 2 || c.State != engine.Connected {
		t.Fatalf("call %s after the restart: %s, legs %+v", c.ID, c.State, c.Legs)
	}
	return c
}

// A phone kept after a blind transfer survives SIGKILL: alice's phone
// calls bob's and REFERs it to carol (1003); bob's phone goes on in the
// new call (re-INVITEd with carol's SDP), its dialog journaled there. The
// engine is killed; carol's phone hangs up after the restart: 200, and
// bob's phone gets a BYE from its record; the new call ends hangup by
// carol.
func TestSIPpBlindTransferSurvivesSIGKILL(t *testing.T) {
	dir := t.TempDir()
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	child := startRestartChild(t, dir, addr)
	bobPort, carolPort := freePort(t), freePort(t)
	for _, r := range []struct {
		client string
		port   int
	}{{"bob", bobPort}, {"carol", carolPort}} {
		registerPhone(t, addr, r.client, r.port, 300)
	}
	bob := runSipp(t, "uas_kept.xml", bobPort, "")
	carol := runSipp(t, "uas_answer_bye_after_restart.xml", carolPort, "")
	alice := runSipp(t, "uac_refer.xml", freePort(t), addr, "-s", "1002", "-au", "alice", "-ap", password("alice"),
		"-key", "caller", "alice", "-key", "target", "1003")
	alice.wait(t, "alice (transferred bob, left)")
	// alice ↔ bob (2 records), bob moved to the new call, carol's
	// answer, bob's record after its re-INVITE with carol's SDP.
	child.waitRecords(t, 5)
	child.kill(t)

	h := newHarnessAt(t, dir, addr, nil)
	c := liveSIPCall(t, h)
	if c.Caller.Client != "bob" || c.Callee.Client != "carol" || c.Transfer == "" {
		t.Fatalf("live call after the restart: %s → %s, transfer %q", c.Caller.Client, c.Callee.Client, c.Transfer)
	}
	carol.wait(t, "carol (hangs up after the restart)")
	bob.wait(t, "bob (BYE from the restarted engine)")
	waitEnded(t, h, c.ID, events.Hangup, engine.Callee)
}

// Both phones of the call an attended transfer made survive SIGKILL: bob
// calls alice and carol and REFERs alice to carol with Replaces; alice's
// and carol's dialogs are journaled on the new call (after each one's
// re-INVITE). The engine is killed; carol hangs up after the restart:
// 200, alice's phone gets a BYE from its record, the new call ends hangup
// by carol.
func TestSIPpAttendedTransferSurvivesSIGKILL(t *testing.T) {
	dir := t.TempDir()
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	child := startRestartChild(t, dir, addr)
	alicePort, carolPort := freePort(t), freePort(t)
	for _, r := range []struct {
		client string
		port   int
	}{{"alice", alicePort}, {"carol", carolPort}} {
		registerPhone(t, addr, r.client, r.port, 300)
	}
	alice := runSipp(t, "uas_replaces_kept.xml", alicePort, "")
	carol := runSipp(t, "uas_replaces_target_restart.xml", carolPort, "")
	bob := runSipp(t, "uac_replaces.xml", freePort(t), addr, "-s", "1001", "-au", "bob", "-ap", password("bob"),
		"-key", "caller", "bob", "-key", "target", "1003")
	bob.wait(t, "bob (transferred, left)")
	// bob's two calls (4 records), then alice and carol moved to the new
	// call and journaled again after their re-INVITEs (4).
	child.waitRecords(t, 8)
	child.kill(t)

	h := newHarnessAt(t, dir, addr, nil)
	c := liveSIPCall(t, h)
	if c.Caller.Client != "alice" || c.Callee.Client != "carol" || c.Transfer == "" {
		t.Fatalf("live call after the restart: %s → %s, transfer %q", c.Caller.Client, c.Callee.Client, c.Transfer)
	}
	carol.wait(t, "carol (hangs up after the restart)")
	alice.wait(t, "alice (BYE from the restarted engine)")
	waitEnded(t, h, c.ID, events.Hangup, engine.Callee)
}

// A phone's hold after SIGKILL: alice's phone calls bob's; the engine is
// killed and restarted; then alice's phone holds (re-INVITE a=sendonly)
// and resumes. The restarted engine answers from the records: bob's
// phone gets the relayed re-INVITE in its dialog, a CSeq past the
// journaled reservation, alice's offer with the o= line bob knows (from
// the journaled SDP) at version 2; alice gets a=recvonly with bob's o=
// line at version 2, then the resume; the engine hears CallHeld and
// CallResumed by the caller; alice hangs up.
func TestSIPpHoldAfterSIGKILL(t *testing.T) {
	dir := t.TempDir()
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	child := startRestartChild(t, dir, addr)
	bobPort := freePort(t)
	registerPhone(t, addr, "bob", bobPort, 300)
	bob := runSipp(t, "uas_hold_after_restart.xml", bobPort, "")
	alice := runSipp(t, "uac_hold_after_restart.xml", freePort(t), addr, "-s", "1002", "-au", "alice", "-ap", password("alice"),
		"-key", "caller", "alice")
	child.waitLegs(t, 2)
	child.kill(t)

	h := newHarnessAt(t, dir, addr, nil)
	c := liveSIPCall(t, h)
	alice.wait(t, "alice (hold, resume, BYE after the restart)")
	bob.wait(t, "bob (relayed re-INVITEs after the restart)")
	h.waitEvent("CallHeld by the caller", func(ev *engine.Event) bool {
		return ev.Type == events.TypeCallHeld && ev.Call.ID == c.ID && ev.Call.HeldByCaller
	})
	h.waitEvent("CallResumed", func(ev *engine.Event) bool {
		return ev.Type == events.TypeCallResumed && ev.Call.ID == c.ID && !ev.Call.HeldByCaller
	})
	waitEnded(t, h, c.ID, events.Hangup, engine.Caller)
}
