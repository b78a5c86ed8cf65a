// Command callengine is the command-line tool around the callengine library.
//
//	callengine demo [--data DIR]   clients call each other through a real journal;
//	                               a second run shows the restore
//	callengine bench [flags]       load workloads on a real journal: lifecycle, soak,
//	                               journal, restore, replay; JSON reports, plots, --compare
//	callengine version
//
// docs/bench.md describes bench. The simulator and incident replay (sim,
// replay, backup) are not built yet.
package main
