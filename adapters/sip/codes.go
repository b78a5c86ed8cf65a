package sip

import (
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
)

// SIP status codes ↔ the engine's errors and end reasons, both ways
// (docs/sip.md, "Status codes").

// status is a SIP final response: code and reason phrase.
type status struct {
	Code   int
	Reason string
}

var (
	statusBadRequest   = status{400, "Bad Request"}
	statusForbidden    = status{403, "Forbidden"}
	statusNotFound     = status{404, "Not Found"}
	statusTimeout      = status{408, "Request Timeout"}
	statusUnavailable  = status{480, "Temporarily Unavailable"}
	statusNoDialog     = status{481, "Call/Transaction Does Not Exist"}
	statusAddrIncompl  = status{484, "Address Incomplete"}
	statusBusy         = status{486, "Busy Here"}
	statusTerminated   = status{487, "Request Terminated"}
	statusNotAccept    = status{488, "Not Acceptable Here"}
	statusServerError  = status{500, "Server Internal Error"}
	statusNotImpl      = status{501, "Not Implemented"}
	statusServiceUnav  = status{503, "Service Unavailable"}
	statusDecline      = status{603, "Decline"}
	statusIntervalLow  = status{423, "Interval Too Brief"}
	statusUnauthorized = status{401, "Unauthorized"}
	statusProxyAuth    = status{407, "Proxy Authentication Required"}
)

// statusForError is the final response to an INVITE whose Dial the engine
// refused.
func statusForError(err error) status {
	switch errcode.CodeOf(err) {
	case errcode.NotFound:
		return statusNotFound
	case errcode.Forbidden, errcode.InvalidCredentials, errcode.InvalidToken:
		return statusForbidden
	case errcode.InvalidParams, errcode.MissingParameter:
		return statusAddrIncompl
	case errcode.InvalidState, errcode.Conflict:
		return statusBusy
	case errcode.Unavailable, errcode.Closed:
		return statusServiceUnav
	}
	return statusServerError
}

// statusForReason is the final response to the caller's INVITE when the
// call ends before it was answered, by the reason the caller sees.
func statusForReason(r engine.Reason) status {
	switch r {
	case events.Busy:
		return statusBusy
	case events.Rejected, events.Hangup:
		return statusDecline
	case events.NoAnswer, events.Voicemail, events.Transferred:
		return statusUnavailable
	case events.Canceled, events.Missed:
		return statusTerminated
	}
	return statusServerError
}

// rejectForStatus is how a device's final refusal of our INVITE reports to
// the engine: busy (486, 600) or not.
func rejectForStatus(code int) (busy bool) {
	return code == 486 || code == 600
}
