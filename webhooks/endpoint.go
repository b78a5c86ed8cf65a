package webhooks

import "time"

// Endpoint is one HTTP endpoint that receives events.
type Endpoint struct {
	// URL receives a POST per event.
	URL string
	// Secret signs each request (an HMAC-SHA256 header).
	Secret []byte
	// Events selects the kinds delivered; empty means all.
	Events []string
}

// Options tune delivery. The zero value is usable.
type Options struct {
	// StatePath is the file that keeps each endpoint's delivery position.
	StatePath string
	// Timeout bounds one request. Default 5 s.
	Timeout time.Duration
	// MaxAttempts bounds the tries of one event. Default 10.
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the wait between tries.
	MinBackoff, MaxBackoff time.Duration
}
