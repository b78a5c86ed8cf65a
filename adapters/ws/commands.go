package ws

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
)

// handle answers one decoded request: one reply or one error.
func (c *conn) handle(in inbound) {
	typ, reqID := in.req.Type, in.req.ReqID
	err := in.err
	began := time.Now() // wall clock: a latency for metrics, not a decision
	if err != nil {
		var de *DecodeError
		if asDecodeErr(err, &de) {
			typ, reqID = de.Type, de.ReqID
		}
	} else if !c.authed && typ != TypeAuthLogin && typ != TypeAuthToken && typ != TypePing {
		err = errcode.New(errcode.InvalidToken, "authenticate first (auth.login or auth.token)")
	} else {
		err = c.run(&in.req)
	}
	if f := c.h.set.Hooks.Request; f != nil {
		f(typ, string(errcode.CodeOf(err)), time.Since(began))
	}
	if err == nil {
		return
	}
	c.send(errorMessage(typ, reqID, err))
	if !c.authed && typ != TypePing {
		c.refused++
		if c.refused >= c.h.set.MaxUnauthenticated {
			c.closeAfterQueue(websocket.StatusPolicyViolation, "not authenticated")
		}
	}
}

func ack(r *Request) Message {
	return Message{Type: MsgAck, ReqID: r.ReqID, Request: r.Type, CallID: r.CallID}
}

