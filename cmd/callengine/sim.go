package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/callengine/callengine/simulator"
)

const simUsage = `usage: callengine sim FILE... [--seed N] [--digest] [--journal PATH] [--quiet]
       callengine sim --random N [--seed S] [--out DIR]

Runs scenario files (docs/scenarios.md) against the engine on a virtual clock
and prints each timeline.

With --random, runs N generated scenarios from seed S, S+1, …, each twice,
checking the invariants after every step and that both runs write the same
journal; the first failure is written to DIR as a scenario that reproduces it.

Exit status: 0 every expectation met, 1 an expectation unmet or an invariant
broken, 2 bad usage or a scenario that cannot be read.

flags:
`

// simCmd is `callengine sim`.
func simCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("sim", simUsage, stderr)
	seed := fs.Uint64("seed", 0, "seed for ids (replaces the scenario's), or the first seed of --random")
	digest := fs.Bool("digest", false, "print `digest: <sha256 of the journal's events>` for each scenario")
	journalPath := fs.String("journal", "", "keep the run's journal file at `PATH` (one scenario only)")
	quiet := fs.Bool("quiet", false, "print only the outcome of each scenario and its failures")
	random := fs.Int("random", 0, "run `N` generated scenarios instead of files")
	out := fs.String("out", ".", "with --random: where to write the scenario of a failing seed")
	files, code, ok := parseFlags(fs, args, stdout, true)
	if !ok {
		return code
	}
	if *random > 0 {
		if len(files) > 0 || *journalPath != "" {
			fmt.Fprintln(stderr, "callengine sim: --random takes no files and no --journal")
			return 2
		}
		return simRandom(ctx, *random, *seed, *out, *quiet, stdout, stderr)
	}
	if len(files) == 0 {
		fs.Usage()
		return 2
	}
	if *journalPath != "" && len(files) > 1 {
		fmt.Fprintln(stderr, "callengine sim: --journal keeps one scenario's journal: give one file")
		return 2
	}
	var scenarios []*simulator.Scenario
	for _, f := range files {
		sc, err := simulator.Load(f)
		if err != nil {
			fmt.Fprintf(stderr, "callengine sim: %v\n", err)
			return 2
		}
		scenarios = append(scenarios, sc)
	}
	failed := 0
	for i, sc := range scenarios {
		opts := simulator.Options{Seed: *seed, JournalPath: *journalPath}
		if !*quiet {
			fmt.Fprintf(stdout, "== %s (%s)\n", sc.Name, files[i])
			opts.Out = stdout
		}
		res, err := simulator.Run(ctx, sc, opts)
		if err != nil {
			fmt.Fprintf(stderr, "callengine sim: %s: %v\n", files[i], err)
			return 2
		}
		verdict := "ok"
		if !res.OK() {
			verdict = "FAIL"
			failed++
		}
		fmt.Fprintf(stdout, "%s  %s: %d steps, %d events, %d checks, %d crashes, seed %d\n",
			verdict, files[i], res.Steps, res.Events, res.Checks, res.Crashes, res.Seed)
		for _, f := range res.Failures {
			fmt.Fprintf(stdout, "  %s\n", strings.ReplaceAll(f.String(), "\n", "\n  "))
		}
		if *digest {
			fmt.Fprintf(stdout, "digest: %s\n", res.Digest)
		}
		if !*quiet && i < len(scenarios)-1 {
			fmt.Fprintln(stdout)
		}
	}
	if failed > 0 {
		fmt.Fprintf(stdout, "%d of %d scenarios failed\n", failed, len(scenarios))
		return 1
	}
	return 0
}

func simRandom(ctx context.Context, n int, seed uint64, dir string, quiet bool, stdout, stderr io.Writer) int {
	if seed == 0 {
		seed = 1
	}
	steps, events, crashes := 0, 0, 0
	f, err := simulator.RunRandom(ctx, n, seed, simulator.RandomOptions{FailureDir: dir, Progress: func(i int, r *simulator.Result) {
		steps, events, crashes = steps+r.Steps, events+r.Events, crashes+r.Crashes
		if !quiet {
			fmt.Fprintf(stdout, "seed %d: %d steps, %d events, %d crashes\n", r.Seed, r.Steps, r.Events, r.Crashes)
		}
	}})
	if f != nil {
		fmt.Fprintf(stdout, "FAIL seed %d: %s\n", f.Seed, f.Reason)
		if f.File != "" && err == nil {
			fmt.Fprintf(stdout, "reproduce: callengine sim %s\n", f.File)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "callengine sim: %v\n", err)
		return 2
	}
	if f != nil {
		return 1
	}
	fmt.Fprintf(stdout, "ok  %d random scenarios from seed %d: %d steps, %d events, %d crashes; invariants held, journals identical on a second run\n",
		n, seed, steps, events, crashes)
	return 0
}
