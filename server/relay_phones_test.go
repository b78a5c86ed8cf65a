package server

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/callengine/callengine/adapters/sip/siptest"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/media/mediatest"
)

// Two SIP phones talk through the relay with sip.relay_phones (issue 14
// part 6): each phone's SDP names a relay leg, not the other phone; audio
// flows both ways; the engine's mute of one side stops that direction,
// its hold both, resume restarts them; RFC 4733 digits from one phone are
// the engine's digits and reach the other phone.

// startRelayPhones serves carol (203) and dave (204), SIP phones, with
// sip.relay_phones on.
func startRelayPhones(t *testing.T) (*running, string) {
	t.Helper()
	s := &Server{}
	s.Config.Clients = []Client{
		{ID: "carol", Password: "carol-password", Extensions: []string{"203"}, Permissions: []string{events.PermissionRecord}},
		{ID: "dave", Password: "dave-password", Extensions: []string{"204"}},
	}
	addr := "127.0.0.1:" + strconv.Itoa(freeUDP(t))
	s.Config.SIP = SIP{UDP: addr} // sip.relay_phones is on by default
	return start(t, s, t.TempDir()), addr
}

// audioPort is the port of an SDP's first m=audio line.
func audioPort(t *testing.T, desc string) int {
	t.Helper()
	for line := range strings.SplitSeq(desc, "\n") {
		if f := strings.Fields(strings.TrimSpace(line)); len(f) > 1 && f[0] == "m=audio" {
			if p, err := strconv.Atoi(f[1]); err == nil {
				return p
			}
		}
	}
	t.Fatalf("no m=audio in:\n%s", desc)
	return 0
}

// relayedSIPCall: carol (203) calls dave (204) through the relay; both
// phones hear each other. It returns carol's dialog, the 200 to her INVITE
// and the offer dave got.
func relayedSIPCall(t *testing.T, ctx context.Context, r *running, addr string) (carol, dave *siptest.Phone, d *siptest.Dialog, res *sip.Response, offer string) {
	t.Helper()
	carol = newSIPPhone(t, ctx, addr, "carol", "CAROL")
	dave = newSIPPhone(t, ctx, addr, "dave", "DAVE")

	invite := carol.InviteRequest("204")
	res, err := carol.Do(ctx, invite)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("INVITE 204: %d", res.StatusCode)
	}
	offer = invitedWith(t, ctx, dave)
	d = siptest.CallerDialog(invite, res)
	if err := carol.Ack(d); err != nil {
		t.Fatal(err)
	}
	if err := carol.RTP().SetAnswer(string(res.Body())); err != nil {
		t.Fatal(err)
	}
	carol.RTP().Start()
	dave.RTP().Start()
	eventually(t, "dave hears carol", func() bool { return dave.RTP().ReceivedFrom("CAROL") > 10 })
	eventually(t, "carol hears dave", func() bool { return carol.RTP().ReceivedFrom("DAVE") > 10 })
	return carol, dave, d, res, offer
}

