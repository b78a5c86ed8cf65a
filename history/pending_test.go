package history_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/history"
)

// Entries changed since the last flush of the file are held in memory and
// the queries read the file through them: a history whose file holds the
// first half of the journal, the rest held, answers every query — pages,
// filters, NotInHistory — as one whose file holds it all.
func TestHeldEntriesAnswerAsTheFile(t *testing.T) {
	dir := t.TempDir()
	j := openJournal(t, filepath.Join(dir, "journal.db"))
	recs := workload(11, 300)
	versions := map[string]uint64{}
	for _, r := range recs[:len(recs)/2] {
		appendRecord(t, j, versions, r)
	}
	// Batches of one record: only those that change a voicemail message
	// flush the file.
	h, err := history.Open(filepath.Join(dir, "history.db"), j, history.Options{Now: fixedNow, BatchSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := h.CatchUp(context.Background()); err != nil { // flushes the file
		t.Fatal(err)
	}
	for _, r := range recs[len(recs)/2:] {
		appendRecord(t, j, versions, r)
	}
	// The queries apply the rest themselves, into memory (no follower).
	if err := history.Rebuild(context.Background(), filepath.Join(dir, "flushed.db"), j, history.Options{}); err != nil {
		t.Fatal(err)
	}
	flushed := openHistory(t, filepath.Join(dir, "flushed.db"), j, fixedNow)
	defer flushed.Close()

	var calls []string
	for _, r := range recs {
		if id, ok := strings.CutPrefix(r.stream, "call/"); ok {
			calls = append(calls, id)
		}
	}
	var queries []history.Query
	for _, c := range workloadClients {
		queries = append(queries,
			history.Query{Client: c, Limit: 7},
			history.Query{Client: c, Limit: 5, Kinds: []history.Kind{history.Missed}},
			history.Query{Client: c, Limit: 4, Reasons: []events.Reason{events.Hangup}},
			history.Query{Client: c, Limit: 6, Number: "0135"},
			history.Query{Client: c, Limit: 3, From: base.Add(40 * time.Minute), To: base.Add(3 * time.Hour)},
		)
	}
	list := func(h *history.History, q history.Query) string {
		var b strings.Builder
		for page := 0; page < 1000; page++ {
			got, err := h.Calls(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				fmt.Fprintf(&b, "%s\n", formatEntry(&got[i]))
			}
			if len(got) < q.Limit {
				break
			}
			q.Before = got[len(got)-1].Cursor()
		}
		return b.String()
	}
	lines := 0
	for _, q := range queries {
		want, got := list(flushed, q), list(h, q)
		if got != want {
			t.Errorf("query %+v:\n%s", q, diff(want, got))
		}
		lines += strings.Count(want, "\n")
	}
	if lines < 200 {
		t.Fatalf("only %d entries listed", lines)
	}
	for _, c := range workloadClients {
		want, err := flushed.NotInHistory(context.Background(), c, calls)
		if err != nil {
			t.Fatal(err)
		}
		got, err := h.NotInHistory(context.Background(), c, calls)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: NotInHistory = %v, want %v", c, got, want)
		}
	}
}
