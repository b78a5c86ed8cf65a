// Package g711 is ITU-T G.711: μ-law (PCMU) and A-law (PCMA), 8-bit
// samples at 8 kHz, to and from 16-bit linear PCM. The relay's mixer
// decodes, sums and encodes with it, forwarding between a PCMU and a PCMA
// leg re-encodes with it, and the test peers measure what they hear.
package g711

// ULawSample and ALawSample decode one byte.
func ULawSample(b byte) int16 { return uLaw[b] }
func ALawSample(b byte) int16 { return aLaw[b] }

// Decode appends the linear samples of a payload to dst: A-law if alaw,
// else μ-law.
func Decode(dst []int16, alaw bool, payload []byte) []int16 {
	table := &uLaw
	if alaw {
		table = &aLaw
	}
	for _, b := range payload {
		dst = append(dst, table[b])
	}
	return dst
}

// Encode appends samples encoded in A-law if alaw, else μ-law, to dst.
func Encode(dst []byte, alaw bool, samples []int16) []byte {
	enc := ULaw
	if alaw {
		enc = ALaw
	}
	for _, s := range samples {
		dst = append(dst, enc(s))
	}
	return dst
}

// Transcode appends a payload re-encoded in the other law to dst: from
// A-law to μ-law if alaw, else from μ-law to A-law.
func Transcode(dst []byte, alaw bool, payload []byte) []byte {
	table, enc := &uLaw, ALaw
	if alaw {
		table, enc = &aLaw, ULaw
	}
	for _, b := range payload {
		dst = append(dst, enc(table[b]))
	}
	return dst
}

// ulawLinear and alawLinear decode a byte; built once from the formulas.
var uLaw, aLaw = func() (u, a [256]int16) {
	for i := range 256 {
		u[i] = uLawDecode(byte(i))
		a[i] = aLawDecode(byte(i))
	}
	return u, a
}()

// uLawDecode: the byte is stored complemented; sign, a 3-bit segment and a
// 4-bit mantissa, with a bias of 0x84.
func uLawDecode(b byte) int16 {
	b = ^b
	t := (int32(b&0x0f) << 3) + 0x84
	t <<= (b & 0x70) >> 4
	if b&0x80 != 0 {
		return int16(0x84 - t)
	}
	return int16(t - 0x84)
}

// aLawDecode: the byte is stored with its even bits inverted; sign, a
// 3-bit segment and a 4-bit mantissa.
func aLawDecode(b byte) int16 {
	b ^= 0x55
	t := int32(b&0x0f) << 4
	switch seg := (b & 0x70) >> 4; seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t += 0x108
		t <<= seg - 1
	}
	if b&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}

// ULaw encodes a linear sample as μ-law.
func ULaw(s int16) byte {
	const bias, clip = 0x84, 32635
	v := int32(s)
	mask := byte(0xff)
	if v < 0 {
		v = -v
		mask = 0x7f
	}
	v = min(v, clip) + bias
	seg := segment(v >> 7)
	return (byte(seg<<4) | byte((v>>(seg+3))&0x0f)) ^ mask
}

// ALaw encodes a linear sample as A-law.
func ALaw(s int16) byte {
	v := int32(s) >> 3 // A-law works on 13 bits
	mask := byte(0xd5)
	if v < 0 {
		v = -v - 1
		mask = 0x55
	}
	if v >= 0x1000 {
		return 0x7f ^ mask
	}
	seg := segment(v >> 4)
	var m int32
	if seg < 2 {
		m = (v >> 1) & 0x0f
	} else {
		m = (v >> seg) & 0x0f
	}
	return (byte(seg<<4) | byte(m)) ^ mask
}

// segment is the number of the highest bit set in v (0 for v ≤ 1), at
// most 7: the exponent of a G.711 byte.
func segment(v int32) int32 {
	var seg int32
	for v > 1 && seg < 7 {
		v >>= 1
		seg++
	}
	return seg
}
