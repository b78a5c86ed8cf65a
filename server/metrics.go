package server

import (
	"context"
	"net/http"
	"runtime/metrics"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/journal"
)

// MediaStats are the media relay's packet counters since it started; the
// relay's owner hands a func returning them to Server.MediaStats.
type MediaStats struct {
	PacketsIn, PacketsOut uint64
	Dropped               uint64 // packets the relay dropped (muted, held, no peer, queue full)
	Lost                  uint64 // packets missing in the received sequence numbers
}

// Metrics are the Prometheus metrics of a server, on a registry of their own
// (nothing is registered globally). Every series is named callengine_*.
// The methods are safe for concurrent use and do nothing on a nil *Metrics.
type Metrics struct {
	reg        *prometheus.Registry
	ended      *prometheus.CounterVec
	commands   *prometheus.HistogramVec
	websockets prometheus.Gauge

	mu      sync.Mutex
	eng     *engine.Engine
	media   func() MediaStats
	batches uint64 // journal counters at the last scrape, for the batch size
	// and the mean commit latency since then
	commitTime time.Duration
	records    uint64
}

// NewMetrics makes the metrics; media (may be nil, then zero) gives the
// media relay's counters at scrape time.
func NewMetrics(media func() MediaStats) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callengine_calls_ended_total", Help: "Calls ended, by end reason (as the caller sees it).",
		}, []string{"reason"}),
		commands: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "callengine_command_duration_seconds", Help: "Latency of commands, from the request to the answer, by command.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"command"}),
		websockets: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "callengine_websocket_connections", Help: "Open WebSocket connections.",
		}),
		media: media,
	}
	for r := events.Hangup; r <= events.Voicemail; r++ {
		if r != events.Missed { // a callee's view, never a call's reason
			m.ended.WithLabelValues(r.String())
		}
	}
	m.reg.MustRegister(m.ended, m.commands, m.websockets, (*collector)(m))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Registry is the metrics' own registry (to add collectors to it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveCommand records that command name took d (the WebSocket adapter
// calls it for every command it runs).
func (m *Metrics) ObserveCommand(name string, d time.Duration) {
	if m != nil {
		m.commands.WithLabelValues(name).Observe(d.Seconds())
	}
}

// IncWebSocket and DecWebSocket count a WebSocket connection opened and
// closed.
func (m *Metrics) IncWebSocket() {
	if m != nil {
		m.websockets.Inc()
	}
}

// DecWebSocket: see IncWebSocket.
func (m *Metrics) DecWebSocket() {
	if m != nil {
		m.websockets.Dec()
	}
}

// CallEnded counts a call that ended with reason r.
func (m *Metrics) CallEnded(r events.Reason) {
	if m != nil {
		m.ended.WithLabelValues(r.String()).Inc()
	}
}

// attach makes the scrape read e (live calls, devices, the journal).
func (m *Metrics) attach(e *engine.Engine) {
	m.mu.Lock()
	m.eng = e
	m.mu.Unlock()
}

// follow counts ended calls from e's events until ctx ends. A subscription
// that falls behind is made again (the calls it missed are not counted).
func (m *Metrics) follow(ctx context.Context, e *engine.Engine) {
	for ctx.Err() == nil {
		sub, err := subscribe(ctx, e, engine.Filter{Types: []events.Type{events.TypeCallEnded}})
		if err != nil {
			return // the engine is closed
		}
		for ev := range sub.Events() {
			if ev.Call != nil {
				m.CallEnded(ev.Call.Reason)
			}
		}
		if sub.Err() == nil || ctx.Err() != nil {
			return
		}
	}
}

// collector reads the engine, the journal and the media relay at scrape
// time.
type collector Metrics

