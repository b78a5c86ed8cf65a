package sip

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
)

// Relayed phones after SIGKILL. The engine, the relay and the adapter run
// in a child process (this test binary again) while two Go phones with real
// RTP endpoints talk through the relay; the child is killed, and the
// engine, a new relay and the adapter start again in this process on the
// same data directory and UDP address. The relay legs come back on the
// ports the phones send to (from the journaled dialog records): audio
// flows again both ways, and neither phone gets a re-INVITE or any other
// request until the engine hangs up.
const relayRestartChildEnv = "CALLENGINE_SIP_RELAY_RESTART_CHILD" // "<dir> <udp addr>"

func TestRelayedPhonesSurviveSIGKILL(t *testing.T) { relayRestart(t, false, false) }

// When the port a phone sent to is taken by the time the engine starts
// again, its leg gets another port and the phone a re-INVITE with it (the
// one request a restart may cause); audio flows again both ways.
func TestRelayedPhoneReinvitedWhenPortTaken(t *testing.T) { relayRestart(t, true, false) }

// The same with alice's phone on SRTP (SDES): its relay leg comes back
// with the keys of the journaled SDPs, and the audio flows again both ways,
// encrypted and authenticated, with no request to either phone.
func TestRelayedSRTPPhoneSurvivesSIGKILL(t *testing.T) { relayRestart(t, false, true) }

func relayRestart(t *testing.T, takePort, srtp bool) {
	dir := t.TempDir()
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	child := startRelayRestartChild(t, dir, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	alice := newGoPhone(t, ctx, addr, "alice", "ALICE")
	alice.register(ctx)
	bob := newGoPhone(t, ctx, addr, "bob", "BOB")
	bob.register(ctx)
	if srtp {
		if err := alice.rtp.UseSRTP(); err != nil {
			t.Fatal(err)
		}
	}
	_, _, alicePort := relayedCall(t, ctx, alice, bob)
	child.waitLegs(t, 2) // both sides' dialogs journaled
	child.kill(t)

	heardA, heardB := bob.rtp.ReceivedFrom("ALICE"), alice.rtp.ReceivedFrom("BOB")
	time.Sleep(300 * time.Millisecond)
	if bob.rtp.ReceivedFrom("ALICE") > heardA+2 || alice.rtp.ReceivedFrom("BOB") > heardB+2 {
		t.Fatal("audio flows while the engine is dead")
	}
	if takePort {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: alicePort})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}

	h := newRelayHarness(t, dir, addr)
	calls, err := h.eng.LegCalls(ctx, adapterName)
	if err != nil || len(calls) != 1 || calls[0].State != engine.Connected {
		// What became of alice's calls, for the next failure to tell.
		all, aerr := h.eng.Calls(ctx, "alice")
		for _, c := range all {
			t.Logf("alice's call %s: %s (from %s), reason %q by %s, %d leg records", c.ID, c.State, c.Prev, c.Reason, c.EndedBy, len(c.Legs))
		}
		t.Fatalf("calls with SIP dialogs after the restart: %+v, %v (alice's calls: %d, %v)", calls, err, len(all), aerr)
	}
	id := calls[0].ID
	port, err := h.relay.RTPPort(id + "/caller")
	if err != nil || takePort == (port == alicePort) {
		t.Fatalf("alice's relay leg after the restart: port %d, %v; she sent to %d", port, err, alicePort)
	}
	if takePort {
		var offer string
		select {
		case offer = <-alice.reinvited:
		case <-ctx.Done():
			t.Fatal("alice was not re-INVITEd to her new relay port")
		}
		if p, _ := sdpAudio(t, offer); p != port {
			t.Fatalf("alice's re-INVITE names port %d, her leg is on %d:\n%s", p, port, offer)
		}
	}
	heardA, heardB = bob.rtp.ReceivedFrom("ALICE"), alice.rtp.ReceivedFrom("BOB")
	eventuallyTrue(t, "bob hears alice again", func() bool { return bob.rtp.ReceivedFrom("ALICE") > heardA+10 })
	eventuallyTrue(t, "alice hears bob again", func() bool { return alice.rtp.ReceivedFrom("BOB") > heardB+10 })
	noReinvite(t, alice)
	noReinvite(t, bob)
	if st, _ := h.relay.LegStats(id + "/caller"); srtp && (st.Encryption != "sdes AES_CM_128_HMAC_SHA1_80" || st.SRTPFailures != 0 || alice.rtp.SRTPFailures() != 0) {
		t.Errorf("alice's SRTP leg after the restart: %+v; her phone's failed packets: %d", st, alice.rtp.SRTPFailures())
	}
	// Each phone hears the one stream it heard before the SIGKILL: the
	// same SSRC, the sequence numbers going on forward — but a phone on
	// SRTP a new stream (its rollover counter of the old one is not
	// known after the restart, media.md).
	for name, p := range map[string]*goPhone{"alice": alice, "bob": bob} {
		want := 1
		if srtp && p == alice {
			want = 2
		}
		if rc := p.rtp.Received(); rc.SSRCs != want || rc.Backwards != 0 {
			t.Errorf("%s's stream across the restart: %+v, want %d SSRCs", name, rc, want)
		}
	}

	// The restored legs follow the engine: hold stops the audio.
	if _, err := h.eng.Hold(ctx, id, engine.Caller); err != nil {
		t.Fatal(err)
	}
	<-bob.reinvited // the engine's hold re-INVITEs the other phone (a=sendonly)
	time.Sleep(150 * time.Millisecond)
	if rtpFlowing(bob.rtp, "ALICE") || rtpFlowing(alice.rtp, "BOB") {
		t.Error("audio flows on hold after the restart")
	}
	if _, err := h.eng.Hangup(ctx, id, engine.Caller); err != nil {
		t.Fatal(err)
	}
	alice.waitBye(ctx)
	bob.waitBye(ctx)
	eventuallyTrue(t, "the relay's legs closed", func() bool { return h.relay.Stats().Legs == 0 })
}

