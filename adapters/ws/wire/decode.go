// Package wire decodes the client messages of the WebSocket protocol
// (docs/websocket-protocol.md): Decode turns one frame into a Request or a
// DecodeError. It is a pure function and imports only the engine's error
// codes and event names, so its fuzz target runs in a small binary;
// package ws re-exports it.
package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
)

// Request is one decoded client message. Which fields are set depends on
// Type; Decode has checked the ones its type requires.
type Request struct {
	Type  string
	ReqID string

	// auth.*, session.restore
	ClientID, Password, Access, Refresh, SessionID string

	// calls
	CallID, OtherCallID string
	Destination, SDP    string
	CallerID            string
	Busy                bool
	Digits              string
	ToneDuration        time.Duration
	ToneGap             time.Duration

	// ice.candidate
	Candidate ICECandidate

	// transfers, park, messages
	To          string
	InviteTimer time.Duration
	TransferID  string
	Slot        string
	Text        string

	// lines, presence, directory, history
	Line      string
	Presence  events.Presence
	Presences []events.Presence
	Activity  string
	Search    string
	Limit     int
	Offset    int
	Number    string
	From      time.Time
	Until     time.Time
	Kinds     []string // each one of KindNames()
	Reasons   []events.Reason
	Before    string
}

// message is the JSON of every client message: the union of the fields of all
// types. A field unknown to all of them is refused.
type message struct {
	Type          string          `json:"type"`
	ReqID         string          `json:"req_id"`
	ClientID      string          `json:"client_id"`
	Password      string          `json:"password"`
	Access        string          `json:"access"`
	Refresh       string          `json:"refresh"`
	SessionID     string          `json:"session_id"`
	CallID        string          `json:"call_id"`
	OtherCallID   string          `json:"other_call_id"`
	Destination   string          `json:"destination"`
	SDP           string          `json:"sdp"`
	CallerID      string          `json:"caller_id"`
	Busy          bool            `json:"busy"`
	Digits        string          `json:"digits"`
	DurationMS    *int64          `json:"duration_ms"`
	GapMS         *int64          `json:"gap_ms"`
	Candidate     *string         `json:"candidate"`
	SDPMid        *string         `json:"sdp_mid"`
	SDPMLineIndex *uint16         `json:"sdp_m_line_index"`
	To            string          `json:"to"`
	InviteTimerMS *int64          `json:"invite_timer_ms"`
	TransferID    string          `json:"transfer_id"`
	Slot          string          `json:"slot"`
	Text          string          `json:"text"`
	Line          string          `json:"line"`
	Presence      json.RawMessage `json:"presence"`
	Activity      string          `json:"activity"`
	Search        string          `json:"search"`
	Limit         *int            `json:"limit"`
	Offset        *int            `json:"offset"`
	Number        string          `json:"number"`
	From          string          `json:"from"`
	Kinds         []string        `json:"kinds"`
	Reasons       []string        `json:"reasons"`
	Before        string          `json:"before"`
}

// The message types a client may send.
const (
	TypeAuthLogin        = "auth.login"
	TypeAuthToken        = "auth.token"
	TypeAuthRefresh      = "auth.refresh"
	TypeSessionRestore   = "session.restore"
	TypePing             = "ping"
	TypeCallCreate       = "call.create"
	TypeCallAnswer       = "call.answer"
	TypeCallReject       = "call.reject"
	TypeCallIgnore       = "call.ignore"
	TypeCallHangup       = "call.hangup"
	TypeCallHold         = "call.hold"
	TypeCallResume       = "call.resume"
	TypeCallMute         = "call.mute"
	TypeCallUnmute       = "call.unmute"
	TypeCallDTMF         = "call.dtmf"
	TypeCallReoffer      = "call.reoffer"
	TypeSDPAnswer        = "sdp.answer"
	TypeICECandidate     = "ice.candidate"
	TypeICEDone          = "ice.done"
	TypeTransferBlind    = "transfer.blind"
	TypeTransferAttended = "transfer.attended"
	TypeTransferSuperv   = "transfer.supervised"
	TypeTransferComplete = "transfer.complete"
	TypeTransferCancel   = "transfer.cancel"
	TypeCallPark         = "call.park"
	TypeCallUnpark       = "call.unpark"
	TypeCallMerge        = "call.merge"
	TypeCallSwap         = "call.swap"
	TypeRecordingStart   = "recording.start"
	TypeRecordingStop    = "recording.stop"
	TypeMessageSend      = "message.send"
	TypeSubscribeLine    = "subscribe.line"
	TypeUnsubscribeLine  = "unsubscribe.line"
	TypePresenceSet      = "presence.set"
	TypeDirectoryQuery   = "directory.query"
	TypeHistoryQuery     = "history.query"
	TypeVoicemailList    = "voicemail.list"
	TypeCallStats        = "call.stats"
)

