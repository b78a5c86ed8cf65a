// Command webhooks shows webhooks (FEATURES H3): an engine POSTs its new-call,
// call-ended and message events to an HTTP endpoint — here a receiver on
// loopback in the same program — signed with an HMAC header, retried with
// backoff when the receiver does not answer 2xx, at least once, with an id
// that stays the same across tries and restarts.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/ids"
	"github.com/callengine/callengine/webhooks"
)

// try is one request the receiver got.
type try struct {
	d       webhooks.Delivery
	attempt string
	at      time.Time // its X-Callengine-Timestamp
	status  int
	dup     bool
}

func main() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "callengine-webhooks")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// A virtual clock and sequential ids make every run print the same;
	// leave Clock and IDs unset in production. The engine's clock also
	// stamps the signatures and times the retries.
	t0 := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	clk := clock.NewVirtual(t0)
	secret := []byte("whsec-example-secret")

	// The receiver: verify, de-duplicate by id, answer. It refuses the first
	// try of call.ended with 503 to show a retry.
	tries := make(chan try, 16)
	var mu sync.Mutex
	seen := map[string]bool{}
	refused := false
	receiver := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "cannot read the body", http.StatusBadRequest)
			return
		}
		// A real receiver passes time.Now(); this one shares the engine's
		// virtual clock.
		ts := r.Header.Get(webhooks.HeaderTimestamp)
		if err := webhooks.Verify(secret, ts, r.Header.Get(webhooks.HeaderSignature), body, clk.Now(), 5*time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var d webhooks.Delivery
		if err := json.Unmarshal(body, &d); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		t := try{d: d, attempt: r.Header.Get(webhooks.HeaderAttempt), status: http.StatusNoContent}
		var sec int64
		fmt.Sscan(ts, &sec)
		t.at = time.Unix(sec, 0).UTC()
		mu.Lock()
		switch {
		case d.Kind == webhooks.KindCallEnded && !refused:
			refused = true
			t.status = http.StatusServiceUnavailable // busy: try again later
		case seen[d.ID]:
			t.dup = true // handled already: answer 2xx, do nothing
		default:
			seen[d.ID] = true
		}
		mu.Unlock()
		w.WriteHeader(t.status)
		tries <- t
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: receiver}
	go srv.Serve(l)
	defer srv.Close()

	cfg := engine.Config{
		DataDir: dir, Clock: clk, IDs: &ids.Sequence{Prefix: "c-"},
		Webhooks: []webhooks.Endpoint{{
			URL:    "http://" + l.Addr().String() + "/hooks/callengine",
			Secret: secret,
			// Events: nil takes every kind: call.created, call.ended,
			// voicemail.left, message.sent, message.delivered, message.failed.
		}},
		// The position of the endpoint is saved at most once a second of
		// the (virtual) clock; an hour keeps that timer out of the way of
		// the retry below. Close saves it anyway.
		WebhookOptions: webhooks.Options{SaveInterval: time.Hour},
	}
	e, err := engine.Open(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer func() { e.Close() }()

	show := func() try {
		t := <-tries
		note := ""
		switch {
		case t.status >= 300:
			note = fmt.Sprintf("→ %d, the engine will try again", t.status)
		case t.dup:
			note = "→ 204, a duplicate: ignored"
		default:
			note = fmt.Sprintf("→ 204 %s", summary(t.d))
		}
		fmt.Printf("  %s try %s #%-2d %-14s %-17s %s\n", t.at.Format("15:04:05"), t.attempt, t.d.Seq, t.d.ID, t.d.Kind, note)
		return t
	}

	for _, spec := range []engine.ClientSpec{
		{ID: "alice", Name: "Alice", Numbers: []string{"+14155550101"}, Extensions: []string{"101"}, Devices: []engine.Device{{ID: "alice-desk"}}},
		{ID: "bob", Name: "Bob", Extensions: []string{"102"}, Devices: []engine.Device{{ID: "bob-desk"}}},
	} {
		if _, err := e.RegisterClient(ctx, spec); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("alice calls bob (ClientRegistered, CallRinging, CallAnswered are not webhook kinds)")
	c, err := e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"})
	if err != nil {
		log.Fatal(err)
	}
	show()
	clk.Advance(4 * time.Second)
	if _, err := e.Answer(ctx, c.ID, "bob-desk"); err != nil {
		log.Fatal(err)
	}
	clk.Advance(60 * time.Second)
	fmt.Println("bob hangs up; the receiver is busy the first time")
	if _, err := e.Hangup(ctx, c.ID, engine.Callee); err != nil {
		log.Fatal(err)
	}
	show()
	// The engine waits MinBackoff (1 s) on its clock before the next try.
	for {
		due, ok := clk.NextDue()
		if ok && due.Equal(clk.Now().Add(time.Second)) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	clk.Advance(time.Second)
	show()

	fmt.Println("alice texts bob")
	if _, err := e.SendMessage(ctx, engine.MessageRequest{From: "alice", To: "102", Text: "call me back?"}); err != nil {
		log.Fatal(err)
	}
	show()
	show()
	waitCaughtUp(e)
	printStats(e)

	fmt.Println("the engine restarts; alice calls bob again")
	if err := e.Close(); err != nil {
		log.Fatal(err)
	}
	if e, err = engine.Open(ctx, cfg); err != nil {
		log.Fatal(err)
	}
	c, err = e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"})
	if err != nil {
		log.Fatal(err)
	}
	show() // the next event, not the history again: the position was saved
	if _, err := e.Reject(ctx, c.ID, true); err != nil {
		log.Fatal(err)
	}
	show()
	waitCaughtUp(e)
	printStats(e)
}

// summary gives the interesting fields of a delivery's data.
func summary(d webhooks.Delivery) string {
	var data struct {
		Caller struct{ Client, Number string }
		Callee struct{ Client string }
		Reason string
		By     string
		From   struct{ Client string }
		To     string
		Text   string
	}
	_ = json.Unmarshal(d.Data, &data)
	switch d.Kind {
	case webhooks.KindCallCreated:
		return fmt.Sprintf("%s (%s) → %s", data.Caller.Client, data.Caller.Number, data.Callee.Client)
	case webhooks.KindCallEnded:
		return fmt.Sprintf("%s by %s", data.Reason, data.By)
	case webhooks.KindMessageSent:
		return fmt.Sprintf("%s → %s %q", data.From.Client, data.To, data.Text)
	}
	return string(d.Data)
}

func waitCaughtUp(e *engine.Engine) {
	for e.WebhookStats()[0].Lag > 0 {
		time.Sleep(time.Millisecond)
	}
}

func printStats(e *engine.Engine) {
	for _, s := range e.WebhookStats() {
		fmt.Printf("  stats: delivered %d, retried %d, dead %d, lag %d (since Open)\n", s.Delivered, s.Retried, s.Dead, s.Lag)
	}
}
