package server

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/callengine/callengine/engine"
)

// metricNames are every series /metrics exposes.
var metricNames = []string{
	"callengine_live_calls",
	"callengine_calls_ended_total",
	"callengine_command_duration_seconds",
	"callengine_journal_batches_total",
	"callengine_journal_records_total",
	"callengine_journal_appends_total",
	"callengine_journal_conflicts_total",
	"callengine_journal_index_flushes_total",
	"callengine_journal_batch_records",
	"callengine_devices_connected",
	"callengine_websocket_connections",
	"callengine_media_packets_in_total",
	"callengine_media_packets_out_total",
	"callengine_media_packets_dropped_total",
	"callengine_media_packets_lost_total",
	"callengine_go_heap_bytes",
	"callengine_go_heap_live_bytes",
}

// A scrape returns every series, each with the value the server's state
// gives it.
func TestMetricsScrape(t *testing.T) {
	s := &Server{MediaStats: func() MediaStats { return MediaStats{PacketsIn: 7, PacketsOut: 6, Dropped: 2, Lost: 1} }}
	s.Config.Clients = []Client{{ID: "alice", Extensions: []string{"101"}}}
	answered := make(chan string, 1)
	s.OnEchoCall = func(id string, live bool) {
		if live {
			answered <- id
		}
	}
	r := start(t, s, t.TempDir())
	ctx := context.Background()
	e := s.Engine()
	if _, err := e.AddDevice(ctx, "alice", engine.Device{ID: "alice-web", Kind: "webrtc"}); err != nil {
		t.Fatal(err)
	}
	c, err := e.Dial(ctx, engine.DialRequest{From: "alice", To: "600"})
	if err != nil {
		t.Fatal(err)
	}
	<-answered
	waitConnected(t, e, c.ID)
	if _, err := e.Hangup(ctx, c.ID, engine.Caller); err != nil {
		t.Fatal(err)
	}
	m := s.Metrics()
	m.ObserveCommand("dial", 3*time.Millisecond)
	m.IncWebSocket()
	m.IncWebSocket()
	m.DecWebSocket()

	want := map[string]string{
		"callengine_live_calls":                                     "0",
		`callengine_calls_ended_total{reason="hangup"}`:             "1",
		`callengine_calls_ended_total{reason="busy"}`:               "0",
		`callengine_command_duration_seconds_count{command="dial"}`: "1",
		"callengine_devices_connected":                              "1", // alice-web; the echo device has no kind
		"callengine_websocket_connections":                          "1",
		"callengine_media_packets_in_total":                         "7",
		"callengine_media_packets_out_total":                        "6",
		"callengine_media_packets_dropped_total":                    "2",
		"callengine_media_packets_lost_total":                       "1",
	}
	var body string
	deadline := time.Now().Add(5 * time.Second)
	for {
		var code int
		code, body = get(t, r.url+"/metrics")
		if code != 200 {
			t.Fatalf("/metrics: %d", code)
		}
		// The ended call is counted by a subscriber: wait for it.
		if strings.Contains(body, `callengine_calls_ended_total{reason="hangup"} 1`) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, name := range metricNames {
		if !strings.Contains(body, "\n"+name) {
			t.Errorf("the scrape lacks %s", name)
		}
	}
	for series, v := range want {
		if !strings.Contains(body, "\n"+series+" "+v+"\n") {
			t.Errorf("the scrape lacks %s %s", series, v)
		}
	}
	for _, line := range strings.Split(body, "\n") {
		if line != "" && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "callengine_") {
			t.Errorf("a series not named callengine_*: %s", line)
		}
	}
	if !strings.Contains(body, "\ncallengine_journal_records_total ") || strings.Contains(body, "\ncallengine_journal_records_total 0\n") {
		t.Errorf("the journal's records are not counted:\n%s", body)
	}
	// The heap gauges read the process's own heap: never zero.
	for _, name := range []string{"callengine_go_heap_bytes", "callengine_go_heap_live_bytes"} {
		if strings.Contains(body, "\n"+name+" 0\n") {
			t.Errorf("%s is 0", name)
		}
	}
}

// Without an engine and without media stats the collectors give zeros.
func TestMetricsWithoutEngine(t *testing.T) {
	m := NewMetrics(nil)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, name := range []string{"callengine_live_calls 0", "callengine_media_packets_in_total 0", "callengine_journal_batch_records 0"} {
		if !strings.Contains(rec.Body.String(), name) {
			t.Errorf("lacks %q", name)
		}
	}
	var nilMetrics *Metrics
	nilMetrics.ObserveCommand("x", time.Second) // no panic
	nilMetrics.IncWebSocket()
}

// waitConnected waits until the echo client's answer of call id is in.
func waitConnected(t *testing.T, e *engine.Engine, id string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if c, err := e.Call(context.Background(), id); err == nil && c.State == engine.Connected {
			return
		}
	}
	t.Fatalf("call %s never connected", id)
}
