// Package sip serves SIP phones (FEATURES M3, CL2; issue 14) through
// github.com/emiago/sipgo: a registrar with digest authentication, calls
// from a registered phone into the engine, and calls from the engine to a
// client's phones. docs/sip.md documents what works, the configuration, the
// mapping of SIP status codes to end reasons, and what is missing.
//
// Data enters and leaves in two ways:
//
//   - in: sipgo's server hands each request to a handler (registrar.go,
//     invite_in.go, bye.go, cancel.go, options.go), each behind the check
//     of the extensions a request requires (require.go: 420 Bad
//     Extension for any but replaces); a handler checks the
//     request (digest, SDP, destination — decoders in auth_digest.go,
//     contact.go, destination.go, fuzzed) and turns it into one engine
//     command made under the client's Principal (Dial, Answer, Hangup,
//     Reject, ConnectDevice, DisconnectDevice);
//   - out: the engine's call events (CallRinging, CallAnswered, CallEnded)
//     are read in order on one goroutine (events.go) and become SIP
//     messages: provisional and final responses to the caller's INVITE, an
//     INVITE to each SIP device that rings (forking, invite_out.go),
//     CANCEL and BYE.
//
// A registered binding is a device of its client (Kind "sip"); its Contact
// field holds the contact URI and its expiry, so the binding survives a
// restart in the journal. Dialogs (dialog.go) are our own records (Call-ID,
// tags, CSeq, remote target, route set), kept in memory for this slice.
//
// Media: with Settings.Media (the relay; serve gives one), a SIP leg
// toward a browser or a trunk, and with RelayPhones a leg between two
// phones, is a plain RTP leg of the relay (media.go, media_anchor.go,
// media_trunk.go; after a restart media_restore.go builds it again on its
// port): the relay answers and offers, and the leg follows its phone
// across transfers and park. Without them the SDP of one phone passes to
// the other (the phones exchange RTP directly); sdp.go is the one place
// that decides which SDP a leg gets.
//
// With Settings.MediaTimeout, a relayed leg that falls silent while its
// call is connected is hung up on its side (media_timeout.go).
//
// Transactions over UDP linger TransactionLinger (5 s) once over, not
// 64×T1 (transaction_timers.go).
//
// Trunks (trunk.go, trunk_out.go, trunk_in.go): Trunks is the engine's
// Adapter (far end) for numbers outside — a CallDialed outbound becomes an
// INVITE to an upstream trunk (digest answered with the trunk's
// credentials), an INVITE from a trunk's addresses an engine Inbound; an
// uncredentialed INVITE to an organisation's number from an unknown
// address gets 403. Adapter.SetTrunks links them before Start. The
// adapter registers to the trunks that want it (trunk_register.go), probes
// those with Qualify with OPTIONS (trunk_qualify.go: a trunk that does not
// answer is tried last), and hands a call that fails on one trunk before
// ringing to the next (failover, trunk_out.go).
//
// The package decides nothing about calls: every decision is the engine's.
package sip
