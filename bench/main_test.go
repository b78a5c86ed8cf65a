package bench

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/server"
)

// TestMain runs this test binary as `callengine serve --config FILE` when
// the webrtc workload starts it as its server (TestAsMainEnv set): the
// bench package cannot import the command, so this is serve's core —
// server.Load and server.Server.Run, draining on SIGTERM.
func TestMain(m *testing.M) {
	if os.Getenv(TestAsMainEnv) == "1" {
		os.Exit(serveAsMain(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func serveAsMain(args []string) int {
	if len(args) != 3 || args[0] != "serve" || args[1] != "--config" {
		fmt.Fprintf(os.Stderr, "bench test binary as serve: want serve --config FILE, got %q\n", args)
		return 2
	}
	cfg, err := server.Load(server.Sources{File: args[2]})
	if err != nil {
		fmt.Fprintln(os.Stderr, "callengine serve:", err)
		return 2
	}
	logger, err := engine.NewLogger(os.Stderr, cfg.LogLevel, cfg.LogJSON)
	if err != nil {
		fmt.Fprintln(os.Stderr, "callengine serve:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := (&server.Server{Config: cfg, Stdout: os.Stdout, Logger: logger}).Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "callengine serve:", err)
		return 1
	}
	return 0
}
