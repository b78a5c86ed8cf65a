package media_test

import (
	"context"
	"fmt"
	"time"

	"github.com/callengine/callengine/media"
	"github.com/callengine/callengine/media/mediatest"
)

// Two Go clients on loopback: alice dials the relay (AnswerOffer), the relay
// offers the call to bob with alice's codec (CreateOffer, AcceptAnswer), and
// Connect makes the audio flow both ways.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	settings := media.Settings{LoopbackOnly: true}
	relay, err := media.NewRelay(settings)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer relay.Close()

	alice, _ := mediatest.NewTestPeer(ctx, mediatest.Settings{Media: settings, Marker: "alice"})
	bob, _ := mediatest.NewTestPeer(ctx, mediatest.Settings{Media: settings, Marker: "bob"})
	defer alice.Close()
	defer bob.Close()

	// alice offers, the relay answers; its candidates trickle to alice.
	if err := alice.Dial(ctx, relay, "alice", media.LegEvents{}); err != nil {
		fmt.Println(err)
		return
	}
	// The relay offers bob the codec alice negotiated; bob answers.
	if err := bob.Accept(ctx, relay, "bob", media.OfferOptions{MatchLeg: "alice"}, media.LegEvents{}); err != nil {
		fmt.Println(err)
		return
	}
	if alice.WaitConnected(ctx) != nil || bob.WaitConnected(ctx) != nil {
		fmt.Println("not connected")
		return
	}
	fmt.Println("connected")

	if err := relay.Connect("alice", "bob"); err != nil {
		fmt.Println(err)
		return
	}
	alice.Start()
	bob.Start()
	for alice.ReceivedFrom("bob") < 10 || bob.ReceivedFrom("alice") < 10 {
		select {
		case <-ctx.Done():
			fmt.Println("no audio")
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
	fmt.Println("audio flows both ways")
	// Output:
	// connected
	// audio flows both ways
}