// needs lists, per type, the fields that must be non-empty.
var needs = map[string][]string{
	TypeAuthLogin:        {"client_id", "password"},
	TypeAuthToken:        {"access"},
	TypeAuthRefresh:      {"refresh"},
	TypeSessionRestore:   {"session_id"},
	TypePing:             nil,
	TypeCallCreate:       {"destination", "sdp"},
	TypeCallAnswer:       {"call_id", "sdp"},
	TypeCallReject:       {"call_id"},
	TypeCallIgnore:       {"call_id"},
	TypeCallHangup:       {"call_id"},
	TypeCallHold:         {"call_id"},
	TypeCallResume:       {"call_id"},
	TypeCallMute:         {"call_id"},
	TypeCallUnmute:       {"call_id"},
	TypeCallDTMF:         {"call_id", "digits"},
	TypeCallReoffer:      {"call_id", "sdp"},
	TypeSDPAnswer:        {"call_id", "sdp"},
	TypeICECandidate:     {"call_id", "candidate"},
	TypeICEDone:          {"call_id"},
	TypeTransferBlind:    {"call_id", "to"},
	TypeTransferAttended: {"call_id", "to"},
	TypeTransferSuperv:   {"call_id", "to"},
	TypeTransferComplete: {"transfer_id"},
	TypeTransferCancel:   {"transfer_id"},
	TypeCallPark:         {"call_id"},
	TypeCallUnpark:       nil, // slot or call_id: checked below
	TypeCallMerge:        {"call_id", "other_call_id"},
	TypeCallSwap:         {"call_id"},
	TypeRecordingStart:   {"call_id"},
	TypeRecordingStop:    {"call_id"},
	TypeMessageSend:      {"to", "text"},
	TypeSubscribeLine:    {"line"},
	TypeUnsubscribeLine:  {"line"},
	TypePresenceSet:      {"presence"},
	TypeDirectoryQuery:   nil,
	TypeHistoryQuery:     nil,
	TypeVoicemailList:    nil,
	TypeCallStats:        {"call_id"},
}

// DecodeError is why a frame is not a request. Type is the message's type
// when it could be read, so the error reply can name the request.
type DecodeError struct {
	Type  string
	ReqID string
	Err   *errcode.Error
}

func (e *DecodeError) Error() string { return e.Err.Error() }

// Unwrap returns the *errcode.Error, so errcode.CodeOf works.
func (e *DecodeError) Unwrap() error { return e.Err }

// kindNames are the history kinds a history.query may filter on: the names
// of history.Kind. They are listed here rather than parsed by package
// history, which would link the journal and bbolt into this package; a test
// of package ws checks that both agree.
var kindNames = []string{"made", "received", "missed"}

// KindNames returns the history kinds a history.query may filter on: made,
// received, missed.
func KindNames() []string { return slices.Clone(kindNames) }

// ICECandidate is the candidate of an ice.candidate message, the fields of
// the browser's RTCIceCandidateInit. It converts to media.ICECandidate.
type ICECandidate struct {
	Candidate     string
	SDPMid        *string
	SDPMLineIndex *uint16
}

// Known reports whether typ is a message type a client may send.
func Known(typ string) bool {
	_, ok := needs[typ]
	return ok
}

// maxReqID bounds req_id.
const maxReqID = 128

