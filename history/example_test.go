package history_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/history"
	"github.com/callengine/callengine/journal"
)

// A journal with two calls from Alice to Bob: one answered, one that went
// to Bob's voicemail. The history lists them newest first for each of them;
// Bob's box has one new message.
func Example() {
	dir, err := os.MkdirTemp("", "history-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	j, err := journal.Open(filepath.Join(dir, "journal.db"), journal.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()

	// What the engine journals (engine.Dial, Answer, Hangup, Reject …).
	t0 := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	alice, bob := events.Party{Client: "alice", Number: "+14155550101"}, events.Party{Client: "bob", Number: "+14155550102"}
	journalCall := func(id string, evs ...events.Event) {
		for v, ev := range evs {
			at := t0.Add(time.Duration(v) * 10 * time.Second)
			body := events.EncodeBody(nil, at.UnixNano(), ev)
			if _, err := j.Append(context.Background(), "call/"+id, uint64(v), [][]byte{body}, events.Ends(ev)); err != nil {
				log.Fatal(err)
			}
		}
		t0 = t0.Add(time.Hour)
	}
	journalCall("call-1",
		events.CallDialed{Caller: alice, Callee: bob, CallerID: alice.Number},
		events.CallRinging{Devices: []string{"bob-desk"}},
		events.CallAnswered{Device: "bob-desk"},
		events.CallEnded{Reason: events.Hangup, By: events.Caller})
	journalCall("call-2",
		events.CallDialed{Caller: alice, Callee: bob, CallerID: alice.Number, VoicemailLimit: int64(2 * time.Minute)},
		events.CallRinging{Devices: []string{"bob-desk"}},
		events.CallToVoicemail{Reason: events.Rejected},
		events.VoicemailLeft{Client: "bob", From: alice, Duration: int64(10 * time.Second)},
		events.CallEnded{Reason: events.Voicemail, By: events.Caller, Missed: true})

	// The projection: a file beside the journal, kept up to date by Follow.
	h, err := history.Open(filepath.Join(dir, "history.db"), j, history.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()
	h.Follow()

	ctx := context.Background()
	for _, client := range []string{"alice", "bob"} {
		entries, err := h.Calls(ctx, history.Query{Client: client})
		if err != nil {
			log.Fatal(err)
		}
		for _, e := range entries {
			fmt.Printf("%s %s %s %s: %s, rang %v, talked %v, voicemail %v\n",
				e.Client, e.SetupAt.Format("15:04"), e.Call, e.Kind, e.Reason, e.RingDuration, e.TalkDuration, e.Voicemail)
		}
	}
	box, err := h.Voicemail(ctx, "bob")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("bob's box: %d new of %d; %s from %s, %v\n",
		box.Counts.New, box.Counts.Total, box.Messages[0].Call, box.Messages[0].From.Client, box.Messages[0].Duration)

	// Only Bob's calls with Alice's number that he missed.
	missed, err := h.Calls(ctx, history.Query{Client: "bob", Number: "555-0101", Kinds: []history.Kind{history.Missed}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("bob missed from 555-0101:", len(missed))
	// Output:
	// alice 10:00 call-2 made: voicemail, rang 10s, talked 0s, voicemail true
	// alice 09:00 call-1 made: hangup, rang 10s, talked 10s, voicemail false
	// bob 10:00 call-2 missed: missed, rang 10s, talked 0s, voicemail true
	// bob 09:00 call-1 received: hangup, rang 10s, talked 10s, voicemail false
	// bob's box: 1 new of 1; call-2 from alice, 10s
	// bob missed from 555-0101: 1
}
