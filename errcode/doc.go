// Package errcode defines the typed error of callengine: every failure the engine
// reports carries an HTTP-like status, a stable machine-readable code and a
// message for people (FEATURES H4).
//
// Errors enter from every layer — fsm/ refuses a command with InvalidState,
// engine/ refuses bad parameters with InvalidParams — and leave through the
// public API unchanged, so a caller matches them with errors.Is against the
// sentinel values of this package or with errors.As against *Error:
//
//	var e *errcode.Error
//	if errors.As(err, &e) && e.Code == errcode.InvalidState { ... }
//	if errors.Is(err, errcode.ErrNotFound) { ... }
//
// The codes are part of the public contract: they never change meaning.
package errcode
