package engine

import "context"

// openWebhooks starts delivery to Config.Webhooks (H3) once restore is done.
func (e *Engine) openWebhooks(ctx context.Context) error { return nil }

// closeWebhooks stops it; Close calls it before the journal closes.
func (e *Engine) closeWebhooks() {}
