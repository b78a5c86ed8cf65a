// Package loopback is an in-process adapter that plays the far end of calls to
// and from numbers outside the engine. Each number gets a Behavior — ring then
// answer after some time, be busy, never answer, hang up after a while, fail —
// and the adapter acts it out on the engine's clock, so that with a virtual
// clock it behaves the same on every run.
//
// It also places inbound calls (Call) and lets a test act for the far end by
// hand through the engine's FarEnd methods.
//
// The adapter plays a far end, which lives on when the engine restarts: when
// a new engine is opened with the same adapter, Attach hands it the new
// engine and the pending far-end actions report to it. They live in memory,
// so they are gone when the process that holds the adapter dies.
package loopback
