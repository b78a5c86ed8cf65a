package g711

import "testing"

// Reference points of ITU-T G.711 (the values of its tables).
func TestG711Reference(t *testing.T) {
	for b, want := range map[byte]int16{0x80: 32124, 0x00: -32124, 0xff: 0, 0x7f: 0, 0xfe: 8, 0x7e: -8} {
		if got := uLaw[b]; got != want {
			t.Errorf("μ-law %#02x = %d, want %d", b, got, want)
		}
	}
	for b, want := range map[byte]int16{0xd5: 8, 0x55: -8, 0xaa: 32256, 0x2a: -32256, 0xd4: 24, 0x54: -24} {
		if got := aLaw[b]; got != want {
			t.Errorf("A-law %#02x = %d, want %d", b, got, want)
		}
	}
	for s, want := range map[int16]byte{0: 0xff, 32767: 0x80, -32768: 0x00, 8: 0xfe} {
		if got := ULaw(s); got != want {
			t.Errorf("μ-law of %d = %#02x, want %#02x", s, got, want)
		}
	}
	for s, want := range map[int16]byte{0: 0xd5, -1: 0x55, 32767: 0xaa, -32768: 0x2a} {
		if got := ALaw(s); got != want {
			t.Errorf("A-law of %d = %#02x, want %#02x", s, got, want)
		}
	}
}

// Every byte decodes to a value that encodes back to it (μ-law's negative
// zero, 0x7f, comes back as positive zero).
func TestG711RoundTrip(t *testing.T) {
	for i := range 256 {
		b := byte(i)
		if got := ULaw(uLaw[b]); got != b && !(b == 0x7f && got == 0xff) {
			t.Errorf("μ-law %#02x → %d → %#02x", b, uLaw[b], got)
		}
		if got := ALaw(aLaw[b]); got != b {
			t.Errorf("A-law %#02x → %d → %#02x", b, aLaw[b], got)
		}
	}
}

// Encoding a sample and decoding it loses at most half a step of the
// segment the sample is in: under 1/16 of its magnitude, and a few units
// near zero.
func TestG711Error(t *testing.T) {
	for s := -32768; s <= 32767; s += 7 {
		for _, c := range []struct {
			name string
			enc  func(int16) byte
			dec  *[256]int16
			near int
		}{{"μ-law", ULaw, &uLaw, 4}, {"A-law", ALaw, &aLaw, 8}} {
			got := int(c.dec[c.enc(int16(s))])
			d := got - s
			if d < 0 {
				d = -d
			}
			if lim := max(c.near, abs(s)/16); d > lim && abs(s) < 32000 {
				t.Fatalf("%s: %d → %d (off by %d)", c.name, s, got, d)
			}
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func TestTranscode(t *testing.T) {
	in := []int16{0, 100, -100, 1000, -1000, 12000, -30000}
	u := Encode(nil, false, in)
	a := Transcode(nil, false, u)
	back := Decode(nil, true, a)
	for i := range in {
		if d := abs(int(back[i]) - int(in[i])); d > max(16, abs(int(in[i]))/8) {
			t.Errorf("sample %d: %d → %d", i, in[i], back[i])
		}
	}
	if got := Transcode(nil, true, a); len(got) != len(u) {
		t.Errorf("A-law → μ-law: %d bytes of %d", len(got), len(u))
	}
}

// The work of the relay's mixer for one member and one 20 ms frame: two
// others decoded, added up, clipped and encoded (docs/performance.md).
func BenchmarkMixFrame(b *testing.B) {
	x := Encode(nil, false, make([]int16, 160))
	y := Encode(nil, true, make([]int16, 160))
	var pcm []int16
	var sum [160]int32
	out := make([]byte, 0, 160)
	b.ReportAllocs()
	for b.Loop() {
		clear(sum[:])
		pcm = Decode(pcm[:0], false, x)
		for i, s := range pcm {
			sum[i] += int32(s)
		}
		pcm = Decode(pcm[:0], true, y)
		for i, s := range pcm {
			sum[i] += int32(s)
		}
		for i, s := range sum {
			pcm[i] = int16(max(-32768, min(32767, s)))
		}
		out = Encode(out[:0], false, pcm)
	}
}
