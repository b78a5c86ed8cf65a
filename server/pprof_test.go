package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

// The profiler answers on a loopback address and nowhere else.
func TestPProfServesOnLoopbackOnly(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := s.servePProf(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(b) == 0 {
		t.Fatalf("cmdline: %d %q", resp.StatusCode, b)
	}
	cancel()
	// Once ctx ends the listener is closed.
	for range 100 {
		if _, err = http.Get("http://" + addr + "/debug/pprof/cmdline"); err != nil {
			break
		}
	}
	if err == nil {
		t.Error("the profiler still answers after its context ended")
	}

	if _, err := s.servePProf(context.Background(), "0.0.0.0:0"); err == nil {
		t.Error("a profiler on 0.0.0.0 was started")
	}
	_, err = Load(Sources{Flags: map[string]string{"pprof": "0.0.0.0:6060"}})
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "pprof") {
		t.Errorf("pprof on 0.0.0.0: %v", err)
	}
	c, err := Load(Sources{Env: env(map[string]string{"CALLENGINE_PPROF": "127.0.0.1:6060"})})
	if err != nil || c.PProf != "127.0.0.1:6060" {
		t.Errorf("CALLENGINE_PPROF: %q, %v", c.PProf, err)
	}
}
