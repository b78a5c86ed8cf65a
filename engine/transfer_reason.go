package engine

import (
	"slices"
	"strings"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

// TransferReason says why a transfer ended without connecting the parties:
// set when its Status is not-answered, not-completed or failed, empty
// otherwise. It is the Reason of the TransferNotAnswered,
// TransferNotCompleted or TransferFailed event, spelt as the journal and the
// SDKs spell it (a JSON string). The values are the constants below, the
// consultation's end reason as Call.Reason spells it for a not-answered
// transfer (CallReason gives it back as a Reason), and an error's text for
// a failed one (ErrorCode gives its code).
type TransferReason string

// The reasons of a transfer that was not answered: the consultation (for
// a click-to-call, the call to the first party) ended before an answer.
const (
	TransferBusy       TransferReason = "busy"      // the target was busy
	TransferNoAnswer   TransferReason = "no-answer" // nobody answered before the ring timeout
	TransferRejected   TransferReason = "rejected"  // the target declined
	TransferCallFailed TransferReason = "failed"    // the call to the target could not be set up
	// TransferInviteTimeout: a supervised transfer's InviteTimer ran out
	// before the target answered.
	TransferInviteTimeout TransferReason = "invite-timeout"
)

// The reasons of a transfer that could not complete any more, after the
// target (or the first party) answered.
const (
	TransferTargetHungUp      TransferReason = "the target hung up"
	TransferFirstPartyHungUp  TransferReason = "the first party hung up"
	TransferOriginalCallEnded TransferReason = "the original call ended"
)

// The reasons of a transfer that failed. A step the engine could not carry
// out — the new call or the consultation could not be placed, a command to
// a call was refused three times in a row — gives the error's text, its
// code first ("unavailable: no adapter reaches …"; ErrorCode returns the
// code). A failure whose error was not journaled before a restart (the
// engine stopped between the failed step and its TransferFailed) has an
// empty reason.
const (
	// TransferCallEndedFirst: a blind transfer's original call ended
	// before the new call was placed.
	TransferCallEndedFirst TransferReason = "the call ended before the transfer"
	// TransferOriginalCallNotUp prefixes "the original call is STATUS":
	// the original call was neither connected nor held when the
	// consultation was to be placed (OriginalCallStatus gives STATUS).
	TransferOriginalCallNotUp TransferReason = "the original call is "
)

// String returns the reason as the journal spells it.
func (r TransferReason) String() string { return string(r) }

// CallReason returns the call's end reason a not-answered transfer
// carries (busy, no-answer, rejected, failed, canceled …), and false for
// the other reasons, invite-timeout included.
func (r TransferReason) CallReason() (Reason, bool) {
	return events.ParseReason(string(r))
}

// ErrorCode returns the code of the error a failed transfer's reason
// quotes ("invalid_state: cannot resume: …" gives invalid_state), and ""
// for the other reasons.
func (r TransferReason) ErrorCode() errcode.Code {
	code, _, ok := strings.Cut(string(r), ": ")
	if !ok || !slices.Contains(errorCodes, errcode.Code(code)) {
		return ""
	}
	return errcode.Code(code)
}

var errorCodes = []errcode.Code{
	errcode.InvalidToken, errcode.InvalidCredentials, errcode.MissingParameter, errcode.InvalidParams,
	errcode.InvalidSession, errcode.NotFound, errcode.InvalidState, errcode.Forbidden, errcode.AlreadyExists,
	errcode.Conflict, errcode.Unavailable, errcode.Closed, errcode.JournalCorrupt, errcode.Malformed,
	errcode.Internal, errcode.HoldNotAvailable, errcode.RecordingNotAvailable, errcode.TransferFailed,
}

// OriginalCallStatus returns STATUS of "the original call is STATUS", and
// false for the other reasons.
func (r TransferReason) OriginalCallStatus() (CallState, bool) {
	s, ok := strings.CutPrefix(string(r), string(TransferOriginalCallNotUp))
	if !ok || s == "" {
		return "", false
	}
	return CallState(s), true
}

// The transfer statuses (Transfer.Status), so that a program compares them
// without importing fsm.
const (
	TransferPlacing      = fsm.Placing      // blind: the new call is being placed
	TransferConsulting   = fsm.Consulting   // the consultation (click-to-call: the first call) rings
	TransferAnswered     = fsm.Answered     // the target (click-to-call: the first party) answered
	TransferCompleted    = fsm.Completed    // the kept party and the target are connected
	TransferNotAnswered  = fsm.NotAnswered  // Reason says how the consultation ended
	TransferNotCompleted = fsm.NotCompleted // Reason says why
	TransferCanceled     = fsm.Canceled     // the transferring party canceled
	TransferFailed       = fsm.FailedStatus // Reason says why
)
