package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/callengine/callengine/bench"
)

// TestMain runs this test binary as the callengine program when the bench's
// webrtc workload starts it as its `callengine serve` child (the variable
// bench.TestAsMainEnv set): a test's os.Executable is the test binary, so
// that `go test` runs the workload against the real command.
func TestMain(m *testing.M) {
	if os.Getenv(bench.TestAsMainEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}