// run carries out a request; it sends the reply itself and returns the
// error to report instead.
func (c *conn) run(r *Request) error {
	ctx, cancel := c.cmdCtx()
	defer cancel()
	e := c.h.eng
	switch r.Type {
	case TypePing:
		c.send(Message{Type: MsgPong, ReqID: r.ReqID})
		return nil
	case TypeAuthLogin, TypeAuthToken:
		return c.authenticate(r)
	case TypeAuthRefresh:
		t, err := e.RefreshTokens(ctx, r.Refresh)
		if err != nil {
			return err
		}
		if t.Client != c.client {
			return errcode.New(errcode.Forbidden, "a refresh token of another client")
		}
		pctx, p, err := e.Authenticate(c.ctx, t.Access)
		if err != nil {
			return err
		}
		c.pctx, c.principal = pctx, p
		c.send(authOK(r.ReqID, t, c.session, c.device))
		return nil
	case TypeSessionRestore:
		return c.restore(r.ReqID, r.SessionID, false)
	case TypeCallCreate:
		if f := c.h.set.Draining; f != nil && f() {
			return errcode.New(errcode.Unavailable, "the server is shutting down: no new calls")
		}
		return c.create(ctx, r)
	case TypeCallAnswer:
		return c.answer(ctx, r)
	case TypeCallReoffer:
		return c.reoffer(ctx, r)
	case TypeSDPAnswer:
		l := c.legs[r.CallID]
		if l == nil {
			return errcode.Newf(errcode.NotFound, "no media leg of call %s here", r.CallID)
		}
		if err := c.h.media.AcceptAnswer(l.name, r.SDP); err != nil {
			return mediaErr(err)
		}
		c.connectIfAnswered(ctx, r.CallID)
	case TypeICECandidate, TypeICEDone:
		name := c.legOf(r.CallID)
		if name == "" {
			return errcode.Newf(errcode.NotFound, "no media leg of call %s here", r.CallID)
		}
		cand := ICECandidate(r.Candidate)
		if r.Type == TypeICEDone {
			cand = ICECandidate{} // end of candidates
		}
		if err := c.h.media.AddICECandidate(name, cand); err != nil {
			return mediaErr(err)
		}
		return nil // no reply
	case TypeCallReject:
		if _, err := e.Reject(ctx, r.CallID, r.Busy); err != nil {
			return err
		}
	case TypeCallIgnore:
		if _, err := e.Ignore(ctx, r.CallID); err != nil {
			return err
		}
	case TypeCallHangup, TypeCallHold, TypeCallResume, TypeCallMute, TypeCallUnmute, TypeCallDTMF,
		TypeRecordingStart, TypeRecordingStop, TypeCallPark:
		side, err := c.mySide(ctx, r.CallID)
		if err != nil {
			return err
		}
		a := ack(r)
		switch r.Type {
		case TypeCallHangup:
			_, err = e.Hangup(ctx, r.CallID, side)
		case TypeCallHold:
			_, err = e.Hold(ctx, r.CallID, side)
		case TypeCallResume:
			_, err = e.Resume(ctx, r.CallID, side)
		case TypeCallMute:
			_, err = e.Mute(ctx, r.CallID, side)
		case TypeCallUnmute:
			_, err = e.Unmute(ctx, r.CallID, side)
		case TypeCallDTMF:
			_, err = e.SendDigits(ctx, r.CallID, side, r.Digits, engine.ToneOptions{Duration: r.ToneDuration, Gap: r.ToneGap})
		case TypeRecordingStart:
			_, err = e.StartRecording(ctx, r.CallID, side, "")
		case TypeRecordingStop:
			_, err = e.StopRecording(ctx, r.CallID, side)
		case TypeCallPark:
			var call engine.Call
			call, err = e.Park(ctx, r.CallID, side, r.Slot)
			a.Slot = call.ParkSlot
		}
		if err != nil {
			return err
		}
		c.send(a)
		return nil
	case TypeCallUnpark:
		var call engine.Call
		var err error
		if r.Slot != "" {
			call, err = e.UnparkSlot(ctx, r.Slot, c.client, c.device)
		} else {
			call, err = e.Unpark(ctx, r.CallID, c.client, c.device)
		}
		if err != nil {
			return err
		}
		a := ack(r)
		a.CallID, a.Slot = call.ID, r.Slot
		c.send(a)
		return nil
	case TypeTransferBlind, TypeTransferAttended, TypeTransferSuperv:
		side, err := c.mySide(ctx, r.CallID)
		if err != nil {
			return err
		}
		req := engine.TransferRequest{Call: r.CallID, Side: side.Other(), To: r.To, InviteTimer: r.InviteTimer}
		var t engine.Transfer
		switch r.Type {
		case TypeTransferBlind:
			t, err = e.BlindTransfer(ctx, req)
		case TypeTransferAttended:
			t, err = e.AttendedTransfer(ctx, req)
		default:
			t, err = e.SupervisedTransfer(ctx, req)
		}
		if err != nil {
			return err
		}
		c.send(transferAck(r, t))
		return nil
	case TypeTransferComplete, TypeTransferCancel:
		var t engine.Transfer
		var err error
		if r.Type == TypeTransferComplete {
			t, err = e.CompleteTransfer(ctx, r.TransferID)
		} else {
			t, err = e.CancelTransfer(ctx, r.TransferID)
		}
		if err != nil {
			return err
		}
		c.send(transferAck(r, t))
		return nil
	case TypeCallMerge:
		s1, err := c.mySide(ctx, r.CallID)
		if err != nil {
			return err
		}
		s2, err := c.mySide(ctx, r.OtherCallID)
		if err != nil {
			return err
		}
		conf, err := e.Merge(ctx, engine.MergeRequest{Call: r.CallID, Side: s1.Other(), Other: r.OtherCallID, OtherSide: s2.Other()})
		if err != nil {
			return err
		}
		a := ack(r)
		a.ConferenceID = conf.ID
		c.send(a)
		return nil
	case TypeCallSwap:
		if _, err := c.mySide(ctx, r.CallID); err != nil {
			return err // another client's call: forbidden, not the engine's invalid_params
		}
		if r.SDP == "" && c.ringing[r.CallID] != "" {
			return errcode.Newf(errcode.MissingParameter, "call.swap to call %s, which rings this device, needs sdp (the answer to its offer)", r.CallID)
		}
		// A ringing call is answered as by call.answer: the device's
		// answer goes to the relay and its leg becomes the call's leg here.
		name := ""
		if r.SDP != "" {
			name = c.ringing[r.CallID]
		}
		if name != "" {
			if err := c.h.media.AcceptAnswer(name, r.SDP); err != nil {
				return mediaErr(err)
			}
			c.h.legs.bind(r.CallID, events.Callee, name, c)
			c.legs[r.CallID] = &leg{name: name, call: r.CallID, side: events.Callee}
			delete(c.ringing, r.CallID)
		}
		if _, err := e.Swap(ctx, c.client, r.CallID, c.answerDevice(ctx, r.CallID)); err != nil {
			if name != "" {
				// back to ringing: the leg is this device's, bound to no side
				c.ringing[r.CallID] = name
				delete(c.legs, r.CallID)
				c.h.legs.drop(name)
				c.h.legs.mu.Lock()
				c.h.legs.owner[name] = c
				c.h.legs.mu.Unlock()
			}
			return err
		}
	case TypeMessageSend:
		m, err := e.SendMessage(ctx, engine.MessageRequest{From: c.client, To: r.To, Text: r.Text})
		if err != nil {
			return err
		}
		c.send(Message{Type: MsgMessageAccepted, ReqID: r.ReqID, MessageID: m.ID, State: string(m.Status)})
		return nil
	case TypeSubscribeLine, TypeUnsubscribeLine:
		var s engine.Session
		var err error
		if r.Type == TypeSubscribeLine {
			s, err = e.SubscribeLine(ctx, c.session, r.Line)
		} else {
			s, err = e.UnsubscribeLine(ctx, c.session, r.Line)
		}
		if err != nil {
			return err
		}
		a := ack(r)
		a.Lines = append([]string{}, s.Lines...)
		c.send(a)
		return nil
	case TypePresenceSet:
		if _, err := e.SetPresence(ctx, c.client, r.Presence, r.Activity); err != nil {
			return err
		}
	case TypeDirectoryQuery:
		return c.directory(ctx, r)
	case TypeHistoryQuery:
		return c.history(ctx, r)
	case TypeVoicemailList:
		box, err := e.Voicemail(ctx, c.client)
		if err != nil {
			return err
		}
		msgs := box.Messages
		c.send(Message{Type: MsgVoicemailResult, ReqID: r.ReqID, Counts: &box.Counts, Messages: &msgs})
		return nil
	case TypeCallStats:
		return c.stats(ctx, r)
	default:
		return errcode.Newf(errcode.Malformed, "unknown type %q", r.Type)
	}
	c.send(ack(r))
	return nil
}

