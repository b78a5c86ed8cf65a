// Package mediatest is a Go WebRTC client for testing and benchmarking the
// media relay: a TestPeer dials the relay (or answers it), sends 20 ms audio
// packets with a recognisable payload and RFC 4733 DTMF, and counts what it
// receives (packets per payload marker, sequence gaps, digits). RunCalls sets
// up many relayed calls between pairs of peers and measures them; the media
// tests, the WebSocket tests and `callengine bench webrtc` use it.
//
// It needs no browser and no network beyond loopback (Settings.Media with
// LoopbackOnly).
package mediatest
