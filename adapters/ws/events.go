package ws

import (
	"slices"
	"strings"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
)

// event translates one engine event into messages for this connection and
// the relay operations it implies. It runs on the loop, in the order the
// session's subscription delivers the events.
func (c *conn) event(ev *engine.Event) {
	switch {
	case ev.Call != nil:
		c.callEvent(ev)
	case ev.Transfer != nil:
		c.transferEvent(ev)
	case ev.Message != nil:
		c.messageEvent(ev)
	case ev.Type == events.TypePresenceChanged && ev.Client != nil:
		c.send(Message{Type: MsgPresenceChanged, ID: eventID(ev.Seq), ClientID: ev.Client.ID,
			Presence: ev.Client.Presence.String(), Activity: ev.Client.Activity})
	}
}

func localRemote(mine, s events.Side) string {
	if s == mine {
		return "local"
	}
	return "remote"
}

func (c *conn) callEvent(ev *engine.Event) {
	call := ev.Call
	side := call.SideOf(c.client)
	if side == 0 && slices.Contains(call.RangMembers, c.client) {
		side = events.Callee
	}
	if side == 0 && slices.Contains(call.Tried, c.client) {
		// A round-robin group call moved on from this client: it is
		// over for its devices, which stop ringing (T6).
		if name := c.ringing[call.ID]; name != "" {
			delete(c.ringing, call.ID)
			_ = c.h.media.CloseLeg(name)
			c.h.legs.drop(name)
			c.send(Message{Type: MsgCallEnded, ID: eventID(ev.Seq), CallID: call.ID, Reason: events.Missed.String()})
		}
		return
	}
	if side == 0 {
		if _, ok := c.legs[call.ID]; !ok {
			c.lineEvent(ev)
			return
		}
		side = c.legs[call.ID].side // the parking party left: its leg closes below
	}
	id := eventID(ev.Seq)
	m := Message{ID: id, CallID: call.ID}
	ctx, cancel := c.cmdCtx()
	defer cancel()
	switch e := ev.Event.(type) {
	case events.CallDialed:
		if c.created[call.ID] {
			delete(c.created, call.ID)
			return // call.trying was the reply to call.create
		}
		if side != events.Caller {
			return
		}
		c.send(Message{Type: MsgCallTrying, ID: id, CallID: call.ID, To: call.Callee.Number})
		if call.CallerDevice == c.device || call.CallerDevice == "" && call.Transfer != "" {
			if c.continueLeg(call, events.Caller) {
				c.nudge(call.ID, events.Caller)
			} else {
				c.offerMedia(ctx, call, events.Caller)
			}
		}
		if call.AnsweredDevice == c.device {
			// born connected (an attended transfer's new call): the
			// callee carries on too
			c.continueLeg(call, events.Callee)
		}
	case events.CallRinging:
		if side == events.Caller {
			m.Type = MsgCallRinging
			c.send(m)
			return
		}
		// A round-robin group call that moved on to this client rings
		// its devices as "member/device" (T6).
		moved := len(call.Tried) > 0 && call.Callee.Client == c.client && slices.Contains(call.RingingDevices, c.device)
		if (slices.Contains(e.Devices, c.device) || moved) && c.ringing[call.ID] == "" {
			c.offerIncoming(ctx, call, ev.Seq)
		}
	case events.CallAnswered:
		if side == events.Callee && e.Device != c.device {
			if name := c.ringing[call.ID]; name != "" {
				delete(c.ringing, call.ID)
				_ = c.h.media.CloseLeg(name)
				c.h.legs.drop(name)
				c.send(Message{Type: MsgCallEnded, ID: id, CallID: call.ID, Reason: ReasonAnsweredElsewhere, AnsweredByDevice: e.Device})
			}
			if c.legs[call.ID] == nil && call.Transfer == "" {
				return
			}
		}
		if side == events.Callee && e.Device == c.device && c.legs[call.ID] == nil {
			c.continueLeg(call, events.Callee)
		}
		m.Type = MsgCallAnswered
		c.send(m)
		c.applyMedia(call)
	case events.CallIgnored:
		if side == events.Callee {
			if name := c.ringing[call.ID]; name != "" {
				delete(c.ringing, call.ID)
				_ = c.h.media.CloseLeg(name)
				c.h.legs.drop(name)
			}
			m.Type = MsgCallIgnored
			c.send(m)
		}
	case events.CallHeld:
		m.Type, m.HeldBy = MsgCallHeld, localRemote(side, e.By)
		c.send(m)
		c.applyMedia(call)
	case events.CallResumed:
		held := call.State == engine.Held
		m.Type, m.ResumedBy, m.Held = MsgCallResumed, localRemote(side, e.By), &held
		c.send(m)
		c.applyMedia(call)
	case events.CallHoldNotAvailable:
		m.Type, m.HeldBy, m.Reason = MsgHoldNA, localRemote(side, e.By), e.Reason
		c.send(m)
	case events.CallMuted:
		m.Type, m.Side = MsgCallMuted, localRemote(side, e.Side)
		c.send(m)
		c.applyMedia(call)
	case events.CallUnmuted:
		m.Type, m.Side = MsgCallUnmuted, localRemote(side, e.Side)
		c.send(m)
		c.applyMedia(call)
	case events.CallDigits:
		m.Type, m.Digits, m.From = MsgCallDTMF, e.Digits, localRemote(side, e.Side)
		c.send(m)
		if l := c.legs[call.ID]; l != nil && e.Side != l.side {
			_ = c.h.media.SendDTMF(l.name, e.Digits)
		}
	case events.CallRecordingStarted:
		m.Type, m.By, m.Ref = MsgRecStarted, localRemote(side, e.By), e.Ref
		c.send(m)
	case events.CallRecordingStopped:
		m.Type, m.By = MsgRecStopped, localRemote(side, e.By)
		c.send(m)
	case events.CallParked:
		m.Type, m.Slot, m.By = MsgCallParked, e.Slot, localRemote(side, e.By)
		c.send(m)
		if l := c.legs[call.ID]; l != nil && l.side == e.By {
			c.closeLeg(l) // the parking party left the call
		} else {
			c.applyMedia(call)
		}
	case events.CallUnparked:
		m.Type, m.ByClient = MsgCallUnparked, e.Party.Client
		c.send(m)
		if e.Party.Client == c.client && (e.Device == c.device || e.Device == "") && c.legs[call.ID] == nil {
			c.offerMedia(ctx, call, call.SideOf(c.client))
		} else {
			c.applyMedia(call)
		}
	case events.CallJoined:
		m.Type, m.ConferenceID, m.PeerCallID = MsgCallMerged, e.Conference, e.Peer
		c.send(m)
		c.applyMedia(call)
	case events.CallLeftConference:
		m.Type, m.ConferenceID, m.PeerCallID = MsgCallConfLeft, e.Conference, e.Peer
		c.send(m)
		c.applyMedia(call)
	case events.CallToVoicemail:
		m.Type = MsgCallVoicemail
		c.send(m)
	case events.CallEnded:
		if name := c.ringing[call.ID]; name != "" {
			delete(c.ringing, call.ID)
			_ = c.h.media.CloseLeg(name)
			c.h.legs.drop(name)
		}
		m.Type, m.Reason = MsgCallEnded, call.ReasonFor(side).String()
		c.send(m)
		if l := c.legs[call.ID]; l != nil {
			c.closeLeg(l)
		}
		c.h.legs.unbindCall(call.ID)
		if call.Conference != "" {
			c.h.applyConference(ctx, call.ID) // the other call goes on as a pair
		}
	}
}

