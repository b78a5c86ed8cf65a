package ws

import (
	"log/slog"
	"time"
)

// Settings are the options of a Handler. The zero value is usable: every
// field has a default.
type Settings struct {
	// AllowedOrigins are the host patterns (path.Match syntax, e.g.
	// "*.example.com") of the cross-origin pages allowed to connect. A
	// page from the request's own host is always allowed; any other
	// origin is refused with 403 at the upgrade.
	AllowedOrigins []string
	// MaxMessageBytes bounds one incoming frame (default 64 KiB); a larger
	// frame closes the connection with status 1009.
	MaxMessageBytes int64
	// SendQueue bounds the messages waiting to be written to one socket
	// (default 256). A connection whose queue overflows is closed with
	// status 1008: a slow socket never holds back the engine.
	SendQueue int
	// PingInterval is how often the server pings (default 20 s);
	// MaxMissedPings consecutive pings without a pong close the
	// connection (default 3).
	PingInterval   time.Duration
	MaxMissedPings int
	// WriteTimeout bounds one write to the socket (default 10 s).
	WriteTimeout time.Duration
	// MaxUnauthenticated is how many messages are refused before
	// authentication until the connection is closed (default 3).
	MaxUnauthenticated int
	// CommandTimeout bounds one engine command (default 10 s).
	CommandTimeout time.Duration
	// Logger receives the connection logs (default slog.Default()).
	Logger *slog.Logger
	// Draining, when set and true, refuses new calls (call.create) with
	// unavailable (503): the server is shutting down. Calls in progress
	// go on.
	Draining func() bool
	// PreferG711 answers every browser's call with G.711 when its offer
	// lists it (Chromium's does), not only the calls that reach a SIP
	// phone or a number outside: then calls between browsers are G.711 end
	// to end, so they can be recorded (the relay decodes no Opus) and mixed
	// with phones in a conference, at G.711's narrowband quality. False:
	// browsers call each other on Opus.
	PreferG711 bool
	// Hooks observe connections and messages, e.g. for metrics. Nil
	// fields are not called. They run on the connection's goroutines and
	// must not block.
	Hooks Hooks
}

// Hooks observe what a Handler does (metrics).
type Hooks struct {
	// Connected and Disconnected bracket an authenticated connection;
	// code is the close status (0 when the peer went away).
	Connected    func(client string)
	Disconnected func(client string, code int)
	// Request is called after each request with its type, the error
	// code of its refusal ("" on success) and how long it took.
	Request func(typ string, code string, took time.Duration)
	// Dropped is called when a connection is closed for a full send queue.
	Dropped func(client string)
}

// Defaults.
const (
	DefaultMaxMessageBytes = 64 << 10
	DefaultSendQueue       = 256
	DefaultPingInterval    = 20 * time.Second
	DefaultMaxMissedPings  = 3
)

func (s Settings) withDefaults() Settings {
	if s.MaxMessageBytes <= 0 {
		s.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if s.SendQueue <= 0 {
		s.SendQueue = DefaultSendQueue
	}
	if s.PingInterval <= 0 {
		s.PingInterval = DefaultPingInterval
	}
	if s.MaxMissedPings <= 0 {
		s.MaxMissedPings = DefaultMaxMissedPings
	}
	if s.WriteTimeout <= 0 {
		s.WriteTimeout = 10 * time.Second
	}
	if s.MaxUnauthenticated <= 0 {
		s.MaxUnauthenticated = 3
	}
	if s.CommandTimeout <= 0 {
		s.CommandTimeout = 10 * time.Second
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	return s
}
