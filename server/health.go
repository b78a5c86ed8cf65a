package server

import (
	"net/http"
)

// healthz answers 200 while the process runs: it is alive, whether or not
// the engine is open.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte("ok\n"))
}

// readyz answers 200 once the engine is open and the provisioning applied,
// and 503 while the server starts or drains: a load balancer sends new
// connections only to a ready server.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case s.Draining():
		http.Error(w, "draining", http.StatusServiceUnavailable)
	case !s.Ready():
		http.Error(w, "starting", http.StatusServiceUnavailable)
	default:
		w.WriteHeader(http.StatusOK)
		w.Write([]byte("ready\n"))
	}
}
