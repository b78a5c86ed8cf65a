// Package bench holds callengine's load workloads. Each workload runs against
// an in-process engine with a real journal on disk, is bounded in count (and
// by its context in time), and returns what it measured:
//
//	Lifecycle — complete calls per second (dial, ringing, answer, hold, resume,
//	            hang up) at a given concurrency, durable;
//	Soak      — N connected calls held live; heap bytes per live call;
//	Restore   — time for Open to bring back N live calls.
//
// The Benchmark functions of this package run them with the figures the
// project targets; `callengine bench` (issue 4) will run them with flags.
// Journal throughput lives beside the journal (journal.MeasureAppend,
// journal.MeasureRawBolt).
package bench
