package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/callengine/callengine/adapters/loopback"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/fsm"
)

func (h *harness) waitMessage(id string, st fsm.MessageStatus) engine.Message {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		m, err := h.e.Message(context.Background(), id)
		if err == nil && m.Status == st {
			return m
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("message %s: %q (err %v), want %q", id, m.Status, err, st)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestTextMessages(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.register("alice", "101", []string{"+14155550101"}, "a1")
	h.register("bob", "102", nil, "b1")
	h.lb.Script("+33612345678", loopback.Behavior{MessageAfter: 2 * time.Second})
	h.lb.Script("+33600000000", loopback.Behavior{MessageFailure: "unreachable"})

	m := must[engine.Message](t)(h.e.SendMessage(ctx, engine.MessageRequest{From: "alice", To: "+33 6 12 34 56 78", Text: "on my way"}))
	if m.Status != fsm.MessagePending || m.To != "+33612345678" || m.From.Client != "alice" {
		t.Fatalf("sent %+v", m)
	}
	// Restart before the far end answers: the message is handed over again
	// and its result still lands.
	h.reopen()
	if got := h.waitMessage(m.ID, fsm.MessagePending); got.Text != "on my way" {
		t.Fatalf("restored %+v", got)
	}
	h.clock.Advance(2 * time.Second)
	h.waitMessage(m.ID, fsm.MessageDelivered)

	f := must[engine.Message](t)(h.e.SendMessage(ctx, engine.MessageRequest{From: "alice", To: "+33600000000", Text: "hello"}))
	h.clock.Advance(time.Millisecond)
	if got := h.waitMessage(f.ID, fsm.MessageFailed); got.Reason != "unreachable" {
		t.Fatalf("failed message %+v", got)
	}
	_, err := h.e.FarMessageResult(ctx, f.ID, true, "")
	wantCode(t, err, errcode.InvalidState) // one result per message

	internal := must[engine.Message](t)(h.e.SendMessage(ctx, engine.MessageRequest{From: "alice", To: "102", Text: "lunch?"}))
	if internal.Status != fsm.MessageDelivered {
		t.Fatalf("internal message %+v", internal)
	}

	before := h.e.Journal().LastSeq()
	for _, req := range []engine.MessageRequest{
		{From: "alice", To: "+33612345678"},
		{From: "alice", To: "+33612345678", Text: strings.Repeat("x", fsm.MaxMessageText+1)},
		{From: "alice", To: "not a number", Text: "x"},
		{From: "mallory", To: "+33612345678", Text: "x"},
		{To: "+33612345678", Text: "x"},
	} {
		if _, err := h.e.SendMessage(ctx, req); errcode.CodeOf(err) == "" {
			t.Fatalf("%+v: %v, want a typed error", req, err)
		}
	}
	_, err = h.e.FarMessageResult(ctx, "nope", true, "")
	wantCode(t, err, errcode.NotFound)
	if got := h.e.Journal().LastSeq(); got != before {
		t.Fatalf("refused messages journaled %d events", got-before)
	}
}
