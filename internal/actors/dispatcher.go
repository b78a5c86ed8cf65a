package actors

// InlineDispatcher runs a mailbox on the goroutine that posts to it: the
// caller of a command runs the actor's handler itself, up to Throughput
// messages per run, with no hand-over to another goroutine and no wake-up.
// A mailbox still runs one message at a time: a message posted while its
// actor runs is queued and handled by the goroutine already running it.
// With one goroutine posting, actors are stepped in one order on every run:
// the simulator's journals are byte-identical.
type InlineDispatcher struct{ Messages int }

// Schedule implements actor.Dispatcher: it runs fn now.
func (d InlineDispatcher) Schedule(fn func()) { fn() }

// Throughput implements actor.Dispatcher.
func (d InlineDispatcher) Throughput() int {
	if d.Messages <= 0 {
		return 300
	}
	return d.Messages
}
