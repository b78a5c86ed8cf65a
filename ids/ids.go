package ids

import (
	crand "crypto/rand"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"sync"

	"github.com/callengine/callengine/clock"
)

// Source hands out unique ids.
type Source interface {
	NewID() string
}

// Generator is a Source of time-ordered ids. It is safe for concurrent use.
type Generator struct {
	mu      sync.Mutex
	clock   clock.Clock
	entropy io.Reader
	lastMS  uint64
	hi      uint16 // top 16 bits of the 80 random bits
	lo      uint64 // low 64 bits
}

// New returns a generator that reads time from c and entropy from r.
func New(c clock.Clock, r io.Reader) *Generator { return &Generator{clock: c, entropy: r} }

// NewRandom returns a generator for production: entropy from crypto/rand.
func NewRandom(c clock.Clock) *Generator { return New(c, crand.Reader) }

// NewSeeded returns a deterministic generator: with the same clock readings
// and seed it returns the same ids.
func NewSeeded(c clock.Clock, seed uint64) *Generator {
	return New(c, &seeded{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))})
}

type seeded struct{ r *rand.Rand }

func (s *seeded) Read(p []byte) (int, error) {
	for i := 0; i < len(p); i += 8 {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], s.r.Uint64())
		copy(p[i:], b[:])
	}
	return len(p), nil
}

const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewID returns the next id.
func (g *Generator) NewID() string {
	g.mu.Lock()
	ms := uint64(g.clock.Now().UnixMilli())
	if ms <= g.lastMS {
		ms = g.lastMS
		g.lo++
		if g.lo == 0 {
			g.hi++
		}
	} else {
		var b [10]byte
		if _, err := io.ReadFull(g.entropy, b[:]); err != nil {
			panic("ids: entropy source failed: " + err.Error())
		}
		g.hi = binary.BigEndian.Uint16(b[:2]) >> 1 // leave headroom for increments
		g.lo = binary.BigEndian.Uint64(b[2:])
		g.lastMS = ms
	}
	hi, lo := g.hi, g.lo
	g.mu.Unlock()
	return encode(ms, hi, lo)
}

// encode writes 48 bits of ms and 80 bits of randomness as 26 base32 digits.
func encode(ms uint64, hi uint16, lo uint64) string {
	var out [26]byte
	// 128-bit value: top 48 bits ms, then 16 bits hi, then 64 bits lo.
	top := ms<<16 | uint64(hi)
	bottom := lo
	for i := 25; i >= 0; i-- {
		out[i] = alphabet[bottom&31]
		bottom = bottom>>5 | top<<59
		top >>= 5
	}
	return string(out[:])
}

// Sequence is a Source of ids "<prefix><n>" with n counting from 1: readable
// ids for tests and examples. It is safe for concurrent use.
type Sequence struct {
	mu     sync.Mutex
	Prefix string
	n      uint64
}

// NewID returns the next id of the sequence.
func (s *Sequence) NewID() string {
	s.mu.Lock()
	s.n++
	n := s.n
	s.mu.Unlock()
	return s.Prefix + itoa(n)
}

func itoa(n uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return string(b[i:])
}
