package sip

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/callengine/callengine/adapters/sip/internal/sipsyntax"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
)

// Dialogs that survive a restart (docs/sip.md): the dialog record of a
// confirmed leg is journaled on its call (engine.RecordLeg, event
// CallLegRecorded) — when the dialog is confirmed and whenever a field
// that matters changes: the remote target, the SDP either side sent, a
// CSeq reservation. Our CSeq is reserved ahead: the record says how far
// we may count (LocalCSeq), the dialog counts up to it and journals a new
// reservation before it would go past, so a restarted process, which
// starts counting after the reservation, never reuses a CSeq.

// adapterName is the Adapter of the SIP legs' records.
const adapterName = "sip"

// cseqAhead is how many CSeq numbers one reservation covers.
const cseqAhead = 20

// dialogRecord is the journaled form of a dialog: the fields a fresh
// process needs to send and take in-dialog requests (Kamailio's dialog
// table and FreeSWITCH's recovery keep the same).
type dialogRecord struct {
	CallID     string   `json:"call_id"`
	LocalTag   string   `json:"local_tag"`
	RemoteTag  string   `json:"remote_tag"`
	LocalURI   string   `json:"local_uri"`
	RemoteURI  string   `json:"remote_uri"`
	LocalCSeq  uint32   `json:"local_cseq"` // reserved: the highest CSeq this dialog may send before journaling again
	RemoteCSeq uint32   `json:"remote_cseq"`
	InviteCSeq uint32   `json:"invite_cseq"`
	Target     string   `json:"remote_target"`
	RouteSet   []string `json:"route_set,omitempty"`
	Transport  string   `json:"transport"`
	LocalAddr  string   `json:"local_addr"` // the listening address requests leave from
	Contact    string   `json:"contact"`    // our Contact
	Role       string   `json:"role"`       // "uac" (we sent the INVITE) or "uas"
	State      string   `json:"state"`      // "confirmed"

	// The leg's owner in the engine: the client and its device; for a
	// leg out through a trunk, the trunk's name and the engine's far-end
	// leg (the id of the call it was dialed in), which the trunk's
	// reports name.
	Client string `json:"client"`
	Device string `json:"device,omitempty"`
	Trunk  string `json:"trunk,omitempty"`
	Leg    string `json:"leg,omitempty"`

	// Media, passed through between the phones: the SDP origin we send
	// (id and version: the next re-INVITE increments it), the codecs
	// (payload type → rtpmap) and RTP addresses of both sides, and the
	// last SDP each side sent — a re-INVITE after a restart relays the
	// other phone's SDP as it was.
	Origin    string            `json:"sdp_origin,omitempty"`
	Codecs    map[string]string `json:"codecs,omitempty"`
	LocalRTP  string            `json:"rtp_local,omitempty"` // where the phone sends its RTP (the other phone's address)
	RemoteRTP string            `json:"rtp_remote,omitempty"`
	SentSDP   []byte            `json:"sdp_sent,omitempty"`
	RemoteSDP []byte            `json:"sdp_remote,omitempty"`

	// The session timer (RFC 4028, session_timer.go), when the INVITE
	// asked for one.
	Session *sessionRecord `json:"session,omitempty"`
}

// journal is how a dialog journals its record: the call and side it
// belongs to, and the adapter.
type journal struct {
	a      *Adapter
	call   string
	side   engine.Side
	client string
	device string
	trunk  string // a trunk leg: the trunk's name
	leg    string // a trunk leg: the engine's far-end leg
}

// journalDialog makes d journaled as the leg of side of call and journals its
// record now, reserving CSeq numbers ahead.
func (a *Adapter) journalDialog(d *dialog, call string, side engine.Side, client, device string, sent, got []byte) {
	a.journalLeg(d, journal{call: call, side: side, client: client, device: device}, sent, got)
}

// journalLeg is journalDialog with every field of the journal (a trunk
// leg's trunk and far-end leg).
func (a *Adapter) journalLeg(d *dialog, j journal, sent, got []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	j.a = a
	d.jr = &j
	if d.SentSDP == nil {
		d.SentSDP = sent
	}
	if d.RemoteSDP == nil {
		d.RemoteSDP = got
	}
	d.reserved = d.LocalCSeq + cseqAhead
	d.saveLocked()
}

// moveJournal makes d journaled as the leg of side of another call (a
// phone that goes on in the call a transfer placed) and journals its
// record there now; the CSeq reservation carries over.
func (a *Adapter) moveJournal(d *dialog, call string, side engine.Side, client, device string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.jr = &journal{a: a, call: call, side: side, client: client, device: device}
	if d.reserved < d.LocalCSeq {
		d.reserved = d.LocalCSeq + cseqAhead
	}
	d.saveLocked()
}

// save journals d's record again after a change (no-op for a dialog that
// is not journaled).
func (d *dialog) save() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.saveLocked()
}

