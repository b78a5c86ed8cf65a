package events

// MaxLegData is the largest leg record an adapter may journal, in bytes.
const MaxLegData = 4096

// CallLegRecorded: the adapter that carries the leg of Side journaled what
// it needs to carry on after a restart — for a SIP leg its dialog record
// (Call-ID, tags, CSeq, route set, remote target; see docs/sip.md). Data is
// opaque to the engine, at most MaxLegData bytes; the latest record per side
// is part of the call's state (schema 3, issue 14).
type CallLegRecorded struct {
	Side    Side   `json:"side"`
	Adapter string `json:"adapter"`
	Data    []byte `json:"data,omitempty"`
}

func (CallLegRecorded) Type() Type { return TypeCallLegRecorded }

func (e CallLegRecorded) appendBinary(b []byte) []byte {
	return appendString(appendString(append(b, byte(e.Side)), e.Adapter), string(e.Data))
}

// checkLeg is what both codecs refuse in a CallLegRecorded.
func checkLeg(e CallLegRecorded) string {
	switch {
	case !e.Side.Valid():
		return "leg record of no side"
	case e.Adapter == "":
		return "leg record without an adapter"
	case len(e.Data) > MaxLegData:
		return "leg record larger than 4096 bytes"
	}
	return ""
}

func (d *decoder) legPayload(t Type) Event {
	if t == TypeCallLeftConference {
		e := CallLeftConference{Conference: d.string(), Peer: d.string()}
		if d.err == nil && (e.Conference == "" || e.Peer == "") {
			d.fail("left a conference without naming it and the peer call")
		}
		return e
	}
	if t != TypeCallLegRecorded {
		return nil
	}
	e := CallLegRecorded{Side: Side(d.byte()), Adapter: d.string()}
	if data := d.string(); data != "" {
		e.Data = []byte(data)
	}
	if d.err == nil {
		if msg := checkLeg(e); msg != "" {
			d.fail("%s", msg)
		}
	}
	return e
}
