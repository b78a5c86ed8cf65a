// Package wsclient is a Go client of the WebSocket protocol of package
// adapters/ws (docs/websocket-protocol.md): it logs in, sends requests and
// waits for their replies, hands the server's events to its caller, and
// carries a call's WebRTC signalling for a media peer (media/mediatest's
// TestPeer, or anything with the Peer interface).
//
// It drives the protocol tests of callengine serve and the webrtc workload
// of callengine bench; a Go program that acts as a softphone can use it too.
//
// Data enters through Dial (a WebSocket to the server) and leaves as
// replies (Do), events (Next, Events) and the candidates handed to a call's
// Peer.
package wsclient