// saveLocked journals the record; d.mu is held, so no request of this
// dialog leaves before its reservation is in the journal.
func (d *dialog) saveLocked() {
	j := d.jr
	if j == nil {
		return
	}
	data, err := encodeRecord(d.recordLocked())
	if err != nil {
		j.a.log.Warn("cannot journal a dialog record", "call", j.call, "side", j.side, "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(j.a.ctx, j.a.set.CommandTimeout)
	defer cancel()
	if _, err := j.a.eng.RecordLeg(ctx, j.call, engine.LegRecord{Side: j.side, Adapter: adapterName, Data: data}); err != nil {
		j.a.log.Debug("cannot journal a dialog record", "call", j.call, "side", j.side, "err", err)
	}
}

// encodeRecord is the JSON of r within events.MaxLegData. Oversized SDPs
// (a browser's WebRTC offer with its candidates and extensions runs past
// 1.5 KB, and JSON carries the bodies in base64) are shed: the peer's
// first — what a restart needs is ours, the relay's (its port, its keys;
// for a browser's leg the codec of the new offer), while the codecs and
// RTP address of the peer's stay in their own fields — then ours too; a
// re-INVITE after a restart then answers with what the record keeps.
func encodeRecord(r dialogRecord) ([]byte, error) {
	data, err := json.Marshal(r)
	if err != nil || len(data) <= events.MaxLegData {
		return data, err
	}
	r.RemoteSDP = nil
	if data, err = json.Marshal(r); err != nil || len(data) <= events.MaxLegData {
		return data, err
	}
	r.SentSDP = nil
	if data, err = json.Marshal(r); err != nil || len(data) <= events.MaxLegData {
		return data, err
	}
	return nil, fmt.Errorf("the record is %d bytes without its SDPs, more than %d", len(data), events.MaxLegData)
}

func (d *dialog) recordLocked() dialogRecord {
	j := d.jr
	r := dialogRecord{
		CallID: d.CallID, LocalTag: d.LocalTag, RemoteTag: d.RemoteTag,
		LocalURI: d.LocalURI.String(), RemoteURI: d.RemoteURI.String(),
		LocalCSeq: d.reserved, RemoteCSeq: d.RemoteCSeq, InviteCSeq: d.InviteCSeq,
		Target: d.RemoteTarget.String(), Transport: d.Transport,
		Role: "uas", State: "confirmed",
		Client: j.client, Device: j.device, Trunk: j.trunk, Leg: j.leg,
		SentSDP: d.SentSDP, RemoteSDP: d.RemoteSDP,
	}
	if d.UAC {
		r.Role = "uac"
	}
	for _, u := range d.RouteSet {
		r.RouteSet = append(r.RouteSet, u.String())
	}
	if c := j.a.ourContact(d.Transport); c != nil {
		r.Contact = c.Address.String()
	}
	r.LocalAddr = j.a.Addr(strings.ToLower(d.Transport))
	r.Origin = sipsyntax.OriginLine(d.SentSDP)
	r.Codecs = sdpCodecs(d.RemoteSDP)
	r.LocalRTP = sdpRTP(d.SentSDP)
	r.RemoteRTP = sdpRTP(d.RemoteSDP)
	if d.session != nil {
		r.Session = d.session.record()
	}
	return r
}

// dialogFromRecord rebuilds a journaled dialog.
func dialogFromRecord(r dialogRecord) (*dialog, error) {
	d := &dialog{
		CallID: r.CallID, LocalTag: r.LocalTag, RemoteTag: r.RemoteTag,
		LocalCSeq: r.LocalCSeq, reserved: r.LocalCSeq, RemoteCSeq: r.RemoteCSeq, InviteCSeq: r.InviteCSeq,
		Transport: r.Transport, UAC: r.Role == "uac",
		SentSDP: r.SentSDP, RemoteSDP: r.RemoteSDP,
		session: sessionFromRecord(r.Session),
	}
	for _, u := range []struct {
		s   string
		dst *sip.Uri
	}{{r.LocalURI, &d.LocalURI}, {r.RemoteURI, &d.RemoteURI}, {r.Target, &d.RemoteTarget}} {
		if err := sip.ParseUri(u.s, u.dst); err != nil {
			return nil, fmt.Errorf("dialog %s: uri %q: %w", r.CallID, u.s, err)
		}
	}
	for _, s := range r.RouteSet {
		var u sip.Uri
		if err := sip.ParseUri(s, &u); err != nil {
			return nil, fmt.Errorf("dialog %s: route %q: %w", r.CallID, s, err)
		}
		d.RouteSet = append(d.RouteSet, u)
	}
	if d.CallID == "" || d.LocalTag == "" || d.RemoteTag == "" {
		return nil, fmt.Errorf("dialog %q: no Call-ID or tags", r.CallID)
	}
	return d, nil
}

// sdpCodecs is the codec map of an SDP: payload type → rtpmap.
func sdpCodecs(body []byte) map[string]string {
	var m map[string]string
	for _, l := range sipsyntax.SDPLines(body) {
		if rest, ok := strings.CutPrefix(l, "a=rtpmap:"); ok {
			if pt, enc, ok := strings.Cut(rest, " "); ok {
				if m == nil {
					m = map[string]string{}
				}
				m[pt] = enc
			}
		}
	}
	return m
}

// sdpRTP is the RTP address of an SDP's first media line: the session or
// media connection address and the port.
func sdpRTP(body []byte) string {
	host, port := "", ""
	for _, l := range sipsyntax.SDPLines(body) {
		switch {
		case strings.HasPrefix(l, "c=") && (host == "" || port != ""):
			if f := strings.Fields(l); len(f) == 3 {
				host = f[2]
			}
		case strings.HasPrefix(l, "m=") && port == "":
			if f := strings.Fields(l); len(f) > 1 {
				port = f[1]
			}
		}
	}
	if host == "" || port == "" {
		return ""
	}
	return net.JoinHostPort(host, port)
}
