package engine

import (
	"context"
	"log/slog"

	"github.com/callengine/callengine/webhooks"
)

// openWebhooks starts delivery to Config.Webhooks (H3) once restore is done:
// a webhooks.Dispatcher that follows the journal with the engine's clock and
// logger, keeping its positions in WebhookOptions.StatePath (default
// DataDir/webhooks.json). Invalid endpoints fail Open with code
// invalid_params.
func (e *Engine) openWebhooks(ctx context.Context) error {
	if len(e.cfg.Webhooks) == 0 {
		return nil
	}
	opts := e.cfg.WebhookOptions
	if opts.StatePath == "" {
		opts.StatePath = e.cfg.beside("webhooks.json")
	}
	opts.Clock = e.cfg.Clock
	if opts.Logger == nil {
		opts.Logger = e.cfg.Logger.With(slog.String("component", "webhooks"))
	}
	d, err := webhooks.Start(e.journal, e.cfg.Webhooks, opts)
	if err != nil {
		return err
	}
	e.hooks.Store(d)
	return nil
}

// closeWebhooks stops it; Close calls it before the journal closes. A
// request in flight is cancelled: its event is sent again after the next
// Open. Safe when webhooks never started.
func (e *Engine) closeWebhooks() {
	d := e.hooks.Swap(nil)
	if d == nil {
		return
	}
	if err := d.Close(); err != nil {
		e.cfg.Logger.Error("webhook state file not written at close; events since its last write will be sent again",
			slog.String("error", err.Error()))
	}
}

// webhooksDone returns the journal sequence number up to which every webhook
// endpoint is done with the events (see webhooks.Dispatcher.Done); ok is
// false when no webhook is configured. Retention must not archive events
// above it.
func (e *Engine) webhooksDone() (seq uint64, ok bool) {
	d := e.hooks.Load()
	if d == nil {
		return 0, false
	}
	return d.Done(), true
}

// WebhookStats returns how delivery goes to each of Config.Webhooks, in
// their order; nil when none is configured.
func (e *Engine) WebhookStats() []webhooks.EndpointStats {
	d := e.hooks.Load()
	if d == nil {
		return nil
	}
	return d.Stats()
}
