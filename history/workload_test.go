package history_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/journal"
)

// record is one event of a generated workload, for the stream it goes to.
type record struct {
	stream string
	at     time.Time
	ev     events.Event
}

var workloadClients = []string{"alice", "bob", "carol", "dave", "erin", "frank"}

// script is the events of one call, in order, as a function of its start.
type script []func(at time.Time) record

// workload generates calls of every kind the history knows — answered with
// holds, rejected, canceled, rung out, outbound, inbound, ring-all answered
// or not, parked and taken, sent to voicemail, transferred — interleaved as
// concurrent calls are, with deletes and voicemail marks among them. The
// same seed gives the same records.
func workload(seed uint64, calls int) []record {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	now := base
	var out []record
	type live struct {
		id    string
		steps []record
	}
	var running []*live
	var ended []string
	history := map[string][]string{}
	boxes := map[string][]string{}
	pick := func() string { return workloadClients[rng.IntN(len(workloadClients))] }
	other := func(not string) string {
		for {
			if c := pick(); c != not {
				return c
			}
		}
	}
	num := func(c string) string { return fmt.Sprintf("+1415555%04d", 100+len(c)*7) }
	for n := 0; n < calls || len(running) > 0; {
		now = now.Add(time.Duration(rng.IntN(3000)+1) * time.Millisecond)
		if n < calls && (len(running) < 8 && rng.IntN(3) > 0 || len(running) == 0) {
			id := fmt.Sprintf("c%06d", n)
			n++
			s := "call/" + id
			a, b := pick(), ""
			b = other(a)
			ev := func(e events.Event) record { return record{stream: s, ev: e} }
			dialed := events.CallDialed{Caller: events.Party{Client: a, Number: num(a)}, Callee: events.Party{Client: b, Number: num(b)}, CallerID: num(a)}
			var steps []record
			switch k := rng.IntN(10); k {
			case 0, 1: // answered, maybe held, hung up
				steps = []record{ev(dialed), ev(events.CallRinging{Devices: []string{b + "-desk"}}), ev(events.CallAnswered{Device: b + "-desk"})}
				if rng.IntN(2) == 0 {
					steps = append(steps, ev(events.CallHeld{By: events.Callee}), ev(events.CallMuted{Side: events.Caller}), ev(events.CallResumed{By: events.Callee}))
				}
				steps = append(steps, ev(events.CallEnded{Reason: events.Hangup, By: events.Side(1 + rng.IntN(2))}))
			case 2: // rejected
				steps = []record{ev(dialed), ev(events.CallRinging{Devices: []string{b + "-desk"}}), ev(events.CallEnded{Reason: events.Rejected, By: events.Callee})}
			case 3: // canceled or rung out
				r := events.Canceled
				if rng.IntN(2) == 0 {
					r = events.NoAnswer
				}
				steps = []record{ev(dialed), ev(events.CallRinging{Devices: []string{b + "-desk"}}), ev(events.CallEnded{Reason: r, Missed: true})}
			case 4: // outbound or inbound
				if rng.IntN(2) == 0 {
					dialed.Callee, dialed.Direction = events.Party{Number: fmt.Sprintf("+3314455%04d", rng.IntN(10000))}, events.Outbound
					steps = []record{ev(dialed), ev(events.CallRinging{}), ev(events.CallAnswered{}), ev(events.CallEnded{Reason: events.Hangup, By: events.Caller})}
				} else {
					dialed.Caller, dialed.Direction = events.Party{Number: fmt.Sprintf("+1212555%04d", rng.IntN(10000))}, events.Inbound
					dialed.CallerID = dialed.Caller.Number
					steps = []record{ev(dialed), ev(events.CallRinging{Devices: []string{b + "-desk"}}), ev(events.CallEnded{Reason: events.NoAnswer, Missed: true})}
				}
			case 5: // ring-all group
				dialed.Callee, dialed.Group = events.Party{Number: "+14155550150"}, "sales"
				m1, m2 := other(a), ""
				for m2 = other(a); m2 == m1; m2 = other(a) {
				}
				steps = []record{ev(dialed), ev(events.CallRinging{Devices: []string{m1 + "/" + m1 + "-desk", m2 + "/" + m2 + "-web"}})}
				if rng.IntN(2) == 0 {
					steps = append(steps, ev(events.CallAnswered{Device: m2 + "/" + m2 + "-web"}), ev(events.CallEnded{Reason: events.Hangup, By: events.Callee}))
				} else {
					steps = append(steps, ev(events.CallEnded{Reason: events.NoAnswer, Missed: true}))
				}
			case 6: // parked and taken by a third client
				c := other(b)
				steps = []record{ev(dialed), ev(events.CallRinging{Devices: []string{b + "-desk"}}), ev(events.CallAnswered{Device: b + "-desk"}),
					ev(events.CallParked{Side: events.Caller, By: events.Callee, Slot: "701"}),
					ev(events.CallUnparked{Party: events.Party{Client: c}, Device: c + "-desk"}),
					ev(events.CallEnded{Reason: events.Hangup, By: events.Caller})}
			case 7: // voicemail
				dialed.VoicemailLimit = int64(2 * time.Minute)
				steps = []record{ev(dialed), ev(events.CallRinging{Devices: []string{b + "-desk"}}),
					ev(events.CallToVoicemail{Reason: events.Rejected, Deadline: now.Add(2 * time.Minute).UnixNano()}),
					ev(events.VoicemailLeft{Client: b, From: dialed.Caller, Duration: int64(time.Duration(rng.IntN(60)) * time.Second)}),
					ev(events.CallEnded{Reason: events.Voicemail, By: events.Caller, Missed: true})}
				boxes[b] = append(boxes[b], id)
			case 8: // transferred away
				steps = []record{ev(dialed), ev(events.CallRinging{Devices: []string{b + "-desk"}}), ev(events.CallAnswered{Device: b + "-desk"}),
					ev(events.CallEnded{Reason: events.Transferred, By: events.Callee})}
			default: // a born-connected call of a transfer
				dialed.Transfer = "t" + id
				steps = []record{ev(dialed), ev(events.CallAnswered{Device: b + "-desk"}), ev(events.CallEnded{Reason: events.Hangup, By: events.Caller})}
			}
			for _, c := range []string{a, b} {
				history[c] = append(history[c], id)
			}
			running = append(running, &live{id: id, steps: steps})
		}
		// Advance one running call by one event.
		if len(running) > 0 {
			i := rng.IntN(len(running))
			l := running[i]
			r := l.steps[0]
			r.at = now
			out = append(out, r)
			l.steps = l.steps[1:]
			if len(l.steps) == 0 {
				running = append(running[:i], running[i+1:]...)
				ended = append(ended, l.id)
			}
		}
		// Now and then a client deletes calls or hears and deletes messages.
		if rng.IntN(20) == 0 {
			c := pick()
			if h := history[c]; len(h) > 0 {
				id := h[rng.IntN(len(h))]
				out = append(out, record{stream: "client/" + c, at: now, ev: events.HistoryDeleted{Calls: []string{id}}})
			}
			if b := boxes[c]; len(b) > 0 {
				id := b[rng.IntN(len(b))]
				var e events.Event = events.VoicemailHeard{Calls: []string{id}}
				if rng.IntN(3) == 0 {
					e = events.VoicemailDeleted{Calls: []string{id}}
				}
				out = append(out, record{stream: "client/" + c, at: now, ev: e})
			}
		}
	}
	return out
}