func transferAck(r *Request, t engine.Transfer) Message {
	a := ack(r)
	a.TransferID, a.CallID, a.ConsultCallID, a.NewCallID = t.ID, t.Call, t.Consult, t.NewCall
	return a
}

// mySide is the side of the call the connection's client is on.
func (c *conn) mySide(ctx context.Context, callID string) (events.Side, error) {
	if l := c.legs[callID]; l != nil {
		return l.side, nil
	}
	call, err := c.h.eng.Call(ctx, callID)
	if err != nil {
		return 0, err
	}
	if s := call.SideOf(c.client); s != 0 {
		return s, nil
	}
	if slices.Contains(call.RangMembers, c.client) {
		return events.Callee, nil
	}
	return 0, errcode.Newf(errcode.Forbidden, "client %s is not a party of call %s", c.client, callID)
}

// answerDevice is the device that answers callID for this connection: its
// own when it rings, else one of the same session's earlier connections
// (the page reloaded while it rang), else its own (the engine refuses).
func (c *conn) answerDevice(ctx context.Context, callID string) string {
	call, err := c.h.eng.Call(ctx, callID)
	if err != nil || slices.Contains(call.RingingDevices, c.device) {
		return c.device
	}
	for _, d := range call.RingingDevices {
		if strings.HasPrefix(d, "ws-"+c.session+"-") {
			return d
		}
	}
	return c.device
}

func (c *conn) legOf(callID string) string {
	if l := c.legs[callID]; l != nil {
		return l.name
	}
	return c.ringing[callID]
}

func mediaErr(err error) error {
	if errcode.CodeOf(err) != "" {
		return err
	}
	return errcode.Wrap(errcode.InvalidParams, err, "the media relay refused the description")
}

// authenticate logs the connection in, opens or restores its session,
// makes it a device and subscribes to the session's events.
func (c *conn) authenticate(r *Request) error {
	if c.authed {
		return errcode.New(errcode.InvalidState, "already authenticated")
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.h.set.CommandTimeout)
	defer cancel()
	e := c.h.eng
	var t engine.Tokens
	var err error
	if r.Type == TypeAuthLogin {
		if c.h.accounts == nil {
			return errcode.New(errcode.Unavailable, "password login is not available")
		}
		if t, err = c.h.accounts.Login(ctx, r.ClientID, r.Password); err != nil {
			return err
		}
	} else {
		t.Access = r.Access
	}
	pctx, p, err := e.Authenticate(c.ctx, t.Access)
	if err != nil {
		return err
	}
	if r.Type == TypeAuthToken {
		t.Client, t.Role = p.Client, p.Role
	}
	cctx := engine.WithPrincipal(ctx, p)
	var s engine.Session
	if r.SessionID != "" {
		s, err = e.RestoreSession(cctx, r.SessionID)
	} else {
		s, err = e.CreateSession(cctx, p.Client, engine.SessionOptions{})
	}
	if err != nil {
		return err
	}
	if s.Client != p.Client {
		return errcode.New(errcode.Forbidden, "a session of another client")
	}
	c.pctx, c.principal, c.client, c.session = pctx, p, p.Client, s.ID
	c.device = c.newDeviceID()
	if c.h.accounts != nil {
		if _, err := c.h.accounts.ConnectDevice(cctx, c.client, engine.Device{ID: c.device, Kind: "webrtc"}); err != nil {
			_, _ = e.CloseConnection(cctx, s.ID)
			return err
		}
	}
	sub, err := e.SessionEvents(pctx, s.ID)
	if err != nil {
		return err
	}
	c.sub, c.authed = sub, true
	c.send(authOK(r.ReqID, t, c.session, c.device))
	if f := c.h.set.Hooks.Connected; f != nil {
		f(c.client)
	}
	if r.SessionID != "" {
		return c.restore(r.ReqID, r.SessionID, true)
	}
	return nil
}

