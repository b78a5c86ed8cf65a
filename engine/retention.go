package engine

import "context"

// openRetention starts the periodic archiving of ended calls older than
// Config.RetainEnded, when set.
func (e *Engine) openRetention(ctx context.Context) error { return nil }

// closeRetention stops it; Close calls it before the journal closes.
func (e *Engine) closeRetention() {}
