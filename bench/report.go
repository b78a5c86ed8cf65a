package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is what a bench run measured, as written by `callengine bench
// --json`. A figure that the run did not measure is nil and absent from the
// JSON: never a zero that was not measured.
type Report struct {
	Workload       string    `json:"workload"` // "all" or the one workload run
	StartedAt      time.Time `json:"started_at"`
	ElapsedSeconds float64   `json:"elapsed_seconds"`
	GoVersion      string    `json:"go_version"`
	OS             string    `json:"goos"`
	Arch           string    `json:"goarch"`
	NumCPU         int       `json:"num_cpu"`
	GOMAXPROCS     int       `json:"gomaxprocs"`
	Quick          bool      `json:"quick"`
	History        bool      `json:"history,omitempty"` // the call history projection was on
	Params         Params    `json:"params"`

	// lifecycle: complete durable call life cycles.
	CallsPerSec           *float64 `json:"calls_per_sec,omitempty"`
	LifecycleCalls        *int64   `json:"lifecycle_calls,omitempty"`
	LifecycleEvents       *int64   `json:"lifecycle_events,omitempty"`
	LifecycleEventsPerSec *float64 `json:"lifecycle_events_per_sec,omitempty"`
	LifecycleSeconds      *float64 `json:"lifecycle_seconds,omitempty"`
	LifecycleStopped      string   `json:"lifecycle_stopped,omitempty"` // "count" or "duration"
	LifecycleConcurrency  *int64   `json:"lifecycle_concurrency,omitempty"`
	// Allocations in the process per complete call while the loop ran.
	AllocsPerCall     *float64 `json:"allocs_per_call,omitempty"`
	AllocBytesPerCall *float64 `json:"alloc_bytes_per_call,omitempty"`
	// lifecycle_events_per_sec ÷ raw_bbolt_puts_per_sec.
	LifecycleRatioToRaw *float64 `json:"lifecycle_ratio_to_raw,omitempty"`
	// Every lifecycle pass (--callers, --history-pass); the figures above
	// are the first one's.
	LifecyclePasses []LifecyclePass `json:"lifecycle_passes,omitempty"`
	// Events/s at 5,000 callers ÷ at 1,000, when passes ran at both.
	LifecycleScaling *float64 `json:"lifecycle_5000_vs_1000,omitempty"`
	// 1 − calls/s with the call history on ÷ calls/s with it off, at the
	// same callers, when passes ran both ways.
	HistoryCallsPerSecDrop *float64 `json:"history_calls_per_sec_drop,omitempty"`
	// Command latency, call → durable answer, from an HDR histogram.
	Commands           *int64            `json:"commands,omitempty"`
	P50Ms              *float64          `json:"p50_ms,omitempty"`
	P90Ms              *float64          `json:"p90_ms,omitempty"`
	P99Ms              *float64          `json:"p99_ms,omitempty"`
	P999Ms             *float64          `json:"p999_ms,omitempty"`
	MaxMs              *float64          `json:"max_ms,omitempty"`
	LatencyPercentiles []PercentilePoint `json:"latency_percentiles,omitempty"`

	// journal: durable appends beside raw bbolt, same run.
	EventsPerSec         *float64 `json:"events_per_sec,omitempty"`
	RawBboltEventsPerSec *float64 `json:"raw_bbolt_events_per_sec,omitempty"`
	RatioToRaw           *float64 `json:"ratio_to_raw,omitempty"`
	JournalRecords       *int64   `json:"journal_records,omitempty"`
	JournalWriters       *int64   `json:"journal_writers,omitempty"`

	// The raw bbolt reference of the ratio targets: the journal workload's
	// raw bbolt when it ran ("journal"), else a probe of about a second
	// ("probe"), 1,000 puts per transaction either way.
	RawBboltPutsPerSec *float64 `json:"raw_bbolt_puts_per_sec,omitempty"`
	RawBboltFrom       string   `json:"raw_bbolt_from,omitempty"`
	RawBboltProbePuts  *int64   `json:"raw_bbolt_probe_puts,omitempty"`

	// soak: live calls held.
	LiveCalls            *int64   `json:"live_calls,omitempty"`
	HeapBytesPerLiveCall *float64 `json:"heap_bytes_per_live_call,omitempty"`
	SoakSetupSeconds     *float64 `json:"soak_setup_seconds,omitempty"`
	SoakStopped          string   `json:"soak_stopped,omitempty"`

	// restore: engine.Open on the soak's journal.
	RestoreSeconds  *float64 `json:"restore_seconds,omitempty"`
	RestoredCalls   *int64   `json:"restored_calls,omitempty"`
	RestoredClients *int64   `json:"restored_clients,omitempty"`
	RestoredEvents  *int64   `json:"restored_events,omitempty"`
	// restored_calls ÷ restore_seconds, and the bytes allocated during Open
	// per restored call.
	RestoredCallsPerSec      *float64 `json:"restored_calls_per_sec,omitempty"`
	RestoreAllocBytesPerCall *float64 `json:"restore_alloc_bytes_per_call,omitempty"`

	// replay: scan, decode and fold.
	ReplayEventsPerSec *float64 `json:"replay_events_per_sec,omitempty"`
	ReplayEvents       *int64   `json:"replay_events,omitempty"`
	ReplayPasses       *int64   `json:"replay_passes,omitempty"`
	ReplayStreams      *int64   `json:"replay_streams,omitempty"`
	ReplayStopped      string   `json:"replay_stopped,omitempty"`
	ReplayJournals     []string `json:"replay_journals,omitempty"`

	// webrtc: relayed calls between WebRTC peers through a serve child.
	// Calls asked for, set up, failed to set up, and carried (set up, and
	// < 1 % of the packets of the call lost in the window, both directions
	// together).
	WebRTCCalls         *int64   `json:"webrtc_calls,omitempty"`
	WebRTCCallsSetUp    *int64   `json:"webrtc_calls_set_up,omitempty"`
	WebRTCSetupFailures *int64   `json:"webrtc_setup_failures,omitempty"`
	WebRTCSetupErrors   []string `json:"webrtc_setup_errors,omitempty"`
	WebRTCCallsCarried  *int64   `json:"webrtc_calls_carried,omitempty"`
	// Packets over the measured window: sent by the peers, received from
	// their call's other side; loss = 1 − received/sent (a fraction).
	WebRTCWindowSeconds *float64 `json:"webrtc_window_seconds,omitempty"`
	WebRTCSentPackets   *int64   `json:"webrtc_sent_packets,omitempty"`
	// webrtc_sent_packets ÷ what 20 ms pacing gives (50 a second per
	// direction): below 1 when the load generator lacked the CPU to keep
	// its pace (the server then had less to relay).
	WebRTCSentShare     *float64 `json:"webrtc_sent_share,omitempty"`
	WebRTCPacketsPerSec *float64 `json:"webrtc_packets_per_sec,omitempty"`
	WebRTCLoss          *float64 `json:"webrtc_loss,omitempty"`
	WebRTCWorstCallLoss *float64 `json:"webrtc_worst_call_loss,omitempty"`
	WebRTCSetupsPerSec  *float64 `json:"webrtc_setups_per_sec,omitempty"`
	WebRTCSetupSeconds  *float64 `json:"webrtc_setup_seconds,omitempty"`
	WebRTCSetupP50Ms    *float64 `json:"webrtc_setup_p50_ms,omitempty"`
	WebRTCSetupP99Ms    *float64 `json:"webrtc_setup_p99_ms,omitempty"`
	WebRTCSetupMaxMs    *float64 `json:"webrtc_setup_max_ms,omitempty"`
	// CPU (user + system) over the window: the server's in cores, and per
	// call-second in ms (10 ms = 1 % of a core per call); the load
	// generator's (this process) in cores.
	WebRTCServerCPUCores        *float64 `json:"webrtc_server_cpu_cores,omitempty"`
	WebRTCServerCPUMsPerCallSec *float64 `json:"webrtc_server_cpu_ms_per_call_second,omitempty"`
	WebRTCClientCPUCores        *float64 `json:"webrtc_client_cpu_cores,omitempty"`
	// The server's memory per call set up: resident memory (VmRSS), and the
	// Go heap marked live by its last GC (callengine_go_heap_live_bytes),
	// from after the logins to the end of the window.
	WebRTCRSSBytesPerCall  *float64 `json:"webrtc_rss_bytes_per_call,omitempty"`
	WebRTCHeapBytesPerCall *float64 `json:"webrtc_heap_bytes_per_call,omitempty"`
	// The relay's own counters over the window (/metrics).
	WebRTCRelayPacketsIn      *int64 `json:"webrtc_relay_packets_in,omitempty"`
	WebRTCRelayPacketsOut     *int64 `json:"webrtc_relay_packets_out,omitempty"`
	WebRTCRelayPacketsDropped *int64 `json:"webrtc_relay_packets_dropped,omitempty"`
	WebRTCRelayPacketsLost    *int64 `json:"webrtc_relay_packets_lost,omitempty"`
	// The machine's 1-minute load average at the end of the window.
	WebRTCLoadAvg1m *float64 `json:"webrtc_load_avg_1m,omitempty"`

	// sip: calls from a SIP phone (sipp) through a serve child out on a SIP
	// trunk (sipp). The offered load: calls started per second, for how
	// long, each held how long, and the calls that makes.
	SIPRate            *int64   `json:"sip_rate,omitempty"`
	SIPDurationSeconds *float64 `json:"sip_duration_seconds,omitempty"`
	SIPHoldSeconds     *float64 `json:"sip_hold_seconds,omitempty"`
	SIPCallsOffered    *int64   `json:"sip_calls_offered,omitempty"`
	// Complete calls (INVITE … BYE, as sipp counts them), failed ones, and
	// complete calls per second: sip_calls_completed ÷ (the phone's sipp's
	// run − one hold).
	SIPCallsCompleted *int64   `json:"sip_calls_completed,omitempty"`
	SIPFailedCalls    *int64   `json:"sip_failed_calls,omitempty"`
	SIPErrors         []string `json:"sip_errors,omitempty"`
	SIPElapsedSeconds *float64 `json:"sip_elapsed_seconds,omitempty"`
	// SIPAnsweredSeconds is the span from the first call answered to the
	// last, over which sip_calls_per_sec is counted.
	SIPAnsweredSeconds *float64 `json:"sip_answered_seconds,omitempty"`
	SIPCallsPerSec     *float64 `json:"sip_calls_per_sec,omitempty"`
	// Setup time, the phone's first INVITE to the 200 (the 407 round trip
	// included).
	SIPSetupP50Ms *float64 `json:"sip_setup_p50_ms,omitempty"`
	SIPSetupP99Ms *float64 `json:"sip_setup_p99_ms,omitempty"`
	SIPSetupMaxMs *float64 `json:"sip_setup_max_ms,omitempty"`
	// CPU (user + system) over the phone's sipp's run, in cores: the
	// server, the phone's sipp (UAC), the trunk's sipp (UAS); and the
	// server's CPU per complete call, in ms.
	SIPServerCPUCores     *float64 `json:"sip_server_cpu_cores,omitempty"`
	SIPServerCPUMsPerCall *float64 `json:"sip_server_cpu_ms_per_call,omitempty"`
	SIPUACCPUCores        *float64 `json:"sip_uac_cpu_cores,omitempty"`
	SIPUASCPUCores        *float64 `json:"sip_uas_cpu_cores,omitempty"`
	// The server's live calls and Go live heap, sampled each second while
	// calls were started (after the first hold): the mean live calls, and
	// the heap above the one before the calls per live call.
	SIPLiveCalls            *float64 `json:"sip_live_calls,omitempty"`
	SIPHeapBytesPerLiveCall *float64 `json:"sip_heap_bytes_per_live_call,omitempty"`
	// The journal's commits per complete call and events per commit while
	// the calls ran (the group commit at work, see journal_commit_interval).
	SIPCommitsPerCall  *float64 `json:"sip_journal_commits_per_call,omitempty"`
	SIPEventsPerCommit *float64 `json:"sip_journal_events_per_commit,omitempty"`
	// The journal, read after the server stopped: calls dialed, calls ended
	// by a hangup, SIP dialogs recorded (CallLegRecorded), and the complete
	// calls of sipp it does not show ended.
	SIPCallsDialed       *int64 `json:"sip_calls_dialed,omitempty"`
	SIPCallsJournaled    *int64 `json:"sip_calls_journaled,omitempty"`
	SIPLegsJournaled     *int64 `json:"sip_legs_journaled,omitempty"`
	SIPCallsNotJournaled *int64 `json:"sip_calls_not_journaled,omitempty"`
	// The machine's 1-minute load average when the phone's sipp ended.
	SIPLoadAvg1m *float64 `json:"sip_load_avg_1m,omitempty"`

	// Throughput over time, per workload: "lifecycle" in calls/s, "soak" in
	// calls set up/s, "replay" in events folded/s.
	Throughput map[string][]Sample `json:"throughput,omitempty"`
	Targets    []TargetResult      `json:"targets,omitempty"`
	// Errors holds the workloads that failed, with why.
	Errors map[string]string `json:"errors,omitempty"`
}

