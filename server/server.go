package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callengine/callengine/adapters/loopback"
	sipadapter "github.com/callengine/callengine/adapters/sip"
	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/engine"
)

// Server is callengine serve: an engine on its data directory, provisioned
// from the configuration, with an HTTP server in front of it. Set the
// fields, then call Run; the fields must not change after.
type Server struct {
	// Config is the configuration; empty fields take their defaults.
	Config Config

	// WebSocket serves /ws (package adapters/ws). Nil: /ws answers 503
	// "websocket not configured". It is only called once the server is
	// ready (503 "starting" before), so OnOpen may set it.
	WebSocket http.Handler
	// MediaStats gives the media relay's counters to /metrics at scrape
	// time. Nil: they are zero.
	MediaStats func() MediaStats
	// OnEchoCall is called with live true just before the echo client
	// answers a call (and for its live calls when the server starts), and
	// with live false when such a call ends: the place to put a party that
	// plays back what it hears on the call's callee side
	// (relay.AddEchoLeg). It runs on the echo goroutine: do not block.
	OnEchoCall func(callID string, live bool)
	// OnOpen is called once the engine is open and provisioned, before the
	// server reports ready: wire what needs the engine here (the WebSocket
	// handler, the media relay). An error stops the server.
	OnOpen func(ctx context.Context, e *engine.Engine) error
	// EngineConfig adjusts the engine's configuration before Open (another
	// adapter than the loopback far end, webhooks, …).
	EngineConfig func(*engine.Config)

	// Notice, if set, is printed on Stdout after the start line (callengine
	// serve's note on the demo clients of its embedded defaults).
	Notice string
	// Stdout receives the start line (default os.Stdout); Logger the logs
	// (default: at Config.LogLevel on os.Stderr).
	Stdout io.Writer
	Logger *slog.Logger

	initOnce sync.Once
	metrics  *Metrics
	handler  http.Handler
	log      *slog.Logger

	trunks *sipadapter.Trunks // the engine's far end when sip.trunks is set

	ready, draining atomic.Bool
	eng             atomic.Pointer[engine.Engine]
	addr            atomic.Pointer[string]
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		s.metrics = NewMetrics(func() MediaStats {
			if f := s.MediaStats; f != nil {
				return f()
			}
			return MediaStats{}
		})
		mux := http.NewServeMux()
		mux.Handle("GET /", staticFiles())
		mux.HandleFunc("GET /ws", s.websocket) // a WebSocket opens with a GET
		mux.Handle("GET /metrics", s.metrics.Handler())
		mux.HandleFunc("GET /healthz", s.healthz)
		mux.HandleFunc("GET /readyz", s.readyz)
		mux.HandleFunc("GET /recordings/", s.recordingFile) // recording_http.go
		s.handler = mux
	})
}

// Metrics returns the server's metrics, for the adapters to report to
// (ObserveCommand, IncWebSocket, DecWebSocket).
func (s *Server) Metrics() *Metrics { s.init(); return s.metrics }

// Handler is the HTTP handler Run serves: /, /ws, /metrics, /healthz,
// /readyz, /recordings/.
func (s *Server) Handler() http.Handler { s.init(); return s.handler }

// Engine returns the engine while it is open, else nil.
func (s *Server) Engine() *engine.Engine { return s.eng.Load() }

// Ready reports whether the engine is open, the provisioning applied and
// the server not draining.
func (s *Server) Ready() bool { return s.ready.Load() && !s.draining.Load() }

// Draining reports whether the server is shutting down: adapters refuse new
// calls then.
func (s *Server) Draining() bool { return s.draining.Load() }

// Addr returns the address the HTTP server listens on ("" before Run
// listens): with port 0, the port it got.
func (s *Server) Addr() string {
	if a := s.addr.Load(); a != nil {
		return *a
	}
	return ""
}

func (s *Server) websocket(w http.ResponseWriter, r *http.Request) {
	switch {
	case s.WebSocket == nil:
		http.Error(w, "websocket not configured", http.StatusServiceUnavailable)
	case s.Draining():
		http.Error(w, "draining", http.StatusServiceUnavailable)
	case !s.ready.Load():
		http.Error(w, "starting", http.StatusServiceUnavailable)
	default:
		s.WebSocket.ServeHTTP(w, r)
	}
}

