package engine

import "context"

// openHistory starts the call history projection (H1) once restore is done.
func (e *Engine) openHistory(ctx context.Context) error { return nil }

// closeHistory stops it; Close calls it before the journal closes.
func (e *Engine) closeHistory() {}
