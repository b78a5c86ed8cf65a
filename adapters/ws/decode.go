package ws

import (
	"errors"

	"github.com/callengine/callengine/adapters/ws/wire"
	"github.com/callengine/callengine/errcode"
)

// Request is one decoded client message; see wire.Request.
type Request = wire.Request

// DecodeError is why a frame is not a request; see wire.DecodeError.
type DecodeError = wire.DecodeError

// Decode parses one client message strictly: one JSON object, no unknown
// field, no trailing data, a known type with its required fields and
// values in range. It is a pure function. Errors are *DecodeError with the
// codes malformed, missing_parameter or invalid_params. The decoder lives in
// package wire, which links nothing else of the engine.
func Decode(data []byte) (Request, error) { return wire.Decode(data) }

// The message types a client may send.
const (
	TypeAuthLogin        = wire.TypeAuthLogin
	TypeAuthToken        = wire.TypeAuthToken
	TypeAuthRefresh      = wire.TypeAuthRefresh
	TypeSessionRestore   = wire.TypeSessionRestore
	TypePing             = wire.TypePing
	TypeCallCreate       = wire.TypeCallCreate
	TypeCallAnswer       = wire.TypeCallAnswer
	TypeCallReject       = wire.TypeCallReject
	TypeCallIgnore       = wire.TypeCallIgnore
	TypeCallHangup       = wire.TypeCallHangup
	TypeCallHold         = wire.TypeCallHold
	TypeCallResume       = wire.TypeCallResume
	TypeCallMute         = wire.TypeCallMute
	TypeCallUnmute       = wire.TypeCallUnmute
	TypeCallDTMF         = wire.TypeCallDTMF
	TypeCallReoffer      = wire.TypeCallReoffer
	TypeSDPAnswer        = wire.TypeSDPAnswer
	TypeICECandidate     = wire.TypeICECandidate
	TypeICEDone          = wire.TypeICEDone
	TypeTransferBlind    = wire.TypeTransferBlind
	TypeTransferAttended = wire.TypeTransferAttended
	TypeTransferSuperv   = wire.TypeTransferSuperv
	TypeTransferComplete = wire.TypeTransferComplete
	TypeTransferCancel   = wire.TypeTransferCancel
	TypeCallPark         = wire.TypeCallPark
	TypeCallUnpark       = wire.TypeCallUnpark
	TypeCallMerge        = wire.TypeCallMerge
	TypeCallSwap         = wire.TypeCallSwap
	TypeRecordingStart   = wire.TypeRecordingStart
	TypeRecordingStop    = wire.TypeRecordingStop
	TypeMessageSend      = wire.TypeMessageSend
	TypeSubscribeLine    = wire.TypeSubscribeLine
	TypeUnsubscribeLine  = wire.TypeUnsubscribeLine
	TypePresenceSet      = wire.TypePresenceSet
	TypeDirectoryQuery   = wire.TypeDirectoryQuery
	TypeHistoryQuery     = wire.TypeHistoryQuery
	TypeVoicemailList    = wire.TypeVoicemailList
	TypeCallStats        = wire.TypeCallStats
)

func asErr(err error, target **errcode.Error) bool { return errors.As(err, target) }

func asDecodeErr(err error, target **DecodeError) bool { return errors.As(err, target) }
