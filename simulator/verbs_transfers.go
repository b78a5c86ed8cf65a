package simulator

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
)

// transfer starts a blind, attended or supervised transfer of the other
// party of a call, from the client's side: "bob transfer c1 to 103 [as T]",
// "bob supervise c1 to 103 [within D] [as T]", "bob consult 103 about c1 [as
// T]".
type transfer struct {
	onCall
	target string
	timer  time.Duration // supervise: the invite timer
	as     string
	start  func(e *engine.Engine, ctx context.Context, req engine.TransferRequest) (engine.Transfer, error)
}

func parseTransfer(a *args) (command, error) {
	if len(a.rest) < 3 || a.rest[1] != "to" {
		return nil, a.bad("expected %s <call> to <target>", a.verb)
	}
	c := &transfer{onCall: onCall{client: a.who, call: a.rest[0], verb: a.verb}, target: a.rest[2]}
	a.rest = a.rest[3:]
	if a.verb == "supervise" {
		c.start = (*engine.Engine).SupervisedTransfer
		return c, a.options(durationOption("within", &c.timer), labelOption(&c.as))
	}
	c.start = (*engine.Engine).BlindTransfer
	return c, a.options(labelOption(&c.as))
}

func parseConsult(a *args) (command, error) {
	if len(a.rest) < 3 || a.rest[1] != "about" {
		return nil, a.bad("expected consult <target> about <call>")
	}
	c := &transfer{onCall: onCall{client: a.who, call: a.rest[2], verb: a.verb}, target: a.rest[0]}
	c.start = (*engine.Engine).AttendedTransfer
	a.rest = a.rest[3:]
	return c, a.options(labelOption(&c.as))
}

func (c *transfer) run(s *sim) error {
	p, err := c.asParty(s, false)
	if err != nil {
		return err
	}
	label, err := s.nextFree(s.transfers, c.as)
	if err != nil {
		return err
	}
	req := engine.TransferRequest{Call: p.id, Side: p.side.Other(), To: c.target, InviteTimer: c.timer}
	s.transfers.next = label
	t, err := c.start(s.eng, s.ctx, req)
	s.transfers.next = ""
	if t.ID != "" {
		s.named(s.transfers, label, t.ID)
		s.transferBy[s.transfers.byID[t.ID]] = c.client
	}
	return err
}

// endTransfer completes or cancels a transfer on behalf of the client that
// transfers: "bob complete t1", "bob cancel t1".
type endTransfer struct {
	client, transfer string
	verb             string
	end              func(e *engine.Engine, ctx context.Context, id string) (engine.Transfer, error)
}

func parseEndTransfer(a *args) (command, error) {
	if len(a.rest) != 1 {
		return nil, a.bad("%s takes one transfer", a.verb)
	}
	c := &endTransfer{client: a.who, transfer: a.rest[0], verb: a.verb, end: (*engine.Engine).CancelTransfer}
	if a.verb == "complete" {
		c.end = (*engine.Engine).CompleteTransfer
	}
	return c, nil
}

func (c *endTransfer) run(s *sim) error {
	id, err := idOf(s.transfers, "transfer", c.transfer)
	if err != nil {
		return err
	}
	t, err := s.eng.Transfer(s.ctx, id)
	if err != nil {
		return err
	}
	if t.Call != "" {
		call, err := s.eng.Call(s.ctx, t.Call)
		if err != nil {
			return err
		}
		by := call.Caller
		if t.Kept == engine.Caller {
			by = call.Callee
		}
		if by.Client != c.client && s.transferBy[c.transfer] != c.client {
			return errcode.Newf(errcode.Forbidden, "%s does not transfer %s: only the transferring party can %s it", c.client, c.transfer, c.verb)
		}
	}
	_, err = c.end(s.eng, s.ctx, id)
	return err
}

// clickToCall bridges two parties (C14): the client itself and a
// destination, "alice click-to-call 102 [from DEVICE] [as T]", or — by an
// application — any two, "click-to-call 101 [on DEVICE] to 102 [as T]".
type clickToCall struct {
	client        string // "" for an application
	first, device string
	target        string
	as            string
}

func parseClickToCall(a *args) (command, error) {
	if len(a.rest) == 0 {
		return nil, a.bad("click-to-call whom?")
	}
	c := &clickToCall{client: a.who, target: a.rest[0]}
	a.rest = a.rest[1:]
	return c, a.options(textOption("from", &c.device), labelOption(&c.as))
}

func parseOperatorClickToCall(a *args) (command, error) {
	const usage = "expected click-to-call <first> [on <device>] to <second> [as <label>]"
	w := a.rest
	k := slices.Index(w, "to")
	if k < 1 || k+1 >= len(w) {
		return nil, a.bad(usage)
	}
	c := &clickToCall{first: w[0]}
	switch {
	case k == 3 && w[1] == "on":
		c.device = w[2]
	case k != 1:
		return nil, a.bad(usage)
	}
	c.target = w[k+1]
	switch rest := w[k+2:]; {
	case len(rest) == 2 && rest[0] == "as":
		c.as = rest[1]
	case len(rest) != 0:
		return nil, a.bad("unexpected %q (as <label>)", strings.Join(rest, " "))
	}
	return c, checkLabel(a.line, a.text, c.as)
}

func (c *clickToCall) run(s *sim) error {
	label, err := s.nextFree(s.transfers, c.as)
	if err != nil {
		return err
	}
	req := engine.ClickToCallRequest{First: c.first, FirstDevice: c.device, Second: c.target}
	if c.client != "" {
		req.First = c.client
	}
	s.transfers.next = label
	t, err := s.eng.ClickToCall(s.ctx, req)
	s.transfers.next = ""
	if t.ID != "" {
		s.named(s.transfers, label, t.ID)
		s.transferBy[s.transfers.byID[t.ID]] = c.client
	}
	return err
}

// merge joins the client's two calls into a conference of three, the other
// party of each call joining: "alice merge c1 with c2 [as CONF]".
type merge struct {
	onCall
	other string
	as    string
}

func parseMerge(a *args) (command, error) {
	if len(a.rest) < 3 || a.rest[1] != "with" {
		return nil, a.bad("expected merge <call> with <call>")
	}
	c := &merge{onCall: onCall{client: a.who, call: a.rest[0], verb: a.verb}, other: a.rest[2]}
	a.rest = a.rest[3:]
	return c, a.options(labelOption(&c.as))
}

func (c *merge) run(s *sim) error {
	p, err := c.asParty(s, false)
	if err != nil {
		return err
	}
	other, err := s.callID(c.other)
	if err != nil {
		return err
	}
	call, err := s.eng.Call(s.ctx, other)
	if err != nil {
		return err
	}
	otherSide := call.SideOf(c.client)
	if otherSide == 0 {
		return errcode.Newf(errcode.Forbidden, "%s is not a party to call %s", c.client, c.other)
	}
	label, err := s.nextFree(s.confs, c.as)
	if err != nil {
		return err
	}
	s.confs.next = label
	conf, err := s.eng.Merge(s.ctx, engine.MergeRequest{Call: p.id, Side: p.side.Other(), Other: other, OtherSide: otherSide.Other()})
	s.confs.next = ""
	if conf.ID != "" {
		s.named(s.confs, label, conf.ID)
	}
	return err
}