func TestSIPPhonesThroughRelay(t *testing.T) {
	r, addr := startRelayPhones(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	carol, dave, d, res, offer := relayedSIPCall(t, ctx, r, addr)
	carolPort, davePort := carol.RTP().Addr().Port, dave.RTP().Addr().Port
	toDave, toCarol := audioPort(t, offer), audioPort(t, string(res.Body()))
	if toDave == carolPort || toCarol == davePort || toDave == toCarol || toDave == davePort || toCarol == carolPort {
		t.Fatalf("not relayed: carol's RTP at %d, dave's at %d; dave is offered port %d, carol answered with %d", carolPort, davePort, toDave, toCarol)
	}
	if !strings.Contains(offer, "RTP/AVP 0 8 101") {
		t.Errorf("dave's offer:\n%s", offer)
	}

	e := r.s.Engine()
	calls, err := e.Calls(ctx, "carol")
	if err != nil || len(calls) != 1 {
		t.Fatalf("carol's calls: %v %v", calls, err)
	}
	id := calls[0].ID

	if _, err := e.Mute(ctx, id, engine.Caller); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	if rtpFlows(dave.RTP(), "CAROL") {
		t.Error("dave hears a muted carol")
	}
	if !rtpFlows(carol.RTP(), "DAVE") {
		t.Error("a muted carol no longer hears dave")
	}
	if _, err := e.Unmute(ctx, id, engine.Caller); err != nil {
		t.Fatal(err)
	}
	eventually(t, "audio after unmute", func() bool { return rtpFlows(dave.RTP(), "CAROL") })

	if _, err := e.Hold(ctx, id, engine.Callee); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	if rtpFlows(dave.RTP(), "CAROL") || rtpFlows(carol.RTP(), "DAVE") {
		t.Error("audio flows on hold")
	}
	if _, err := e.Resume(ctx, id, engine.Callee); err != nil {
		t.Fatal(err)
	}
	eventually(t, "audio after resume", func() bool { return rtpFlows(dave.RTP(), "CAROL") && rtpFlows(carol.RTP(), "DAVE") })

	sub, err := e.Subscribe(ctx, engine.Filter{Calls: []string{id}, Types: []events.Type{events.TypeCallDigits}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := carol.RTP().SendDTMF(ctx, "42", 60*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	var digits strings.Builder
	for digits.Len() < 2 {
		select {
		case ev := <-sub.Events():
			if d, ok := ev.Event.(events.CallDigits); ok && d.Side == engine.Caller {
				digits.WriteString(d.Digits)
			}
		case <-ctx.Done():
			t.Fatalf("the engine's CallDigits: %q so far", digits.String())
		}
	}
	if digits.String() != "42" {
		t.Errorf("the engine's CallDigits %q", digits.String())
	}
	eventually(t, "dave hears 42", func() bool { return strings.Contains(dave.RTP().Received().DTMF, "42") })
	if d := dave.RTP().Received().DTMF; d != "42" {
		t.Errorf("dave heard %q", d)
	}

	// Carol holds with a re-INVITE: the engine's Hold by carol, answered
	// from carol's relay leg (recvonly, the relay's port), dave not asked.
	reinvite := func(dir string) *sip.Response {
		t.Helper()
		req := carol.InDialog(d, sip.INVITE)
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		body := strings.Replace(carol.RTP().Offer(), "o=phone 1 1", "o=phone 1 "+strconv.Itoa(int(d.CSeq)), 1)
		req.SetBody([]byte(strings.Replace(body, "a=sendrecv", "a="+dir, 1)))
		got, err := carol.Client().Do(ctx, req) // as it is: a challenge fails the test
		if err != nil {
			t.Fatal(err)
		}
		if got.StatusCode == 200 {
			if err := carol.Ack(d); err != nil {
				t.Fatal(err)
			}
		}
		return got
	}
	hold := reinvite("sendonly")
	if hold.StatusCode != 200 || audioPort(t, string(hold.Body())) != toCarol || !strings.Contains(string(hold.Body()), "a=recvonly") {
		t.Fatalf("carol's hold: %d\n%s", hold.StatusCode, hold.Body())
	}
	if c, err := e.Call(ctx, id); err != nil || c.State != engine.Held {
		t.Fatalf("after carol's hold: %v %v", c.State, err)
	}
	time.Sleep(150 * time.Millisecond)
	if rtpFlows(dave.RTP(), "CAROL") || rtpFlows(carol.RTP(), "DAVE") {
		t.Error("audio flows on carol's hold")
	}
	if resume := reinvite("sendrecv"); resume.StatusCode != 200 || !strings.Contains(string(resume.Body()), "a=sendrecv") {
		t.Fatalf("carol's resume: %d\n%s", resume.StatusCode, resume.Body())
	}
	eventually(t, "audio after carol's resume", func() bool { return rtpFlows(dave.RTP(), "CAROL") && rtpFlows(carol.RTP(), "DAVE") })

	if _, err := e.Hangup(ctx, id, engine.Caller); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the legs closed", func() bool { return !rtpFlows(dave.RTP(), "CAROL") && !rtpFlows(carol.RTP(), "DAVE") })
}

// A call between two SIP phones on the relay, recorded (C11) by carol:
// serve writes recordings/<ref>.wav under its data directory, a stereo
// WAV whose left channel is carol's voice and right channel dave's, and
// completes it when the recording stops; a second recording of the call
// is a file of its own, completed when the call ends.
func TestSIPCallRecorded(t *testing.T) {
	r, addr := startRelayPhones(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	relayedSIPCall(t, ctx, r, addr)
	e, id, asCarol, file := recordCarolsCall(t, ctx, r)
	dir := r.s.Config.WithDefaults().Recordings
	first := strings.TrimSuffix(strings.TrimPrefix(file, dir+string(filepath.Separator)), ".wav")
	time.Sleep(800 * time.Millisecond)
	if _, err := e.StopRecording(asCarol, id, engine.Caller); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the recording's file is complete", func() bool { return wavComplete(file) })
	left, right := wavChannels(t, file)
	if !mediatest.Holds(left, "CAROL") || mediatest.Holds(left, "DAVE") || !mediatest.Holds(right, "DAVE") || mediatest.Holds(right, "CAROL") {
		t.Errorf("the channels of %s: left holds carol %v, right holds dave %v", file, mediatest.Holds(left, "CAROL"), mediatest.Holds(right, "DAVE"))
	}
	if n := len(left); n < 8000*600/1000 || n > 8000*5 {
		t.Errorf("a recording of 0.8 s holds %d samples a channel", n)
	}
	// GET /recordings/<ref>.wav: to a party of the call, with a token.
	url := r.url + "/recordings/" + first + ".wav"
	fetch := func(token string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	carolTokens, err := e.Login(ctx, "carol", "carol-password")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(file)
	if code, body := fetch(carolTokens.Access); code != 200 || !bytes.Equal(body, want) {
		t.Errorf("carol's GET of the recording: %d, %d bytes (the file has %d)", code, len(body), len(want))
	}
	if code, _ := fetch(""); code != 401 {
		t.Errorf("a GET without a token: %d", code)
	}
	if code, _ := fetch("not-a-token"); code != 401 {
		t.Errorf("a GET with a bad token: %d", code)
	}
	if _, err := e.RegisterClient(ctx, engine.ClientSpec{ID: "eve", Password: "eve-password"}); err != nil {
		t.Fatal(err)
	}
	eveTokens, err := e.Login(ctx, "eve", "eve-password")
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := fetch(eveTokens.Access); code != 403 {
		t.Errorf("a GET by a client that was not in the call: %d", code)
	}
	url = r.url + "/recordings/rec/" + id + "/../../token-secret.wav"
	if code, _ := fetch(carolTokens.Access); code != 404 {
		t.Errorf("a GET outside the recordings: %d", code)
	}

	c, err := e.StartRecording(asCarol, id, engine.Caller, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.RecordingRef == first {
		t.Fatalf("the second recording has the first's reference %s", first)
	}
	time.Sleep(300 * time.Millisecond)
	if _, err := e.Hangup(ctx, id, engine.Callee); err != nil {
		t.Fatal(err)
	}
	second := filepath.Join(dir, c.RecordingRef+".wav")
	eventually(t, "the second recording's file is complete when the call ends", func() bool { return wavComplete(second) })
}

// wavComplete reports whether path is a recording whose header's sizes
// are those of the file (the recording completed it).
func wavComplete(path string) bool {
	w, err := mediatest.ReadWAV(path)
	return err == nil && w.Complete && len(w.Samples[0]) > 0
}

// wavChannels is a stereo recording's two channels.
func wavChannels(t *testing.T, path string) (l, r []int16) {
	t.Helper()
	w, err := mediatest.ReadWAV(path)
	if err != nil {
		t.Fatal(err)
	}
	if w.Channels != 2 {
		t.Fatalf("%s: %d channels, not stereo", path, w.Channels)
	}
	return w.Samples[0], w.Samples[1]
}

// recordCarolsCall: carol (the caller of the one call she is in) starts
// recording it; it returns the engine, the call, carol's context and the
// recording's file.
func recordCarolsCall(t *testing.T, ctx context.Context, r *running) (*engine.Engine, string, context.Context, string) {
	t.Helper()
	e := r.s.Engine()
	calls, err := e.Calls(ctx, "carol")
	if err != nil || len(calls) != 1 {
		t.Fatalf("carol's calls: %v %v", calls, err)
	}
	asCarol := engine.WithPrincipal(ctx, engine.Principal{Client: "carol", Role: engine.RoleAgent})
	c, err := e.StartRecording(asCarol, calls[0].ID, engine.Caller, "")
	if err != nil {
		t.Fatal(err)
	}
	return e, calls[0].ID, asCarol, filepath.Join(r.s.Config.WithDefaults().Recordings, c.RecordingRef+".wav")
}

// A call recorded when serve stops goes on being recorded when it starts
// again on the same data directory: the phones' relay legs come back on
// their ports, the recording takes them up, and its one file holds both
// parts, completed.
func TestSIPCallRecordingGoesOnAfterRestart(t *testing.T) {
	r, addr := startRelayPhones(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	carol, _, _, _, _ := relayedSIPCall(t, ctx, r, addr)
	_, id, _, file := recordCarolsCall(t, ctx, r)
	time.Sleep(500 * time.Millisecond)
	if err := r.shutdown(t); err != nil {
		t.Fatal(err)
	}
	if !wavComplete(file) {
		t.Fatal("the recording's file is not complete after the server stopped")
	}
	before, _ := wavChannels(t, file)

	s := &Server{}
	s.Config = r.s.Config
	r2 := start(t, s, r.s.Config.Data)
	e2 := r2.s.Engine()
	heard := carol.RTP().ReceivedFrom("DAVE")
	eventually(t, "carol hears dave again", func() bool { return carol.RTP().ReceivedFrom("DAVE") > heard+10 })
	time.Sleep(500 * time.Millisecond)
	if _, err := e2.StopRecording(engine.WithPrincipal(ctx, engine.Principal{Client: "carol", Role: engine.RoleAgent}), id, engine.Caller); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the recording's file is complete again", func() bool {
		l, _ := wavChannels(t, file)
		return wavComplete(file) && len(l) > len(before)+8000/4
	})
	left, right := wavChannels(t, file)
	if !mediatest.Holds(left[len(before):], "CAROL") || !mediatest.Holds(right[len(before):], "DAVE") {
		t.Error("the part recorded after the restart does not hold carol and dave")
	}
}

// With media.prefer_g711, two browsers call each other on G.711, and a
// recording of their call holds both voices (on Opus it would be silent).
func TestBrowserCallRecordedWithG711(t *testing.T) {
	s := &Server{}
	s.Config.Clients = []Client{
		{ID: "alice", Password: "alice-password", Extensions: []string{"201"}, Permissions: []string{events.PermissionRecord}},
		{ID: "bob", Password: "bob-password", Extensions: []string{"202"}},
	}
	s.Config.Media.PreferG711 = true
	r := start(t, s, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	alice := connectPhone(t, ctx, r, "alice", "ALICE")
	bob := connectPhone(t, ctx, r, "bob", "BOB")
	call, in := browserCall(t, ctx, alice, bob, "202")
	if !strings.Contains(strings.ToUpper(in.SDP), "PCMU") || strings.Contains(strings.ToLower(in.SDP), "opus") {
		t.Errorf("bob is offered:\n%s", in.SDP)
	}
	eventually(t, "bob hears alice", func() bool { return bob.peer.ReceivedFrom("ALICE") > 10 })
	eventually(t, "alice hears bob", func() bool { return alice.peer.ReceivedFrom("BOB") > 10 })
	if _, err := alice.c.Command(ctx, "recording.start", call, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	if _, err := alice.c.Command(ctx, "call.hangup", call, nil); err != nil {
		t.Fatal(err)
	}
	c, err := r.s.Engine().Call(ctx, call)
	if err != nil || c.RecordingRef == "" {
		t.Fatalf("the call's recording: %+v %v", c, err)
	}
	file := filepath.Join(r.s.Config.WithDefaults().Recordings, c.RecordingRef+".wav")
	eventually(t, "the recording's file is complete", func() bool { return wavComplete(file) })
	left, right := wavChannels(t, file)
	if !mediatest.Holds(left, "ALICE") || !mediatest.Holds(right, "BOB") {
		t.Errorf("the recording holds alice %v (left), bob %v (right)", mediatest.Holds(left, "ALICE"), mediatest.Holds(right, "BOB"))
	}
}
