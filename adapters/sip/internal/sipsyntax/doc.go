// Package sipsyntax holds the SIP adapter's pure decoders and SDP edits:
// digest credentials, registered bindings and expiries, dtmf-relay
// bodies, Refer-To and Replaces values, and the direction and origin of a
// pass-through SDP. It imports only the standard library, sipgo's sip
// package and the digest parser, never the engine or the media stack, so
// its fuzz targets run in a small test binary: the fuzzer scans the
// coverage counters of the whole binary after every execution. Every
// decoder refuses bad input with an error and never panics.
package sipsyntax