// continueLeg gives side of call the leg this device already has in
// another call of the same transfer: a transferred party keeps its audio.
func (c *conn) continueLeg(call *engine.Call, side events.Side) bool {
	if call.Transfer == "" {
		return false
	}
	x, ok := c.transfers[call.Transfer]
	if ok && call.ID == x.consult {
		// The consultation call is a new call of the transferring party:
		// its leg in the original call stays there (held), the
		// consultation gets an offer of its own.
		return false
	}
	var from []string
	if ok {
		if x.consult == call.ID {
			return false // our own consultation call gets its own media (sdp.offer)
		}
		from = []string{x.call, x.consult}
	}
	for _, l := range c.legs {
		if ok && !slices.Contains(from, l.call) || l.call == call.ID {
			continue
		}
		if !ok && !strings.HasPrefix(l.name, l.call) {
			continue
		}
		nl := &leg{name: l.name, call: call.ID, side: side}
		c.legs[call.ID] = nl
		c.h.legs.bind(call.ID, side, l.name, c)
		return true
	}
	return false
}

// nudge asks the connection that carries the other side of callID to
// bring the relay in line with the call: this connection's leg just joined
// it, and that connection may have applied the call's media before (the
// two connections read the call's events each at its own pace). Without
// it, the new call of an attended transfer, born connected, could stay
// unconnected: the callee's connection, which connects, saw no caller leg
// yet.
func (c *conn) nudge(callID string, mine events.Side) {
	_, owner := c.h.legs.side(callID, mine.Other())
	if owner == nil || owner == c {
		return
	}
	go owner.post(func() {
		ctx, cancel := owner.cmdCtx()
		defer cancel()
		owner.connectIfAnswered(ctx, callID)
	})
}

