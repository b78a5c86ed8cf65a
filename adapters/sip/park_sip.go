package sip

import (
	"context"
	"fmt"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/callengine/callengine/engine"
)

// Park and retrieve from SIP phones (Settings.ParkPrefix, serve's
// sip.park_prefix, "*8" say), as FreeSWITCH's valet parking or Asterisk's
// directed parking let a desk phone do:
//
//   - a phone that transfers its call (REFER, or the transfer code,
//     feature_codes.go) to
//     <prefix><slot> parks the other party in slot <slot>: the engine's
//     Park by the phone's side. The phone gets NOTIFY 200 and its BYE; the
//     parked party hears no one (the call is held) and gets no request.
//   - a phone that calls <prefix><slot> takes the call parked there: the
//     engine's Unpark by its client and device. Its INVITE is answered by a
//     relay leg on the side that parked, connected to the parked party's
//     leg, which goes on with the same port and stream and hears it at
//     once. Its dialog is journaled on the call as every confirmed leg's,
//     and comes back after a restart; its BYE hangs up that side. A slot
//     nobody waits in is 404.
//
// Taking a call needs the relay (the parked party's leg is there: a
// relayed phone, a browser, a trunk); a parked phone whose media is passed
// through (relay_phones false) cannot be taken by a phone: 488.

// CheckParkPrefix reports whether p can be a park prefix: "" (none) or up
// to 16 characters that a dialed number's user part carries as they are
// (digits, letters, '*', '#', '+').
func CheckParkPrefix(p string) error {
	if len(p) > 16 {
		return fmt.Errorf("sip: park prefix %q: longer than 16", p)
	}
	for _, r := range p {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || strings.ContainsRune("*#+", r)) {
			return fmt.Errorf("sip: park prefix %q: %q is not a digit, a letter, *, # or +", p, r)
		}
	}
	return nil
}

// parkSlot is the slot a dialed user names with the park prefix, if it
// does.
func (a *Adapter) parkSlot(user string) (string, bool) {
	p := a.set.ParkPrefix
	if p == "" || !strings.HasPrefix(user, p) || len(user) == len(p) {
		return "", false
	}
	return user[len(p):], true
}

// parkByRefer serves a REFER to a park slot: leg l of cl parks the other
// party in slot.
func (a *Adapter) parkByRefer(req *sip.Request, tx sip.ServerTransaction, cl *call, l *sipLeg, slot string) {
	a.referAccepted(req, tx, l, func(ctx context.Context) error {
		_, err := a.eng.Park(ctx, cl.id, l.side, slot)
		if err != nil {
			a.log.Info("the engine refused a phone's park", "call", cl.id, "slot", slot, "err", err)
		}
		return err
	})
}

// parkByCode parks the other party of call in slot for the phone of side
// that keyed the transfer code and the slot (feature_codes.go).
func (a *Adapter) parkByCode(call string, side engine.Side, client, slot string) {
	ctx, cancel := a.command(client)
	defer cancel()
	if _, err := a.eng.Park(ctx, call, side, slot); err != nil {
		a.log.Info("feature code: park refused", "call", call, "side", side, "slot", slot, "err", err)
		return
	}
	a.log.Info("feature code: park", "call", call, "side", side, "slot", slot)
}

// retrieve serves a new INVITE to a park slot from a phone of client: it
// takes the call parked there, or refuses. offer is the INVITE's SDP
// (checked).
func (a *Adapter) retrieve(req *sip.Request, tx sip.ServerTransaction, client, slot string, offer []byte) {
	if a.set.Media == nil {
		a.respond(tx, a.response(req, statusNotAccept))
		return
	}
	ctx, cancel := a.command(client)
	defer cancel()
	parked, err := a.eng.ParkedCalls(ctx)
	if err != nil {
		a.respond(tx, a.response(req, statusForError(err)))
		return
	}
	var p *engine.Call
	for i := range parked {
		if parked[i].ParkSlot == slot {
			p = &parked[i]
			break
		}
	}
	if p == nil {
		a.respond(tx, a.response(req, statusNotFound))
		return
	}
	waiting, side := p.ParkedSide, p.ParkedSide.Other()
	if !a.set.Media.HasLeg(relayLegName(p.ID, waiting)) {
		a.log.Info("retrieve: the parked party is not on the relay: 488", "call", p.ID, "slot", slot)
		a.respond(tx, a.response(req, statusNotAccept))
		return
	}
	device := a.callerDevice(client, req)
	c, err := a.eng.Unpark(ctx, p.ID, client, device)
	if err != nil {
		a.log.Info("the engine refused a phone's retrieve", "call", p.ID, "slot", slot, "err", err)
		a.respond(tx, a.response(req, statusForError(err)))
		return
	}
	name := relayLegName(c.ID, side)
	answer, err := a.set.Media.AnswerRTP(ctx, name, string(offer), a.rtpEvents(c.ID, side, client))
	if err != nil {
		a.log.Info("retrieve: the relay cannot take the phone's offer", "call", c.ID, "err", err)
		a.respond(tx, a.response(req, statusNotAccept))
		if _, err := a.eng.Hangup(ctx, c.ID, side); err != nil {
			a.log.Debug("retrieve: cannot hang up", "call", c.ID, "err", err)
		}
		return
	}
	d := newUASDialog(req, sip.GenerateTagN(16))
	l := &sipLeg{dlg: d, client: client, side: side, got: offer, first: []byte(answer), device: device}
	a.mu.Lock()
	cl := a.calls[c.ID]
	if cl == nil {
		cl = &call{id: c.ID, forks: map[string]*fork{}}
		a.calls[c.ID] = cl
	}
	a.dialogs[d.key()] = dialogRef{call: c.ID, kept: l}
	a.mu.Unlock()
	cl.mu.Lock()
	if side == engine.Caller {
		cl.kept = l
	} else {
		cl.adopted = l
	}
	cl.setRTP(side, name, []byte(answer))
	cl.mu.Unlock()
	a.applyRelay(cl, &c) // the two legs connected
	d.mu.Lock()
	d.SentSDP, d.RemoteSDP = []byte(answer), offer
	d.mu.Unlock()
	a.answerNewDialog(req, tx, d, []byte(answer))
	a.journalDialog(d, c.ID, side, client, device, []byte(answer), offer)
	a.log.Info("a phone took a parked call", "call", c.ID, "slot", slot, "client", client, "side", side)
}
