package server

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/callengine/callengine/adapters/ws/wsclient"
)

// call.stats (M5): a browser asks for its call's statistics and gets both
// sides' relay figures — codec, packets each way, loss, jitter; a client
// that is not in the call is refused.
func TestCallStats(t *testing.T) {
	s := &Server{}
	for i, id := range []string{"alice", "bob", "carol"} {
		s.Config.Clients = append(s.Config.Clients, Client{ID: id, Password: id + "-password", Extensions: []string{[]string{"201", "202", "203"}[i]}})
	}
	r := start(t, s, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	alice := connectPhone(t, ctx, r, "alice", "ALICE")
	bob := connectPhone(t, ctx, r, "bob", "BOB")
	call, _ := browserCall(t, ctx, alice, bob, "202")
	eventually(t, "bob hears alice", func() bool { return bob.peer.ReceivedFrom("ALICE") > 25 })
	eventually(t, "alice hears bob", func() bool { return alice.peer.ReceivedFrom("BOB") > 25 })

	res, err := alice.c.Command(ctx, "call.stats", call, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Type != "stats.result" || res.CallID != call || res.Legs == nil || len(*res.Legs) != 2 {
		t.Fatalf("stats.result: %+v", res)
	}
	t.Logf("stats.result legs: %+v", *res.Legs)
	for i, l := range *res.Legs {
		side := []string{"caller", "callee"}[i]
		if l.Side != side || !l.Media || l.Codec == "" || l.PacketsIn < 20 || l.PacketsOut < 20 || l.JitterMS < 0 || l.JitterMS > 1000 || l.Encryption != "dtls-srtp" {
			t.Errorf("the %s's figures: %+v", side, l)
		}
	}

	// A third client is not in the call: forbidden.
	if _, err := bob.c.Command(ctx, "call.stats", "no-such-call", nil); err == nil {
		t.Error("stats of a call that does not exist")
	}
	eve := connectPhone(t, ctx, r, "carol", "CAROL")
	_, err = eve.c.Command(ctx, "call.stats", call, nil)
	var we *wsclient.Error
	if !errors.As(err, &we) || we.Msg.Code != "forbidden" {
		t.Errorf("a client not in the call: %v", err)
	}
}
