package engine_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/callengine/callengine/adapters/loopback"
	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/ids"
)

// The voicemail box's deadline is in the journal (CallToVoicemail): a
// process killed while callers leave messages comes back with the calls in
// voicemail and the box timers armed for their original instants.
//
// The child process (this test binary again, chosen by voicemailCrashEnv,
// whose value is its data directory) runs a virtual clock from start:
//
//	+0 s   alice calls bob (box of 2 min), carol calls bob
//	+5 s   bob declines alice: she talks to his box until +2m5s at most
//	+10 s  bob declines carol: she talks to his box until +2m10s at most
//	+20 s  alice sends a tone to the box
//
// then prints "vmkill long=<call> short=<call> now=<ns>" and waits for
// SIGKILL.
const voicemailCrashEnv = "CALLENGINE_VOICEMAIL_CRASH_CHILD"

func init() {
	if dir := os.Getenv(voicemailCrashEnv); dir != "" {
		os.Exit(voicemailCrashChild(dir))
	}
}

const crashBox = 2 * time.Minute

func voicemailCrashChild(dir string) int {
	fail := func(what string, err error) int {
		fmt.Fprintf(os.Stderr, "voicemail crash child: %s: %v\n", what, err)
		return 2
	}
	clk := clock.NewVirtual(start)
	e, err := engine.Open(context.Background(), engine.Config{
		DataDir: dir, Clock: clk, IDs: &ids.Sequence{Prefix: "v"}, RingTimeout: 30 * time.Second,
		Adapter: loopback.New(clk), Domain: "example.com",
	})
	if err != nil {
		return fail("open", err)
	}
	for _, c := range []struct{ id, ext string }{{"alice", "101"}, {"bob", "102"}, {"carol", "103"}} {
		if _, err := e.RegisterClient(ctx, engine.ClientSpec{ID: c.id, Name: c.id, Extensions: []string{c.ext},
			Devices: []engine.Device{{ID: c.id[:1] + "1", Kind: "loopback"}}}); err != nil {
			return fail("register "+c.id, err)
		}
	}
	if _, err := e.SetVoicemail(ctx, "bob", true, crashBox); err != nil {
		return fail("voicemail", err)
	}
	long, err := e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"})
	if err != nil {
		return fail("dial alice", err)
	}
	short, err := e.Dial(ctx, engine.DialRequest{From: "carol", To: "102"})
	if err != nil {
		return fail("dial carol", err)
	}
	clk.Set(start.Add(5 * time.Second))
	if c, err := e.Reject(ctx, long.ID, false); err != nil || !c.InVoicemail {
		return fail("decline alice", fmt.Errorf("%+v %v", c, err))
	}
	clk.Set(start.Add(10 * time.Second))
	if c, err := e.Reject(ctx, short.ID, false); err != nil || !c.InVoicemail {
		return fail("decline carol", fmt.Errorf("%+v %v", c, err))
	}
	clk.Set(start.Add(20 * time.Second))
	if _, err := e.SendDigits(ctx, long.ID, engine.Caller, "1", engine.ToneOptions{}); err != nil {
		return fail("tones", err)
	}
	fmt.Printf("vmkill long=%s short=%s now=%d\n", long.ID, short.ID, clk.Now().UnixNano())
	for {
		time.Sleep(time.Hour) // until SIGKILL
	}
}

func TestCrashVoicemailSIGKILLWhileLeavingAMessage(t *testing.T) {
	dir := t.TempDir()
	kv := killChildAt(t, voicemailCrashEnv+"="+dir, "vmkill ")
	ns, err := strconv.ParseInt(kv["now"], 10, 64)
	if err != nil || !time.Unix(0, ns).Equal(start.Add(20*time.Second)) {
		t.Fatalf("child's clock at the kill: %q (%v)", kv["now"], err)
	}

	// The engine comes back 2 s later.
	h := &harness{t: t, dir: dir, clock: clock.NewVirtual(start.Add(22 * time.Second))}
	h.lb = loopback.New(h.clock)
	h.open()
	t.Cleanup(func() { h.e.Close() })
	ok := must[engine.Call](t)
	if h.e.LiveCalls() != 2 {
		t.Fatalf("%d live calls after the restart, want 2", h.e.LiveCalls())
	}
	long, short := ok(h.e.Call(ctx, kv["long"])), ok(h.e.Call(ctx, kv["short"]))
	for _, c := range []struct {
		call engine.Call
		at   time.Duration
	}{{long, 5 * time.Second}, {short, 10 * time.Second}} {
		if c.call.State != engine.Connected || !c.call.InVoicemail || !c.call.VoicemailAt.Equal(start.Add(c.at)) || c.call.Callee.Client != "bob" {
			t.Fatalf("call %s after the restart: %+v", c.call.ID, c.call)
		}
	}
	if long.Digits != 1 {
		t.Fatalf("the tone sent before the kill is lost: %+v", long)
	}
	// bob is not on either call; the callers are.
	if seen, _, _ := presenceOf(t, h.e, "bob"); seen != events.PresenceAvailable {
		t.Fatalf("bob after the restart: %s", seen)
	}
	if cs := must[[]engine.Call](t)(h.e.Calls(ctx, "bob")); len(cs) != 0 {
		t.Fatalf("bob's calls after the restart: %v", vmCallIDs(cs))
	}
	for _, who := range []string{"alice", "carol"} {
		if seen, _, _ := presenceOf(t, h.e, who); seen != events.PresenceBusy {
			t.Fatalf("%s after the restart: %s", who, seen)
		}
	}
	_, err = h.e.Answer(ctx, long.ID, "b1")
	wantCode(t, err, errcode.InvalidState)

	// carol hangs up at +30 s: her message counts from +10 s.
	h.clock.Set(start.Add(30 * time.Second))
	checkMessage(t, ok(h.e.Hangup(ctx, short.ID, engine.Caller)), 20*time.Second, engine.Caller)

	// alice's box stops at +2m5s exactly, as it would have without the kill.
	h.clock.Set(start.Add(5*time.Second + crashBox - time.Nanosecond))
	if c := ok(h.e.Call(ctx, long.ID)); !c.InVoicemail {
		t.Fatalf("the box stopped early: %+v", c)
	}
	h.clock.Advance(time.Nanosecond)
	end := waitState(t, h.e, long.ID, engine.Ended)
	checkMessage(t, end, crashBox, engine.Side(0))
	if !end.ReleaseAt.Equal(start.Add(5*time.Second + crashBox)) {
		t.Fatalf("released at %v", end.ReleaseAt)
	}
	if _, left := voicemailEvents(t, h.e, long.ID); len(left) != 1 || left[0].Client != "bob" || left[0].From.Client != "alice" ||
		left[0].Duration != int64(crashBox) {
		t.Fatalf("VoicemailLeft %+v", left)
	}
	if h.e.LiveCalls() != 0 {
		t.Fatalf("%d live calls at the end", h.e.LiveCalls())
	}
}
