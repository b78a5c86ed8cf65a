package media_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/callengine/callengine/media"
	"github.com/callengine/callengine/media/mediatest"
)

// readWAV reads a recording and checks that its header is complete.
func readWAV(t *testing.T, path string) mediatest.WAV {
	t.Helper()
	w, err := mediatest.ReadWAV(path)
	if err != nil {
		t.Fatal(err)
	}
	if !w.Complete {
		t.Fatalf("%s: the header's sizes are not the file's", path)
	}
	return w
}

// heard reports whether a channel holds a phone's marker.
func heard(samples []int16, marker string) bool { return mediatest.Holds(samples, marker) }

// twoRecordedPhones: two phones on RTP legs "a" and "b", connected.
func twoRecordedPhones(t *testing.T, r *media.Relay) (*mediatest.RTPPeer, *mediatest.RTPPeer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var phones []*mediatest.RTPPeer
	for _, m := range []string{"ALICE", "BOB"} {
		p := newRTPPeer(t, m)
		answer, err := r.AnswerRTP(ctx, map[string]string{"ALICE": "a", "BOB": "b"}[m], p.Offer(), media.LegEvents{})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.SetAnswer(answer); err != nil {
			t.Fatal(err)
		}
		phones = append(phones, p)
	}
	if err := r.Connect("a", "b"); err != nil {
		t.Fatal(err)
	}
	phones[0].Start()
	phones[1].Start()
	eventually(t, "bob hears alice", func() bool { return phones[1].ReceivedFrom("ALICE") >= 10 })
	return phones[0], phones[1]
}

// A call between two phones recorded: a stereo WAV file, 16-bit at 8 kHz,
// alice's voice on the left channel and bob's on the right, as long as the
// recording ran; a muted party's channel is silent while muted.
func TestRecordingTwoChannels(t *testing.T) {
	r := newRelay(t)
	twoRecordedPhones(t, r)
	path := filepath.Join(t.TempDir(), "rec", "call-1", "3.wav")
	if err := r.StartRecording("rec/call-1/3", path, "a", "b"); err != nil {
		t.Fatal(err)
	}
	if !r.Recording("rec/call-1/3") {
		t.Fatal("the recording is not under way")
	}
	time.Sleep(600 * time.Millisecond)
	if err := r.SetMuted("b", true); err != nil {
		t.Fatal(err)
	}
	time.Sleep(600 * time.Millisecond)
	info, err := r.StopRecording("rec/call-1/3")
	if err != nil {
		t.Fatal(err)
	}
	if r.Recording("rec/call-1/3") {
		t.Error("the recording is still under way")
	}
	w := readWAV(t, path)
	if w.Channels != 2 || w.Rate != 8000 || w.Bits != 16 || info.Channels != 2 || info.Bytes != int64(44+2*w.Channels*len(w.Samples[0])) {
		t.Fatalf("header %+v, info %+v", w, info)
	}
	if info.Duration < 900*time.Millisecond || info.Duration > 5*time.Second {
		t.Errorf("a recording of 1.2 s lasts %s", info.Duration)
	}
	half := len(w.Samples[0]) / 2
	if !heard(w.Samples[0], "ALICE") || heard(w.Samples[0], "BOB") {
		t.Error("the left channel is not alice's")
	}
	if !heard(w.Samples[1][:half], "BOB") || heard(w.Samples[1], "ALICE") {
		t.Error("the right channel is not bob's")
	}
	if heard(w.Samples[1][half+half/4:], "BOB") {
		t.Error("bob is recorded while muted")
	}
}

// A recording started again on the file of one (after a restart) goes on
// at its end: one file, both parts, the header's sizes those of the whole.
func TestRecordingGoesOnInItsFile(t *testing.T) {
	r := newRelay(t)
	twoRecordedPhones(t, r)
	path := filepath.Join(t.TempDir(), "call.wav")
	var total time.Duration
	for range 2 {
		if err := r.StartRecording("rec", path, "a", "b"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		info, err := r.StopRecording("rec")
		if err != nil {
			t.Fatal(err)
		}
		if info.Duration <= total {
			t.Fatalf("the second part did not add to the first: %s after %s", info.Duration, total)
		}
		total = info.Duration
	}
	w := readWAV(t, path)
	if got := time.Duration(len(w.Samples[0])) * time.Second / 8000; got != total {
		t.Errorf("the file holds %s, the recording says %s", got, total)
	}
}

// Refusals: no such leg, a recording that exists, one that does not.
func TestRecordingRefusals(t *testing.T) {
	r := newRelay(t)
	dir := t.TempDir()
	if err := r.StartRecording("x", filepath.Join(dir, "x.wav"), "nobody", "none"); !errors.Is(err, media.ErrNoLeg) {
		t.Errorf("a recording of no leg: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "x.wav")); !os.IsNotExist(err) {
		t.Errorf("a refused recording made its file: %v", err)
	}
	twoRecordedPhones(t, r)
	if err := r.StartRecording("x", filepath.Join(dir, "x.wav"), "a", "gone"); err != nil {
		t.Fatal(err)
	}
	if err := r.StartRecording("x", filepath.Join(dir, "y.wav"), "a"); !errors.Is(err, media.ErrRecordingExists) {
		t.Errorf("the same recording twice: %v", err)
	}
	if _, err := r.StopRecording("y"); !errors.Is(err, media.ErrNoRecording) {
		t.Errorf("stopping a recording that is not under way: %v", err)
	}
	if err := r.Close(); err != nil { // ends the recording, its file complete
		t.Fatal(err)
	}
	if w := readWAV(t, filepath.Join(dir, "x.wav")); w.Channels != 2 || heard(w.Samples[1], "BOB") {
		t.Errorf("the recording closed with the relay: %d channels", w.Channels)
	}
}

// A leg that takes a recorded name after the recording started (a browser
// that connects again, a phone moved to the call by a transfer) is
// recorded from then on; one renamed away is not.
func TestRecordingFollowsLegNames(t *testing.T) {
	r := newRelay(t)
	twoRecordedPhones(t, r)
	path := filepath.Join(t.TempDir(), "late.wav")
	if err := r.StartRecording("late", path, "a", "later"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	carol := newRTPPeer(t, "CAROL")
	answer, err := r.AnswerRTP(ctx, "c", carol.Offer(), media.LegEvents{})
	if err != nil {
		t.Fatal(err)
	}
	if err := carol.SetAnswer(answer); err != nil {
		t.Fatal(err)
	}
	carol.Start()
	time.Sleep(300 * time.Millisecond)
	if err := r.RenameLeg("c", "later"); err != nil { // carol goes on in the recorded call
		t.Fatal(err)
	}
	if err := r.RenameLeg("a", "elsewhere"); err != nil { // alice leaves it
		t.Fatal(err)
	}
	time.Sleep(600 * time.Millisecond)
	if _, err := r.StopRecording("late"); err != nil {
		t.Fatal(err)
	}
	w := readWAV(t, path)
	n := len(w.Samples[0])
	if !heard(w.Samples[0][:n/4], "ALICE") || heard(w.Samples[0][n/2:], "ALICE") {
		t.Error("alice is not recorded until she left the name, or is after")
	}
	if heard(w.Samples[1][:n/5], "CAROL") || !heard(w.Samples[1][n/2:], "CAROL") {
		t.Error("carol is recorded before she took the name, or not after")
	}
}
