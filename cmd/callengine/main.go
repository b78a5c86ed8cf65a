package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage: callengine <command> [flags]

commands:
  demo      clients call each other through a real journal; run it twice to see the restore
  bench     load workloads on a real journal: calls/s, latency, heap per call, restore, replay
  sim       run scenario files on a virtual clock; print the timeline, check expectations
  replay    list the calls and transfers of a journal, show a call's timeline, the state at an instant, verify
  backup    take a consistent hot copy of a journal, even one a running engine holds open
  archive   move ended calls older than an age out of the hot journal into an archive file; compact
  history   list a client's call history and voicemail from a journal
  version   print the version
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "demo":
		return demo(ctx, args[1:], stdout, stderr)
	case "bench":
		return benchCmd(ctx, args[1:], stdout, stderr)
	case "sim":
		return simCmd(ctx, args[1:], stdout, stderr)
	case "replay":
		return replayCmd(ctx, args[1:], stdout, stderr)
	case "backup":
		return backupCmd(ctx, args[1:], stdout, stderr)
	case "repair":
		return repairCmd(ctx, args[1:], stdout, stderr)
	case "archive":
		return archiveCmd(ctx, args[1:], stdout, stderr)
	case "history":
		return historyCmd(ctx, args[1:], stdout, stderr)
	case "version":
		v := "(devel)"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
			v = bi.Main.Version
		}
		fmt.Fprintln(stdout, "callengine", v)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "callengine: unknown command %q\n\n%s", args[0], usage)
	return 2
}
