// Package loopback is an in-process adapter that plays the far end of calls to
// and from numbers outside the engine. Each number gets a Behavior — ring then
// answer after some time, be busy, never answer, hang up after a while, fail —
// and the adapter acts it out on the engine's clock, so that with a virtual
// clock it behaves the same on every run.
//
// It also places inbound calls (Call) and lets a test act for the far end by
// hand through the engine's FarEnd methods.
//
// Pending far-end actions live in memory: after an engine restart the
// adapter does not resume them (a real far end keeps its own state; this one
// is a test double for it).
package loopback
