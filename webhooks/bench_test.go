package webhooks_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/webhooks"
)

// backlog appends n CallDialed events to a fresh journal, 1000 to an append,
// and returns a state file that puts the endpoint "bench" before them.
func backlog(b *testing.B, n int) (*eventLog, string) {
	b.Helper()
	l := newLog(b)
	ev := events.CallDialed{Caller: alice, Callee: bob, Destination: "102", Direction: events.Internal}
	for done := 0; done < n; {
		batch := make([]events.Event, min(1000, n-done))
		for i := range batch {
			batch[i] = ev
		}
		l.add(fmt.Sprintf("call/c%d", done), t0, batch...)
		done += len(batch)
	}
	statePath := filepath.Join(b.TempDir(), "webhooks.json")
	if err := os.WriteFile(statePath, []byte(`{"version":1,"cursors":{"bench":0}}`), 0o600); err != nil {
		b.Fatal(err)
	}
	return l, statePath
}

// BenchmarkDeliver measures deliveries to a fast endpoint on loopback (it
// reads the body and answers 204), one request at a time, from a backlog.
func BenchmarkDeliver(b *testing.B) {
	l, statePath := backlog(b, b.N)
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		got.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	b.ResetTimer()
	began := time.Now()
	d, err := webhooks.Start(l.j, []webhooks.Endpoint{{ID: "bench", URL: srv.URL, Secret: []byte("k")}}, webhooks.Options{StatePath: statePath})
	if err != nil {
		b.Fatal(err)
	}
	for d.Stats()[0].Delivered < uint64(b.N) {
		time.Sleep(100 * time.Microsecond)
	}
	elapsed := time.Since(began)
	b.StopTimer()
	if err := d.Close(); err != nil {
		b.Fatal(err)
	}
	if got.Load() != int64(b.N) {
		b.Fatalf("%d requests for %d events", got.Load(), b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "deliveries/s")
}

// BenchmarkSkip measures how fast an endpoint's cursor moves over events of
// kinds it does not take (read from the journal, decoded, skipped).
func BenchmarkSkip(b *testing.B) {
	l, statePath := backlog(b, b.N)
	b.ResetTimer()
	began := time.Now()
	d, err := webhooks.Start(l.j, []webhooks.Endpoint{{ID: "bench", URL: "http://127.0.0.1:1/", Secret: []byte("k"), Events: []string{webhooks.KindCallEnded}}},
		webhooks.Options{StatePath: statePath})
	if err != nil {
		b.Fatal(err)
	}
	for d.Stats()[0].Lag > 0 {
		time.Sleep(100 * time.Microsecond)
	}
	elapsed := time.Since(began)
	b.StopTimer()
	_ = d.Close()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
}
