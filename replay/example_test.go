package replay_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/replay"
)

// exampleJournal copies testdata/v1.journal, the fixture's day, to a
// temporary file, as an incident copy taken with `callengine backup` would be.
func exampleJournal() string {
	dir, err := os.MkdirTemp("", "replay-example")
	if err != nil {
		panic(err)
	}
	in, err := os.Open(fixturePath)
	if err != nil {
		panic(err)
	}
	defer in.Close()
	path := filepath.Join(dir, "incident.journal")
	out, err := os.Create(path)
	if err != nil {
		panic(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		panic(err)
	}
	if err := out.Close(); err != nil {
		panic(err)
	}
	return path
}

// List the calls a client missed.
func ExampleLog_Calls() {
	path := exampleJournal()
	defer os.RemoveAll(filepath.Dir(path))
	l, err := replay.Open(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	calls, err := l.Calls(replay.Filter{Reason: events.Missed})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range calls {
		fmt.Printf("%s %s → %s: %s, %d events\n", c.SetupAt.Format(time.TimeOnly), c.Caller.Client, c.Callee.Client, c.Reason, c.Events)
	}
	// Output:
	// 09:15:00 alice → carol: canceled, 4 events
	// 09:20:00 bob → dave: no-answer, 3 events
}

// Follow one call event by event.
func ExampleLog_Timeline() {
	path := exampleJournal()
	defer os.RemoveAll(filepath.Dir(path))
	l, err := replay.Open(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	calls, _ := l.Calls(replay.Filter{Number: "+33144556677"})
	steps, err := l.Timeline(calls[0].ID)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range steps {
		fmt.Printf("%s %-12s → %s\n", s.Envelope.At().Format(time.TimeOnly), s.Envelope.Type, s.State.Status)
	}
	// Output:
	// 09:25:00 CallDialed   → connecting
	// 09:25:01 CallRinging  → ringing
	// 09:25:03 CallAnswered → connected
	// 09:25:33 CallHeld     → held
	// 09:25:48 CallResumed  → connected
	// 09:26:48 CallEnded    → ended
}

// The state of every client and call at an instant.
func ExampleLog_At() {
	path := exampleJournal()
	defer os.RemoveAll(filepath.Dir(path))
	l, err := replay.Open(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	s, err := l.At(time.Date(2026, 1, 5, 9, 35, 30, 0, time.UTC))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range s.Clients {
		fmt.Printf("%s %s, %d devices\n", c.ID, c.Status, len(c.Devices))
	}
	for _, c := range s.Calls {
		if c.Live {
			fmt.Printf("live: %s → %s, %s for %v\n", c.Caller.Number, c.Callee.Client, c.State, c.Duration)
		}
	}
	// Output:
	// alice registered, 2 devices
	// bob registered, 3 devices
	// carol registered, 2 devices
	// dave registered, 1 devices
	// live: +442071234567 → carol, connected for 24s
}

// Check that the current code still decides what the journal recorded.
func ExampleLog_Verify() {
	path := exampleJournal()
	defer os.RemoveAll(filepath.Dir(path))
	l, err := replay.Open(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	r, err := l.Verify()
	if err != nil {
		fmt.Println(err)
		return
	}
	replay.WriteReport(os.Stdout, r)
	// Output:
	// verified 15 streams, 55 events: no divergence
}