// OpenError is an engine that could not be opened on the data directory
// (locked by another process, damaged): callengine serve exits 2.
type OpenError struct{ Err error }

func (e *OpenError) Error() string { return e.Err.Error() }
func (e *OpenError) Unwrap() error { return e.Err }

// Run listens, prints the start line, opens the engine, provisions it and
// serves until ctx ends; then it drains: /readyz answers 503 and Draining
// reports true, the HTTP server shuts down (waiting at most DrainTimeout
// for requests in flight; WebSocket handlers see their request's context
// end), and the engine closes — live calls stay in the journal and the next
// start restores them. It returns nil after a clean drain; a *ConfigError
// for an invalid configuration, an *OpenError when the engine cannot open.
func (s *Server) Run(ctx context.Context) (err error) {
	s.init()
	cfg := s.Config.WithDefaults()
	if err := cfg.Check(); err != nil {
		return err
	}
	s.log = s.Logger
	if s.log == nil {
		if s.log, err = engine.NewLogger(os.Stderr, cfg.LogLevel, cfg.LogJSON); err != nil {
			return err
		}
	}
	stdout := s.Stdout
	if stdout == nil {
		stdout = os.Stdout
	}

	ln, err := net.Listen("tcp", cfg.HTTP)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTP, err)
	}
	addr := ln.Addr().String()
	s.addr.Store(&addr)
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	if cfg.PProf != "" {
		pa, err := s.servePProf(base, cfg.PProf)
		if err != nil {
			ln.Close()
			return err
		}
		s.log.Info("profiler on", "addr", "http://"+pa+"/debug/pprof/")
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	fmt.Fprintf(stdout, "callengine serve: %s (data %s)\n", pageURL(addr), showDir(cfg.Data))
	if s.Notice != "" {
		fmt.Fprintln(stdout, s.Notice)
	}

	// drain stops the HTTP server; what else there is to stop comes after.
	drain := func() error {
		s.draining.Store(true)
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.DrainTimeout)
		defer cancel()
		err := hs.Shutdown(sctx)
		cancelBase() // hijacked connections (WebSockets) end with their request's context
		if errors.Is(err, context.DeadlineExceeded) {
			s.log.Warn("drain: requests still running after the drain timeout; closed", "timeout", cfg.DrainTimeout)
			hs.Close()
			err = nil
		}
		return err
	}

	e, prov, err := s.open(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil {
			// A signal while the journal was restored or the provisioning
			// applied: nothing half-done stays (what was journaled is
			// whole), so this is a drain like any other.
			s.log.Info("stopped while starting", "err", err)
			return drain()
		}
		return errors.Join(err, drain())
	}
	s.eng.Store(e)
	followers, stopFollowers := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	defer func() {
		stopFollowers()
		wg.Wait()
		s.eng.Store(nil)
		s.metrics.attach(nil)
		live := e.LiveCalls()
		if cerr := e.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("closing the engine: %w", cerr))
		} else {
			s.log.Info("engine closed; live calls stay in the journal", "live_calls", live)
		}
	}()
	s.metrics.attach(e)
	wg.Go(func() { s.metrics.follow(followers, e) })
	if s.WebSocket == nil {
		g, err := s.buildEdge(ctx, e)
		if err != nil {
			return errors.Join(fmt.Errorf("starting the media relay: %w", err), drain())
		}
		defer g.close() // before the engine closes (deferred earlier)
	}
	if !cfg.Echo.Disabled {
		wg.Go(func() { s.echo(followers, e, cfg.Echo.Client) })
	}
	if s.OnOpen != nil {
		if err := s.OnOpen(ctx, e); err != nil {
			return errors.Join(fmt.Errorf("starting: %w", err), drain())
		}
	}
	r := e.Restored()
	s.ready.Store(true)
	s.log.Info("ready", "addr", addr, "data", cfg.Data, "restored_clients", r.Clients, "restored_calls", r.Calls,
		"restore", r.Duration.Round(time.Millisecond), "provisioned", prov.String())

	select {
	case <-ctx.Done():
		s.log.Info("draining", "live_calls", e.LiveCalls())
		return drain()
	case err := <-served:
		s.draining.Store(true)
		return fmt.Errorf("http server: %w", err)
	}
}

