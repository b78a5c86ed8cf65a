// Package simulator runs scenarios against the real engine on a virtual
// clock, with seeded ids and every actor scheduled on the simulator's own
// goroutine, so that a scenario writes a byte-identical journal on every run
// (FEATURES E2).
//
// A scenario (YAML, see docs/scenarios.md) names clients and their devices,
// scripts the far end of outside numbers (rings, answers after N s, busy, no
// answer, hangs up, fails), and lists timed steps: commands issued on behalf
// of clients or of the far end, faults (crash the engine and reopen it from
// its journal; lose or delay an adapter message) and expectations (the state
// of calls and clients, the events since the last check, the whole timeline).
// Call control has its verbs too — blind, attended and supervised transfers,
// park and unpark, merge, swap, DTMF, recording, click-to-call, text
// messages — and groups are defined in the scenario's header. So do
// sessions (created, restored, closed, destroyed, subscribed to lines, with
// auto-answer), presence and voicemail boxes; the simulator follows each
// session's events as its client's connection would. What a command
// creates is named by a label: t1.consult and t1.new are the calls of
// transfer t1, s1 a session.
//
// Data enters as a Scenario (Parse, Load, or Generate for a random one) and
// leaves as a Result: the timeline as text, the unmet expectations and broken
// invariants, and the sha256 digest of the journal. Run drives package engine
// — the production code path — through its public API, with the loopback
// adapter as the far end behind a network that can drop or delay messages.
//
// After every step Run checks invariants: no event follows the end of a
// call, a transfer, a message or a session, a call is answered on at most
// one device, the engine's state (calls, clients, transfers, groups,
// messages, sessions) equals the fold of its journal, a session is in
// grace exactly when it has no connection and its grace deadline is still
// to come, a call in voicemail is off its callee's calls and before its
// box's deadline, every client's calls and presence are what the journal
// says, a refused command writes nothing and has a stable error code, and
// the state after a crash and restore equals the state before it.
// At the end the journal is re-verified with package replay against the
// current fsm/.
package simulator
