package media

import "github.com/callengine/callengine/media/internal/g711"

// G.711 (PCMU, PCMA) in the relay: the mixer (mixer.go) decodes the
// members of a conference, sums them and encodes the sum for each leg that
// hears one stream; forwarding between a PCMU and a PCMA leg re-encodes
// each packet (outTrack.forward).

var (
	codecKeyPCMU = keyOf(codecPCMU.MimeType, 8000)
	codecKeyPCMA = keyOf(codecPCMA.MimeType, 8000)
)

// isG711 tells whether k is PCMU or PCMA at 8 kHz.
func isG711(k codecKey) bool { return k == codecKeyPCMU || k == codecKeyPCMA }

// decodeG711 appends the linear samples of payload (codec k) to dst.
func decodeG711(dst []int16, k codecKey, payload []byte) []int16 {
	return g711.Decode(dst, k == codecKeyPCMA, payload)
}

// encodeG711 appends samples encoded with codec k to dst.
func encodeG711(dst []byte, k codecKey, samples []int16) []byte {
	return g711.Encode(dst, k == codecKeyPCMA, samples)
}

// transcodeG711 re-encodes a G.711 payload of codec from in the other law.
func transcodeG711(dst []byte, from codecKey, payload []byte) []byte {
	return g711.Transcode(dst, from == codecKeyPCMA, payload)
}