// Params are the parameters of the run.
type Params struct {
	Calls           int     `json:"calls"`
	Concurrency     int     `json:"concurrency"`
	Records         int     `json:"records"`
	RecordSize      int     `json:"record_size"`
	DurationSeconds float64 `json:"duration_seconds"`
	IntervalSeconds float64 `json:"interval_seconds"`
	ReplayPasses    int     `json:"replay_passes"`
	DataDir         string  `json:"data_dir"`
	// Callers of each lifecycle pass; LiveCalls of the soak and restore
	// (when not Calls); HistoryPass: a lifecycle pass with the call history
	// the other way.
	Callers     []int `json:"callers,omitempty"`
	LiveCalls   int   `json:"live_calls,omitempty"`
	HistoryPass bool  `json:"history_pass,omitempty"`
	// The webrtc workload's calls and window.
	WebRTCCalls           int     `json:"webrtc_calls,omitempty"`
	WebRTCDurationSeconds float64 `json:"webrtc_duration_seconds,omitempty"`
	// The sip workload's rate, duration and hold.
	SIPRate            int     `json:"sip_rate,omitempty"`
	SIPDurationSeconds float64 `json:"sip_duration_seconds,omitempty"`
	SIPHoldSeconds     float64 `json:"sip_hold_seconds,omitempty"`
}

