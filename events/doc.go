// Package events defines every fact callengine records: the typed events of
// clients and calls, the Envelope that places an event in the journal, and the
// two codecs that carry them — a compact binary one for the journal and JSON for
// people.
//
// An event enters as a value produced by fsm/ (a decision), is encoded with
// EncodeBody by the actor that owns its stream, is stored by journal/ under a
// global sequence number, a stream id and a stream version, and leaves as an
// Envelope decoded with DecodeBody (restore, replay) or published to
// subscribers.
//
// Events are read-only values: the state a decision folds into shares their
// slices (a call's ringing devices are its CallRinging's), and a decision's
// events share the slices of the command they came from. Copy a slice before
// writing into it.
//
// Bytes that are not an event decode to an error with code malformed, never to
// a panic; FuzzDecodeBody and FuzzUnmarshal hold the codecs to that.
//
// Schema versions: every encoded body starts with the schema version that wrote
// it. SchemaVersion is the one this code writes; bodies of an older schema are
// upgraded while decoding, bodies of a newer one are refused.
package events
