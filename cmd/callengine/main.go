package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
)

// stdin is what "-" reads (a variable so that tests can give it).
var stdin io.Reader = os.Stdin

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage: callengine <command> [flags]

commands:
  serve     put the engine on the network: the softphone page, WebSocket, metrics, health; drain on SIGTERM
  demo      clients call each other through a real journal; run it twice to see the restore
  bench     load workloads on a real journal: calls/s, latency, heap per call, restore, replay
  sim       run scenario files on a virtual clock; print the timeline, check expectations
  replay    list the calls and transfers of a journal, show a call's timeline, the state at an instant, verify
  backup    take a consistent hot copy of a journal, even one a running engine holds open
  repair    rebuild a damaged streams index of a journal from its checksummed events
  archive   move ended calls older than an age out of the hot journal into an archive file; compact
  history   list a client's call history and voicemail from a journal
  version   print the version (also --version)
  help      print this, or a command's usage: 'callengine help CMD' (also CMD -h, CMD --help)

Every command that prints data takes --json; "-" as a file name means stdin
or stdout.

Exit status:
  0  done
  1  a finding: a divergence (replay --verify), a regression (bench --compare),
     an unmet expectation or broken invariant (sim); or the work itself failed
     (a bench workload, a backup or archive that could not be completed, a
     server that could not start)
  2  bad usage, or input that cannot be read (a missing, locked or damaged
     journal, an unknown call or client, an unreadable scenario or report,
     an invalid configuration)
`

// commands are callengine's commands; each prints its usage, on stdout,
// for -h and --help (and 'callengine help NAME').
var commands = map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) int{
	"serve":   serveCmd,
	"demo":    demo,
	"bench":   benchCmd,
	"sim":     simCmd,
	"replay":  replayCmd,
	"backup":  backupCmd,
	"repair":  repairCmd,
	"archive": archiveCmd,
	"history": historyCmd,
	"version": versionCmd,
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) == 1 || len(args) == 2 && isHelp(args[1]) {
			fmt.Fprint(stdout, usage) // help, help -h, help help: help's usage is this
			return 0
		}
		if _, ok := commands[args[1]]; !ok || len(args) > 2 {
			if ok {
				args[1] = strings.Join(args[1:], " ")
			}
			fmt.Fprintf(stderr, "callengine help: unknown command %q\n\n%s", args[1], usage)
			return 2
		}
		return commands[args[1]](ctx, []string{"-h"}, stdout, stderr)
	case "-version", "--version":
		return versionCmd(ctx, args[1:], stdout, stderr)
	}
	if cmd, ok := commands[args[0]]; ok {
		return cmd(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "callengine: unknown command %q\n\n%s", args[0], usage)
	return 2
}

// isHelp reports whether a is a way of asking for help.
func isHelp(a string) bool {
	switch a {
	case "help", "-h", "-help", "--help":
		return true
	}
	return false
}

const versionUsage = `usage: callengine version [--json]
       callengine --version

Prints the version of this build of callengine: the module version when it
was built with 'go install', else "(devel)".

Exit status: 0 done, 2 bad usage.

flags:
`

// versionCmd is "callengine version" and "callengine --version".
func versionCmd(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("version", versionUsage, stderr)
	asJSON := fs.Bool("json", false, "write JSON instead of text")
	pos, code, ok := parseFlags(fs, args, stdout, false)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "callengine version: unexpected argument %q\n", pos[0])
		return 2
	}
	v, goVersion := "(devel)", runtime.Version()
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	out := replayOutput{w: stdout, json: *asJSON}
	doc := struct {
		Version string `json:"version"`
		Go      string `json:"go"`
	}{v, goVersion}
	return out.done(func(error) int { return 2 }, out.write(doc, func(w io.Writer) error {
		_, err := fmt.Fprintln(w, "callengine", v)
		return err
	}))
}