// LifecyclePass is what one lifecycle pass measured.
type LifecyclePass struct {
	Callers       int     `json:"callers"`
	History       bool    `json:"history"`
	Calls         int64   `json:"calls"`
	Seconds       float64 `json:"seconds"`
	Stopped       string  `json:"stopped"`
	CallsPerSec   float64 `json:"calls_per_sec"`
	EventsPerSec  float64 `json:"events_per_sec"`
	AllocsPerCall float64 `json:"allocs_per_call"`
	P99Ms         float64 `json:"p99_ms"`
}

func paramsOf(o Options) Params {
	return Params{
		Calls: o.Calls, Concurrency: o.Concurrency, Records: o.Records, RecordSize: o.RecordSize,
		DurationSeconds: o.Duration.Seconds(), IntervalSeconds: o.Interval.Seconds(),
		ReplayPasses: o.ReplayPasses, DataDir: o.DataDir,
		Callers: o.Callers, LiveCalls: o.LiveCalls, HistoryPass: o.HistoryPass,
		WebRTCCalls: o.WebRTCCalls, WebRTCDurationSeconds: o.WebRTCDuration.Seconds(),
		SIPRate: o.SIPRate, SIPDurationSeconds: o.SIPDuration.Seconds(), SIPHoldSeconds: o.SIPHold.Seconds(),
	}
}

