package media_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/callengine/callengine/media"
)

// wavOf is an 8 kHz mono 16-bit PCM WAV of samples.
func wavOf(samples []int16, rate uint32, channels uint16) []byte {
	var b bytes.Buffer
	data := len(samples) * 2
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(36+data))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), channels, rate, rate * 2 * uint32(channels), 2 * channels, uint16(16)} {
		binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, uint32(data))
	binary.Write(&b, binary.LittleEndian, samples)
	return b.Bytes()
}

// Music on hold: alice holds bob (both legs held: nothing is forwarded);
// bob's leg gets the hold music, a constant level here, alice's does not.
// When the call resumes bob hears alice again, on the one stream he heard
// the music on.
func TestHoldMusic(t *testing.T) {
	music := make([]int16, 800)
	for i := range music {
		music[i] = 6000
	}
	set := loopback
	set.HoldMusic = music
	r := newRelayWith(t, set)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	alice, bob := newRTPPeer(t, "ALICE"), newRTPPeer(t, "BOB")
	for leg, p := range map[string]interface {
		Offer() string
		SetAnswer(string) error
		Start()
	}{"a": alice, "b": bob} {
		answer, err := r.AnswerRTP(ctx, leg, p.Offer(), media.LegEvents{})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.SetAnswer(answer); err != nil {
			t.Fatal(err)
		}
		p.Start()
	}
	_ = r.Connect("a", "b")
	eventually(t, "bob hears alice", func() bool { return bob.ReceivedFrom("ALICE") > 10 })

	_ = r.SetHeld("a", true)
	_ = r.SetHeld("b", true)
	if err := r.SetHoldMusic("b", true); err != nil {
		t.Fatal(err)
	}
	eventually(t, "bob hears the music", func() bool { return bob.Heard() > 4000 })
	before := alice.Received().Packets
	time.Sleep(300 * time.Millisecond)
	if n := alice.Received().Packets - before; n > 2 {
		t.Errorf("alice, who holds, received %d packets", n)
	}
	if rtpFlowing(bob, "ALICE") {
		t.Error("bob hears alice while held")
	}

	_ = r.SetHoldMusic("b", false)
	_ = r.SetHeld("a", false)
	_ = r.SetHeld("b", false)
	if !rtpFlowing(bob, "ALICE") {
		t.Error("bob does not hear alice after the resume")
	}
	if rc := bob.Received(); rc.SSRCs != 1 || rc.Backwards != 0 {
		t.Errorf("bob's stream across the music: %+v", rc)
	}
	if err := r.SetHoldMusic("nobody", true); !errors.Is(err, media.ErrNoLeg) {
		t.Errorf("music to no leg: %v", err)
	}
}

func TestParseWAV(t *testing.T) {
	samples := []int16{1, -2, 300, -32768}
	got, err := media.ParseWAV(wavOf(samples, 8000, 1))
	if err != nil || len(got) != 4 || got[2] != 300 || got[3] != -32768 {
		t.Fatalf("a good WAV: %v, %v", got, err)
	}
	for name, b := range map[string][]byte{
		"16 kHz":   wavOf(samples, 16000, 1),
		"stereo":   wavOf(samples, 8000, 2),
		"empty":    wavOf(nil, 8000, 1),
		"not RIFF": []byte("RIFX....WAVEfmt "),
		"no data":  wavOf(samples, 8000, 1)[:36],
		"nothing":  nil,
	} {
		if _, err := media.ParseWAV(b); !errors.Is(err, media.ErrBadWAV) {
			t.Errorf("%s: %v, want ErrBadWAV", name, err)
		}
	}
}

// FuzzParseWAV: any bytes are samples or ErrBadWAV, never a panic.
func FuzzParseWAV(f *testing.F) {
	f.Add(wavOf([]int16{1, 2, 3}, 8000, 1))
	f.Add(wavOf([]int16{1, 2, 3}, 16000, 2))
	f.Add([]byte("RIFF\xff\xff\xff\xffWAVEfmt \x10\x00\x00\x00"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := media.ParseWAV(b)
		if err != nil {
			if !errors.Is(err, media.ErrBadWAV) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if len(s) == 0 || len(s) > len(b)/2 {
			t.Fatalf("%d samples from %d bytes", len(s), len(b))
		}
	})
}