func (c *conn) transferEvent(ev *engine.Event) {
	t := ev.Transfer
	if e, ok := ev.Event.(events.TransferInitiated); ok {
		c.transfers[t.ID] = xferInfo{call: e.Call, consult: e.Consult, newCall: e.NewCall, kept: e.Kept}
	}
	typ := "transfer." + strings.TrimPrefix(snake(ev.Type.String()), "transfer_")
	target := t.Target.Number
	if target == "" {
		target = t.Target.Client
	}
	reason := string(t.Reason)
	switch e := ev.Event.(type) {
	case events.TransferNotAnswered:
		reason = e.Reason
	case events.TransferNotCompleted:
		reason = e.Reason
	case events.TransferFailed:
		reason = e.Reason
	}
	c.send(Message{Type: typ, ID: eventID(ev.Seq), TransferID: t.ID, Kind: t.Kind.String(), State: string(t.Status),
		CallID: t.Call, ConsultCallID: t.Consult, NewCallID: t.NewCall, Target: target, Reason: reason})
}

func (c *conn) messageEvent(ev *engine.Event) {
	msg := ev.Message
	switch ev.Event.(type) {
	case events.MessageSent:
		if msg.From.Client == c.client {
			return // message.accepted was the reply
		}
		c.send(Message{Type: MsgMessageReceived, ID: eventID(ev.Seq), MessageID: msg.ID, From: msg.From.Number,
			FromName: msg.From.Name, Text: msg.Text})
	case events.MessageDelivered, events.MessageFailed:
		if msg.From.Client == c.client {
			c.send(Message{Type: MsgMessageResult, ID: eventID(ev.Seq), MessageID: msg.ID, State: string(msg.Status), Reason: msg.Reason})
		}
	}
}

// lineEvent reports an event of a call on a line the session follows.
func (c *conn) lineEvent(ev *engine.Event) {
	call := ev.Call
	c.send(Message{Type: MsgLineCall, ID: eventID(ev.Seq), CallID: call.ID, Event: snake(ev.Type.String()),
		State: string(call.State), From: call.Caller.Number, To: call.Callee.Number, ParkSlot: call.ParkSlot})
}

// snake turns "CallDialed" into "call_dialed".
func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
