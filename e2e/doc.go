// Package e2e tests callengine serve with its real parts: the callengine
// binary runs as a child process (engine, journal, WebSocket adapter, media
// relay), and headless Chromium runs the softphone page of server/web for
// each person (one browser, one tab per person), with fake microphones.
// The tests click the page's buttons, read what the page shows through its
// window.softphone hook, and measure audio with RTCPeerConnection.getStats.
//
// The sipjs tests run a browser SIP stack instead: JsSIP over SIP over
// WebSocket (sip.ws), in two tabs (sipjs_test.go), with a desk phone in Go
// over UDP both ways and across a SIGKILL of serve (sipjs_phone_test.go,
// sipjs_restart_test.go: the phone is adapters/sip/siptest's), and with
// the softphone page (sipjs_softphone_test.go). Its bundle is
// built by e2e/sipjs/build.sh (node, npm and the npm registry) outside the
// namespace and passed in CALLENGINE_SIPJS_BUNDLE (test.sh does both);
// without the variable the test runs build.sh itself.
//
// The package has no non-test code. It needs /usr/bin/chromium (or
// CALLENGINE_CHROMIUM) and the go command to build cmd/callengine (or a
// binary in CALLENGINE_BIN). It runs on loopback only, so it works inside a
// network namespace with nothing but lo:
//
//	go test -c -o e2e.test ./e2e
//	unshare -n sh -c 'ip link set lo up && ./e2e.test -test.v'
//
// The binary is built from the source tree at run time, which go test's
// cache does not see: run the package with -count=1.
package e2e