func newReport(o Options) *Report {
	return &Report{
		Workload: o.Workload, StartedAt: time.Now().UTC().Truncate(time.Millisecond),
		GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
		NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), Quick: o.Quick, History: o.History,
		Params: paramsOf(o),
	}
}

func f64(v float64) *float64 { return &v }
func i64(v int64) *int64     { return &v }
func ms(d time.Duration) *float64 {
	return f64(float64(d) / float64(time.Millisecond))
}

func (r *Report) fail(workload string, err error) {
	if r.Errors == nil {
		r.Errors = make(map[string]string)
	}
	r.Errors[workload] = err.Error()
}

func (r *Report) series(workload string, s []Sample) {
	if len(s) == 0 {
		return
	}
	if r.Throughput == nil {
		r.Throughput = make(map[string][]Sample)
	}
	r.Throughput[workload] = s
}

// setLifecycle records a lifecycle pass (history: whether the call history
// was on); the first one's figures are the report's lifecycle figures.
func (r *Report) setLifecycle(l LifecycleResult, history bool) {
	if l.Calls == 0 {
		return // nothing completed: nothing measured
	}
	r.LifecyclePasses = append(r.LifecyclePasses, LifecyclePass{
		Callers: l.Concurrency, History: history, Calls: int64(l.Calls), Seconds: l.Elapsed.Seconds(), Stopped: l.Stopped,
		CallsPerSec: l.CallsPerSec, EventsPerSec: l.EventsPerSec, AllocsPerCall: l.AllocsPerCall,
		P99Ms: float64(l.P99) / float64(time.Millisecond),
	})
	if len(r.LifecyclePasses) > 1 {
		return
	}
	r.CallsPerSec = f64(l.CallsPerSec)
	r.LifecycleCalls = i64(int64(l.Calls))
	r.LifecycleEvents = i64(int64(l.Events))
	r.LifecycleEventsPerSec = f64(l.EventsPerSec)
	r.LifecycleSeconds = f64(l.Elapsed.Seconds())
	r.LifecycleStopped = l.Stopped
	r.LifecycleConcurrency = i64(int64(l.Concurrency))
	r.AllocsPerCall = f64(l.AllocsPerCall)
	r.AllocBytesPerCall = f64(l.AllocBytesPerCall)
	if l.Commands > 0 {
		r.Commands = i64(l.Commands)
		r.P50Ms, r.P90Ms, r.P99Ms, r.P999Ms, r.MaxMs = ms(l.P50), ms(l.P90), ms(l.P99), ms(l.P999), ms(l.Max)
		r.LatencyPercentiles = PercentileCurve(l.Latency)
	}
	r.series("lifecycle", l.Throughput)
}

