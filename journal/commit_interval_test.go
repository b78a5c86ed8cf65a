package journal

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// A commit interval gathers the appends of callers that keep appending into
// fewer commits, and loses none of them.
func TestCommitIntervalGathersAppends(t *testing.T) {
	path := tempPath(t)
	j := mustOpen(t, path, Options{CommitInterval: 20 * time.Millisecond})
	const writers, each = 8, 10
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for v := 0; v < each; v++ {
				time.Sleep(time.Duration(1+w%3) * time.Millisecond) // the callers' own work between appends
				if _, err := j.Append(bg, streamName(w), uint64(v), [][]byte{[]byte(fmt.Sprint(w, "/", v))}, false); err != nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	st := j.Stats()
	if st.Appends != writers*each {
		t.Fatalf("stats %+v", st)
	}
	// Without the interval, each of the 100 appends could be a commit of
	// its own; with it, a commit waits 20 ms for the others, which append
	// again within microseconds of their answer.
	t.Logf("%d commits", st.Batches)
	if st.Batches > writers*each/2 {
		t.Fatalf("%d commits for %d appends: the interval gathered nothing", st.Batches, st.Appends)
	}
	must(t, j.Close())
	j = mustOpen(t, path, Options{})
	defer j.Close()
	for w := 0; w < writers; w++ {
		got := readAll(t, j, streamName(w), 0)
		if len(got) != each {
			t.Fatalf("stream %d: %d records", w, len(got))
		}
		for v, r := range got {
			if string(r.Data) != fmt.Sprint(w, "/", v) {
				t.Fatalf("stream %d record %d: %q", w, v, r.Data)
			}
		}
	}
}

// A caller alone in flight is never held, however long the interval: its
// appends would otherwise each wait an hour.
func TestCommitIntervalDoesNotHoldALoneAppend(t *testing.T) {
	j := mustOpen(t, tempPath(t), Options{CommitInterval: time.Hour})
	defer j.Close()
	for v := 0; v < 5; v++ {
		if _, err := j.Append(bg, "lone", uint64(v), [][]byte{[]byte("x")}, false); err != nil {
			t.Fatal(err)
		}
	}
	if st := j.Stats(); st.Batches != 5 {
		t.Fatalf("%d commits for 5 lone appends", st.Batches)
	}
}

func TestHoldCommit(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		interval, since time.Duration
		batched         int
		inFlight        int64
		want            time.Duration
	}{
		{0, 0, 5, 9, 0},           // no interval
		{2 * ms, 0, 1, 1, 0},      // alone in flight
		{2 * ms, 0, 1, 3, 2 * ms}, // others on their way
		{2 * ms, ms / 2, 4, 4, 3 * ms / 2},
		{2 * ms, 3 * ms, 4, 4, 0},                // the interval has passed
		{2 * ms, 0, holdLimit, holdLimit + 5, 0}, // a batch that pays for its commit
	} {
		if got := holdCommit(c.interval, c.since, c.batched, c.inFlight); got != c.want {
			t.Errorf("holdCommit(%v, %v, %d, %d) = %v, want %v", c.interval, c.since, c.batched, c.inFlight, got, c.want)
		}
	}
}
