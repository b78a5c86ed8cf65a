package sip

import (
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/callengine/callengine/adapters/sip/internal/sipsyntax"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
)

// DTMF as SIP INFO (application/dtmf-relay, the Cisco format most phones
// send: "Signal=5" and "Duration=160" in ms). A phone's INFO is the
// engine's SendDigits for its side; the engine's CallDigits of a side is
// an INFO per tone to the other side's phone. RFC 4733 events in RTP pass
// between the phones untouched: the adapter does not see the media.

// dtmfDefault is the tone length INFO says when the engine gives none.
const dtmfDefault = 160 * time.Millisecond

// onInfo serves an INFO inside a dialog: DTMF.
func (a *Adapter) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	cl, l, ok := a.inDialogLeg(req, tx)
	if !ok {
		return
	}
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = strings.ToLower(strings.TrimSpace(strings.Split(h.Value(), ";")[0]))
	}
	var digit byte
	var dur time.Duration
	var err error
	switch ct {
	case "application/dtmf-relay":
		digit, dur, err = sipsyntax.ParseDTMFRelay(req.Body())
	case "application/dtmf":
		b := strings.TrimSpace(string(req.Body()))
		digit, dur, err = sipsyntax.ParseDTMFRelay([]byte("Signal=" + b))
		if len(b) > 2 {
			err = sipsyntax.ErrBadDTMF
		}
	default:
		res := a.response(req, status{415, "Unsupported Media Type"})
		res.AppendHeader(sip.NewHeader("Accept", "application/dtmf-relay, application/dtmf"))
		a.respond(tx, res)
		return
	}
	if err != nil {
		a.respond(tx, a.response(req, statusBadRequest))
		return
	}
	if err := a.phoneDigit(cl.id, l.side, l.client, rune(digit), dur); err != nil { // feature_codes.go
		a.respond(tx, a.response(req, statusForCommand(err)))
		return
	}
	a.respond(tx, a.response(req, status{200, "OK"}))
}

// statusForCommand is the response to an in-dialog request whose engine
// command was refused.
func statusForCommand(err error) status {
	switch errcode.CodeOf(err) {
	case errcode.InvalidParams, errcode.MissingParameter:
		return statusBadRequest
	case errcode.Forbidden:
		return statusForbidden
	case errcode.NotFound:
		return statusNoDialog
	case errcode.Unavailable, errcode.Closed:
		return statusServiceUnav
	}
	return statusNotAccept
}

// midCall follows the engine's mid-call events of a call with SIP legs.
func (a *Adapter) midCall(cl *call, ev engine.Event) {
	switch e := ev.Event.(type) {
	case events.CallHeld:
		a.engineHold(cl, e.By, true)
	case events.CallResumed:
		a.engineHold(cl, e.By, false)
	case events.CallDigits:
		a.engineDigits(cl, e)
	}
}

// engineDigits sends a side's tones to the other side's phone, one INFO
// per tone, a ',' a pause of two tones.
func (a *Adapter) engineDigits(cl *call, e events.CallDigits) {
	dur, gap := time.Duration(e.Duration), time.Duration(e.Gap)
	if dur <= 0 {
		dur = dtmfDefault
	}
	if a.relayDigits(cl, e.Side.Other(), e.Digits) {
		return // played as RFC 4733 by the relay (media.go)
	}
	a.serial(cl, func() {
		l := cl.leg(e.Side.Other())
		if l == nil {
			return
		}
		for i := 0; i < len(e.Digits); i++ {
			if i > 0 {
				if !a.sleep(gap) {
					return
				}
			}
			if e.Digits[i] == ',' {
				if !a.sleep(2 * dur) {
					return
				}
				continue
			}
			body := "Signal=" + string(e.Digits[i]) + "\r\nDuration=" + strconv.FormatInt(dur.Milliseconds(), 10) + "\r\n"
			res, err := a.inDialogRequest(l.dlg, sip.INFO, "application/dtmf-relay", []byte(body))
			if err != nil || res.StatusCode >= 300 {
				a.log.Info("a phone did not take an INFO with a tone", "call", cl.id, "err", err)
			}
			if !a.sleep(dur) {
				return
			}
		}
	})
}

// sleep waits d, or reports false when the adapter stops.
func (a *Adapter) sleep(d time.Duration) bool {
	if d <= 0 {
		return a.ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-a.ctx.Done():
		return false
	}
}
