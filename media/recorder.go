package media

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Recordings (FEATURES C11): the audio that legs send, written to a WAV
// file while a call is recorded. A recording has one channel per leg (a
// call's caller and callee: "<call>/caller", "<call>/callee"), 16-bit
// linear PCM at 8 kHz: what each party said, side by side, as contact
// centres keep it for quality and compliance.
//
// Each leg's read loop decodes what it forwards (G.711; a leg on another
// codec — a browser's Opus — is recorded as silence) into its channel; a
// writer goroutine takes 20 ms of every channel each 20 ms of the wall
// clock and writes them interleaved, padding a channel that has nothing
// with silence (the party is silent, held, muted, or its packets are
// late) and dropping what piles up past 100 ms (a burst after a stall), so
// that the channels stay in step with each other and with time. A muted or
// held leg is recorded as silence: a recording holds what the other party
// could hear.
//
// A recording started on a file that exists, with the header of one,
// goes on at its end: after a restart the engine's call is still
// recorded, and the file of the recording it had gets the rest of it.

// ErrRecordingExists: a recording of that id is under way.
var ErrRecordingExists = errors.New("media: recording exists")

// ErrNoRecording: no recording of that id is under way.
var ErrNoRecording = errors.New("media: no such recording")

const (
	recRate      = 8000
	recFrame     = recRate / 50 // samples per channel every 20 ms
	recMaxBuffer = recRate / 10 // samples a channel may hold before the oldest go (100 ms)
	wavHeader    = 44
)

// RecordingInfo describes a recording that ended.
type RecordingInfo struct {
	Path     string
	Channels int
	Duration time.Duration // of the whole file, earlier parts included
	Bytes    int64         // the file's size
}

// recording is one recording under way.
type recording struct {
	id, path string
	f        *os.File
	w        *bufio.Writer
	channels int
	names    []string // the legs recorded, by channel
	written  int64    // bytes of samples in the file
	stop     chan struct{}
	done     chan struct{}

	mu      sync.Mutex
	taps    []*recTap // every tap it gave a leg
	pending [][]int16 // by channel, decoded and not yet written
	err     error
}

// recTap feeds one leg's audio to channel ch of a recording.
type recTap struct {
	rec *recording
	ch  int
	leg *leg
}

