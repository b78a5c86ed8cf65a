package ws

import (
	"encoding/json"
	"time"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/history"
)

// Message is one server message. Only the fields its type uses are set;
// docs/websocket-protocol.md lists them per type. ID is set (even to 0) on
// every message an engine event caused.
type Message struct {
	Type    string  `json:"type"`
	ReqID   string  `json:"req_id,omitempty"`
	ID      *uint64 `json:"id,omitempty"`
	Request string  `json:"request,omitempty"`

	// error
	Status  int    `json:"status,omitempty"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`

	// auth.ok
	ClientID       string `json:"client_id,omitempty"`
	Role           string `json:"role,omitempty"`
	Access         string `json:"access,omitempty"`
	Refresh        string `json:"refresh,omitempty"`
	AccessExpires  string `json:"access_expires,omitempty"`
	RefreshExpires string `json:"refresh_expires,omitempty"`
	RefreshAt      string `json:"refresh_at,omitempty"`
	SessionID      string `json:"session_id,omitempty"`
	DeviceID       string `json:"device_id,omitempty"`

	// calls
	CallID           string `json:"call_id,omitempty"`
	OtherCallID      string `json:"other_call_id,omitempty"`
	PeerCallID       string `json:"peer_call_id,omitempty"`
	From             string `json:"from,omitempty"`
	FromName         string `json:"from_name,omitempty"`
	To               string `json:"to,omitempty"`
	Direction        string `json:"direction,omitempty"`
	SDP              string `json:"sdp,omitempty"`
	Reason           string `json:"reason,omitempty"`
	AnsweredByDevice string `json:"answered_by_device,omitempty"`
	HeldBy           string `json:"held_by,omitempty"`
	ResumedBy        string `json:"resumed_by,omitempty"`
	Held             *bool  `json:"held,omitempty"`
	Side             string `json:"side,omitempty"`
	By               string `json:"by,omitempty"`
	ByClient         string `json:"by_client,omitempty"`
	Digits           string `json:"digits,omitempty"`
	Ref              string `json:"ref,omitempty"`
	Slot             string `json:"slot,omitempty"`
	ConferenceID     string `json:"conference_id,omitempty"`
	Event            string `json:"event,omitempty"`
	State            string `json:"state,omitempty"`
	ParkSlot         string `json:"park_slot,omitempty"`

	// ice.candidate: as the guide seed spells them
	Candidate     *string `json:"candidate,omitempty"`
	SDPMid        *string `json:"sdp_mid,omitempty"`
	SDPMLineIndex *uint16 `json:"sdp_m_line_index,omitempty"`

	// transfers
	TransferID    string `json:"transfer_id,omitempty"`
	Kind          string `json:"kind,omitempty"`
	ConsultCallID string `json:"consult_call_id,omitempty"`
	NewCallID     string `json:"new_call_id,omitempty"`
	Target        string `json:"target,omitempty"`

	// messages, presence, lines
	MessageID string   `json:"message_id,omitempty"`
	Text      string   `json:"text,omitempty"`
	Presence  string   `json:"presence,omitempty"`
	Activity  string   `json:"activity,omitempty"`
	Lines     []string `json:"lines,omitempty"`

	// session.restored, directory, history, voicemail
	Calls    *[]CallInfo        `json:"calls,omitempty"`
	Total    *int               `json:"total,omitempty"`
	Entries  any                `json:"entries,omitempty"`
	Next     string             `json:"next,omitempty"`
	Counts   *history.Counts    `json:"counts,omitempty"`
	Messages *[]history.Message `json:"messages,omitempty"`

	// stats.result
	Legs *[]LegStatsInfo `json:"legs,omitempty"`
}

// LegStatsInfo is one side of a call in stats.result: what the relay
// counted on that side's leg (M5: packets, loss, jitter).
type LegStatsInfo struct {
	Side           string  `json:"side"`            // "caller" or "callee"
	Media          bool    `json:"media"`           // the side has a leg on the relay; false: nothing below
	Codec          string  `json:"codec,omitempty"` // "audio/PCMU/8000"
	State          string  `json:"state,omitempty"`
	PacketsIn      uint64  `json:"packets_in"`
	PacketsOut     uint64  `json:"packets_out"`
	PacketsDropped uint64  `json:"packets_dropped"` // not forwarded: muted or held
	Lost           uint64  `json:"packets_lost"`    // sequence gaps in what it sent
	JitterMS       float64 `json:"jitter_ms"`       // RFC 3550 interarrival jitter of what it sent
	DTMFIn         uint64  `json:"dtmf_in"`
	Muted          bool    `json:"muted"`
	Held           bool    `json:"held"`
	// Encryption of the side's media to the relay: "dtls-srtp" (a
	// browser), "sdes <suite>" (a SIP phone on SRTP), "" (plain RTP).
	Encryption   string `json:"encryption,omitempty"`
	SRTPFailures uint64 `json:"srtp_failures,omitempty"` // packets that failed SRTP authentication (dropped)
}