// journalOf appends records to j, as many at a time in flight as workers
// (the journal commits them together), keeping each stream in order.
func journalOf(t testing.TB, j *journal.Journal, recs []record, workers int) {
	t.Helper()
	versions := map[string]uint64{}
	if workers <= 1 {
		for _, r := range recs {
			appendRecord(t, j, versions, r)
		}
		return
	}
	// Streams are spread over the workers by name: each stream's records
	// go in order through one worker.
	chans := make([]chan record, workers)
	var wg sync.WaitGroup
	var mu sync.Mutex
	errs := []error{}
	for w := range chans {
		chans[w] = make(chan record, 1024)
		wg.Add(1)
		go func(ch chan record) {
			defer wg.Done()
			local := map[string]uint64{}
			for r := range ch {
				v := local[r.stream]
				if _, err := j.Append(context.Background(), r.stream, v, [][]byte{events.EncodeBody(nil, r.at.UnixNano(), r.ev)}, events.Ends(r.ev)); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
				local[r.stream] = v + 1
			}
		}(chans[w])
	}
	for _, r := range recs {
		h := 0
		for i := 0; i < len(r.stream); i++ {
			h = h*31 + int(r.stream[i])
		}
		chans[(h&0x7fffffff)%workers] <- r
	}
	for _, ch := range chans {
		close(ch)
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
}

func appendRecord(t testing.TB, j *journal.Journal, versions map[string]uint64, r record) uint64 {
	t.Helper()
	v := versions[r.stream]
	seq, err := j.Append(context.Background(), r.stream, v, [][]byte{events.EncodeBody(nil, r.at.UnixNano(), r.ev)}, events.Ends(r.ev))
	if err != nil {
		t.Fatal(err)
	}
	versions[r.stream] = v + 1
	return seq
}
