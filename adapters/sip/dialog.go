package sip

import (
	"slices"
	"sync"

	"github.com/emiago/sipgo/sip"
)

// dialog is our own record of a SIP dialog (RFC 3261 §12), not sipgo's
// dialog session: the fields a B2BUA needs to send in-dialog requests —
// Call-ID, tags, local and remote URI, CSeq both ways, remote target
// (latest Contact), route set and transport. They are plain data: once the
// dialog is confirmed they are journaled on the call (dialog_record.go) and
// a restarted process rebuilds the dialog from them.
type dialog struct {
	mu sync.Mutex

	CallID       string
	LocalTag     string
	RemoteTag    string
	LocalURI     sip.Uri // our From (UAC) or To (UAS) address
	RemoteURI    sip.Uri
	LocalCSeq    uint32 // last CSeq we sent
	RemoteCSeq   uint32 // last CSeq the peer sent
	InviteCSeq   uint32 // the CSeq of the INVITE that made the dialog (for our ACK)
	RemoteTarget sip.Uri
	RouteSet     []sip.Uri
	Transport    string // "UDP", "TCP"
	UAC          bool   // we sent the INVITE

	// Media (re-INVITE, reinvite.go): the last SDP we sent on this dialog
	// after the first (each new one keeps its o= line and increments the
	// version), and the last SDP the peer sent after the first.
	SentSDP   []byte
	RemoteSDP []byte

	// Transactions in flight (not data to journal): our re-INVITE waits
	// for its answer; the peer's re-INVITE is being answered; acks wait
	// for the ACK of our 2xx to a re-INVITE, by CSeq.
	outPending bool
	inPending  bool
	acks       map[uint32]chan struct{}

	// Journaling (dialog_record.go): nil until the dialog is confirmed;
	// reserved is the highest CSeq the journal allows us to send.
	jr       *journal
	reserved uint32

	// session is its session timer (RFC 4028, session_timer.go): nil for
	// none. Not journaled.
	session *sessionTimer
}

// key names a dialog in the adapter's table: Call-ID and our tag.
func (d *dialog) key() string { return dialogKey(d.CallID, d.LocalTag) }

func dialogKey(callID, localTag string) string { return callID + "\x00" + localTag }

// newUASDialog is the dialog an INVITE we answer makes, with our tag.
func newUASDialog(req *sip.Request, localTag string) *dialog {
	d := &dialog{LocalTag: localTag, Transport: req.Transport()}
	if h := req.CallID(); h != nil {
		d.CallID = h.Value()
	}
	if h := req.From(); h != nil {
		d.RemoteURI = *h.Address.Clone()
		d.RemoteTag, _ = h.Params.Get("tag")
	}
	if h := req.To(); h != nil {
		d.LocalURI = *h.Address.Clone()
	}
	if h := req.CSeq(); h != nil {
		d.RemoteCSeq, d.InviteCSeq = h.SeqNo, h.SeqNo
	}
	if h := req.Contact(); h != nil {
		d.RemoteTarget = *h.Address.Clone()
	} else if h := req.From(); h != nil {
		d.RemoteTarget = *h.Address.Clone()
	}
	for _, h := range req.GetHeaders("Record-Route") {
		if rr, ok := h.(*sip.RecordRouteHeader); ok {
			d.RouteSet = append(d.RouteSet, *rr.Address.Clone())
		}
	}
	return d
}

// confirm completes a dialog we started (UAC) from the 2xx that answered
// our INVITE: the peer's tag, its Contact as remote target, and the route
// set (Record-Route, reversed).
func (d *dialog) confirm(res *sip.Response) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if h := res.To(); h != nil {
		d.RemoteTag, _ = h.Params.Get("tag")
	}
	if h := res.Contact(); h != nil {
		d.RemoteTarget = *h.Address.Clone()
	}
	d.RouteSet = d.RouteSet[:0]
	for _, h := range res.GetHeaders("Record-Route") {
		if rr, ok := h.(*sip.RecordRouteHeader); ok {
			d.RouteSet = append(d.RouteSet, *rr.Address.Clone())
		}
	}
	slices.Reverse(d.RouteSet)
}

// inDialog reports whether req belongs to d with a CSeq above the last
// one, and records it.
func (d *dialog) inDialog(req *sip.Request) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	h := req.CSeq()
	if h == nil {
		return false
	}
	if !req.IsAck() && h.SeqNo <= d.RemoteCSeq && d.RemoteCSeq != 0 {
		return false
	}
	if !req.IsAck() {
		d.RemoteCSeq = h.SeqNo
	}
	return true
}

// request builds an in-dialog request (RFC 3261 §12.2.1.1): to the remote
// target through the route set (loose routing), our tag in From, the
// peer's in To, the next CSeq — or, for an ACK, the INVITE's. Via gets a
// new branch; the transport layer fills its sent-by.
func (d *dialog) request(method sip.RequestMethod, contact *sip.ContactHeader) *sip.Request {
	d.mu.Lock()
	defer d.mu.Unlock()
	req := sip.NewRequest(method, *d.RemoteTarget.Clone())
	req.SetTransport(d.Transport)
	req.AppendHeader(newVia(d.Transport))
	for _, r := range d.RouteSet {
		req.AppendHeader(&sip.RouteHeader{Address: *r.Clone()})
	}
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	from := &sip.FromHeader{Address: *d.LocalURI.Clone(), Params: sip.NewParams()}
	from.Params.Add("tag", d.LocalTag)
	to := &sip.ToHeader{Address: *d.RemoteURI.Clone(), Params: sip.NewParams()}
	if d.RemoteTag != "" {
		to.Params.Add("tag", d.RemoteTag)
	}
	req.AppendHeader(from)
	req.AppendHeader(to)
	cid := sip.CallIDHeader(d.CallID)
	req.AppendHeader(&cid)
	seq := d.InviteCSeq
	if method != sip.ACK {
		d.LocalCSeq++
		seq = d.LocalCSeq
		if d.jr != nil && seq > d.reserved {
			// Reserve ahead, in the journal, before the CSeq leaves.
			d.reserved = seq + cseqAhead
			d.saveLocked()
		}
	}
	req.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: method})
	if contact != nil && (method == sip.INVITE || method == sip.ACK) {
		req.AppendHeader(contact.Clone())
	}
	req.SetBody(nil)
	return req
}

// newVia is a Via with a new branch; the transport layer writes our
// address into it.
func newVia(transport string) *sip.ViaHeader {
	v := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: transport, Host: "0.0.0.0", Params: sip.NewParams()}
	v.Params.Add("branch", sip.GenerateBranch())
	return v
}
