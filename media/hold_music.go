package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/pion/rtp"
)

// Music on hold: Settings.HoldMusic, 8 kHz mono samples, played in a loop
// to a leg between SetHoldMusic(leg, true) and SetHoldMusic(leg, false) —
// the adapters turn it on for the party that is held, not for the one
// that holds (a held call forwards nothing either way, SetHeld). It goes
// out on the leg's own stream, encoded in its G.711 law, as a source of
// its own: when the call resumes the other party's audio follows on the
// same stream (the same SSRC, the sequence numbers going on). A leg on
// another codec (a browser on Opus) hears silence: the relay encodes
// G.711 only. Without HoldMusic nothing is played.

// musicSource is the source serial of the music in a leg's outgoing track
// (legs' serials count up from 1).
const musicSource = math.MaxUint64

// musicSSRC is the SSRC the music is written with; the track rewrites it.
const musicSSRC = 0x6d6f6821 // "moh!"

// ErrBadWAV is a hold music file that is not an 8 kHz mono 16-bit PCM WAV.
var ErrBadWAV = errors.New("media: not an 8 kHz mono 16-bit PCM WAV")

// maxHoldMusic bounds hold music: ten minutes at 8 kHz.
const maxHoldMusic = 10 * 60 * 8000

// LoadHoldMusic reads hold music from a WAV file: 8 kHz, mono, 16-bit
// PCM, at most ten minutes.
func LoadHoldMusic(path string) ([]int16, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("media: hold music: %w", err)
	}
	samples, err := ParseWAV(b)
	if err != nil {
		return nil, fmt.Errorf("media: hold music %s: %w", path, err)
	}
	return samples, nil
}

// ParseWAV reads the samples of an 8 kHz mono 16-bit PCM WAV (RIFF) held
// in b; anything else is ErrBadWAV. Chunks it does not need (LIST, fact)
// are skipped; a data chunk longer than the file is cut to what is there.
func ParseWAV(b []byte) ([]int16, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, fmt.Errorf("%w: no RIFF WAVE header", ErrBadWAV)
	}
	var fmtOK bool
	for p := 12; p+8 <= len(b); {
		id, size := string(b[p:p+4]), int(binary.LittleEndian.Uint32(b[p+4:p+8]))
		p += 8
		if size < 0 || size > len(b)-p {
			size = len(b) - p
		}
		body := b[p : p+size]
		switch id {
		case "fmt ":
			if len(body) < 16 {
				return nil, fmt.Errorf("%w: short fmt chunk", ErrBadWAV)
			}
			format, channels := binary.LittleEndian.Uint16(body[0:2]), binary.LittleEndian.Uint16(body[2:4])
			rate, bits := binary.LittleEndian.Uint32(body[4:8]), binary.LittleEndian.Uint16(body[14:16])
			if format != 1 || channels != 1 || rate != 8000 || bits != 16 {
				return nil, fmt.Errorf("%w: format %d, %d channels, %d Hz, %d bits", ErrBadWAV, format, channels, rate, bits)
			}
			fmtOK = true
		case "data":
			if !fmtOK {
				return nil, fmt.Errorf("%w: data before fmt", ErrBadWAV)
			}
			n := len(body) / 2
			if n == 0 {
				return nil, fmt.Errorf("%w: no samples", ErrBadWAV)
			}
			if n > maxHoldMusic {
				return nil, fmt.Errorf("%w: longer than ten minutes", ErrBadWAV)
			}
			out := make([]int16, n)
			for i := range out {
				out[i] = int16(binary.LittleEndian.Uint16(body[2*i:]))
			}
			return out, nil
		}
		p += size + size&1 // chunks are padded to an even length
	}
	return nil, fmt.Errorf("%w: no data chunk", ErrBadWAV)
}

// HoldMusician is a relay that plays music on hold: *Relay is one. The
// adapters turn it on for the legs whose party is held
// (engine.Call.HearsHoldMusic) and off for the others.
type HoldMusician interface {
	SetHoldMusic(leg string, on bool) error
}

// SetHoldMusic starts or stops the hold music of a leg (see HoldMusic).
// Without Settings.HoldMusic it does nothing.
func (r *Relay) SetHoldMusic(name string, on bool) error {
	l, err := r.get(name)
	if err != nil {
		return err
	}
	if len(r.settings.HoldMusic) == 0 || l.mirror {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return fmt.Errorf("media: leg %q: %w", name, ErrNoLeg)
	}
	switch {
	case on && l.music == nil:
		stop := make(chan struct{})
		l.music = stop
		l.wg.Add(1)
		go l.playMusic(r.settings.HoldMusic, stop)
	case !on && l.music != nil:
		close(l.music)
		l.music = nil
	}
	return nil
}

// playMusic writes samples, looped, to the leg's outgoing track a packet
// every 20 ms until stop closes or the leg does.
func (l *leg) playMusic(samples []int16, stop <-chan struct{}) {
	defer l.wg.Done()
	const frame = 160 // 20 ms at 8 kHz
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	h := rtp.Header{SSRC: musicSSRC, Marker: true}
	buf, pos := make([]int16, frame), 0
	var payload []byte
	for {
		select {
		case <-stop:
			return
		case <-l.done:
			return
		case <-tick.C:
		}
		for i := range buf {
			buf[i] = samples[pos]
			pos = (pos + 1) % len(samples)
		}
		payload = encodeG711(payload[:0], codecKeyPCMU, buf)
		if l.out.forward(musicSource, codecKeyPCMU, &h, payload) {
			l.countOut()
		}
		h.Marker = false
		h.SequenceNumber++
		h.Timestamp += frame
	}
}
