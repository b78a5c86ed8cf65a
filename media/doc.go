// Package media is callengine's WebRTC audio relay, built on pion/webrtc.
//
// Every leg (a browser tab, a Go client) ends on the relay: one peer
// connection with one incoming audio track, the peer's, and one outgoing
// track with a fixed SSRC for the leg's life. The relay forwards RTP between
// the legs it is told to connect, transcoding only between G.711's two
// laws: the payload type is kept (mapped to the other leg's numbers), so
// telephone-events forward as DTMF, and a leg re-connected to another source
// (a transfer, a swap) sees one stream with continuous sequence numbers and
// timestamps. In a conference (Join) of three or more, a WebRTC leg gets a
// track per other member and an RTP leg, which takes one stream, the mix of
// the others (G.711 decoded, summed, encoded).
//
// A leg is made by AnswerOffer (the peer dials) or CreateOffer then
// AcceptAnswer (the engine dials); ICE candidates trickle both ways through
// AddICECandidate and LegEvents.Candidate. Connect, Disconnect, Echo,
// SetMuted, SetHeld and SendDTMF say what flows; LegEvents.DTMF reports the
// digits a peer sends.
//
// The relay owns sockets and goroutines but decides nothing about calls: it
// is told what to do, by the adapters that translate the engine's events.
package media
