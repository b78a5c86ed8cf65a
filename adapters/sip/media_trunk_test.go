package sip

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/media"
	"github.com/callengine/callengine/media/mediatest"
)

// relayTrunk is a harness whose far end is one trunk: a Go UAS with an
// RTP endpoint (it answers every INVITE at once) on trunkIP (127.0.0.2:
// the phones' 127.0.0.1 is not the trunk's address).
func relayTrunk(t *testing.T, ctx context.Context) (*relayHarness, *goPhone) {
	t.Helper()
	trunk := newGoPhoneOn(t, ctx, trunkIP, "", "trunk", "TRUNK")
	ts, err := NewTrunks([]Trunk{{Name: "test", Address: trunkIP + ":" + itoa(trunk.port)}})
	if err != nil {
		t.Fatal(err)
	}
	h := newRelayHarnessWith(t, t.TempDir(), "", ts)
	if _, err := h.eng.RegisterClient(ctx, dave); err != nil {
		t.Fatal(err)
	}
	trunk.server = h.ad.Addr("udp")
	return h, trunk
}

// A browser (a Go WebRTC peer on the relay, answered with G.711 as the
// WebSocket adapter answers it) calls a number outside: the trunk is
// offered a relay leg in the browser's codec, answers, and audio flows both
// ways between the browser and the trunk's RTP.
func TestRelayBrowserCallsTrunk(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h, trunk := relayTrunk(t, ctx)
	if _, err := h.eng.AddDevice(ctx, "alice", engine.Device{ID: "alice-web", Kind: "webrtc"}); err != nil {
		t.Fatal(err)
	}
	c, err := h.eng.Dial(ctx, engine.DialRequest{From: "alice", Device: "alice-web", To: outside})
	if err != nil {
		t.Fatal(err)
	}
	browser, err := mediatest.NewTestPeer(ctx, mediatest.Settings{Media: media.Settings{LoopbackOnly: true}, Marker: "BROWSER"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { browser.Close() })
	if err := browser.DialWith(ctx, h.relay, c.ID+"/caller", media.AnswerOptions{PreferG711: true}, media.LegEvents{}); err != nil {
		t.Fatal(err)
	}
	if err := browser.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	browser.Start()
	trunk.waitInvite(ctx)
	trunk.rtp.Start()
	eventuallyTrue(t, "the trunk hears the browser", func() bool { return trunk.rtp.ReceivedFrom("BROWSER") > 10 })
	eventuallyTrue(t, "the browser hears the trunk", func() bool { return browser.ReceivedFrom("TRUNK") > 10 })
	if st, err := h.relay.LegStats(c.ID + "/callee"); err != nil || st.Peer != c.ID+"/caller" || !strings.EqualFold(st.Codec, "audio/PCMU/8000") {
		t.Errorf("the trunk's relay leg: %+v, %v", st, err)
	}
	if got, err := h.eng.Call(ctx, c.ID); err != nil || got.State != engine.Connected {
		t.Fatalf("the call: %+v, %v", got, err)
	}
	if _, err := h.eng.Hangup(ctx, c.ID, engine.Caller); err != nil {
		t.Fatal(err)
	}
	trunk.waitBye(ctx)
	eventuallyTrue(t, "the trunk's relay leg closed", func() bool { return !h.relay.HasLeg(c.ID + "/callee") })
}

// A SIP phone (dave's, who has a number to call out with) calls a number
// outside with RelayPhones: the phone and the trunk each get a relay port,
// never the other's, and hear each other.
func TestRelayPhoneCallsTrunk(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h, trunk := relayTrunk(t, ctx)
	dave := relayPhones(t, ctx, h, "dave")[0]
	_, answer := dave.call(ctx, outside)
	offer := trunk.waitInvite(ctx)
	_ = offer
	trunk.rtp.Start()
	if p, _ := sdpAudio(t, answer); p == trunk.rtp.Addr().Port {
		t.Fatalf("dave was answered with the trunk's own port: not relayed\n%s", answer)
	}
	eventuallyTrue(t, "the trunk hears dave", func() bool { return trunk.rtp.ReceivedFrom("DAVE") > 10 })
	eventuallyTrue(t, "dave hears the trunk", func() bool { return dave.rtp.ReceivedFrom("TRUNK") > 10 })
	calls, err := h.eng.Calls(ctx, "dave")
	if err != nil || len(calls) != 1 {
		t.Fatalf("dave's calls: %+v %v", calls, err)
	}
	if st, err := h.relay.LegStats(calls[0].ID + "/callee"); err != nil || st.Peer != calls[0].ID+"/caller" {
		t.Errorf("the trunk's relay leg: %+v, %v", st, err)
	}
	if _, err := h.eng.Hangup(ctx, calls[0].ID, engine.Callee); err != nil {
		t.Fatal(err)
	}
	trunk.waitBye(ctx)
	dave.waitBye(ctx)
	eventuallyTrue(t, "the relay's legs closed", func() bool { return h.relay.Stats().Legs == 0 })
}

// The trunk moves its media with a re-INVITE (a new RTP address), then
// holds and resumes: its relay leg takes the new address, the phone hears the trunk's new port, and the hold
// is the engine's hold by the callee (the far end), answered a=recvonly.
func TestRelayTrunkReInvite(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h, trunk := relayTrunk(t, ctx)
	dave := relayPhones(t, ctx, h, "dave")[0]
	dave.call(ctx, outside)
	dt := trunk.waitInvite(ctx)
	trunk.rtp.Start()
	eventuallyTrue(t, "dave hears the trunk", func() bool { return dave.rtp.ReceivedFrom("TRUNK") > 10 })
	calls, err := h.eng.Calls(ctx, "dave")
	if err != nil || len(calls) != 1 {
		t.Fatalf("dave's calls: %+v %v", calls, err)
	}
	id := calls[0].ID

	reinvite := func(body string) *sip.Response {
		t.Helper()
		req := trunk.inDialog(dt, "INVITE")
		req.AppendHeader(contentSDP())
		req.SetBody([]byte(body))
		res := trunk.send(ctx, req)
		if err := trunk.cli.WriteRequest(trunk.inDialog(dt, "ACK")); err != nil {
			t.Fatal(err)
		}
		return res
	}
	trunk.rtp.Stop()
	moved := trunk.newRTP("TRUNK2")
	res := reinvite(strings.Replace(moved.Offer(), "o=phone 1 1", "o=phone 1 2", 1))
	if res.StatusCode != 200 {
		t.Fatalf("the trunk's re-INVITE with a new address: %d", res.StatusCode)
	}
	if err := moved.SetAnswer(string(res.Body())); err != nil {
		t.Fatal(err)
	}
	moved.Start()
	eventuallyTrue(t, "dave hears the trunk's new port", func() bool { return dave.rtp.ReceivedFrom("TRUNK2") > 10 })
	eventuallyTrue(t, "the trunk's new port hears dave", func() bool { return moved.ReceivedFrom("DAVE") > 10 })
	if st, err := h.relay.LegStats(id + "/callee"); err != nil || st.Peer != id+"/caller" {
		t.Errorf("the trunk's relay leg after the move: %+v, %v", st, err)
	}

	held := strings.Replace(strings.Replace(moved.Offer(), "o=phone 1 1", "o=phone 1 3", 1), "a=sendrecv", "a=sendonly", 1)
	if res := reinvite(held); res.StatusCode != 200 || !strings.Contains(string(res.Body()), "a=recvonly") {
		t.Fatalf("the trunk's hold: %d\n%s", res.StatusCode, res.Body())
	}
	eventuallyTrue(t, "the call held by the far end", func() bool {
		c, err := h.eng.Call(ctx, id)
		return err == nil && c.State == engine.Held && c.HeldBy(engine.Callee)
	})
	resumed := strings.Replace(moved.Offer(), "o=phone 1 1", "o=phone 1 4", 1)
	if res := reinvite(resumed); res.StatusCode != 200 || !strings.Contains(string(res.Body()), "a=sendrecv") {
		t.Fatalf("the trunk's resume: %d\n%s", res.StatusCode, res.Body())
	}
	eventuallyTrue(t, "the call resumed", func() bool {
		c, err := h.eng.Call(ctx, id)
		return err == nil && c.State == engine.Connected
	})
	if _, err := h.eng.Hangup(ctx, id, engine.Caller); err != nil {
		t.Fatal(err)
	}
	trunk.waitBye(ctx)
}

// The trunk answers with 183 and SDP first and sends RTP (early media: a
// network's announcement) before its 200. A browser calling out hears it
// while the call still rings, then goes on hearing the trunk after the
// answer, on one stream.
func TestRelayBrowserHearsTrunkEarlyMedia(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h, trunk := relayTrunk(t, ctx)
	trunk.early = make(chan struct{})
	if _, err := h.eng.AddDevice(ctx, "alice", engine.Device{ID: "alice-web", Kind: "webrtc"}); err != nil {
		t.Fatal(err)
	}
	c, err := h.eng.Dial(ctx, engine.DialRequest{From: "alice", Device: "alice-web", To: outside})
	if err != nil {
		t.Fatal(err)
	}
	browser, err := mediatest.NewTestPeer(ctx, mediatest.Settings{Media: media.Settings{LoopbackOnly: true}, Marker: "BROWSER"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { browser.Close() })
	if err := browser.DialWith(ctx, h.relay, c.ID+"/caller", media.AnswerOptions{PreferG711: true}, media.LegEvents{}); err != nil {
		t.Fatal(err)
	}
	if err := browser.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	browser.Start()
	eventuallyTrue(t, "the browser hears the trunk's early media", func() bool { return browser.ReceivedFrom("TRUNK") > 10 })
	if got, err := h.eng.Call(ctx, c.ID); err != nil || got.State != engine.Ringing {
		t.Fatalf("the call during early media: %+v, %v", got, err)
	}
	close(trunk.early)
	eventuallyTrue(t, "the call answered", func() bool {
		got, err := h.eng.Call(ctx, c.ID)
		return err == nil && got.State == engine.Connected
	})
	eventuallyTrue(t, "the trunk hears the browser", func() bool { return trunk.rtp.ReceivedFrom("BROWSER") > 10 })
	before := browser.ReceivedFrom("TRUNK")
	eventuallyTrue(t, "the browser hears the trunk after the answer", func() bool { return browser.ReceivedFrom("TRUNK") > before+10 })
	if rc := browser.Received(); rc.SSRCs != 1 || rc.Backwards != 0 {
		t.Errorf("the browser's stream across the answer: %+v", rc)
	}
	if _, err := h.eng.Hangup(ctx, c.ID, engine.Caller); err != nil {
		t.Fatal(err)
	}
	trunk.waitBye(ctx)
}

// A SIP phone calling out hears the trunk's early media: the relay takes
// the trunk's 183 SDP, the phone gets a 183 with the relay's answer and
// the trunk's RTP while the call rings; the 200 that follows carries the
// same answer.
func TestRelayPhoneHearsTrunkEarlyMedia(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h, trunk := relayTrunk(t, ctx)
	trunk.early = make(chan struct{})
	phone := relayPhones(t, ctx, h, "dave")[0]
	answered := make(chan string, 1)
	go func() {
		req := phone.outOfDialog(sip.INVITE, outside)
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		req.SetBody([]byte(phone.rtp.Offer()))
		res, err := phone.cli.Do(ctx, req)
		if err == nil && res.StatusCode == 407 {
			res, err = phone.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: dave.ID, Password: dave.Password})
		}
		if err != nil || res.StatusCode != 200 {
			answered <- ""
			return
		}
		answered <- string(res.Body())
	}()
	eventuallyTrue(t, "dave hears the trunk's early media", func() bool { return phone.rtp.ReceivedFrom("TRUNK") > 10 })
	calls, err := h.eng.Calls(ctx, "dave")
	if err != nil || len(calls) != 1 || calls[0].State != engine.Ringing {
		t.Fatalf("dave's call during early media: %+v %v", calls, err)
	}
	if st, err := h.relay.LegStats(calls[0].ID + "/callee"); err != nil || st.Peer != calls[0].ID+"/caller" {
		t.Errorf("the trunk's relay leg during early media: %+v, %v", st, err)
	}
	close(trunk.early)
	var answer string
	select {
	case answer = <-answered:
	case <-ctx.Done():
		t.Fatal("no 200")
	}
	if answer == "" {
		t.Fatal("dave's INVITE failed")
	}
	if p, _ := sdpAudio(t, answer); p == trunk.rtp.Addr().Port {
		t.Fatalf("dave was answered with the trunk's own port:\n%s", answer)
	}
	if _, err := h.eng.Hangup(ctx, calls[0].ID, engine.Callee); err != nil {
		t.Fatal(err)
	}
	trunk.waitBye(ctx)
}