func (r *Report) setAppends(a AppendsResult) {
	r.EventsPerSec = f64(a.EventsPerSec)
	r.RawBboltEventsPerSec = f64(a.RawEventsPerSec)
	r.RatioToRaw = f64(a.Ratio)
	r.JournalRecords = i64(int64(a.Records))
	r.JournalWriters = i64(int64(a.Writers))
}

func (r *Report) setSoak(s SoakResult) {
	r.SoakSetupSeconds = f64(s.Setup.Seconds())
	r.SoakStopped = s.Stopped
	r.LiveCalls = i64(int64(s.LiveCalls))
	if s.LiveCalls > 0 {
		r.HeapBytesPerLiveCall = f64(s.HeapBytesPerCall)
	}
	r.series("soak", s.Throughput)
}

func (r *Report) setRestore(x RestoreResult) {
	r.RestoreSeconds = f64(x.Elapsed.Seconds())
	r.RestoredCalls = i64(int64(x.LiveCalls))
	r.RestoredClients = i64(int64(x.Clients))
	r.RestoredEvents = i64(int64(x.Events))
	if x.LiveCalls > 0 {
		r.RestoreAllocBytesPerCall = f64(x.AllocBytesPerCall())
		if x.Elapsed > 0 {
			r.RestoredCallsPerSec = f64(float64(x.LiveCalls) / x.Elapsed.Seconds())
		}
	}
}

func (r *Report) setRawProbe(x RawBoltResult) {
	r.RawBboltPutsPerSec, r.RawBboltFrom = f64(x.PutsPerSec), "probe"
	r.RawBboltProbePuts = i64(int64(x.Puts))
}

func (r *Report) setReplay(x ReplayResult, paths []string) {
	r.ReplayEvents = i64(x.Events)
	r.ReplayPasses = i64(int64(x.Passes))
	r.ReplayStreams = i64(int64(x.Streams))
	r.ReplayStopped = x.Stopped
	r.ReplayJournals = paths
	if x.Events > 0 {
		r.ReplayEventsPerSec = f64(x.EventsPerSec)
	}
	r.series("replay", x.Throughput)
}

func (r *Report) setWebRTC(x WebRTCResult) {
	r.WebRTCCalls = i64(int64(x.Calls))
	r.WebRTCCallsSetUp = i64(int64(x.SetUp))
	r.WebRTCSetupFailures = i64(int64(x.Failed))
	r.WebRTCSetupErrors = x.Errors
	r.WebRTCCallsCarried = i64(int64(x.Carried))
	r.WebRTCSetupSeconds = f64(x.Setup.Seconds())
	if x.SetUp == 0 {
		return
	}
	r.WebRTCSetupsPerSec = f64(x.SetupsPerSec)
	r.WebRTCSetupP50Ms, r.WebRTCSetupP99Ms, r.WebRTCSetupMaxMs = ms(x.SetupP50), ms(x.SetupP99), ms(x.SetupMax)
	r.WebRTCWindowSeconds = f64(x.Window.Seconds())
	r.WebRTCSentPackets = i64(int64(x.Sent))
	r.WebRTCSentShare = f64(x.SentShare())
	r.WebRTCPacketsPerSec = f64(x.PacketsPerSec)
	if x.Sent > 0 {
		r.WebRTCLoss = f64(x.Loss)
		r.WebRTCWorstCallLoss = f64(x.WorstCallLoss)
	}
	if x.HaveCPU && x.Window > 0 {
		r.WebRTCServerCPUCores = f64(x.ServerCPU.Seconds() / x.Window.Seconds())
		r.WebRTCServerCPUMsPerCallSec = f64(1000 * x.CPUPerCallSecond())
		r.WebRTCClientCPUCores = f64(x.ClientCPU.Seconds() / x.Window.Seconds())
	}
	if x.HaveRSS {
		r.WebRTCRSSBytesPerCall = f64((float64(x.RSSAfter) - float64(x.RSSBefore)) / float64(x.SetUp))
	}
	if x.HaveHeap {
		r.WebRTCHeapBytesPerCall = f64((float64(x.HeapAfter) - float64(x.HeapBefore)) / float64(x.SetUp))
	}
	if x.HaveRelay {
		r.WebRTCRelayPacketsIn = i64(int64(x.RelayIn))
		r.WebRTCRelayPacketsOut = i64(int64(x.RelayOut))
		r.WebRTCRelayPacketsDropped = i64(int64(x.RelayDropped))
		r.WebRTCRelayPacketsLost = i64(int64(x.RelayLost))
	}
	if x.Load1 >= 0 {
		r.WebRTCLoadAvg1m = f64(x.Load1)
	}
}

