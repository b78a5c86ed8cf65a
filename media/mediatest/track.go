package mediatest

import (
	"strings"
	"sync"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// rawTrack is an outgoing track that keeps the payload type it is given
// (pion's TrackLocalStaticRTP would rewrite telephone-events to the audio
// codec's number).
type rawTrack struct {
	mu    sync.Mutex
	want  string
	bound bool
	ssrc  uint32
	w     webrtc.TrackLocalWriter
	audio webrtc.RTPCodecParameters
	te    map[uint32]uint8 // clock rate → telephone-event payload type
}

func (t *rawTrack) ID() string                { return "mic" }
func (t *rawTrack) RID() string               { return "" }
func (t *rawTrack) StreamID() string          { return "mediatest" }
func (t *rawTrack) Kind() webrtc.RTPCodecType { return webrtc.RTPCodecTypeAudio }

func (t *rawTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var chosen *webrtc.RTPCodecParameters
	te := map[uint32]uint8{}
	codecs := ctx.CodecParameters()
	for i := range codecs {
		c := &codecs[i]
		if strings.EqualFold(c.MimeType, mimeTE) {
			te[c.ClockRate] = uint8(c.PayloadType)
			continue
		}
		if chosen == nil || (strings.EqualFold(c.MimeType, t.want) && !strings.EqualFold(chosen.MimeType, t.want)) {
			chosen = c
		}
	}
	if chosen == nil {
		return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
	}
	t.audio, t.te = *chosen, te
	t.ssrc = uint32(ctx.SSRC())
	t.w = ctx.WriteStream()
	t.bound = true
	return *chosen, nil
}

func (t *rawTrack) Unbind(webrtc.TrackLocalContext) error {
	t.mu.Lock()
	t.bound, t.w = false, nil
	t.mu.Unlock()
	return nil
}

// codec returns the bound audio codec and the telephone-event payload type
// at its clock rate (else any).
func (t *rawTrack) codec() (c webrtc.RTPCodecParameters, tePT uint8, teRate uint32, teOK, bound bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.bound {
		return webrtc.RTPCodecParameters{}, 0, 0, false, false
	}
	rate := t.audio.ClockRate
	pt, ok := t.te[rate]
	if !ok {
		for r, p := range t.te {
			pt, rate, ok = p, r, true
			break
		}
	}
	return t.audio, pt, rate, ok, true
}

func (t *rawTrack) write(h *rtp.Header, payload []byte) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.bound {
		return false
	}
	h.SSRC = t.ssrc
	_, err := t.w.WriteRTP(h, payload)
	return err == nil
}
