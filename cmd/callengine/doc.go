// Command callengine is the command-line tool around the callengine library.
//
//	callengine demo [--data DIR]   clients call each other through a real journal;
//	                               a second run shows the restore
//	callengine bench [flags]       load workloads on a real journal: lifecycle, soak,
//	                               journal, restore, replay; JSON reports, plots, --compare
//	callengine sim FILE… [flags]   run scenario files on a virtual clock (docs/scenarios.md)
//	callengine replay JOURNAL …    calls, transfers, timelines, the state at an instant,
//	                               verification against the current code (docs/replay.md)
//	callengine backup SRC DST      a consistent hot copy of a journal (docs/backup.md)
//	callengine version
//
// docs/bench.md describes bench.
package main