var (
	descLive    = prometheus.NewDesc("callengine_live_calls", "Calls that have not ended.", nil, nil)
	descDevices = prometheus.NewDesc("callengine_devices_connected", "Devices of registered clients with a kind (a browser tab, a SIP phone).", nil, nil)

	descBatches   = prometheus.NewDesc("callengine_journal_batches_total", "Journal write transactions committed (group commits).", nil, nil)
	descRecords   = prometheus.NewDesc("callengine_journal_records_total", "Events committed to the journal.", nil, nil)
	descAppends   = prometheus.NewDesc("callengine_journal_appends_total", "Journal appends committed (one per command).", nil, nil)
	descConflicts = prometheus.NewDesc("callengine_journal_conflicts_total", "Journal appends refused for a version conflict.", nil, nil)
	descFlushes   = prometheus.NewDesc("callengine_journal_index_flushes_total", "Commits that wrote the in-memory streams index to disk.", nil, nil)
	descCommitSum = prometheus.NewDesc("callengine_journal_commit_seconds_total", "Time the journal's commits took, fsync included; over callengine_journal_batches_total, the mean commit latency.", nil, nil)
	descCommit    = prometheus.NewDesc("callengine_journal_commit_seconds", "Mean commit latency since the previous scrape, fsync included (0 when nothing was committed).", nil, nil)
	descBatchSize = prometheus.NewDesc("callengine_journal_batch_records", "Mean events per commit since the previous scrape (0 when nothing was committed).", nil, nil)

	descMediaIn      = prometheus.NewDesc("callengine_media_packets_in_total", "RTP packets the media relay received.", nil, nil)
	descMediaOut     = prometheus.NewDesc("callengine_media_packets_out_total", "RTP packets the media relay sent.", nil, nil)
	descMediaDropped = prometheus.NewDesc("callengine_media_packets_dropped_total", "RTP packets the media relay dropped.", nil, nil)
	descMediaLost    = prometheus.NewDesc("callengine_media_packets_lost_total", "RTP packets lost before they reached the relay.", nil, nil)

	descHeap     = prometheus.NewDesc("callengine_go_heap_bytes", "Bytes of heap objects of the process, live or not yet swept (runtime/metrics /memory/classes/heap/objects:bytes).", nil, nil)
	descHeapLive = prometheus.NewDesc("callengine_go_heap_live_bytes", "Bytes of heap objects marked live by the last garbage collection (runtime/metrics /gc/heap/live:bytes).", nil, nil)
)

// heapSamples are the runtime/metrics the heap gauges read.
var heapSamples = []string{"/memory/classes/heap/objects:bytes", "/gc/heap/live:bytes"}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLive, descDevices, descBatches, descRecords, descAppends, descConflicts,
		descFlushes, descBatchSize, descCommitSum, descCommit, descMediaIn, descMediaOut, descMediaDropped, descMediaLost, descHeap, descHeapLive} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var live, devices float64
	var st journal.Stats
	if e := c.eng; e != nil {
		live = float64(e.LiveCalls())
		if clients, err := e.Clients(context.Background()); err == nil {
			for _, cl := range clients {
				for _, d := range cl.Devices {
					if d.Kind != "" {
						devices++
					}
				}
			}
		}
		if j := e.Journal(); j != nil {
			st = j.Stats()
		}
	}
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	gauge(descLive, live)
	gauge(descDevices, devices)
	counter(descBatches, st.Batches)
	counter(descRecords, st.Records)
	counter(descAppends, st.Appends)
	counter(descConflicts, st.Conflicts)
	counter(descFlushes, st.IndexFlushes)
	size := 0.0
	if st.Batches > c.batches && st.Records >= c.records {
		size = float64(st.Records-c.records) / float64(st.Batches-c.batches)
	}
	latency := 0.0
	if st.Batches > c.batches && st.CommitTime >= c.commitTime {
		latency = (st.CommitTime - c.commitTime).Seconds() / float64(st.Batches-c.batches)
	}
	c.batches, c.records, c.commitTime = st.Batches, st.Records, st.CommitTime
	gauge(descBatchSize, size)
	gauge(descCommit, latency)
	ch <- prometheus.MustNewConstMetric(descCommitSum, prometheus.CounterValue, st.CommitTime.Seconds())
	var ms MediaStats
	if c.media != nil {
		ms = c.media()
	}
	counter(descMediaIn, ms.PacketsIn)
	counter(descMediaOut, ms.PacketsOut)
	counter(descMediaDropped, ms.Dropped)
	counter(descMediaLost, ms.Lost)
	samples := make([]metrics.Sample, len(heapSamples))
	for i, name := range heapSamples {
		samples[i].Name = name
	}
	metrics.Read(samples)
	for i, d := range []*prometheus.Desc{descHeap, descHeapLive} {
		if samples[i].Value.Kind() == metrics.KindUint64 {
			gauge(d, float64(samples[i].Value.Uint64()))
		}
	}
}

// observeRequest is the WebSocket adapter's request hook: the latency of
// each request, by its type.
func (m *Metrics) observeRequest(typ, _ string, took time.Duration) { m.ObserveCommand(typ, took) }
