// Package ids is the one source of identifiers in callengine. An id is 26
// characters of Crockford base32: 48 bits of milliseconds from the engine's
// clock, then 80 bits of entropy, monotonic within a millisecond. Ids sort by
// creation time, which keeps the journal's per-stream index local.
//
// Production draws entropy from crypto/rand; the simulator gives a seeded
// source, so that with a virtual clock every run yields the same ids.
package ids
