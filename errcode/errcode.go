package errcode

import (
	"errors"
	"fmt"
)

// Code is a stable, machine-readable error code.
type Code string

// The stable codes. Their HTTP-like status is given by Status.
const (
	InvalidToken Code = "invalid_token"
	// InvalidCredentials: a login's client id or password is wrong (M2).
	InvalidCredentials Code = "invalid_credentials"
	MissingParameter   Code = "missing_parameter"
	InvalidParams      Code = "invalid_params"
	InvalidSession     Code = "invalid_session_id"
	NotFound           Code = "not_found"
	InvalidState       Code = "invalid_state"
	Forbidden          Code = "forbidden"
	AlreadyExists      Code = "already_exists"
	Conflict           Code = "conflict"
	Unavailable        Code = "unavailable"
	Closed             Code = "closed"
	JournalCorrupt     Code = "journal_corrupt"
	Malformed          Code = "malformed"
	Internal           Code = "internal"

	// Call control refusals named after the SDK events (FEATURES C8, C11, T1).
	HoldNotAvailable      Code = "hold_not_available"
	RecordingNotAvailable Code = "recording_not_available"
	TransferFailed        Code = "transfer_failed"
)

// Status returns the HTTP-like status that goes with a code.
func (c Code) Status() int {
	switch c {
	case InvalidToken, InvalidCredentials, InvalidSession:
		return 401
	case Forbidden, RecordingNotAvailable:
		return 403
	case NotFound:
		return 404
	case InvalidState, AlreadyExists, Conflict, HoldNotAvailable:
		return 409
	case MissingParameter, InvalidParams, Malformed, TransferFailed:
		return 400
	case Unavailable, Closed:
		return 503
	default:
		return 500
	}
}

// Error is the error type of callengine. The zero value is not useful; build one
// with New or Newf.
type Error struct {
	Code    Code   // stable code, e.g. invalid_state
	Message string // for people; may change between versions
	Err     error  // optional cause
}

// New returns an error with the given code and message.
func New(code Code, msg string) *Error { return &Error{Code: code, Message: msg} }

// Newf returns an error with the given code and a formatted message.
func Newf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an error with the given code whose cause is err.
func Wrap(code Code, err error, msg string) *Error {
	return &Error{Code: code, Message: msg, Err: err}
}

// Status is the HTTP-like status of the error's code.
func (e *Error) Status() int { return e.Code.Status() }

func (e *Error) Error() string {
	if e.Err != nil {
		return string(e.Code) + ": " + e.Message + ": " + e.Err.Error()
	}
	return string(e.Code) + ": " + e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, errcode.ErrInvalidState) matches any invalid_state error.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Message == ""
}

// Sentinels for errors.Is; they match every error with the same code.
var (
	ErrInvalidToken     = &Error{Code: InvalidToken}
	ErrMissingParameter = &Error{Code: MissingParameter}
	ErrInvalidParams    = &Error{Code: InvalidParams}
	ErrInvalidSession   = &Error{Code: InvalidSession}
	ErrNotFound         = &Error{Code: NotFound}
	ErrInvalidState     = &Error{Code: InvalidState}
	ErrForbidden        = &Error{Code: Forbidden}
	ErrAlreadyExists    = &Error{Code: AlreadyExists}
	ErrConflict         = &Error{Code: Conflict}
	ErrUnavailable      = &Error{Code: Unavailable}
	ErrClosed           = &Error{Code: Closed}
	ErrJournalCorrupt   = &Error{Code: JournalCorrupt}
	ErrMalformed        = &Error{Code: Malformed}
	ErrInternal         = &Error{Code: Internal}

	ErrHoldNotAvailable      = &Error{Code: HoldNotAvailable}
	ErrRecordingNotAvailable = &Error{Code: RecordingNotAvailable}
	ErrTransferFailed        = &Error{Code: TransferFailed}
)

// CodeOf returns the code of err if it is or wraps an *Error, and "" otherwise.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) && e != nil {
		return e.Code
	}
	return ""
}

// A Coder is an error that is not an *Error but knows the code it is
// reported under: the failure kinds of a lower layer, such as the journal's
// sentinel errors, which keep their own text. A caller that reports such an
// error wraps it in an *Error with a message for people and the code from
// Classify.
type Coder interface {
	error
	ErrorCode() Code
}

// Classify returns the code of the first Coder in err's chain, or fallback
// when there is none. Unlike CodeOf it does not look at *Error values: it
// answers what kind of lower-layer failure err is, not how it was reported.
func Classify(err error, fallback Code) Code {
	var c Coder
	if errors.As(err, &c) && c != nil {
		return c.ErrorCode()
	}
	return fallback
}
