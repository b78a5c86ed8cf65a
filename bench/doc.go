// Package bench holds callengine's load workloads. Each workload runs against
// an in-process engine with a real journal on disk, is bounded in count and in
// time (a Duration in its config, and its context), and returns what it
// measured:
//
//	Lifecycle — complete calls per second (dial, ringing, answer, hold, resume,
//	            hang up) at a given concurrency, durable; the latency of every
//	            command in an HDR histogram; throughput per sampling interval;
//	Appends   — durable journal appends per second (journal.MeasureAppend)
//	            beside raw bbolt with 1,000 puts per transaction
//	            (journal.MeasureRawBolt), measured in the same run;
//	Soak      — N connected calls held live; heap bytes per live call;
//	Restore   — time for engine.Open to bring back N live calls;
//	Replay    — events per second scanned, decoded and folded (fsm.ApplyCall)
//	            from journals into per-stream states.
//
// Run runs them in sequence and fills a Report, which writes itself as JSON
// (absent figures were not measured), as a summary table, and as a plot
// (WritePlot: SVG or PNG); Compare compares two reports.
//
// The Benchmark functions of this package and `callengine bench` share these
// workloads; docs/bench.md describes the command.
package bench