func (r *Report) setSIP(x SIPResult) {
	if x.Calls == 0 || x.Successful == 0 {
		return // nothing ran to the end: nothing measured
	}
	r.SIPRate = i64(int64(x.Rate))
	r.SIPDurationSeconds = f64(x.Duration.Seconds())
	r.SIPHoldSeconds = f64(x.Hold.Seconds())
	r.SIPCallsOffered = i64(int64(x.Calls))
	r.SIPCallsCompleted = i64(int64(x.Successful))
	r.SIPFailedCalls = i64(int64(x.Failed))
	r.SIPErrors = x.Errors
	r.SIPElapsedSeconds = f64(x.Elapsed.Seconds())
	r.SIPAnsweredSeconds = f64(x.AnsweredSpan.Seconds())
	r.SIPCallsPerSec = f64(x.CallsPerSec)
	if x.Setups > 0 {
		r.SIPSetupP50Ms, r.SIPSetupP99Ms, r.SIPSetupMaxMs = ms(x.SetupP50), ms(x.SetupP99), ms(x.SetupMax)
	}
	if w := x.Elapsed.Seconds(); x.HaveCPU && w > 0 {
		r.SIPServerCPUCores = f64(x.ServerCPU.Seconds() / w)
		r.SIPServerCPUMsPerCall = ms(x.CPUPerCall())
		r.SIPUACCPUCores = f64(x.UACCPU.Seconds() / w)
		r.SIPUASCPUCores = f64(x.UASCPU.Seconds() / w)
	}
	if x.HaveCommits && x.Commits > 0 && x.Successful > 0 {
		r.SIPCommitsPerCall = f64(x.Commits / float64(x.Successful))
		r.SIPEventsPerCommit = f64(x.Records / x.Commits)
	}
	if x.HaveHeap {
		r.SIPLiveCalls = f64(x.LiveCalls)
		r.SIPHeapBytesPerLiveCall = f64(x.HeapPerLiveCall)
	}
	if x.Dialed > 0 {
		r.SIPCallsDialed = i64(int64(x.Dialed))
		r.SIPCallsJournaled = i64(int64(x.Journaled))
		r.SIPLegsJournaled = i64(int64(x.LegsJournaled))
		r.SIPCallsNotJournaled = i64(int64(x.NotJournaled()))
	}
	if x.Load1 >= 0 {
		r.SIPLoadAvg1m = f64(x.Load1)
	}
}