// restore sends the session's live calls; with already set the session was
// restored by the auth message, otherwise the connection moves to it.
func (c *conn) restore(reqID, id string, already bool) error {
	ctx, cancel := c.cmdCtx()
	defer cancel()
	e := c.h.eng
	if !already {
		if id == c.session {
			already = true
		} else {
			s, err := e.RestoreSession(ctx, id)
			if err != nil {
				return err
			}
			if s.Client != c.client {
				_, _ = e.CloseConnection(ctx, id)
				return errcode.New(errcode.Forbidden, "a session of another client")
			}
			sub, err := e.SessionEvents(c.pctx, id)
			if err != nil {
				return err
			}
			_, _ = e.CloseConnection(ctx, c.session)
			c.sub.Close()
			c.sub, c.session = sub, id
		}
	}
	calls, err := e.Calls(ctx, c.client)
	if err != nil {
		return err
	}
	infos := make([]CallInfo, 0, len(calls))
	for i := range calls {
		infos = append(infos, c.callInfo(&calls[i]))
	}
	c.send(Message{Type: MsgSessionRestored, ReqID: reqID, SessionID: c.session, Calls: &infos})
	for i := range calls {
		call := &calls[i]
		if call.State == engine.Ringing && call.SideOf(c.client) == events.Callee && c.legs[call.ID] == nil {
			c.offerIncoming(ctx, call, 0)
		}
	}
	return nil
}

func (c *conn) callInfo(call *engine.Call) CallInfo {
	side := call.SideOf(c.client)
	if side == 0 {
		side = events.Callee
	}
	a := engine.ActiveCall{}
	for _, x := range []engine.Call{*call} {
		a = activeCallOf(&x, c.client)
	}
	local, remote := call.HoldFlags(side)
	heldBy := ""
	switch {
	case local && remote:
		heldBy = "both"
	case local:
		heldBy = "local"
	case remote:
		heldBy = "remote"
	}
	muted := call.MutedCaller
	if side == events.Callee {
		muted = call.MutedCallee
	}
	ref := "" // the engine keeps the last recording's ref after it stops
	if call.Recording {
		ref = call.RecordingRef
	}
	return CallInfo{
		CallID: call.ID, State: a.State, Side: side.String(), Direction: a.Direction,
		From: call.Caller.Number, FromName: call.Caller.Name, To: call.Callee.Number,
		Held: call.State == engine.Held, HeldBy: heldBy, Muted: muted,
		Recording: call.Recording, RecordingRef: ref,
	}
}

// activeCallOf mirrors engine.ActiveCalls for one call.
func activeCallOf(call *engine.Call, client string) engine.ActiveCall {
	a := engine.ActiveCall{ID: call.ID, Direction: "outbound"}
	if call.SideOf(client) != events.Caller {
		a.Direction = "inbound"
	}
	switch call.State {
	case engine.Connected:
		a.State = "active"
	case engine.Held:
		a.State = "held"
		if call.ParkSlot != "" {
			a.State = "parked"
		}
	default:
		a.State = string(call.State)
	}
	return a
}

func (c *conn) directory(ctx context.Context, r *Request) error {
	page, err := c.h.eng.Directory(ctx, engine.DirectoryQuery{Search: r.Search, Presence: r.Presences, Limit: r.Limit, Offset: r.Offset})
	if err != nil {
		return err
	}
	entries := make([]DirectoryEntry, 0, len(page.Entries))
	for _, d := range page.Entries {
		entries = append(entries, DirectoryEntry{
			ClientID: d.ID, Name: d.Name, Numbers: nonNil(d.Numbers), Extensions: nonNil(d.Extensions),
			Presence: d.Presence.String(), Activity: d.Activity,
		})
	}
	total := page.Total
	c.send(Message{Type: MsgDirectoryResult, ReqID: r.ReqID, Total: &total, Entries: entries})
	return nil
}

func (c *conn) history(ctx context.Context, r *Request) error {
	var kinds []engine.HistoryKind // Decode has checked each name
	for _, k := range r.Kinds {
		kinds = append(kinds, engine.HistoryKind(k))
	}
	q := engine.HistoryQuery{Number: r.Number, From: r.From, To: r.Until, Reasons: r.Reasons, Kinds: kinds, Limit: r.Limit, Before: r.Before}
	entries, err := c.h.eng.History(ctx, c.client, q)
	if err != nil {
		return err
	}
	next := ""
	if len(entries) > 0 && (r.Limit == 0 && len(entries) == 50 || r.Limit > 0 && len(entries) == r.Limit) {
		next = entries[len(entries)-1].Cursor()
	}
	if entries == nil {
		entries = []engine.HistoryEntry{}
	}
	c.send(Message{Type: MsgHistoryResult, ReqID: r.ReqID, Entries: entries, Next: next})
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
