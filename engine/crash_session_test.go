package engine_test

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/fsm"
)

// Session crash times, from start.
const (
	sessionClosedAt = 10 * time.Second // the last connection closes: grace until +5m10s
	sessionKilledAt = 3 * time.Minute  // killed during the grace period
)

// sessionCrashChild opens a session for alice that follows bob's line,
// closes its only connection, lets 3 minutes of its grace period pass,
// prints the kill point and waits for SIGKILL.
func sessionCrashChild(e *engine.Engine, clk *clock.Virtual, fail func(string, error) int) int {
	s, err := e.CreateSession(ctx, "alice", engine.SessionOptions{})
	if err != nil {
		return fail("create session", err)
	}
	if _, err := e.SubscribeLine(ctx, s.ID, "102"); err != nil {
		return fail("subscribe", err)
	}
	clk.Set(start.Add(sessionClosedAt))
	if s, err = e.CloseConnection(ctx, s.ID); err != nil {
		return fail("close", err)
	}
	clk.Set(start.Add(sessionKilledAt))
	fmt.Printf("killpoint session=%s deadline=%d\n", s.ID, s.GraceDeadline.UnixNano())
	for {
		time.Sleep(time.Hour) // until SIGKILL
	}
}

// TestCrashSessionSIGKILLDuringGrace: a real child process is killed with
// SIGKILL two minutes before its session's grace timer fires. Reopened, the
// session is in grace with its subscriptions, and the timer fires at the
// original deadline — not 5 minutes after the restart.
func TestCrashSessionSIGKILLDuringGrace(t *testing.T) {
	dir, at := killTransferChild(t, "session")
	id := at["session"]
	deadline, err := strconv.ParseInt(at["deadline"], 10, 64)
	if err != nil || deadline != start.Add(sessionClosedAt+5*time.Minute).UnixNano() {
		t.Fatalf("kill point %v", at)
	}
	h := reopenAfterKill(t, dir, start.Add(sessionKilledAt))
	s, err := h.e.Session(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if s.State != fsm.SessionGrace || s.Connections != 0 || s.GraceDeadline.UnixNano() != deadline || !slices.Equal(s.Lines, []string{"102"}) {
		t.Fatalf("after SIGKILL: %+v", s)
	}
	h.clock.Set(time.Unix(0, deadline-1))
	if s, err := h.e.Session(ctx, id); err != nil || s.State != fsm.SessionGrace {
		t.Fatalf("a nanosecond before the deadline: %+v, %v", s, err)
	}
	h.clock.Set(time.Unix(0, deadline))
	h.waitSession(id, func(_ engine.Session, err error) bool { return errcode.CodeOf(err) == errcode.InvalidSession })
	_, err = h.e.RestoreSession(ctx, id)
	wantCode(t, err, errcode.InvalidSession)
}
