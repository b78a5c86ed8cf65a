// Package bench holds callengine's load workloads. Each workload runs against
// an in-process engine with a real journal on disk, is bounded in count and in
// time (a Duration in its config, and its context), and returns what it
// measured:
//
//	Lifecycle — complete calls per second (dial, ringing, answer, hold, resume,
//	            hang up) at a given concurrency, durable; the latency of every
//	            command in an HDR histogram; throughput per sampling interval;
//	            allocations per call;
//	Appends   — durable journal appends per second (journal.MeasureAppend)
//	            beside raw bbolt with 1,000 puts per transaction
//	            (journal.MeasureRawBolt), measured in the same run;
//	Soak      — N connected calls held live; heap bytes per live call;
//	Restore   — time for engine.Open to bring back N live calls, and what it
//	            allocates per call;
//	Replay    — events per second scanned, decoded and folded (fsm.ApplyCall)
//	            from journals into per-stream states.
//
// RawBoltProbe measures raw bbolt for a given time, for a run without the
// journal workload. Run runs the workloads in sequence and fills a Report; it
// judges the Targets, the throughput ones as ratios to the raw bbolt of the
// same run (the machine is shared and noisy). The Report writes itself as JSON
// (absent figures were not measured), as a summary table, and as a plot
// (WritePlot: SVG or PNG); Compare compares two reports.
//
// The Benchmark functions of this package and `callengine bench` share these
// workloads; docs/bench.md describes the command.
package bench
