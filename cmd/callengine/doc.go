// Command callengine is the command-line tool around the callengine library.
//
//	callengine serve [--config FILE]  the engine on the network: the softphone page,
//	                               /ws, /metrics, /healthz, /readyz (docs/serve.md)
//	callengine demo [--data DIR]   clients call each other through a real journal;
//	                               a second run shows the restore
//	callengine bench [flags]       load workloads on a real journal: lifecycle, soak,
//	                               journal, restore, replay; JSON reports, plots, --compare
//	callengine sim FILE… [flags]   run scenario files on a virtual clock (docs/scenarios.md)
//	callengine replay JOURNAL …    calls, transfers, timelines, the state at an instant,
//	                               verification against the current code (docs/replay.md)
//	callengine backup --out FILE   a consistent hot copy of a journal (docs/backup.md)
//	callengine archive …           move ended calls into an archive file (docs/retention.md)
//	callengine history …           a client's call history and voicemail (docs/history.md)
//	callengine version             also --version
//	callengine help [CMD]          also CMD -h, CMD --help
//
// Every command prints its usage and every flag for -h, --help and
// 'callengine help CMD', on stdout. Commands that print data take --json; "-"
// as a file name is stdin or stdout. Exit status: 0 done, 1 a finding (a
// divergence, a regression, an unmet expectation) or failed work, 2 bad usage
// or input that cannot be read. docs/getting-started.md has the demo and the
// command line; docs/bench.md describes bench.
package main
