package media

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// codecKey names a codec independently of its payload type number.
type codecKey struct {
	mime      string // lower case, "audio/opus"
	clockRate uint32
}

func (k codecKey) telephoneEvent() bool { return k.mime == mimeTelephoneEvent }

func keyOf(mime string, clockRate uint32) codecKey {
	return codecKey{mime: strings.ToLower(mime), clockRate: clockRate}
}

// ptMap maps the payload type numbers of one side of a leg to codecs.
type ptMap map[uint8]codecKey

// audioPayloadTypes reads the first usable audio m-line of a session
// description: the payload types it lists, mapped to codecs (rtpmap, or the
// static numbers 0 and 8), in the order listed. It is the check done before
// pion sees an offer or an answer: a description that fails here is
// ErrBadSDP.
func audioPayloadTypes(desc string) (ptMap, []uint8, error) {
	if strings.TrimSpace(desc) == "" {
		return nil, nil, fmt.Errorf("%w: empty", ErrBadSDP)
	}
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(desc); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	for _, m := range sd.MediaDescriptions {
		if m == nil || m.MediaName.Media != "audio" || m.MediaName.Port.Value == 0 {
			continue
		}
		pts, order := mediaPayloadTypes(m)
		if !supported(pts, order) {
			continue
		}
		return pts, order, nil
	}
	return nil, nil, fmt.Errorf("%w: no audio m-line with a supported codec", ErrBadSDP)
}

// mediaPayloadTypes reads the payload types of one m-line, mapped to
// codecs (rtpmap, or the static numbers 0 and 8), in the order listed.
func mediaPayloadTypes(m *sdp.MediaDescription) (ptMap, []uint8) {
	pts := ptMap{}
	var order []uint8
	for _, f := range m.MediaName.Formats {
		n, err := strconv.ParseUint(f, 10, 7)
		if err != nil {
			continue
		}
		pt := uint8(n)
		switch pt {
		case 0:
			pts[pt] = keyOf("audio/PCMU", 8000)
		case 8:
			pts[pt] = keyOf("audio/PCMA", 8000)
		}
		order = append(order, pt)
	}
	for _, a := range m.Attributes {
		if a.Key != "rtpmap" {
			continue
		}
		pt, name, rate, ok := parseRtpmap(a.Value)
		if !ok {
			continue
		}
		pts[pt] = keyOf("audio/"+name, rate)
	}
	return pts, order
}

// parseRtpmap reads "111 opus/48000/2".
func parseRtpmap(v string) (uint8, string, uint32, bool) {
	num, rest, ok := strings.Cut(v, " ")
	if !ok {
		return 0, "", 0, false
	}
	n, err := strconv.ParseUint(num, 10, 7)
	if err != nil {
		return 0, "", 0, false
	}
	parts := strings.Split(strings.TrimSpace(rest), "/")
	if len(parts) < 2 {
		return 0, "", 0, false
	}
	rate, err := strconv.ParseUint(parts[1], 10, 32)
	if err != nil || rate == 0 {
		return 0, "", 0, false
	}
	return uint8(n), parts[0], uint32(rate), true
}

// supported tells whether the listed payload types name at least one audio
// codec of the relay.
func supported(pts ptMap, order []uint8) bool {
	for _, pt := range order {
		k, ok := pts[pt]
		if !ok || k.telephoneEvent() {
			continue
		}
		for _, c := range audioCodecs {
			if keyOf(c.MimeType, c.ClockRate) == k {
				return true
			}
		}
	}
	return false
}

// firstAudioCodec is the first relay codec in order: the one the far side
// sends with.
func firstAudioCodec(pts ptMap, order []uint8) (codecKey, bool) {
	for _, pt := range order {
		k, ok := pts[pt]
		if !ok || k.telephoneEvent() {
			continue
		}
		for _, c := range audioCodecs {
			if keyOf(c.MimeType, c.ClockRate) == k {
				return k, true
			}
		}
	}
	return codecKey{}, false
}

// firstG711 is the first of PCMU and PCMA in order.
func firstG711(pts ptMap, order []uint8) (codecKey, bool) {
	for _, pt := range order {
		k := pts[pt]
		if k == keyOf(codecPCMU.MimeType, 8000) || k == keyOf(codecPCMA.MimeType, 8000) {
			return k, true
		}
	}
	return codecKey{}, false
}

// codecFor is the relay's audio codec k, or nil.
func codecFor(k codecKey) *webrtc.RTPCodecParameters {
	for i := range audioCodecs {
		if keyOf(audioCodecs[i].MimeType, audioCodecs[i].ClockRate) == k {
			return &audioCodecs[i]
		}
	}
	return nil
}
