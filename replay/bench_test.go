package replay_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/journal"
	"github.com/callengine/callengine/replay"
)

const (
	benchClients = 2_000  // clients, in pairs that call each other
	benchCalls   = 20_000 // complete calls: 6 events each in 5 appends
	benchWriters = 100    // goroutines appending at once (group commit)
)

// benchJournal writes a journal of benchClients registrations and benchCalls
// complete calls (dial + ringing, answer, hold, resume, hang up: 122,000
// events), appended straight to the journal by benchWriters goroutines so
// that the calls' events interleave as they would in an engine's journal.
func benchJournal(b *testing.B) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "journal.db")
	j, err := journal.Open(path, journal.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	base := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC).UnixNano()
	appendAt := func(stream string, version uint64, at int64, evs ...events.Event) error {
		recs := make([][]byte, len(evs))
		for i, ev := range evs {
			recs[i] = events.EncodeBody(nil, at, ev)
		}
		_, err := j.Append(ctx, stream, version, recs, events.Ends(evs[len(evs)-1]))
		return err
	}
	var wg sync.WaitGroup
	errs := make(chan error, benchWriters)
	for w := 0; w < benchWriters; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for c := w; c < benchClients; c += benchWriters {
				id := fmt.Sprintf("agent-%04d", c)
				reg := events.ClientRegistered{Name: id, Extensions: []string{fmt.Sprint(1000 + c)},
					Devices: []events.Device{{ID: id + "-desk", Kind: "sip"}, {ID: id + "-web", Kind: "webrtc"}}, AcceptInbound: true}
				if err := appendAt("client/"+id, 0, base, reg); err != nil {
					errs <- err
					return
				}
			}
			for n := w; n < benchCalls; n += benchWriters {
				pair := n % (benchClients / 2)
				caller, callee := fmt.Sprintf("agent-%04d", 2*pair), fmt.Sprintf("agent-%04d", 2*pair+1)
				stream := fmt.Sprintf("call/bench-%06d", n)
				at := base + int64(n)*int64(time.Second)
				sec := int64(time.Second)
				steps := []struct {
					at  int64
					evs []events.Event
				}{
					{at, []events.Event{
						events.CallDialed{Caller: events.Party{Client: caller, Number: fmt.Sprint(1000 + 2*pair)},
							Callee: events.Party{Client: callee, Number: fmt.Sprint(1001 + 2*pair)}, CallerDevice: caller + "-desk",
							Destination: fmt.Sprint(1001 + 2*pair)},
						events.CallRinging{Devices: []string{callee + "-desk", callee + "-web"}, Deadline: at + 60*sec},
					}},
					{at + 2*sec, []events.Event{events.CallAnswered{Device: callee + "-web"}}},
					{at + 10*sec, []events.Event{events.CallHeld{By: events.Caller}}},
					{at + 20*sec, []events.Event{events.CallResumed{By: events.Caller}}},
					{at + 60*sec, []events.Event{events.CallEnded{Reason: events.Hangup, By: events.Callee}}},
				}
				var v uint64
				for _, s := range steps {
					if err := appendAt(stream, v, s.at, s.evs...); err != nil {
						errs <- err
						return
					}
					v += uint64(len(s.evs))
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	if err := j.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkReplay measures replay over a journal of 122,000 events built once:
// Calls (scan, decode and fold every call stream), At (every stream, clients
// included, up to an instant past the end) and Verify (rebuild each command,
// decide it again, compare, fold). Each reports events/s. The target for
// replay is ≥ 1,000,000 events/s.
func BenchmarkReplay(b *testing.B) {
	path := benchJournal(b)
	l, err := replay.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	total := float64(l.LastSeq())
	runtime.GC() // the garbage of building the journal is not replay's
	report := func(b *testing.B) {
		b.ReportMetric(total*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(total, "events/op")
	}
	b.Run("Calls", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			calls, err := l.Calls(replay.Filter{})
			if err != nil || len(calls) != benchCalls {
				b.Fatalf("%d calls, %v", len(calls), err)
			}
		}
		report(b)
	})
	b.Run("At", func(b *testing.B) {
		end := time.Date(2026, 1, 6, 0, 0, 0, 0, time.UTC)
		for i := 0; i < b.N; i++ {
			s, err := l.At(end)
			if err != nil || len(s.Calls) != benchCalls || len(s.Clients) != benchClients {
				b.Fatalf("%d calls, %d clients, %v", len(s.Calls), len(s.Clients), err)
			}
		}
		report(b)
	})
	b.Run("Verify", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			r, err := l.Verify()
			if err != nil || !r.OK() {
				b.Fatalf("%v %v", err, r.Divergences)
			}
		}
		report(b)
	})
}
