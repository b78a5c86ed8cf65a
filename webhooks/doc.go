// Package webhooks delivers engine events to HTTP endpoints (FEATURES H3):
// new calls, ended calls, voicemail left and text messages, POSTed as JSON,
// signed with an HMAC header, retried with backoff, at least once.
//
// Data enters from the journal, not from the engine's in-memory bus: a
// Dispatcher follows the journal (journal.Scan, then journal.WaitFor) with
// one goroutine and one cursor per endpoint, so an event is sent only once it
// is durable, and an endpoint that is slow or down delays only its own
// cursor — never a call, never another endpoint.
//
// Data leaves as one POST per event, in journal order, one at a time per
// endpoint. The body is a Delivery in JSON:
//
//	{"id":"call/c-1@1","kind":"call.created","seq":3,"time":"2026-01-05T09:00:00Z",
//	 "stream":"call/c-1","type":"CallDialed","data":{…the event…}}
//
// with the headers Content-Type: application/json, X-Callengine-Event-Id (the
// id), X-Callengine-Timestamp (Unix seconds) and X-Callengine-Signature
// ("v1=" + hex HMAC-SHA256(secret, timestamp + "." + body)). A receiver checks
// them with Verify and de-duplicates by the id, which is the same for every
// try of an event and across restarts.
//
// A 2xx answer delivers the event. Anything else — another status, a
// transport error, no answer within Options.Timeout — is tried again after
// MinBackoff, doubling up to MaxBackoff (a longer Retry-After is honoured up
// to MaxBackoff), up to MaxAttempts tries; then the event is dead: logged at
// warn level with its id, counted in Stats, and delivery moves on.
//
// Each endpoint's cursor is kept in Options.StatePath, written atomically
// after events are done. A crash loses no event: at worst the events since
// the last write are sent again. A new endpoint starts at the journal's end
// (it does not receive the history). Times — timeouts, backoff, signature
// timestamps — come from Options.Clock, so a virtual clock drives retries in
// tests and simulations.
//
// An engine starts a Dispatcher for engine.Config.Webhooks; see
// docs/webhooks.md.
package webhooks