// StartRecording records the audio that the named legs send, one channel
// each in order, to the WAV file at path (its directory is made) until
// StopRecording(id). A name with no leg (a side whose media is not on the
// relay) is a silent channel, but at least one must be a leg: ErrNoLeg
// otherwise. A leg that takes one of the names later — a browser that
// connects again, a phone moved to the call by a transfer — is recorded
// from then on; one renamed away is not.
func (r *Relay) StartRecording(id, path string, legs ...string) error {
	if id == "" || path == "" || len(legs) == 0 {
		return fmt.Errorf("media: a recording needs an id, a path and legs: %w", ErrNoLeg)
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	if _, ok := r.recordings[id]; ok {
		r.mu.Unlock()
		return fmt.Errorf("media: recording %q: %w", id, ErrRecordingExists)
	}
	some := false
	for _, name := range legs {
		_, ok := r.legs[name]
		some = some || ok
	}
	r.mu.Unlock()
	if !some {
		return fmt.Errorf("media: recording %q: none of %q: %w", id, legs, ErrNoLeg)
	}
	rec, err := openRecording(id, path, len(legs))
	if err != nil {
		return err
	}
	rec.names = append([]string(nil), legs...)
	r.mu.Lock()
	if _, ok := r.recordings[id]; ok || r.closed {
		r.mu.Unlock()
		rec.f.Close()
		return fmt.Errorf("media: recording %q: %w", id, ErrRecordingExists)
	}
	if r.recordings == nil {
		r.recordings = map[string]*recording{}
	}
	r.recordings[id] = rec
	for _, name := range legs {
		if l := r.legs[name]; l != nil {
			r.tapLocked(l)
		}
	}
	r.mu.Unlock()
	go rec.run()
	return nil
}

// tapLocked gives leg l the tap of the recording that records its name,
// or none (a leg renamed away from a recorded call); r.mu is held.
func (r *Relay) tapLocked(l *leg) {
	for _, rec := range r.recordings {
		for ch, name := range rec.names {
			if name == l.name {
				t := &recTap{rec: rec, ch: ch, leg: l}
				rec.mu.Lock()
				rec.taps = append(rec.taps, t)
				rec.mu.Unlock()
				l.rec.Store(t)
				return
			}
		}
	}
	l.rec.Store(nil)
}

// StopRecording ends recording id: what is buffered is written, the WAV
// header gets its sizes, the file is closed.
func (r *Relay) StopRecording(id string) (RecordingInfo, error) {
	r.mu.Lock()
	rec, ok := r.recordings[id]
	delete(r.recordings, id)
	r.mu.Unlock()
	if !ok {
		return RecordingInfo{}, fmt.Errorf("media: recording %q: %w", id, ErrNoRecording)
	}
	return rec.finish()
}

// Recording reports whether recording id is under way.
func (r *Relay) Recording(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.recordings[id]
	return ok
}

// stopRecordingsLocked ends every recording (the relay closes); r.mu is
// held.
func (r *Relay) stopRecordingsLocked() []*recording {
	var out []*recording
	for id, rec := range r.recordings {
		out = append(out, rec)
		delete(r.recordings, id)
	}
	return out
}

// openRecording opens path for a recording of channels: a new file with a
// header whose sizes are filled in at the end, or the end of an existing
// recording of as many channels.
func openRecording(id, path string, channels int) (*recording, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("media: recording %q: %w", id, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("media: recording %q: %w", id, err)
	}
	rec := &recording{id: id, path: path, f: f, channels: channels, pending: make([][]int16, channels),
		stop: make(chan struct{}), done: make(chan struct{})}
	st, err := f.Stat()
	if err == nil && st.Size() >= wavHeader && sameWAV(f, channels) {
		size := st.Size() - wavHeader
		size -= size % int64(2*channels) // a frame cut short by a crash
		rec.written = size
		_, err = f.Seek(wavHeader+size, io.SeekStart)
	} else if err == nil {
		if err = f.Truncate(0); err == nil {
			_, err = f.Write(wavHeaderBytes(channels, 0))
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("media: recording %q: %w", id, err)
	}
	rec.w = bufio.NewWriterSize(f, 32<<10)
	return rec, nil
}

// sameWAV reports whether f starts with the header of a recording of
// channels.
func sameWAV(f *os.File, channels int) bool {
	var h [wavHeader]byte
	if _, err := f.ReadAt(h[:], 0); err != nil {
		return false
	}
	want := wavHeaderBytes(channels, 0)
	for _, r := range [][2]int{{0, 4}, {8, 40}} { // all but the two sizes
		for i := r[0]; i < r[1]; i++ {
			if h[i] != want[i] {
				return false
			}
		}
	}
	return true
}

// wavHeaderBytes is the 44-byte header of a PCM WAV file of channels
// 16-bit channels at 8 kHz and data bytes of samples.
func wavHeaderBytes(channels int, data int64) []byte {
	b := make([]byte, 0, wavHeader)
	le := binary.LittleEndian
	b = append(b, "RIFF"...)
	b = le.AppendUint32(b, uint32(36+data))
	b = append(b, "WAVEfmt "...)
	b = le.AppendUint32(b, 16)
	b = le.AppendUint16(b, 1) // PCM
	b = le.AppendUint16(b, uint16(channels))
	b = le.AppendUint32(b, recRate)
	b = le.AppendUint32(b, uint32(recRate*2*channels))
	b = le.AppendUint16(b, uint16(2*channels))
	b = le.AppendUint16(b, 16)
	b = append(b, "data"...)
	b = le.AppendUint32(b, uint32(data))
	return b
}

// feed decodes a G.711 payload into the tap's channel; another codec is
// not recorded (its channel stays silent).
func (t *recTap) feed(k codecKey, payload []byte) {
	if !isG711(k) {
		return
	}
	rec := t.rec
	rec.mu.Lock()
	p := decodeG711(rec.pending[t.ch], k, payload)
	if len(p) > recMaxBuffer {
		p = append(p[:0], p[len(p)-recFrame*2:]...) // a burst after a stall: keep the last 40 ms
	}
	rec.pending[t.ch] = p
	rec.mu.Unlock()
}

// run writes 20 ms of every channel every 20 ms until stop.
func (rec *recording) run() {
	defer close(rec.done)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	frame := make([]byte, recFrame*2*rec.channels)
	for {
		select {
		case <-tick.C:
			rec.writeFrame(frame)
		case <-rec.stop:
			return
		}
	}
}

// writeFrame writes the next 20 ms: of each channel what it holds, up to
// 20 ms, then silence.
func (rec *recording) writeFrame(frame []byte) {
	clear(frame)
	rec.mu.Lock()
	for ch, p := range rec.pending {
		n := min(len(p), recFrame)
		for i := range n {
			binary.LittleEndian.PutUint16(frame[(i*rec.channels+ch)*2:], uint16(p[i]))
		}
		rec.pending[ch] = append(p[:0], p[n:]...)
	}
	rec.mu.Unlock()
	if rec.err != nil {
		return
	}
	if _, err := rec.w.Write(frame); err != nil {
		rec.err = err
		return
	}
	rec.written += int64(len(frame))
}

// finish stops the recording and completes its file.
func (rec *recording) finish() (RecordingInfo, error) {
	rec.mu.Lock()
	taps := rec.taps
	rec.taps = nil
	rec.mu.Unlock()
	for _, t := range taps {
		t.leg.rec.CompareAndSwap(t, nil)
	}
	close(rec.stop)
	<-rec.done
	err := rec.err
	if err == nil {
		err = rec.w.Flush()
	}
	if err == nil {
		_, err = rec.f.WriteAt(wavHeaderBytes(rec.channels, rec.written), 0)
	}
	if err == nil {
		err = rec.f.Sync()
	}
	if cerr := rec.f.Close(); err == nil {
		err = cerr
	}
	info := RecordingInfo{Path: rec.path, Channels: rec.channels, Bytes: wavHeader + rec.written,
		Duration: time.Duration(rec.written/int64(2*rec.channels)) * time.Second / recRate}
	if err != nil {
		return info, fmt.Errorf("media: recording %q: %w", rec.id, err)
	}
	return info, nil
}
