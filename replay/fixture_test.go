package replay_test

import (
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/callengine/callengine/adapters/loopback"
	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/ids"
	"github.com/callengine/callengine/replay"
)

var (
	// -fixture regenerates testdata/v1.journal (TestFixture). Only ever
	// needed while the schema is 1: the file is the first version's journal.
	regenerate = flag.Bool("fixture", false, "regenerate testdata/v1.journal by driving an engine through a day")
	// -update rewrites the golden files from what the code gives now.
	update = flag.Bool("update", false, "rewrite the golden files under testdata/")
)

const fixturePath = "testdata/v1.journal"

// dayStart is when the fixture's day begins on the engine's virtual clock.
var dayStart = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// TestFixture writes testdata/v1.journal: an engine with a virtual clock,
// seeded ids, protoactor's synchronous dispatcher and a loopback far end is
// driven through a varied day. Run it with
//
//	go test ./replay -run TestFixture -fixture -update
//
// (-update then rewrites the golden files from the new journal). Without
// -fixture it is skipped: the committed file is the first schema version's
// journal, and regenerating it under a later schema would lose that.
func TestFixture(t *testing.T) {
	if !*regenerate {
		t.Skip("run with -fixture to regenerate " + fixturePath)
	}
	if events.SchemaVersion != 1 {
		t.Fatalf("the schema is %d: %s must stay the journal written by schema 1", events.SchemaVersion, fixturePath)
	}
	dir := t.TempDir()
	day(t, dir)
	src := filepath.Join(dir, "journal.db")
	copyFile(t, src, fixturePath)
	fi, err := os.Stat(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", fixturePath, fi.Size())

	l, err := replay.Open(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r, err := l.Verify()
	if err != nil || !r.OK() {
		t.Fatalf("the new fixture does not verify: %v %+v", err, r)
	}
}

// driver runs the day's commands and fails the test on the first error.
type driver struct {
	t   *testing.T
	ctx context.Context
	clk *clock.Virtual
	lb  *loopback.Adapter
	e   *engine.Engine
}

func (d *driver) call(c engine.Call, err error) engine.Call {
	d.t.Helper()
	if err != nil {
		d.t.Fatal(err)
	}
	return c
}

func (d *driver) client(_ engine.Client, err error) {
	d.t.Helper()
	if err != nil {
		d.t.Fatal(err)
	}
}

// after advances the virtual clock; due timers (ring timeouts, the far end's
// scripted moves) fire on the way.
func (d *driver) after(dt time.Duration) { d.clk.Advance(dt) }

// at moves the clock to the given minute and second of the day.
func (d *driver) at(min, sec int) {
	d.clk.Set(dayStart.Add(time.Duration(min)*time.Minute + time.Duration(sec)*time.Second))
}

// expect checks the state the day left a call in.
func (d *driver) expect(id string, st engine.CallState, reason events.Reason) {
	d.t.Helper()
	c := d.call(d.e.Call(d.ctx, id))
	if c.State != st || c.Reason != reason {
		d.t.Fatalf("call %s: %s %s, want %s %s", id, c.State, c.Reason, st, reason)
	}
}

// day drives an engine whose journal is dir/journal.db through the fixture's
// day, and closes it with two calls live.
func day(t *testing.T, dir string) {
	clk := clock.NewVirtual(dayStart)
	lb := loopback.New(clk)
	lb.Script("+33144556677", loopback.Behavior{Outcome: loopback.Answer, RingAfter: time.Second, AnswerAfter: 2 * time.Second})
	lb.Script("+33155555555", loopback.Behavior{Outcome: loopback.Busy, RingAfter: time.Second, RingFor: 2 * time.Second})
	e, err := engine.Open(context.Background(), engine.Config{
		DataDir: dir, Clock: clk, IDs: ids.NewSeeded(clk, 20260105), Adapter: lb,
		RingTimeout: 30 * time.Second, Dispatcher: actor.NewSynchronizedDispatcher(300),
	})
	if err != nil {
		t.Fatal(err)
	}
	d := &driver{t: t, ctx: context.Background(), clk: clk, lb: lb, e: e}
	ctx := d.ctx
	dev := func(id, kind string) engine.Device { return engine.Device{ID: id, Kind: kind} }

	// 09:00 four clients register; alice and bob with two devices each.
	d.client(e.RegisterClient(ctx, engine.ClientSpec{ID: "alice", Name: "Alice Martin", Numbers: []string{"+14155550101"},
		Extensions: []string{"101"}, Devices: []engine.Device{dev("alice-desk", "sip"), dev("alice-web", "webrtc")}}))
	d.client(e.RegisterClient(ctx, engine.ClientSpec{ID: "bob", Name: "Bob Chen", Numbers: []string{"+14155550102"},
		Extensions: []string{"102"}, Devices: []engine.Device{dev("bob-desk", "sip"), dev("bob-web", "webrtc")}}))
	d.client(e.RegisterClient(ctx, engine.ClientSpec{ID: "carol", Name: "Carol Diaz", Numbers: []string{"+14155550103"},
		Extensions: []string{"103"}, Devices: []engine.Device{dev("carol-desk", "sip"), dev("carol-mobile", "sip")}}))
	d.client(e.RegisterClient(ctx, engine.ClientSpec{ID: "dave", Name: "Dave Okafor",
		Extensions: []string{"104"}, Devices: []engine.Device{dev("dave-desk", "sip")}}))
	d.at(1, 0)
	d.client(e.AddDevice(ctx, "bob", dev("bob-mobile", "sip")))

	// 09:02 alice → bob, answered on bob-web; mute, hold and resume by both
	// sides, both holding at once; bob hangs up.
	d.at(2, 0)
	c1 := d.call(e.Dial(ctx, engine.DialRequest{From: "alice", Device: "alice-desk", To: "102"}))
	d.after(3 * time.Second)
	d.call(e.Answer(ctx, c1.ID, "bob-web"))
	d.after(10 * time.Second)
	d.call(e.Mute(ctx, c1.ID, engine.Caller))
	d.after(20 * time.Second)
	d.call(e.Unmute(ctx, c1.ID, engine.Caller))
	d.after(30 * time.Second)
	d.call(e.Hold(ctx, c1.ID, engine.Callee))
	d.after(40 * time.Second)
	d.call(e.Resume(ctx, c1.ID, engine.Callee))
	d.after(30 * time.Second)
	d.call(e.Hold(ctx, c1.ID, engine.Caller))
	d.after(5 * time.Second)
	d.call(e.Hold(ctx, c1.ID, engine.Callee))
	d.after(20 * time.Second)
	d.call(e.Resume(ctx, c1.ID, engine.Caller))
	d.after(10 * time.Second)
	d.call(e.Resume(ctx, c1.ID, engine.Callee))
	d.after(60 * time.Second)
	d.call(e.Hangup(ctx, c1.ID, engine.Callee))
	d.expect(c1.ID, engine.Ended, events.Hangup)

	// 09:10 carol → alice, rejected.
	d.at(10, 0)
	c2 := d.call(e.Dial(ctx, engine.DialRequest{From: "carol", To: "101"}))
	d.after(4 * time.Second)
	d.call(e.Reject(ctx, c2.ID, false))

	// 09:12 dave → bob, busy.
	d.at(12, 0)
	c3 := d.call(e.Dial(ctx, engine.DialRequest{From: "dave", To: "102"}))
	d.after(2 * time.Second)
	d.call(e.Reject(ctx, c3.ID, true))

	// 09:15 alice → carol; carol ignores it, alice gives up: carol missed it.
	d.at(15, 0)
	c4 := d.call(e.Dial(ctx, engine.DialRequest{From: "alice", Device: "alice-web", To: "+14155550103"}))
	d.after(5 * time.Second)
	d.call(e.Ignore(ctx, c4.ID))
	d.after(10 * time.Second)
	d.call(e.Hangup(ctx, c4.ID, engine.Caller))
	d.expect(c4.ID, engine.Ended, events.Canceled)

	// 09:20 bob → dave, nobody answers: the ring timeout ends it.
	d.at(20, 0)
	c5 := d.call(e.Dial(ctx, engine.DialRequest{From: "bob", To: "104"}))
	d.after(30 * time.Second)
	d.expect(c5.ID, engine.Ended, events.NoAnswer)

	// 09:25 alice → a number outside: it rings after 1 s and answers 2 s
	// later; the far end holds and resumes; alice hangs up.
	d.at(25, 0)
	c6 := d.call(e.Dial(ctx, engine.DialRequest{From: "alice", To: "+33144556677"}))
	d.after(3 * time.Second)
	d.expect(c6.ID, engine.Connected, 0)
	d.after(30 * time.Second)
	d.call(e.FarHold(ctx, c6.ID))
	d.after(15 * time.Second)
	d.call(e.FarResume(ctx, c6.ID))
	d.after(60 * time.Second)
	d.call(e.Hangup(ctx, c6.ID, engine.Caller))

	// 09:30 bob → a number outside that rings, then answers busy.
	d.at(30, 0)
	c7 := d.call(e.Dial(ctx, engine.DialRequest{From: "bob", Device: "bob-desk", To: "+33155555555"}))
	d.after(3 * time.Second)
	d.expect(c7.ID, engine.Ended, events.Busy)

	// 09:35 a call from outside to carol's number, answered on her mobile;
	// the far end hangs up two minutes later.
	d.at(35, 0)
	c8 := d.call(lb.Call(ctx, "+44 20 7123 4567", "Acme Ltd", "+14155550103"))
	d.after(6 * time.Second)
	d.call(e.Answer(ctx, c8.ID, "carol-mobile"))
	d.after(2 * time.Minute)
	d.call(e.FarEnded(ctx, c8.ID, events.Hangup))

	// 09:40 dave stops taking calls: alice's call to him fails at once.
	d.at(40, 0)
	d.client(e.SetAcceptInbound(ctx, "dave", false))
	c9 := d.call(e.Dial(ctx, engine.DialRequest{From: "alice", To: "104"}))
	d.expect(c9.ID, engine.Ended, events.Failed)
	d.after(30 * time.Second)
	d.client(e.SetAcceptInbound(ctx, "dave", true))
	d.at(41, 0)
	d.client(e.RemoveDevice(ctx, "bob", "bob-mobile"))

	// 09:45 dave leaves.
	d.at(45, 0)
	d.client(e.UnregisterClient(ctx, "dave"))

	// 09:50 alice → bob, answered and held by bob: still up at the end.
	d.at(50, 0)
	c10 := d.call(e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	d.after(2 * time.Second)
	d.call(e.Answer(ctx, c10.ID, "bob-desk"))
	d.after(30 * time.Second)
	d.call(e.Hold(ctx, c10.ID, engine.Callee))

	// 09:55 carol → alice: still ringing when the engine stops at 09:55:10.
	d.at(55, 0)
	c11 := d.call(e.Dial(ctx, engine.DialRequest{From: "carol", To: "101"}))
	d.after(10 * time.Second)
	d.expect(c11.ID, engine.Ringing, 0)
	d.expect(c10.ID, engine.Held, 0)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
}

// copyFile copies src to dst (created or truncated).
func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
