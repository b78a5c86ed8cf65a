// Package ws serves the JSON WebSocket protocol for browsers (FEATURES M1,
// M2, CL3, CL4, CL5, CL10, H2, H4), documented message by message in
// docs/websocket-protocol.md.
//
// A Handler is an http.Handler. It upgrades a request to a WebSocket
// (refusing a foreign Origin with 403), and runs one connection per socket:
//
//   - in: frames are decoded by Decode, a pure function, into a Request;
//     the connection's loop turns each request into one engine call made
//     under the connection's Principal (commands.go), and answers it with
//     one reply or one error;
//   - out: the engine's events for the connection's session (its client's
//     calls, subscribed lines, presence) are translated in order on the
//     same loop into event messages (events.go), each carrying the event's
//     Seq as "id";
//   - media: the WebRTC side of each call is a leg of the media relay
//     (Media, media.go): SDP offers and answers and trickle ICE are passed
//     between the browser and the relay, and call events become relay
//     operations (connect, hold, mute, DTMF, close).
//
// A connection is a device of its client (kind "webrtc") for as long as it
// is open, and a connection of its session: when the socket drops, the
// session's grace timer keeps the session, and a reconnect that restores it
// gets the live calls back and re-offers their media.
//
// The package decides nothing about calls: every decision is the engine's.
package ws