// WriteJSON writes the report, indented, to path ("-" for w).
func (r *Report) WriteJSON(path string, w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = w.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// WriteTable writes the summary: a table of the figures, one line each,
// then the targets table (see writeTargets) and where the raw bbolt
// reference came from.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "workload\tfigure\tvalue\n")
	row := func(workload, figure, value string) {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", workload, figure, value)
	}
	num := func(p *float64) string { return count(int64(*p + 0.5)) }
	if r.CallsPerSec != nil {
		row("lifecycle", "complete calls/s", fmt.Sprintf("%s (%s callers)", num(r.CallsPerSec), count(*r.LifecycleConcurrency)))
		row("lifecycle", "durable events/s", num(r.LifecycleEventsPerSec))
		row("lifecycle", "calls, time", fmt.Sprintf("%s in %.2f s (stopped by %s)", count(*r.LifecycleCalls), *r.LifecycleSeconds, r.LifecycleStopped))
		row("lifecycle", "allocations per call (bytes)", fmt.Sprintf("%s (%s B)", num(r.AllocsPerCall), num(r.AllocBytesPerCall)))
	}
	if r.P50Ms != nil {
		row("lifecycle", "command latency p50 / p90 / p99 / p99.9 / max",
			fmt.Sprintf("%s / %s / %s / %s / %s ms", sig3(*r.P50Ms), sig3(*r.P90Ms), sig3(*r.P99Ms), sig3(*r.P999Ms), sig3(*r.MaxMs)))
	}
	for _, p := range r.LifecyclePasses[min(1, len(r.LifecyclePasses)):] {
		history := "off"
		if p.History {
			history = "on"
		}
		row("lifecycle", fmt.Sprintf("pass: %s callers, call history %s", count(int64(p.Callers)), history),
			fmt.Sprintf("%s calls/s, %s events/s, p99 %s ms, %s allocations per call (%s calls, stopped by %s)",
				count(int64(p.CallsPerSec+0.5)), count(int64(p.EventsPerSec+0.5)), sig3(p.P99Ms), count(int64(p.AllocsPerCall+0.5)), count(p.Calls), p.Stopped))
	}
	if r.EventsPerSec != nil {
		row("journal", "durable appends (events/s)", fmt.Sprintf("%s (%s appenders)", num(r.EventsPerSec), count(*r.JournalWriters)))
		row("journal", "raw bbolt, 1,000 puts/tx (events/s)", num(r.RawBboltEventsPerSec))
		row("journal", "ratio to raw bbolt", fmt.Sprintf("%.2f", *r.RatioToRaw))
	}
	if r.LiveCalls != nil {
		row("soak", "live calls held", count(*r.LiveCalls))
	}
	if r.HeapBytesPerLiveCall != nil {
		row("soak", "heap per live call (bytes)", num(r.HeapBytesPerLiveCall))
	}
	if r.RestoreSeconds != nil {
		row("restore", "time to reopen", fmt.Sprintf("%.3f s (%s live calls, %s clients, %s events)",
			*r.RestoreSeconds, count(*r.RestoredCalls), count(*r.RestoredClients), count(*r.RestoredEvents)))
	}
	if r.RestoreAllocBytesPerCall != nil {
		row("restore", "allocated per restored call (bytes)", num(r.RestoreAllocBytesPerCall))
	}
	if r.ReplayEventsPerSec != nil {
		row("replay", "events folded/s", num(r.ReplayEventsPerSec))
		row("replay", "events, passes", fmt.Sprintf("%s in %d pass(es) over %s streams (stopped by %s)",
			count(*r.ReplayEvents), *r.ReplayPasses, count(*r.ReplayStreams), r.ReplayStopped))
	}
	r.webrtcRows(row)
	r.sipRows(row)
	for _, name := range Workloads {
		if msg, ok := r.Errors[name]; ok {
			row(name, "FAILED", msg)
		}
	}
	if msg, ok := r.Errors[rawProbe]; ok {
		row(rawProbe, "FAILED", msg)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if err := r.writeTargets(w); err != nil {
		return err
	}
	switch {
	case r.RawBboltPutsPerSec == nil:
		fmt.Fprintln(w, "raw bbolt: not measured in this run (the ratio targets are not judged)")
	case r.RawBboltFrom == "journal":
		fmt.Fprintf(w, "raw bbolt: %s puts/s, 1,000 puts per transaction, measured by the journal workload of this run\n", num(r.RawBboltPutsPerSec))
	default:
		fmt.Fprintf(w, "raw bbolt: %s puts/s, 1,000 puts per transaction, measured by a probe of this run (%s puts)\n",
			num(r.RawBboltPutsPerSec), count(*r.RawBboltProbePuts))
	}
	history := "call history off"
	if r.History {
		history = "call history on"
	}
	_, err := fmt.Fprintf(w, "%s, %d CPUs, %s/%s, %s; %.1f s in all\n", r.GoVersion, r.NumCPU, r.OS, r.Arch, history, r.ElapsedSeconds)
	return err
}

// webrtcRows are the webrtc workload's rows of the summary table.
func (r *Report) webrtcRows(row func(workload, figure, value string)) {
	if r.WebRTCCalls == nil {
		return
	}
	row("webrtc", "relayed calls carried (< 1 % loss each)", fmt.Sprintf("%s of %s set up (%s asked, %s failed to set up)",
		count(*r.WebRTCCallsCarried), count(*r.WebRTCCallsSetUp), count(*r.WebRTCCalls), count(*r.WebRTCSetupFailures)))
	for _, e := range r.WebRTCSetupErrors {
		row("webrtc", "setup failure", e)
	}
	if r.WebRTCLoss != nil {
		row("webrtc", "packet loss, both ways", fmt.Sprintf("%.3f %% of %s packets in %.1f s (worst call %.2f %%)",
			100**r.WebRTCLoss, count(*r.WebRTCSentPackets), *r.WebRTCWindowSeconds, 100**r.WebRTCWorstCallLoss))
	}
	if r.WebRTCPacketsPerSec != nil {
		row("webrtc", "packets/s relayed (received end to end)", fmt.Sprintf("%s (the peers sent %.0f %% of what 20 ms pacing gives)",
			count(int64(*r.WebRTCPacketsPerSec+0.5)), 100**r.WebRTCSentShare))
	}
	if r.WebRTCSetupsPerSec != nil {
		row("webrtc", "call setups/s (WebSocket, offer to connected)", fmt.Sprintf("%s (%s calls in %.2f s, 8 at a time)",
			sig3(*r.WebRTCSetupsPerSec), count(*r.WebRTCCallsSetUp), *r.WebRTCSetupSeconds))
		row("webrtc", "setup time p50 / p99 / max", fmt.Sprintf("%s / %s / %s ms", sig3(*r.WebRTCSetupP50Ms), sig3(*r.WebRTCSetupP99Ms), sig3(*r.WebRTCSetupMaxMs)))
	}
	if r.WebRTCServerCPUMsPerCallSec != nil {
		row("webrtc", "server CPU per call", fmt.Sprintf("%s ms per call-second = %s %% of a core (server %.2f cores, load generator %.2f cores)",
			sig3(*r.WebRTCServerCPUMsPerCallSec), sig3(*r.WebRTCServerCPUMsPerCallSec/10), *r.WebRTCServerCPUCores, *r.WebRTCClientCPUCores))
	}
	if r.WebRTCRSSBytesPerCall != nil || r.WebRTCHeapBytesPerCall != nil {
		v := []string{}
		if r.WebRTCRSSBytesPerCall != nil {
			v = append(v, "resident "+count(int64(*r.WebRTCRSSBytesPerCall))+" B")
		}
		if r.WebRTCHeapBytesPerCall != nil {
			v = append(v, "Go live heap "+count(int64(*r.WebRTCHeapBytesPerCall))+" B")
		}
		row("webrtc", "server memory per call", strings.Join(v, ", "))
	}
	if r.WebRTCRelayPacketsIn != nil {
		row("webrtc", "relay packets in / out / dropped / lost before it", fmt.Sprintf("%s / %s / %s / %s",
			count(*r.WebRTCRelayPacketsIn), count(*r.WebRTCRelayPacketsOut), count(*r.WebRTCRelayPacketsDropped), count(*r.WebRTCRelayPacketsLost)))
	}
	if r.WebRTCLoadAvg1m != nil {
		row("webrtc", "machine load average, 1 min", fmt.Sprintf("%.2f", *r.WebRTCLoadAvg1m))
	}
}

// sipRows are the sip workload's rows of the summary table.
func (r *Report) sipRows(row func(workload, figure, value string)) {
	if r.SIPCallsCompleted == nil {
		return
	}
	answered := ""
	if r.SIPAnsweredSeconds != nil {
		answered = fmt.Sprintf(", answered over %.1f s", *r.SIPAnsweredSeconds)
	}
	row("sip", "complete calls/s (INVITE … BYE, sipp → serve → trunk sipp)", fmt.Sprintf("%s (%s offered for %.0f s, each held %s s%s)",
		count(int64(*r.SIPCallsPerSec+0.5)), count(*r.SIPRate), *r.SIPDurationSeconds, sig3(*r.SIPHoldSeconds), answered))
	row("sip", "calls completed / failed", fmt.Sprintf("%s / %s of %s offered, in %.1f s", count(*r.SIPCallsCompleted), count(*r.SIPFailedCalls),
		count(*r.SIPCallsOffered), *r.SIPElapsedSeconds))
	for _, e := range r.SIPErrors {
		row("sip", "sipp error", e)
	}
	if r.SIPSetupP50Ms != nil {
		row("sip", "setup time p50 / p99 / max (INVITE → 200)", fmt.Sprintf("%s / %s / %s ms", sig3(*r.SIPSetupP50Ms), sig3(*r.SIPSetupP99Ms), sig3(*r.SIPSetupMaxMs)))
	}
	if r.SIPServerCPUCores != nil {
		row("sip", "CPU: serve / sipp uac / sipp uas", fmt.Sprintf("%.2f / %.2f / %.2f cores; serve %s ms per call",
			*r.SIPServerCPUCores, *r.SIPUACCPUCores, *r.SIPUASCPUCores, sig3(*r.SIPServerCPUMsPerCall)))
	}
	if r.SIPHeapBytesPerLiveCall != nil {
		row("sip", "server Go live heap per live call", fmt.Sprintf("%s B (%s live calls)", count(int64(*r.SIPHeapBytesPerLiveCall)), count(int64(*r.SIPLiveCalls+0.5))))
	}
	if r.SIPCommitsPerCall != nil {
		row("sip", "journal: commits per call / events per commit", fmt.Sprintf("%.2f / %.1f", *r.SIPCommitsPerCall, *r.SIPEventsPerCommit))
	}
	if r.SIPCallsJournaled != nil {
		row("sip", "journal: calls ended / SIP dialogs recorded", fmt.Sprintf("%s / %s (%s complete calls not in it)",
			count(*r.SIPCallsJournaled), count(*r.SIPLegsJournaled), count(*r.SIPCallsNotJournaled)))
	}
	if r.SIPLoadAvg1m != nil {
		row("sip", "machine load average, 1 min", fmt.Sprintf("%.2f", *r.SIPLoadAvg1m))
	}
}
