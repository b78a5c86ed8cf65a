package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// servePProf serves Go's profiler (/debug/pprof/) on addr, a loopback
// address (Config.PProf), until ctx ends. It returns the address it
// listens on.
func (s *Server) servePProf(ctx context.Context, addr string) (string, error) {
	if !LoopbackAddr(addr) {
		return "", fmt.Errorf("pprof: %q is not a loopback address", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("pprof: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Warn("pprof: server ended", "err", err)
		}
	}()
	context.AfterFunc(ctx, func() { hs.Close() })
	return ln.Addr().String(), nil
}
