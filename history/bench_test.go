package history_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/history"
	"github.com/callengine/callengine/journal"
)

// Benchmarks:
//
//	go test -run '^$' -bench . -benchtime 3x ./history/
//
// Their journals are built once per process, in a temporary directory.

var benchDir = struct {
	once sync.Once
	path string
}{}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir.path != "" {
		os.RemoveAll(benchDir.path)
	}
	os.Exit(code)
}

var benchJournals sync.Map // name → *benchJournal

type benchJournal struct {
	once    sync.Once
	path    string
	records uint64
	err     error
}

// benchJournalOf builds (once) the journal called name with build and
// returns its path and number of records.
func benchJournalOf(b *testing.B, name string, build func(j *journal.Journal) error) (string, uint64) {
	b.Helper()
	benchDir.once.Do(func() {
		benchDir.path, _ = os.MkdirTemp("", "history-bench")
	})
	v, _ := benchJournals.LoadOrStore(name, &benchJournal{})
	bj := v.(*benchJournal)
	bj.once.Do(func() {
		bj.path = filepath.Join(benchDir.path, name+".db")
		j, err := journal.Open(bj.path, journal.Options{MaxBatch: 8192})
		if err != nil {
			bj.err = err
			return
		}
		bj.err = build(j)
		bj.records = j.LastSeq()
		if err := j.Close(); bj.err == nil {
			bj.err = err
		}
	})
	if bj.err != nil {
		b.Fatal(bj.err)
	}
	return bj.path, bj.records
}

// appendCalls journals calls (each a stream and its events, appended at
// once) from many goroutines, so that the journal commits them together.
func appendCalls(j *journal.Journal, n int, call func(i int) (string, time.Time, []events.Event)) error {
	const workers = 512
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	next := make(chan int, 4096)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				stream, at, evs := call(i)
				recs := make([][]byte, len(evs))
				for k, ev := range evs {
					recs[k] = events.EncodeBody(nil, at.Add(time.Duration(k)*time.Second).UnixNano(), ev)
				}
				if _, err := j.Append(context.Background(), stream, 0, recs, events.Ends(evs[len(evs)-1])); err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// BenchmarkFollower measures how fast the projection applies a journal: a
// rebuild from the first record of a journal of the mixed workload (every
// kind of call, deletes, voicemail), in batches of the default size.
func BenchmarkFollower(b *testing.B) {
	path, records := benchJournalOf(b, "mixed", func(j *journal.Journal) error {
		recs := workload(42, 20000)
		// Whole calls at once: group the records by stream, in order.
		byStream := map[string][]record{}
		var order []string
		for _, r := range recs {
			if _, ok := byStream[r.stream]; !ok {
				order = append(order, r.stream)
			}
			byStream[r.stream] = append(byStream[r.stream], r)
		}
		return appendCalls(j, len(order), func(i int) (string, time.Time, []events.Event) {
			rs := byStream[order[i]]
			evs := make([]events.Event, len(rs))
			for k, r := range rs {
				evs[k] = r.ev
			}
			return order[i], rs[0].at, evs
		})
	})
	j, err := journal.Open(path, journal.Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	dir := b.TempDir()
	b.ResetTimer()
	start, cpu := time.Now(), cpuTime()
	for i := 0; i < b.N; i++ {
		if err := history.Rebuild(context.Background(), filepath.Join(dir, fmt.Sprintf("h%d.db", i%2)), j, history.Options{}); err != nil {
			b.Fatal(err)
		}
	}
	reportEvents(b, records, start, cpu)
}

// queryHistory is a history where alice has 100,000 calls: outbound calls
// to 10,000 numbers, one a second, every fifth one missed — a call to her
// that rang out.
func queryHistory(b *testing.B) *history.History {
	const calls = 100_000
	path, _ := benchJournalOf(b, "alice100k", func(j *journal.Journal) error {
		alice := events.Party{Client: "alice", Number: "+14155550101"}
		return appendCalls(j, calls, func(i int) (string, time.Time, []events.Event) {
			at := base.Add(time.Duration(i) * time.Second)
			id := fmt.Sprintf("call/%07d", i)
			num := fmt.Sprintf("+3314455%04d", i%10000)
			if i%5 == 4 {
				return id, at, []events.Event{
					events.CallDialed{Caller: events.Party{Number: num}, Callee: alice, CallerID: num, Direction: events.Inbound},
					events.CallRinging{Devices: []string{"alice-desk"}},
					events.CallEnded{Reason: events.NoAnswer, Missed: true},
				}
			}
			return id, at, []events.Event{
				events.CallDialed{Caller: alice, Callee: events.Party{Number: num}, Direction: events.Outbound},
				events.CallRinging{},
				events.CallAnswered{},
				events.CallEnded{Reason: events.Hangup, By: events.Caller},
			}
		})
	})
	j, err := journal.Open(path, journal.Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { j.Close() })
	hpath := filepath.Join(filepath.Dir(path), "alice100k-history.db")
	h, err := history.Open(hpath, j, history.Options{Now: fixedNow})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close() })
	if err := h.CatchUp(context.Background()); err != nil {
		b.Fatal(err)
	}
	return h
}

