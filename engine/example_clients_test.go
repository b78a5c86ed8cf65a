package engine_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/callengine/callengine/auth"
	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/ids"
)

// openClientExample opens an engine on a fresh journal, with a token
// secret and ids id-1, id-2, …, and registers alice (Alice Martin, 101),
// bob (Bob Stone, 102, +14155550102) and carol (Carol Jones, 103,
// +14155550103). It returns the engine's virtual clock, and a function that
// closes the engine and removes the journal.
func openClientExample(ctx context.Context) (*engine.Engine, *clock.Virtual, func()) {
	dir, err := os.MkdirTemp("", "callengine-example")
	if err != nil {
		log.Fatal(err)
	}
	cfg := exampleConfig(dir)
	cfg.IDs = &ids.Sequence{Prefix: "id-"}
	cfg.TokenSecret = []byte("example secret: take 32 random bytes instead")
	e, err := engine.Open(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	for _, spec := range []engine.ClientSpec{
		{ID: "alice", Name: "Alice Martin", Extensions: []string{"101"}, Devices: []engine.Device{{ID: "alice-desk"}}},
		{ID: "bob", Name: "Bob Stone", Extensions: []string{"102"}, Numbers: []string{"+14155550102"},
			Devices: []engine.Device{{ID: "bob-desk"}}},
		{ID: "carol", Name: "Carol Jones", Extensions: []string{"103"}, Numbers: []string{"+14155550103"},
			Devices: []engine.Device{{ID: "carol-desk"}}},
	} {
		if _, err := e.RegisterClient(ctx, spec); err != nil {
			log.Fatal(err)
		}
	}
	return e, cfg.Clock.(*clock.Virtual), func() { e.Close(); os.RemoveAll(dir) }
}

// A session counts its client's connections. When the last one closes, a
// grace timer starts (Config.SessionGrace, 5 minutes); a restore before it
// fires stops it, and when it fires the session is destroyed.
func ExampleEngine_CreateSession() {
	ctx := context.Background()
	e, clk, done := openClientExample(ctx)
	defer done()

	s, err := e.CreateSession(ctx, "alice", engine.SessionOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.ID, s.State, s.Connections, "auto-answer", s.AutoAnswer)
	for _, step := range []func(context.Context, string) (engine.Session, error){
		e.RestoreSession,  // a second tab
		e.CloseConnection, // one tab closes
		e.CloseConnection, // the last one closes: grace
		e.RestoreSession,  // a reload within the grace period
		e.CloseConnection,
	} {
		if s, err = step(ctx, s.ID); err != nil {
			log.Fatal(err)
		}
		if s.GraceDeadline.IsZero() {
			fmt.Println(s.State, s.Connections)
		} else {
			fmt.Println(s.State, s.Connections, "until", s.GraceDeadline.Format(time.TimeOnly))
		}
	}

	sub, err := e.SessionEvents(ctx, s.ID)
	if err != nil {
		log.Fatal(err)
	}
	clk.Advance(5 * time.Minute)
	for ev := range sub.Events() { // it ends with the session
		fmt.Println(ev.Type, ev.Session.State)
	}
	fmt.Println(sub.Err())
	_, err = e.RestoreSession(ctx, s.ID)
	fmt.Println(errcode.CodeOf(err), errcode.CodeOf(err).Status())
	// Output:
	// s-id-1 active 1 auto-answer true
	// active 2
	// active 1
	// grace 0 until 09:05:00
	// active 1
	// grace 0 until 09:05:00
	// SessionDestroyed destroyed
	// invalid_session_id: session s-id-1 expired
	// invalid_session_id 401
}

// Authenticate turns an access token into a context that acts as its
// client: an agent may act only for itself and on its own side of its
// calls. The engine's own context (no principal) is trusted.
func ExampleEngine_Authenticate() {
	ctx := context.Background()
	e, _, done := openClientExample(ctx)
	defer done()

	tk, err := e.IssueTokens(ctx, "bob", engine.RoleAgent)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("expires", tk.AccessExpires.Format(time.TimeOnly), "refresh at", tk.RefreshAt.Format(time.TimeOnly))
	bob, p, err := e.Authenticate(ctx, tk.Access)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("principal", p.Client, p.Role)

	call, err := e.Dial(bob, engine.DialRequest{From: "bob", To: "101"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("bob dials", call.ID)
	_, err = e.Dial(bob, engine.DialRequest{From: "alice", To: "103"})
	fmt.Println(err)
	_, err = e.Answer(bob, call.ID, "alice-desk")
	fmt.Println(err)
	if _, err := e.Hangup(bob, call.ID, engine.Caller); err != nil {
		log.Fatal(err)
	}
	fmt.Println("bob hangs up his own call")

	_, _, err = e.Authenticate(ctx, tk.Refresh)
	fmt.Println(errcode.CodeOf(err), errors.Is(err, auth.ErrWrongKind))
	// Unregistering bob and registering him again revokes his tokens.
	if _, err := e.UnregisterClient(ctx, "bob"); err != nil {
		log.Fatal(err)
	}
	if _, err := e.RegisterClient(ctx, engine.ClientSpec{ID: "bob", Extensions: []string{"102"}}); err != nil {
		log.Fatal(err)
	}
	_, _, err = e.Authenticate(ctx, tk.Access)
	fmt.Println(errcode.CodeOf(err), errors.Is(err, auth.ErrRevoked))
	// Output:
	// expires 10:00:00 refresh at 09:48:00
	// principal bob agent
	// bob dials id-2
	// forbidden: client bob (agent) may not act for client alice
	// forbidden: client bob (agent) may not answer call id-2: it does not ring it
	// bob hangs up his own call
	// invalid_token true
	// invalid_token true
}

// A client sets its presence; what others see is derived: busy while it is
// on a call (ringing included) and has set itself available. Every change
// of what others see is a PresenceChanged notice, never journaled (Seq 0).
func ExampleEngine_SetPresence() {
	ctx := context.Background()
	e, _, done := openClientExample(ctx)
	defer done()

	sub, err := e.Subscribe(ctx, engine.Filter{Clients: []string{"bob"}, Types: []events.Type{events.TypePresenceChanged}})
	if err != nil {
		log.Fatal(err)
	}
	notice := func() {
		ev := <-sub.Events()
		fmt.Printf("  #%d %s %s %q\n", ev.Seq, ev.Type, ev.Client.Presence, ev.Client.Activity)
	}

	if _, err := e.SetPresence(ctx, "bob", events.PresenceAway, "lunch"); err != nil {
		log.Fatal(err)
	}
	notice()
	if _, err := e.SetPresence(ctx, "bob", events.PresenceAvailable, ""); err != nil {
		log.Fatal(err)
	}
	notice()
	call, err := e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"})
	if err != nil {
		log.Fatal(err)
	}
	notice()
	bob, err := e.Client(ctx, "bob")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("while", call.ID, "rings: shown", bob.Presence, "set", bob.SetPresence)
	if _, err := e.Hangup(ctx, call.ID, engine.Caller); err != nil {
		log.Fatal(err)
	}
	notice()
	// Output:
	//   #0 PresenceChanged away "lunch"
	//   #0 PresenceChanged available ""
	//   #0 PresenceChanged busy ""
	// while id-1 rings: shown busy set available
	//   #0 PresenceChanged available ""
}

// The directory lists registered clients by name with their numbers and
// presence; a search matches names, ids and runs of digits.
func ExampleEngine_Directory() {
	ctx := context.Background()
	e, _, done := openClientExample(ctx)
	defer done()
	if _, err := e.Dial(ctx, engine.DialRequest{From: "alice", To: "103"}); err != nil {
		log.Fatal(err)
	}

	for _, q := range []struct {
		what string
		q    engine.DirectoryQuery
	}{
		{"everyone", engine.DirectoryQuery{}},
		{`"jones"`, engine.DirectoryQuery{Search: "jones"}},
		{`"555 0102"`, engine.DirectoryQuery{Search: "555 0102"}},
		{"busy", engine.DirectoryQuery{Presence: []events.Presence{events.PresenceBusy}}},
		{"page 2 of 2", engine.DirectoryQuery{Limit: 2, Offset: 2}},
	} {
		page, err := e.Directory(ctx, q.q)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %d of %d\n", q.what, len(page.Entries), page.Total)
		for _, d := range page.Entries {
			fmt.Printf("  %-12s %-5s %v %v %s\n", d.Name, d.ID, d.Extensions, d.Numbers, d.Presence)
		}
	}
	_, err := e.Directory(ctx, engine.DirectoryQuery{Limit: 5000})
	fmt.Println(err)
	// Output:
	// everyone: 3 of 3
	//   Alice Martin alice [101] [] busy
	//   Bob Stone    bob   [102] [+14155550102] available
	//   Carol Jones  carol [103] [+14155550103] busy
	// "jones": 1 of 1
	//   Carol Jones  carol [103] [+14155550103] busy
	// "555 0102": 1 of 1
	//   Bob Stone    bob   [102] [+14155550102] available
	// busy: 2 of 2
	//   Alice Martin alice [101] [] busy
	//   Carol Jones  carol [103] [+14155550103] busy
	// page 2 of 2: 1 of 3
	//   Carol Jones  carol [103] [+14155550103] busy
	// invalid_params: limit must be 0 to 1000 and offset not negative
}

// With a voicemail box, a call the client declines (or that rings out)
// connects the caller to the box; the message ends when the caller hangs
// up or the box's limit passes, and the box counts it.
func ExampleEngine_SetVoicemail() {
	ctx := context.Background()
	e, clk, done := openClientExample(ctx)
	defer done()

	bob, err := e.SetVoicemail(ctx, "bob", true, time.Minute)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("bob's box:", bob.Voicemail, bob.VoicemailMax)

	call, err := e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"})
	if err != nil {
		log.Fatal(err)
	}
	clk.Advance(3 * time.Second)
	if call, err = e.Reject(ctx, call.ID, false); err != nil {
		log.Fatal(err)
	}
	fmt.Println(call.ID, call.State, "in voicemail:", call.InVoicemail)
	_, err = e.Hold(ctx, call.ID, engine.Caller)
	fmt.Println(err)

	clk.Advance(15 * time.Second)
	if call, err = e.Hangup(ctx, call.ID, engine.Caller); err != nil {
		log.Fatal(err)
	}
	fmt.Println(call.State, call.ReasonFor(engine.Caller), "for alice,", call.ReasonFor(engine.Callee), "for bob; message", call.VoicemailLength)

	box, err := e.Voicemail(ctx, "bob")
	if err != nil {
		log.Fatal(err)
	}
	m := box.Messages[0]
	fmt.Printf("new %d of %d: %s from %s at %s, %v\n", box.Counts.New, box.Counts.Total, m.Call, m.From.Client, m.At.Format(time.TimeOnly), m.Duration)
	// Output:
	// bob's box: true 1m0s
	// id-1 connected in voicemail: true
	// hold_not_available: cannot hold call id-1: the call is in voicemail
	// ended voicemail for alice, missed for bob; message 15s
	// new 1 of 1: id-1 from alice at 09:00:03, 15s
}