func startRelayRestartChild(t *testing.T, dir, addr string, trunk ...string) *restartChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestRelayRestartChild$", "-test.v")
	cmd.Env = append(os.Environ(), relayRestartChildEnv+"="+strings.Join(append([]string{dir, addr}, trunk...), " "))
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

// TestRelayRestartChild is the child's body; it does nothing in a normal
// run. It serves SIP with a relay until it is killed and reports each
// journaled leg record on stdout.
func TestRelayRestartChild(t *testing.T) {
	spec := os.Getenv(relayRestartChildEnv)
	if spec == "" {
		return
	}
	f := strings.Fields(spec)
	var h *relayHarness
	switch {
	case len(f) > 2:
		h = relayTrunkHarness(t, f[0], f[1], f[2])
	case os.Getenv(browserWSEnv) != "":
		h = newRelayHarnessWith(t, f[0], f[1], nil, func(s *Settings) { s.WS = os.Getenv(browserWSEnv) })
	case os.Getenv(parkPrefixEnv) != "":
		h = newRelayHarnessWith(t, f[0], f[1], nil, func(s *Settings) { s.ParkPrefix = os.Getenv(parkPrefixEnv) })
	default:
		h = newRelayHarness(t, f[0], f[1])
	}
	sub, err := h.eng.Subscribe(context.Background(), engine.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("READY")
	for ev := range sub.Events() {
		if e, ok := ev.Event.(events.CallLegRecorded); ok {
			fmt.Printf("LEG %s %s\n", ev.Call.ID, e.Side)
		}
	}
}

// relayTrunkHarness is a relay harness on dir and udp whose far end is
// the trunk at trunkAddr, with dave (a number to call out with).
func relayTrunkHarness(t *testing.T, dir, udp, trunkAddr string) *relayHarness {
	t.Helper()
	ts, err := NewTrunks([]Trunk{{Name: "test", Address: trunkAddr}})
	if err != nil {
		t.Fatal(err)
	}
	h := newRelayHarnessWith(t, dir, udp, ts)
	if _, err := h.eng.Client(context.Background(), dave.ID); err != nil {
		if _, err := h.eng.RegisterClient(context.Background(), dave); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// A relayed call out through a trunk after SIGKILL: the phone's leg and
// the trunk's leg come back on their ports (both journaled), audio flows
// again both ways, and neither the phone nor the trunk gets a request
// until the engine hangs up.
func TestRelayedTrunkCallSurvivesSIGKILL(t *testing.T) { relayTrunkRestart(t, false) }

// When the port the trunk sent to is taken by the time the engine starts
// again, the trunk's relay leg gets another port and the trunk one
// re-INVITE naming it; audio flows again both ways.
func TestRelayedTrunkReinvitedWhenPortTaken(t *testing.T) { relayTrunkRestart(t, true) }

func relayTrunkRestart(t *testing.T, takePort bool) {
	dir := t.TempDir()
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	trunk := newGoPhoneOn(t, ctx, trunkIP, addr, "trunk", "TRUNK")
	trunkAddr := trunkIP + ":" + strconv.Itoa(trunk.port)
	child := startRelayRestartChild(t, dir, addr, trunkAddr)
	phone := newGoPhone(t, ctx, addr, "dave", "DAVE")
	phone.register(ctx)
	_, answer := phone.call(ctx, outside)
	trunkPort, _ := sdpAudio(t, trunk.waitInvite(ctx).offer) // the trunk's relay port
	trunk.rtp.Start()
	eventuallyTrue(t, "the trunk hears dave", func() bool { return trunk.rtp.ReceivedFrom("DAVE") > 10 })
	eventuallyTrue(t, "dave hears the trunk", func() bool { return phone.rtp.ReceivedFrom("TRUNK") > 10 })
	davePort, _ := sdpAudio(t, answer)
	child.waitLegs(t, 2)
	child.kill(t)
	if takePort {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: trunkPort})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}

	h := relayTrunkHarness(t, dir, addr, trunkAddr)
	calls, err := h.eng.LegCalls(ctx, adapterName)
	if err != nil || len(calls) != 1 {
		t.Fatalf("calls with SIP dialogs after the restart: %+v, %v", calls, err)
	}
	id := calls[0].ID
	if p, err := h.relay.RTPPort(id + "/caller"); err != nil || p != davePort {
		t.Fatalf("dave's relay leg after the restart: port %d, %v; he sends to %d", p, err, davePort)
	}
	port, err := h.relay.RTPPort(id + "/callee")
	if err != nil || takePort == (port == trunkPort) {
		t.Fatalf("the trunk's relay leg after the restart: port %d, %v; it sent to %d", port, err, trunkPort)
	}
	if takePort {
		var offer string
		select {
		case offer = <-trunk.reinvited:
		case <-ctx.Done():
			t.Fatal("the trunk was not re-INVITEd to its new relay port")
		}
		if p, _ := sdpAudio(t, offer); p != port {
			t.Fatalf("the trunk's re-INVITE names port %d, its leg is on %d:\n%s", p, port, offer)
		}
	}
	heardD, heardT := trunk.rtp.ReceivedFrom("DAVE"), phone.rtp.ReceivedFrom("TRUNK")
	eventuallyTrue(t, "the trunk hears dave again", func() bool { return trunk.rtp.ReceivedFrom("DAVE") > heardD+10 })
	eventuallyTrue(t, "dave hears the trunk again", func() bool { return phone.rtp.ReceivedFrom("TRUNK") > heardT+10 })
	for name, p := range map[string]*goPhone{"the trunk": trunk, "dave": phone} {
		if rc := p.rtp.Received(); rc.SSRCs != 1 || rc.Backwards != 0 {
			t.Errorf("%s's stream across the restart: %+v", name, rc)
		}
	}
	noReinvite(t, phone)
	noReinvite(t, trunk)
	if _, err := h.eng.Hangup(ctx, id, engine.Caller); err != nil {
		t.Fatal(err)
	}
	phone.waitBye(ctx)
	trunk.waitBye(ctx)
	eventuallyTrue(t, "the relay's legs closed", func() bool { return h.relay.Stats().Legs == 0 })
}
