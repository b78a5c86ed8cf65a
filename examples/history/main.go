// Command history shows the call history (H1) and the voicemail box (C7):
// three clients call each other — answered, rejected into voicemail, given
// up, rung out — and each lists its history newest first, filtered and a page
// at a time. Bob hears and deletes a voicemail message and deletes a call
// from his history (not from Alice's). Then the history file is deleted and
// the engine opened again: it rebuilds the same history from the journal.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/ids"
)

func main() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "callengine-history")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	start := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	clk := clock.NewVirtual(start)
	cfg := engine.Config{DataDir: dir, Clock: clk, IDs: &ids.Sequence{Prefix: "call-"}, RingTimeout: 20 * time.Second}
	e, err := engine.Open(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	for _, spec := range []engine.ClientSpec{
		{ID: "alice", Numbers: []string{"+14155550101"}, Extensions: []string{"101"}, Devices: []engine.Device{{ID: "alice-desk"}}},
		{ID: "bob", Numbers: []string{"+14155550102"}, Extensions: []string{"102"}, Devices: []engine.Device{{ID: "bob-desk"}}},
		{ID: "carol", Numbers: []string{"+14155550103"}, Extensions: []string{"103"}, Devices: []engine.Device{{ID: "carol-desk"}}},
	} {
		must(e.RegisterClient(ctx, spec))
	}
	// Bob has a voicemail box: a call he rejects, or that rings out, goes to it.
	must(e.SetVoicemail(ctx, "bob", true, time.Minute))

	// 09:00 Alice calls Bob; he answers; they talk for two minutes.
	c := must(e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	clk.Advance(4 * time.Second)
	must(e.Answer(ctx, c.ID, "bob-desk"))
	clk.Advance(2 * time.Minute)
	must(e.Hangup(ctx, c.ID, engine.Caller))

	// 09:10 Carol calls Bob; he rejects it: Carol leaves a 12 s message.
	clk.Advance(10*time.Minute - clk.Now().Sub(start))
	c = must(e.Dial(ctx, engine.DialRequest{From: "carol", To: "102"}))
	clk.Advance(3 * time.Second)
	must(e.Reject(ctx, c.ID, false))
	clk.Advance(12 * time.Second)
	must(e.Hangup(ctx, c.ID, engine.Caller))
	message := c.ID

	// 09:20 Alice calls Carol and gives up after 6 s.
	clk.Advance(20*time.Minute - clk.Now().Sub(start))
	c = must(e.Dial(ctx, engine.DialRequest{From: "alice", To: "103"}))
	clk.Advance(6 * time.Second)
	must(e.Hangup(ctx, c.ID, engine.Caller))

	// 09:30 Carol calls Alice, who does not answer: it rings out after 20 s.
	clk.Advance(30*time.Minute - clk.Now().Sub(start))
	c = must(e.Dial(ctx, engine.DialRequest{From: "carol", To: "101"}))
	clk.Advance(20 * time.Second)
	waitEnded(ctx, e, c.ID)

	// 09:40 Bob calls Alice: still going when the histories are listed.
	clk.Advance(40*time.Minute - clk.Now().Sub(start))
	live := must(e.Dial(ctx, engine.DialRequest{From: "bob", To: "101"}))
	clk.Advance(2 * time.Second)
	must(e.Answer(ctx, live.ID, "alice-desk"))
	clk.Advance(30 * time.Second)

	for _, client := range []string{"alice", "bob", "carol"} {
		fmt.Printf("%s's history:\n", client)
		printEntries(must(e.History(ctx, client, engine.HistoryQuery{})))
	}

	fmt.Println("alice, missed calls only:")
	printEntries(must(e.History(ctx, "alice", engine.HistoryQuery{Kinds: []engine.HistoryKind{engine.HistoryMissed}})))
	fmt.Println("bob, calls with a number ending 0103:")
	printEntries(must(e.History(ctx, "bob", engine.HistoryQuery{Number: "0103"})))
	fmt.Println("alice, two at a time:")
	page := must(e.History(ctx, "alice", engine.HistoryQuery{Limit: 2}))
	for len(page) > 0 {
		printEntries(page)
		fmt.Println("  --")
		page = must(e.History(ctx, "alice", engine.HistoryQuery{Limit: 2, Before: page[len(page)-1].Cursor()}))
	}

	box := must(e.Voicemail(ctx, "bob"))
	fmt.Printf("bob's voicemail: %d new of %d\n", box.Counts.New, box.Counts.Total)
	for _, m := range box.Messages {
		fmt.Printf("  %s from %s at %s, %v, new: %v\n", m.Call, m.From.Client, m.At.Format("15:04:05"), m.Duration, m.New)
	}
	if err := e.MarkVoicemailHeard(ctx, "bob", []string{message}); err != nil {
		log.Fatal(err)
	}
	box = must(e.Voicemail(ctx, "bob"))
	fmt.Printf("after bob heard it: %d new of %d\n", box.Counts.New, box.Counts.Total)
	if err := e.DeleteVoicemail(ctx, "bob", []string{message}); err != nil {
		log.Fatal(err)
	}
	box = must(e.Voicemail(ctx, "bob"))
	fmt.Printf("after bob deleted it: %d new of %d\n", box.Counts.New, box.Counts.Total)

	// Deletes name calls of the client's own history; anything else is
	// refused and nothing is journaled.
	err = e.DeleteHistory(ctx, "bob", []string{"call-3"}) // Alice → Carol: not Bob's
	fmt.Println("bob deletes call-3:", errcode.CodeOf(err))
	if err := e.DeleteHistory(ctx, "bob", []string{"call-1"}); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("bob deleted call-1: bob has %d calls, alice still %d\n",
		len(must(e.History(ctx, "bob", engine.HistoryQuery{}))), len(must(e.History(ctx, "alice", engine.HistoryQuery{}))))
	must(e.Hangup(ctx, live.ID, engine.Callee))
	before := must(e.History(ctx, "alice", engine.HistoryQuery{}))
	if err := e.Close(); err != nil {
		log.Fatal(err)
	}

	// The history is a projection of the journal: delete its file, and the
	// next Open rebuilds it.
	if err := os.Remove(filepath.Join(dir, "history.db")); err != nil {
		log.Fatal(err)
	}
	e, err = engine.Open(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	after := must(e.History(ctx, "alice", engine.HistoryQuery{}))
	fmt.Printf("history.db deleted and rebuilt: alice's %d calls the same: %v\n", len(after), fmt.Sprint(after) == fmt.Sprint(before))
}

func printEntries(entries []engine.HistoryEntry) {
	for _, h := range entries {
		other := h.Other.Client
		if other == "" {
			other = h.Other.Number
		}
		line := fmt.Sprintf("  %s %s %-8s %-6s %-9s rang %-3v talked %-6v", h.Call, h.SetupAt.Format("15:04"), h.Kind, other, h.State, h.RingDuration, h.TalkDuration)
		if h.Reason != events.NoReason {
			line += " " + h.Reason.String()
		}
		if h.Voicemail {
			line += " (voicemail)"
		}
		fmt.Println(strings.TrimRight(line, " "))
	}
}

// waitEnded waits for a call that a timer ends (the ring timeout fires on
// the engine's goroutines).
func waitEnded(ctx context.Context, e *engine.Engine, id string) {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if c, err := e.Call(ctx, id); err == nil && c.State == engine.Ended {
			return
		}
	}
	log.Fatal(errors.New("call " + id + " did not end"))
}

func must[T any](v T, err error) T {
	if err != nil {
		log.Fatal(err)
	}
	return v
}