// BenchmarkQuery lists pages of a history of 100,000 calls.
func BenchmarkQuery(b *testing.B) {
	h := queryHistory(b)
	ctx := context.Background()
	first, err := h.Calls(ctx, history.Query{Client: "alice", Limit: 1000})
	if err != nil {
		b.Fatal(err)
	}
	// An entry half-way down: 50,000 entries are newer.
	mid, err := h.Calls(ctx, history.Query{Client: "alice", To: base.Add(50_000 * time.Second), Limit: 1})
	if err != nil || len(mid) != 1 {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		q    history.Query
		want int
	}{
		{"newest-50", history.Query{Client: "alice"}, 50},
		{"newest-1000", history.Query{Client: "alice", Limit: 1000}, 1000},
		{"next-page", history.Query{Client: "alice", Before: first[len(first)-1].Cursor()}, 50},
		{"deep-page", history.Query{Client: "alice", Before: mid[0].Cursor()}, 50},
		{"missed-50", history.Query{Client: "alice", Kinds: []history.Kind{history.Missed}}, 50},
		{"time-range", history.Query{Client: "alice", From: base.Add(20_000 * time.Second), To: base.Add(20_100 * time.Second)}, 50},
		// One number in 10,000: 10 entries, the whole history scanned.
		{"number-scan-all", history.Query{Client: "alice", Number: "+33144550042"}, 10},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				got, err := h.Calls(ctx, bc.q)
				if err != nil {
					b.Fatal(err)
				}
				if len(got) != bc.want {
					b.Fatalf("%d entries, want %d", len(got), bc.want)
				}
			}
		})
	}
}

// BenchmarkFollowerLifecycle measures what the follower costs behind the
// engine's lifecycle workload (`callengine bench --workload lifecycle`):
// 1,000 callers, each with its own pair of clients, make 30 calls each one
// after the other (dial, ringing, answer, hold, resume, hang up), their
// events journaled one at a time and so interleaved as the engine's are. A
// call's events span more than one batch of the follower, as they do when
// it follows a running engine (a batch gathers 100 ms of it).
func BenchmarkFollowerLifecycle(b *testing.B) {
	const callers, callsEach = 1000, 30
	path, records := benchJournalOf(b, "lifecycle", func(j *journal.Journal) error {
		var wg sync.WaitGroup
		var ids atomic.Int64 // call ids grow with time, as the engine's ULIDs do
		errs := make(chan error, callers)
		for c := 0; c < callers; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a := events.Party{Client: fmt.Sprintf("a%04d", c), Number: fmt.Sprintf("+1415%06d", c)}
				z := events.Party{Client: fmt.Sprintf("b%04d", c), Number: fmt.Sprintf("+1416%06d", c)}
				for i := 0; i < callsEach; i++ {
					stream := fmt.Sprintf("call/%08d", ids.Add(1))
					at := base.Add(time.Duration(c*callsEach+i) * time.Second)
					evs := []events.Event{
						events.CallDialed{Caller: a, Callee: z, CallerID: a.Number},
						events.CallRinging{Devices: []string{z.Client + "-1"}},
						events.CallAnswered{Device: z.Client + "-1"},
						events.CallHeld{By: events.Caller},
						events.CallResumed{By: events.Caller},
						events.CallEnded{Reason: events.Hangup, By: events.Caller},
					}
					for k, ev := range evs {
						rec := events.EncodeBody(nil, at.Add(time.Duration(k)*time.Second).UnixNano(), ev)
						if _, err := j.Append(context.Background(), stream, uint64(k), [][]byte{rec}, events.Ends(ev)); err != nil {
							errs <- err
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		select {
		case err := <-errs:
			return err
		default:
			return nil
		}
	})
	j, err := journal.Open(path, journal.Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	dir := b.TempDir()
	b.ResetTimer()
	start, cpu := time.Now(), cpuTime()
	for i := 0; i < b.N; i++ {
		if err := history.Rebuild(context.Background(), filepath.Join(dir, fmt.Sprintf("h%d.db", i%2)), j, history.Options{}); err != nil {
			b.Fatal(err)
		}
	}
	reportEvents(b, records, start, cpu)
}

// cpuTime is the CPU time the process has used (user and system, every
// goroutine: the garbage collector's too).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportEvents reports the events applied per second and the CPU time per
// event: on a shared machine the latter is the steadier figure.
func reportEvents(b *testing.B, records uint64, start time.Time, cpu time.Duration) {
	n := float64(records) * float64(b.N)
	b.ReportMetric(n/time.Since(start).Seconds(), "events/s")
	b.ReportMetric(float64(cpuTime()-cpu)/n, "cpu-ns/event")
	b.ReportMetric(float64(records), "events/op")
}
