package sip

import (
	"context"
	"slices"
	"strings"

	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"

	"github.com/callengine/callengine/adapters/sip/internal/sipsyntax"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

// Text messages (C15) as SIP MESSAGE (RFC 3428). A MESSAGE out of a
// dialog from a phone, challenged with 407 like an INVITE, is the
// engine's SendMessage from its client to the Request-URI's destination:
// 200 when the engine reports it delivered, 202 while it waits for the
// result. The engine's MessageSent to a client with SIP phones is a
// MESSAGE to each binding; a message the engine still waits for gets
// its result back (MessageReporter): delivered when one phone took it
// (2xx), else failed.

// maxMessageText bounds a MESSAGE body we pass on.
const maxMessageText = 4096

// onMessage serves a MESSAGE.
func (a *Adapter) onMessage(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		res := a.response(req, status{405, "Method Not Allowed"}) // MESSAGE inside a dialog: not served
		res.AppendHeader(sip.NewHeader("Allow", allowed))
		a.respond(tx, res)
		return
	}
	auth := a.authenticate(a.ctx, req, true)
	if auth.client == "" {
		a.challenge(req, tx, true, auth.stale)
		return
	}
	client := auth.client
	if len(a.bindings(client)) == 0 {
		a.respond(tx, a.response(req, statusForbidden)) // not a registered phone
		return
	}
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = strings.ToLower(strings.TrimSpace(strings.Split(h.Value(), ";")[0]))
	}
	if ct != "text/plain" {
		res := a.response(req, status{415, "Unsupported Media Type"})
		res.AppendHeader(sip.NewHeader("Accept", "text/plain"))
		a.respond(tx, res)
		return
	}
	if len(req.Body()) == 0 || len(req.Body()) > maxMessageText {
		a.respond(tx, a.response(req, statusBadRequest))
		return
	}
	dest, err := destination(&req.Recipient, a.domain())
	if err != nil {
		a.respond(tx, a.response(req, statusAddrIncompl))
		return
	}
	ctx, cancel := a.command(client)
	defer cancel()
	m, err := a.eng.SendMessage(ctx, engine.MessageRequest{From: client, To: dest, Text: string(req.Body())})
	if err != nil {
		a.log.Debug("the engine refused a phone's message", "client", client, "to", dest, "err", err)
		a.respond(tx, a.response(req, statusForError(err)))
		return
	}
	if m.Status == fsm.MessageDelivered {
		a.respond(tx, a.response(req, status{200, "OK"}))
		return
	}
	a.respond(tx, a.response(req, status{202, "Accepted"}))
}

// bindings lists the SIP devices of client.
func (a *Adapter) bindings(client string) []sipDevice {
	ctx, cancel := a.command("")
	defer cancel()
	cl, err := a.eng.Client(ctx, client)
	if err != nil {
		return nil
	}
	var out []sipDevice
	for _, d := range cl.Devices {
		if d.Kind != DeviceKind {
			continue
		}
		if b, err := sipsyntax.ParseBinding(d.Contact); err == nil {
			out = append(out, sipDevice{id: d.ID, binding: b})
		}
	}
	return out
}

// recipient is the client a message's To names, or "".
func (a *Adapter) recipient(to string) string {
	ctx, cancel := a.command("")
	defer cancel()
	list, err := a.eng.Clients(ctx)
	if err != nil {
		return ""
	}
	user, host := to, ""
	if d, err := fsm.ParseDestination(to); err == nil && d.Kind == fsm.DestSIPURI {
		user, host = d.Number, d.Hostname()
		if !strings.EqualFold(host, a.domain()) {
			return ""
		}
	}
	for _, c := range list {
		if slices.Contains(c.Extensions, user) || slices.Contains(c.Numbers, user) || host != "" && c.ID == user {
			return c.ID
		}
	}
	return ""
}

// messageSent: the engine's message to a client with SIP phones goes to
// each of them, off the event loop.
func (a *Adapter) messageSent(ev engine.Event) {
	m := ev.Message
	if _, ok := ev.Event.(events.MessageSent); !ok || m == nil {
		return
	}
	a.wg.Go(func() {
		to := a.recipient(m.To)
		if to == "" || to == m.From.Client {
			return
		}
		devices := a.bindings(to)
		if len(devices) == 0 {
			return
		}
		delivered, reason := false, ""
		for _, d := range devices {
			code := a.sendMessage(m, to, d)
			if code >= 200 && code < 300 {
				delivered = true
			} else if reason == "" {
				reason = "sip " + itoa(code)
			}
		}
		a.messageResult(m.ID, delivered, reason)
	})
}

// messageResult reports a message's delivery when the engine waits for
// it (a message to a client was delivered by the engine at once).
func (a *Adapter) messageResult(id string, delivered bool, reason string) {
	ctx, cancel := a.command("")
	defer cancel()
	m, err := a.eng.Message(ctx, id)
	if err != nil || m.Status != fsm.MessagePending {
		a.log.Debug("message result of the phones (the engine decided already)", "message", id, "delivered", delivered, "reason", reason)
		return
	}
	var r engine.MessageReporter = a.eng
	if _, err := r.FarMessageResult(ctx, id, delivered, reason); err != nil {
		a.log.Debug("message result refused", "message", id, "err", err)
	}
}

// sendMessage sends m to one binding of client and returns the final
// status (408 when none came).
func (a *Adapter) sendMessage(m *engine.Message, client string, d sipDevice) int {
	transport := uriTransport(&d.binding.URI)
	from := m.From.Number
	if from == "" {
		from = m.From.Client
	}
	if strings.ContainsAny(from, "@:;<> ") || from == "" {
		from = "anonymous"
	}
	req := sip.NewRequest(sip.MESSAGE, *d.binding.URI.Clone())
	req.SetTransport(transport)
	req.AppendHeader(newVia(transport))
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	fh := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: from, Host: a.domain()}, Params: sip.NewParams()}
	fh.Params.Add("tag", sip.GenerateTagN(16))
	if name := m.From.Name; name != "" && !strings.ContainsAny(name, "\"\r\n\\") {
		fh.DisplayName = name
	}
	req.AppendHeader(fh)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: client, Host: a.domain()}, Params: sip.NewParams()})
	cid := sip.CallIDHeader(uuid.NewString())
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.MESSAGE})
	req.AppendHeader(sip.NewHeader("User-Agent", a.set.UserAgent))
	req.AppendHeader(sip.NewHeader("Content-Type", "text/plain;charset=UTF-8"))
	req.SetBody([]byte(m.Text))
	a.prepare(req)
	ctx, cancel := context.WithTimeout(a.ctx, 64*sip.T1)
	defer cancel()
	tx, err := a.cli.TransactionRequest(ctx, req, noBuild)
	if err != nil {
		return statusServiceUnav.Code
	}
	defer tx.Terminate()
	if res := wait(ctx, tx); res != nil {
		return res.StatusCode
	}
	return statusTimeout.Code
}
