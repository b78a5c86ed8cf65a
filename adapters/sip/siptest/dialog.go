package siptest

import (
	"context"
	"fmt"

	"github.com/emiago/sipgo/sip"
)

// Dialog is a dialog of the phone with the server: what the phone's
// requests in it carry.
type Dialog struct {
	// CallID is the dialog's Call-ID.
	CallID string
	// CSeq is the CSeq of the phone's latest request in the dialog
	// (InDialog advances it; an ACK takes it as it is).
	CSeq uint32

	localTag, remoteTag string
	local, remote       sip.Uri
	target              sip.Uri
}

// CallerDialog is the dialog of a phone's INVITE and the 2xx that answered
// it: it goes to the 2xx's Contact (the INVITE's Request-URI if none).
func CallerDialog(invite *sip.Request, res *sip.Response) *Dialog {
	d := &Dialog{CallID: invite.CallID().Value(), CSeq: res.CSeq().SeqNo,
		local: invite.From().Address, remote: invite.To().Address, target: invite.Recipient}
	d.localTag, _ = invite.From().Params.Get("tag")
	d.remoteTag, _ = res.To().Params.Get("tag")
	if c := res.Contact(); c != nil {
		d.target = c.Address
	}
	return d
}

// calleeDialog is the dialog of an INVITE the phone answers, with a new
// local tag.
func calleeDialog(invite *sip.Request) *Dialog {
	d := &Dialog{CallID: invite.CallID().Value(), CSeq: 1,
		local: invite.To().Address, remote: invite.From().Address, localTag: sip.GenerateTagN(8)}
	d.remoteTag, _ = invite.From().Params.Get("tag")
	if c := invite.Contact(); c != nil {
		d.target = c.Address
	}
	return d
}

// InDialog is a request of the phone in dialog d; every method but ACK
// (which takes the INVITE's CSeq) advances d's CSeq.
func (p *Phone) InDialog(d *Dialog, method sip.RequestMethod) *sip.Request {
	req := sip.NewRequest(method, d.target)
	from := &sip.FromHeader{Address: d.local, Params: sip.NewParams()}
	from.Params.Add("tag", d.localTag)
	to := &sip.ToHeader{Address: d.remote, Params: sip.NewParams()}
	to.Params.Add("tag", d.remoteTag)
	req.AppendHeader(from)
	req.AppendHeader(to)
	cid := sip.CallIDHeader(d.CallID)
	req.AppendHeader(&cid)
	if method != sip.ACK {
		d.CSeq++
	}
	req.AppendHeader(&sip.CSeqHeader{SeqNo: d.CSeq, MethodName: method})
	req.AppendHeader(sip.NewHeader("Max-Forwards", "70"))
	req.AppendHeader(sip.NewHeader("Contact", p.contact()))
	return req
}

// Ack sends the ACK of the 2xx to the phone's latest INVITE in d.
func (p *Phone) Ack(d *Dialog) error {
	return p.cli.WriteRequest(p.InDialog(d, sip.ACK))
}

// Bye ends dialog d; anything but 200 is an error.
func (p *Phone) Bye(ctx context.Context, d *Dialog) error {
	res, err := p.cli.Do(ctx, p.InDialog(d, sip.BYE))
	if err != nil {
		return fmt.Errorf("siptest: %s: BYE: %w", p.s.User, err)
	}
	if res.StatusCode != 200 {
		return fmt.Errorf("siptest: %s: BYE: %d %s", p.s.User, res.StatusCode, res.Reason)
	}
	return nil
}