// Decode parses one client message strictly: one JSON object, no unknown
// field, no trailing data, a known type with its required fields and
// values in range. It is a pure function. Errors are *DecodeError with the
// codes malformed, missing_parameter or invalid_params.
func Decode(data []byte) (Request, error) {
	var w message
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return Request{}, decodeErr(w, errcode.Malformed, "not a message: "+jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Request{}, decodeErr(w, errcode.Malformed, "trailing data after the message")
	}
	if len(bytes.TrimSpace(data)) == 0 || bytes.TrimSpace(data)[0] != '{' {
		return Request{}, decodeErr(w, errcode.Malformed, "a message is a JSON object")
	}
	if w.Type == "" {
		return Request{}, decodeErr(w, errcode.MissingParameter, "the message has no type")
	}
	req, ok := needs[w.Type]
	if !ok {
		return Request{}, decodeErr(message{ReqID: w.ReqID}, errcode.Malformed, "unknown type "+quote(w.Type))
	}
	if len(w.ReqID) > maxReqID {
		return Request{}, decodeErr(w, errcode.InvalidParams, "req_id is longer than 128 bytes")
	}
	for _, f := range req {
		if empty(&w, f) {
			return Request{}, decodeErr(w, errcode.MissingParameter, w.Type+" needs "+f)
		}
	}
	r := Request{
		Type: w.Type, ReqID: w.ReqID, ClientID: w.ClientID, Password: w.Password, Access: w.Access,
		Refresh: w.Refresh, SessionID: w.SessionID, CallID: w.CallID, OtherCallID: w.OtherCallID,
		Destination: w.Destination, SDP: w.SDP, CallerID: w.CallerID, Busy: w.Busy, Digits: w.Digits,
		To: w.To, TransferID: w.TransferID, Slot: w.Slot, Text: w.Text, Line: w.Line, Activity: w.Activity,
		Search: w.Search, Number: w.Number, Before: w.Before,
	}
	bad := func(msg string) (Request, error) { return Request{}, decodeErr(w, errcode.InvalidParams, msg) }
	for _, id := range []string{w.CallID, w.OtherCallID, w.TransferID, w.SessionID} {
		if strings.ContainsAny(id, "/\x00") {
			return bad("an id contains '/' or NUL")
		}
	}
	if w.Candidate != nil {
		r.Candidate = ICECandidate{Candidate: *w.Candidate, SDPMid: w.SDPMid, SDPMLineIndex: w.SDPMLineIndex}
	}
	var err error
	if r.ToneDuration, err = millis(w.DurationMS, "duration_ms"); err != nil {
		return bad(err.Error())
	}
	if r.ToneGap, err = millis(w.GapMS, "gap_ms"); err != nil {
		return bad(err.Error())
	}
	if r.InviteTimer, err = millis(w.InviteTimerMS, "invite_timer_ms"); err != nil {
		return bad(err.Error())
	}
	switch w.Type {
	case TypeCallCreate, TypeCallAnswer, TypeCallReoffer, TypeSDPAnswer, TypeCallSwap:
		if w.SDP != "" && !strings.HasPrefix(w.SDP, "v=0") {
			return bad("sdp does not start with v=0")
		}
	case TypeCallUnpark:
		if w.Slot == "" && w.CallID == "" {
			return Request{}, decodeErr(w, errcode.MissingParameter, "call.unpark needs slot or call_id")
		}
	case TypePresenceSet:
		var s string
		if json.Unmarshal(w.Presence, &s) != nil {
			return Request{}, decodeErr(w, errcode.Malformed, "presence is a string")
		}
		p, ok := events.ParsePresence(s)
		if !ok {
			return bad("unknown presence " + quote(s))
		}
		r.Presence = p
	case TypeDirectoryQuery:
		if len(w.Presence) > 0 && string(w.Presence) != "null" {
			var ss []string
			if json.Unmarshal(w.Presence, &ss) != nil {
				return Request{}, decodeErr(w, errcode.Malformed, "presence is a list of strings")
			}
			for _, s := range ss {
				p, ok := events.ParsePresence(s)
				if !ok {
					return bad("unknown presence " + quote(s))
				}
				r.Presences = append(r.Presences, p)
			}
		}
	case TypeHistoryQuery:
		if r.From, err = timeField(w.From, "from"); err != nil {
			return bad(err.Error())
		}
		if r.Until, err = timeField(w.To, "to"); err != nil {
			return bad(err.Error())
		}
		r.To = ""
		for _, s := range w.Kinds {
			if !slices.Contains(kindNames, s) {
				return bad("unknown kind " + quote(s))
			}
			r.Kinds = append(r.Kinds, s)
		}
		for _, s := range w.Reasons {
			rs, ok := events.ParseReason(s)
			if !ok {
				return bad("unknown reason " + quote(s))
			}
			r.Reasons = append(r.Reasons, rs)
		}
	}
	if w.Type != TypePresenceSet && w.Type != TypeDirectoryQuery && len(w.Presence) > 0 {
		return bad("presence does not belong in " + w.Type)
	}
	if w.Limit != nil {
		if *w.Limit < 0 {
			return bad("limit is negative")
		}
		r.Limit = *w.Limit
	}
	if w.Offset != nil {
		if *w.Offset < 0 {
			return bad("offset is negative")
		}
		r.Offset = *w.Offset
	}
	return r, nil
}

func decodeErr(w message, code errcode.Code, msg string) *DecodeError {
	return &DecodeError{Type: w.Type, ReqID: w.ReqID, Err: errcode.New(code, msg)}
}

func empty(w *message, field string) bool {
	switch field {
	case "client_id":
		return w.ClientID == ""
	case "password":
		return w.Password == ""
	case "access":
		return w.Access == ""
	case "refresh":
		return w.Refresh == ""
	case "session_id":
		return w.SessionID == ""
	case "destination":
		return strings.TrimSpace(w.Destination) == ""
	case "sdp":
		return w.SDP == ""
	case "call_id":
		return w.CallID == ""
	case "other_call_id":
		return w.OtherCallID == ""
	case "digits":
		return w.Digits == ""
	case "candidate":
		return w.Candidate == nil
	case "to":
		return strings.TrimSpace(w.To) == ""
	case "transfer_id":
		return w.TransferID == ""
	case "text":
		return w.Text == ""
	case "line":
		return strings.TrimSpace(w.Line) == ""
	case "presence":
		return len(w.Presence) == 0 || string(w.Presence) == "null" || string(w.Presence) == `""`
	}
	return false
}

// millis turns an optional count of milliseconds into a duration: at most
// one hour, not negative.
func millis(v *int64, name string) (time.Duration, error) {
	if v == nil {
		return 0, nil
	}
	if *v < 0 || *v > 3600_000 {
		return 0, errors.New(name + " is out of range (0 to 3600000)")
	}
	return time.Duration(*v) * time.Millisecond, nil
}

func timeField(s, name string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errors.New(name + " is not an RFC 3339 time")
	}
	return t, nil
}

// jsonProblem says what is wrong with a frame without echoing its content.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return "invalid JSON"
	case errors.As(err, &te):
		return "field " + quote(te.Field) + " has the wrong JSON type"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "invalid JSON"
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}
