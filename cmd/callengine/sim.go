package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/callengine/callengine/simulator"
)

const simUsage = `usage: callengine sim FILE... [--seed N] [--digest] [--journal PATH] [--quiet] [--json]
       callengine sim --random N [--seed S] [--out DIR] [--json]

Runs scenario files (docs/scenarios.md) against the engine on a virtual clock
and prints each timeline. FILE - reads a scenario from stdin. With --json,
stdout carries one JSON document: each scenario's outcome, its failures and
(without --quiet) its timeline.

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
	asJSON := fs.Bool("json", false, "write JSON instead of text")
	files, code, ok := parseFlags(fs, args, stdout, true)
	if !ok {
		return code
	}
	if *random > 0 {
		if len(files) > 0 || *journalPath != "" {
			fmt.Fprintln(stderr, "callengine sim: --random takes no files and no --journal")
			return 2
		}
		return simRandom(ctx, *random, *seed, *out, *quiet, *asJSON, stdout, stderr)
	}
	if len(files) == 0 {
		fs.Usage()
		return 2
	}
	if *journalPath != "" && len(files) > 1 {
		fmt.Fprintln(stderr, "callengine sim: --journal keeps one scenario's journal: give one file")
		return 2
	}
	if n := slices.Index(files, "-"); n >= 0 && slices.Index(files[n+1:], "-") >= 0 {
		fmt.Fprintln(stderr, "callengine sim: stdin (-) holds one scenario: give - once")
		return 2
	}
	var scenarios []*simulator.Scenario
	for _, f := range files {
		sc, err := loadScenario(f)
		if err != nil {
			fmt.Fprintf(stderr, "callengine sim: %v\n", err)
			return 2
		}
		scenarios = append(scenarios, sc)
	}
	failed := 0
	var doc simJSON
	for i, sc := range scenarios {
		opts := simulator.Options{Seed: *seed, JournalPath: *journalPath}
		if *asJSON {
			res, err := simulator.Run(ctx, sc, opts)
			if err != nil {
				fmt.Fprintf(stderr, "callengine sim: %s: %v\n", files[i], err)
				return 2
			}
			if !res.OK() {
				failed++
			}
			doc.Scenarios = append(doc.Scenarios, simScenario(files[i], res, *quiet))
			continue
		}
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
	if *asJSON {
		doc.Failed = failed
		if err := (replayOutput{w: stdout, json: true}).write(doc, nil); err != nil {
			fmt.Fprintln(stderr, "callengine sim:", err)
			return 2
		}
	} else if failed > 0 {
		fmt.Fprintf(stdout, "%d of %d scenarios failed\n", failed, len(scenarios))
	}
	if failed > 0 {
		return 1
	}
	return 0
}

// loadScenario reads a scenario file, or stdin for "-".
func loadScenario(path string) (*simulator.Scenario, error) {
	if path != "-" {
		return simulator.Load(path)
	}
	data, err := io.ReadAll(stdin)
	if err != nil {
		return nil, fmt.Errorf("stdin: %w", err)
	}
	sc, err := simulator.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("stdin: %w", err)
	}
	return sc, nil
}

// simJSON is what sim --json prints for scenario files.
type simJSON struct {
	Scenarios []simScenarioJSON `json:"scenarios"`
	Failed    int               `json:"failed"`
}

type simScenarioJSON struct {
	File     string           `json:"file"`
	Name     string           `json:"name"`
	OK       bool             `json:"ok"`
	Seed     uint64           `json:"seed"`
	Steps    int              `json:"steps"`
	Events   int              `json:"events"`
	Checks   int              `json:"checks"`
	Crashes  int              `json:"crashes"`
	Digest   string           `json:"digest"`
	Failures []simFailureJSON `json:"failures"`
	Timeline []string         `json:"timeline,omitempty"` // without --quiet
}

type simFailureJSON struct {
	Step    int    `json:"step"`
	Line    int    `json:"line,omitempty"`
	Kind    string `json:"kind"`
	Message string `json:"message"`
	Diff    string `json:"diff,omitempty"`
}

func simScenario(file string, r *simulator.Result, quiet bool) simScenarioJSON {
	s := simScenarioJSON{File: file, Name: r.Name, OK: r.OK(), Seed: r.Seed, Steps: r.Steps, Events: r.Events,
		Checks: r.Checks, Crashes: r.Crashes, Digest: r.Digest, Failures: []simFailureJSON{}}
	for _, f := range r.Failures {
		s.Failures = append(s.Failures, simFailureJSON{f.Step, f.Line, f.Kind, f.Message, f.Diff})
	}
	if !quiet {
		s.Timeline = r.Lines
	}
	return s
}

// simRandomJSON is what sim --random N --json prints.
type simRandomJSON struct {
	Scenarios int    `json:"scenarios"`
	FirstSeed uint64 `json:"first_seed"`
	OK        bool   `json:"ok"`
	Steps     int    `json:"steps"`
	Events    int    `json:"events"`
	Crashes   int    `json:"crashes"`
	Failure   *struct {
		Seed      uint64 `json:"seed"`
		Reason    string `json:"reason"`
		Reproduce string `json:"reproduce,omitempty"` // the scenario file written
	} `json:"failure,omitempty"`
}

func simRandom(ctx context.Context, n int, seed uint64, dir string, quiet, asJSON bool, stdout, stderr io.Writer) int {
	if seed == 0 {
		seed = 1
	}
	steps, events, crashes := 0, 0, 0
	f, err := simulator.RunRandom(ctx, n, seed, simulator.RandomOptions{FailureDir: dir, Progress: func(i int, r *simulator.Result) {
		steps, events, crashes = steps+r.Steps, events+r.Events, crashes+r.Crashes
		if !quiet && !asJSON {
			fmt.Fprintf(stdout, "seed %d: %d steps, %d events, %d crashes\n", r.Seed, r.Steps, r.Events, r.Crashes)
		}
	}})
	if asJSON && err == nil {
		doc := simRandomJSON{Scenarios: n, FirstSeed: seed, OK: f == nil, Steps: steps, Events: events, Crashes: crashes}
		if f != nil {
			doc.Failure = &struct {
				Seed      uint64 `json:"seed"`
				Reason    string `json:"reason"`
				Reproduce string `json:"reproduce,omitempty"`
			}{f.Seed, f.Reason, f.File}
		}
		if err := (replayOutput{w: stdout, json: true}).write(doc, nil); err != nil {
			fmt.Fprintln(stderr, "callengine sim:", err)
			return 2
		}
		if f != nil {
			return 1
		}
		return 0
	}
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
