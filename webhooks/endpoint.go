package webhooks

import (
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/errcode"
)

// Endpoint is one HTTP endpoint that receives events.
type Endpoint struct {
	// ID names the endpoint in the state file, in Stats and in the logs.
	// Default: its URL. Give one to keep an endpoint's position in the
	// journal when its URL changes; two endpoints may not share an ID.
	ID string
	// URL receives a POST per event: an absolute http or https URL.
	URL string
	// Secret signs each request (the X-Callengine-Signature header, an
	// HMAC-SHA256 of the timestamp and the body). It may not be empty.
	Secret []byte
	// Events selects the kinds delivered (KindCallCreated, …); empty means
	// all of them.
	Events []string
}

// key is the endpoint's name in the state file and in Stats.
func (e Endpoint) key() string {
	if e.ID != "" {
		return e.ID
	}
	return e.URL
}

// logName names the endpoint in logs: its ID, else its URL without the
// password and the query (either may hold a credential).
func (e Endpoint) logName() string {
	if e.ID != "" {
		return e.ID
	}
	u, err := url.Parse(e.URL)
	if err != nil {
		return "(bad URL)"
	}
	if u.RawQuery != "" {
		u.RawQuery = "…"
	}
	return u.Redacted()
}

// Validate checks an endpoint. Errors have code invalid_params.
func (e Endpoint) Validate() error {
	if e.URL == "" {
		return errcode.New(errcode.InvalidParams, "webhook endpoint: no URL")
	}
	u, err := url.Parse(e.URL)
	if err != nil {
		return errcode.Wrap(errcode.InvalidParams, err, "webhook endpoint: bad URL")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errcode.Newf(errcode.InvalidParams, "webhook endpoint %s: the URL must be an absolute http or https URL", e.logName())
	}
	if len(e.Secret) == 0 {
		return errcode.Newf(errcode.InvalidParams, "webhook endpoint %s: no secret", e.logName())
	}
	for _, k := range e.Events {
		if !slices.Contains(kinds, k) {
			return errcode.Newf(errcode.InvalidParams, "webhook endpoint %s: unknown event kind %q (known: %v)", e.logName(), k, kinds)
		}
	}
	return nil
}

// ValidateEndpoints checks every endpoint and that no two share an ID (or,
// without IDs, a URL). Errors have code invalid_params.
func ValidateEndpoints(eps []Endpoint) error {
	seen := make(map[string]bool, len(eps))
	for _, e := range eps {
		if err := e.Validate(); err != nil {
			return err
		}
		if seen[e.key()] {
			return errcode.Newf(errcode.InvalidParams, "webhook endpoint %s given twice (set distinct IDs)", e.logName())
		}
		seen[e.key()] = true
	}
	return nil
}

// Options tune delivery. The zero value is usable.
type Options struct {
	// StatePath is the file that keeps each endpoint's delivery position
	// (the last journal sequence number it is done with). An engine sets it
	// to DataDir/webhooks.json. Empty: positions live in memory only, and
	// every Start begins at the journal's end.
	StatePath string
	// Timeout bounds one request, measured on Clock. Default 5 s.
	Timeout time.Duration
	// MaxAttempts bounds the tries of one event; after the last one the
	// event is dead (logged and counted) and delivery moves on. Default 10.
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the wait between tries: MinBackoff
	// after the first failure, doubling up to MaxBackoff. Default 1 s and
	// 5 min.
	MinBackoff, MaxBackoff time.Duration
	// SaveInterval is the least time between two writes of the state file,
	// measured on Clock: the file is not synced for every event, and a
	// crash sends again at most the events of the last interval. Default
	// 1 s.
	SaveInterval time.Duration

	// Clock measures timeouts and backoff and stamps the signatures. An
	// engine sets its own clock. Default clock.Real{}.
	Clock clock.Clock
	// Logger receives delivery logs: failed tries at info level, dead
	// events at warn. An engine sets its logger when this is nil. Default:
	// discarded.
	Logger *slog.Logger
	// Client sends the requests. Default: a client of its own that does not
	// follow redirects (a 3xx is a failed try).
	Client *http.Client
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 10
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Minute
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	if o.SaveInterval <= 0 {
		o.SaveInterval = time.Second
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		o.Client = &http.Client{
			Transport:     tr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return o
}

// backoff is the wait after the failed try number attempt (from 1):
// MinBackoff, doubling, at most MaxBackoff.
func (o Options) backoff(attempt int) time.Duration {
	d := o.MinBackoff
	for i := 1; i < attempt && d < o.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, o.MaxBackoff)
}