// CallInfo is one live call in session.restored.
type CallInfo struct {
	CallID    string `json:"call_id"`
	State     string `json:"state"`
	Side      string `json:"side"`
	Direction string `json:"direction"`
	From      string `json:"from"`
	FromName  string `json:"from_name"`
	To        string `json:"to"`
	Held      bool   `json:"held"`
	HeldBy    string `json:"held_by"`
	Muted     bool   `json:"muted"`
	// Recording: the call is being recorded (C11), under RecordingRef,
	// the ref its recording.started event carried; "" when not recorded.
	Recording    bool   `json:"recording"`
	RecordingRef string `json:"recording_ref"`
}

// DirectoryEntry is one entry of directory.result.
type DirectoryEntry struct {
	ClientID   string   `json:"client_id"`
	Name       string   `json:"name"`
	Numbers    []string `json:"numbers"`
	Extensions []string `json:"extensions"`
	Presence   string   `json:"presence"`
	Activity   string   `json:"activity"`
}

// The server's message types.
const (
	MsgAuthOK          = "auth.ok"
	MsgSessionRestored = "session.restored"
	MsgPong            = "pong"
	MsgAck             = "ack"
	MsgError           = "error"
	MsgCallTrying      = "call.trying"
	MsgSDPAnswer       = "sdp.answer"
	MsgSDPOffer        = "sdp.offer"
	MsgICECandidate    = "ice.candidate"
	MsgICEDone         = "ice.done"
	MsgCallRinging     = "call.ringing"
	MsgCallIncoming    = "call.incoming"
	MsgCallAnswered    = "call.answered"
	MsgCallEnded       = "call.ended"
	MsgCallIgnored     = "call.ignored"
	MsgCallHeld        = "call.held"
	MsgCallResumed     = "call.resumed"
	MsgHoldNA          = "call.hold_not_available"
	MsgCallMuted       = "call.muted"
	MsgCallUnmuted     = "call.unmuted"
	MsgCallDTMF        = "call.dtmf"
	MsgCallParked      = "call.parked"
	MsgCallUnparked    = "call.unparked"
	MsgCallMerged      = "call.merged"
	MsgCallConfLeft    = "call.conference_left"
	MsgCallVoicemail   = "call.voicemail"
	MsgRecStarted      = "recording.started"
	MsgRecStopped      = "recording.stopped"
	MsgMessageAccepted = "message.accepted"
	MsgMessageResult   = "message.result"
	MsgMessageReceived = "message.received"
	MsgPresenceChanged = "presence.changed"
	MsgLineCall        = "line.call"
	MsgDirectoryResult = "directory.result"
	MsgHistoryResult   = "history.result"
	MsgVoicemailResult = "voicemail.result"
	MsgStatsResult     = "stats.result"

	// ReasonAnsweredElsewhere ends a call for a device that rang when
	// another device of the client answered it.
	ReasonAnsweredElsewhere = "answered_elsewhere"
)

// errorMessage is the error reply to a request of type typ.
func errorMessage(typ, reqID string, err error) Message {
	code := errcode.CodeOf(err)
	msg := err.Error()
	var e *errcode.Error
	if ok := asErr(err, &e); ok {
		msg = e.Message
	}
	if code == "" {
		code = errcode.Internal
	}
	return Message{Type: MsgError, ReqID: reqID, Request: typ, Status: code.Status(), Code: string(code), Message: msg}
}

func eventID(seq uint64) *uint64 { return &seq }

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func authOK(reqID string, t engine.Tokens, session, device string) Message {
	return Message{
		Type: MsgAuthOK, ReqID: reqID, ClientID: t.Client, Role: string(t.Role),
		Access: t.Access, Refresh: t.Refresh,
		AccessExpires: rfc3339(t.AccessExpires), RefreshExpires: rfc3339(t.RefreshExpires), RefreshAt: rfc3339(t.RefreshAt),
		SessionID: session, DeviceID: device,
	}
}

func encode(m *Message) []byte {
	b, err := json.Marshal(m)
	if err != nil { // cannot happen: every field marshals
		b, _ = json.Marshal(Message{Type: MsgError, Status: 500, Code: string(errcode.Internal), Message: "cannot encode a message"})
	}
	return b
}
