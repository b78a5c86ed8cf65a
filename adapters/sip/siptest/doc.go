// Package siptest is a SIP desk phone in Go for tests of the packages
// around the SIP adapter (callengine serve, the browser tests): a Phone is
// sipgo's client and server on one UDP socket of 127.0.0.1 with a plain
// RTP endpoint (mediatest.RTPPeer). It registers and calls with digest
// authentication, answers INVITEs with its RTP endpoint, and sends ACK,
// BYE and other requests in its dialogs.
//
// It needs no network beyond loopback. The adapter's own tests have a
// phone of their own, with what only they need.
package siptest
