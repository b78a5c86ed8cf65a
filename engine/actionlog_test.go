package engine_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/ids"
)

func TestParseLogLevel(t *testing.T) {
	for _, l := range engine.LogLevels {
		if _, err := engine.ParseLogLevel(l); err != nil {
			t.Errorf("%s: %v", l, err)
		}
	}
	_, err := engine.ParseLogLevel("loud")
	wantCode(t, err, errcode.InvalidParams)
}

// logged opens an engine logging at level into a buffer, runs a call
// through it and returns the log.
func logged(t *testing.T, level string, action bool) string {
	t.Helper()
	var buf bytes.Buffer
	lg, err := engine.NewLogger(&buf, level, false)
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.Open(context.Background(), engine.Config{
		DataDir: t.TempDir(), Clock: clock.NewVirtual(start), IDs: &ids.Sequence{Prefix: "c"},
		Logger: lg, ActionLog: action, RingTimeout: 30 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, id := range []string{"alice", "bob"} {
		ext := map[string]string{"alice": "101", "bob": "102"}[id]
		if _, err := e.RegisterClient(ctx, engine.ClientSpec{ID: id, Name: id, Extensions: []string{ext}, Devices: []engine.Device{{ID: id + "-1"}}}); err != nil {
			t.Fatal(err)
		}
	}
	c := must[engine.Call](t)(e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	must[engine.Call](t)(e.Answer(ctx, c.ID, "bob-1"))
	if _, err := e.Answer(ctx, c.ID, "bob-1"); err == nil {
		t.Fatal("second answer accepted")
	}
	must[engine.Call](t)(e.Hangup(ctx, c.ID, engine.Caller))
	return buf.String()
}

func TestLogLevels(t *testing.T) {
	if out := logged(t, "none", true); out != "" {
		t.Fatalf("level none logged:\n%s", out)
	}
	info := logged(t, "info", true)
	if !strings.Contains(info, `msg="registered client" client=alice`) || strings.Contains(info, "level=DEBUG") {
		t.Fatalf("info log:\n%s", info)
	}
	debug := logged(t, "debug", false)
	if !strings.Contains(debug, `msg="command refused" command=Answer id=c1 code=invalid_state`) ||
		!strings.Contains(debug, `msg="call ended" call=c1 reason=hangup`) || strings.Contains(debug, "log=action") {
		t.Fatalf("debug log:\n%s", debug)
	}
}

// TestActionLog: each journaled event is logged with the change it made.
func TestActionLog(t *testing.T) {
	out := logged(t, "debug", true)
	for _, want := range []string{
		`log=action seq=3 stream=call/c1 version=1 type=CallDialed`,
		`type=CallRinging event="{Devices:[bob-1] Deadline:`,
		`change="(with the event before)"`, // dialled and ringing in one decision
		`type=CallAnswered event={Device:bob-1} change="State: ringing → connected; Prev: connecting → ringing; RingingDevices: [bob-1] → -; RingDeadline: 2026-11-21T09:00:30Z → -; AnsweredDevice: - → \"bob-1\"`,
		`type=CallEnded event="{Reason:hangup By:caller Missed:false}" change="State: connected → ended; Prev: ringing → connected`,
		`stream=client/alice version=1 type=ClientRegistered`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("action log lacks %s\nlog:\n%s", want, out)
		}
	}
}
