// Package adapters holds the adapters that connect callengine to parties
// outside it. An adapter implements engine.Adapter: it hears every durable
// event of the calls it carries and reports what the far end does through
// engine.FarEnd. Adapters translate protocols; they decide nothing.
//
// Subpackages:
//
//	loopback — an in-process far end, scripted per number, for tests,
//	           examples and the simulator.
//	ws       — the JSON WebSocket protocol and WebRTC media for browsers.
//	sip      — SIP phones through sipgo: registrar, calls from and to
//	           them (docs/sip.md).
package adapters
