package journal

import (
	"hash/crc32"
	"testing"
)

// seqCRC computes what crc32 computes over the 8-byte key.
func TestSeqCRCMatchesTheKeysCRC(t *testing.T) {
	for _, seq := range []uint64{0, 1, 255, 256, 1 << 32, 0x0123456789abcdef, ^uint64(0)} {
		var k [seqLen]byte
		putSeq(k[:], seq)
		if got, want := seqCRC(seq), crc32.Update(0, castagnoli, k[:]); got != want {
			t.Errorf("seq %#x: seqCRC %08x, crc32 %08x", seq, got, want)
		}
	}
}
