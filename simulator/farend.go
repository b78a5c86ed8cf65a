package simulator

import (
	"strings"
	"time"

	"github.com/callengine/callengine/adapters/loopback"
	"github.com/callengine/callengine/fsm"
)

// parseBehavior reads how an outside number answers, as comma-separated
// clauses:
//
//	answer [after D]         answers D after it starts ringing (default)
//	busy [after D]           busy, at once or after ringing for D
//	no-answer [after D]      rings until the engine's ring timeout, or gives up after D
//	fail [after D]           fails (network error, bad number)
//	reject [after D]         declines
//	manual                   does nothing: steps act for it with "far …"
//	ring after D             starts ringing D after the call is placed
//	silent                   never rings before its outcome
//	hang up after D          hangs up D after answering
//	messages after D         delivers text messages D after they are sent (default at once)
//	messages fail [REASON]   fails every text message (reason "rejected" by default)
func parseBehavior(line int, s string) (loopback.Behavior, error) {
	b := loopback.Behavior{Outcome: loopback.Answer}
	outcomes := map[string]loopback.Outcome{
		"answer": loopback.Answer, "busy": loopback.Busy, "no-answer": loopback.NoAnswer,
		"fail": loopback.Fail, "reject": loopback.Reject, "manual": loopback.Manual,
	}
	seen := false
	for _, clause := range strings.Split(s, ",") {
		w := strings.Fields(clause)
		after := func(i int) (time.Duration, bool) {
			if len(w) != i+2 || w[i] != "after" {
				return 0, false
			}
			d, err := time.ParseDuration(w[i+1])
			return d, err == nil && d >= 0
		}
		switch {
		case len(w) == 0:
			return b, malformed(line, "far end %q: empty clause", s)
		case outcomes[w[0]] != 0 || w[0] == "answer":
			if seen {
				return b, malformed(line, "far end %q: two outcomes", s)
			}
			seen = true
			b.Outcome = outcomes[w[0]]
			if len(w) == 1 {
				break
			}
			d, ok := after(1)
			if !ok || b.Outcome == loopback.Manual {
				return b, malformed(line, "far end %q: %q", s, strings.TrimSpace(clause))
			}
			if b.Outcome == loopback.Answer {
				b.AnswerAfter = d
			} else {
				b.RingFor = d
			}
		case w[0] == "ring":
			d, ok := after(1)
			if !ok {
				return b, malformed(line, "far end %q: want ring after <duration>", s)
			}
			b.RingAfter = d
		case w[0] == "silent" && len(w) == 1:
			b.RingAfter = -1
		case w[0] == "messages" && len(w) > 1 && w[1] == "after":
			d, ok := after(1)
			if !ok {
				return b, malformed(line, "far end %q: want messages after <duration>", s)
			}
			b.MessageAfter = d
		case w[0] == "messages" && len(w) > 1 && w[1] == "fail":
			switch len(w) {
			case 2:
				b.MessageFailure = "rejected"
			case 3:
				b.MessageFailure = w[2]
			default:
				return b, malformed(line, "far end %q: want messages fail [<reason>]", s)
			}
		case w[0] == "hang" && len(w) > 1 && w[1] == "up":
			d, ok := after(2)
			if !ok {
				return b, malformed(line, "far end %q: want hang up after <duration>", s)
			}
			b.HangupAfter = d
		default:
			return b, malformed(line, "far end %q: unknown clause %q", s, strings.TrimSpace(clause))
		}
	}
	return b, nil
}

// farNumber is the key the loopback adapter scripts a number under: E.164
// numbers normalised as the engine routes them.
func farNumber(s string) string {
	if n, ok := fsm.NormalizeNumber(s); ok {
		return n
	}
	return s
}