// open opens the engine on cfg and applies the provisioning.
func (s *Server) open(ctx context.Context, cfg Config) (*engine.Engine, Provisioned, error) {
	secret := []byte(cfg.TokenSecret)
	if len(secret) == 0 {
		var err error
		if secret, err = tokenSecret(cfg.Data); err != nil {
			return nil, Provisioned{}, &OpenError{err}
		}
	}
	far, err := s.farEnd(cfg)
	if err != nil {
		return nil, Provisioned{}, &OpenError{err}
	}
	ec := engine.Config{
		DataDir: cfg.Data, Adapter: far, Logger: s.log, Domain: cfg.Domain,
		RingTimeout: cfg.RingTimeout, TokenSecret: secret, CommitInterval: cfg.JournalCommitInterval,
		AccessTokenTTL: cfg.AccessTokenTTL, RefreshTokenTTL: cfg.RefreshTokenTTL,
		// serve is the whole program: its collector may pause while a
		// large restore builds the heap (engine.Config.RestorePausesGC).
		RestorePausesGC: true,
	}
	if s.EngineConfig != nil {
		s.EngineConfig(&ec)
	}
	e, err := engine.Open(ctx, ec)
	if err != nil {
		return nil, Provisioned{}, &OpenError{err}
	}
	prov, err := Provision(ctx, e, cfg)
	if err != nil {
		return nil, prov, errors.Join(fmt.Errorf("provisioning: %w", err), e.Close())
	}
	return e, prov, nil
}

// farEnd is the engine's Adapter: the SIP trunks when sip.trunks lists
// some (buildSIP links them to the SIP adapter), else the loopback far end
// scripted by outside.
func (s *Server) farEnd(cfg Config) (engine.Adapter, error) {
	s.trunks = nil
	if len(cfg.SIP.Trunks) > 0 && !cfg.SIP.Disabled {
		list := make([]sipadapter.Trunk, 0, len(cfg.SIP.Trunks))
		for _, t := range cfg.SIP.Trunks {
			list = append(list, t.sipTrunk())
		}
		ts, err := sipadapter.NewTrunks(list)
		if err != nil {
			return nil, err
		}
		s.trunks = ts
		return ts, nil
	}
	far := loopback.New(clock.Real{})
	far.SetLogger(s.log)
	far.Default(cfg.Outside.behavior())
	return far, nil
}

// behavior is the loopback script of numbers outside.
func (o Outside) behavior() loopback.Behavior {
	b := loopback.Behavior{RingAfter: o.RingAfter, AnswerAfter: o.AnswerAfter, RingFor: o.RingFor, HangupAfter: o.HangupAfter}
	switch o.Outcome {
	case "busy":
		b.Outcome = loopback.Busy
	case "no-answer":
		b.Outcome = loopback.NoAnswer
	case "reject":
		b.Outcome = loopback.Reject
	case "fail":
		b.Outcome = loopback.Fail
	default:
		b.Outcome = loopback.Answer
	}
	return b
}

// tokenSecret reads the token secret kept in dir/token-secret, or makes
// one (32 random bytes, hex) on the first start.
func tokenSecret(dir string) ([]byte, error) {
	path := filepath.Join(dir, "token-secret")
	if b, err := os.ReadFile(path); err == nil {
		if s := strings.TrimSpace(string(b)); len(s) >= 32 {
			return []byte(s), nil
		}
		return nil, fmt.Errorf("%s: a token secret needs at least 32 bytes", path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create the data directory: %w", err)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, err
	}
	s := hex.EncodeToString(raw[:])
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if _, err := f.WriteString(s + "\n"); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return []byte(s), nil
}

// pageURL is the page's URL on the listening address; an unspecified host
// (all interfaces) shows as localhost.
func pageURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr + "/"
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// showDir writes a relative directory as ./dir.
func showDir(dir string) string {
	if filepath.IsAbs(dir) || strings.HasPrefix(dir, ".") {
		return dir
	}
	return "." + string(filepath.Separator) + dir
}
