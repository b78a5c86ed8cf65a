package sip

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/callengine/callengine/engine"
)

// Feature codes: DTMF sequences a SIP phone keys in a call to ask for what
// SIP has no request for, as Asterisk's features.conf (automixmon) and
// FreeSWITCH's bind_meta_app let a phone do. Settings.RecordCode (serve:
// sip.record_code, "*1" say) toggles the call's recording: the engine's
// StartRecording or StopRecording by the phone's side, with its client's
// permission (a client without PermissionRecord is refused, and the digits
// are gone). Settings.TransferCode (sip.transfer_code, "##" say) then a
// number, ended by '#' or a pause of featureTargetWait, transfers the other
// party there — the engine's BlindTransfer by the phone's side, as a REFER
// would (Asterisk's blindxfer): for phones and analogue adapters that
// cannot send REFER. A code's digits never reach the other party: a digit
// that begins a code is held back until the code is complete, another
// digit comes, or featureDigitWait passes — then it is passed on, late, in
// order. Digits come from the phone's RFC 4733 events on the relay and
// from its INFO requests alike.

// featureDigitWait is how long a digit that may begin a feature code is
// held back (Asterisk's featuredigittimeout is 1 s).
var featureDigitWait = 1500 * time.Millisecond

// featureTargetWait is how long the number of a transfer code waits for
// its next digit before it is taken as complete ('#' ends it at once).
var featureTargetWait = 3 * time.Second

// maxFeatureCode bounds a feature code's length.
const maxFeatureCode = 8

// CheckFeatureCodes reports whether the record and transfer codes can be
// used together: each one a feature code (CheckFeatureCode), and neither
// the other nor the start of it.
func CheckFeatureCodes(record, transfer string) error {
	for _, c := range []string{record, transfer} {
		if err := CheckFeatureCode(c); err != nil {
			return err
		}
	}
	if record != "" && transfer != "" && (strings.HasPrefix(record, transfer) || strings.HasPrefix(transfer, record)) {
		return fmt.Errorf("sip: feature codes %q and %q: one begins the other", record, transfer)
	}
	return nil
}

// CheckFeatureCode reports whether code is a feature code: "" (none) or up
// to 8 DTMF digits (0-9, *, #, A-D).
func CheckFeatureCode(code string) error {
	if len(code) > maxFeatureCode {
		return fmt.Errorf("sip: feature code %q: longer than %d digits", code, maxFeatureCode)
	}
	for _, r := range code {
		if !strings.ContainsRune("0123456789*#ABCD", r) {
			return fmt.Errorf("sip: feature code %q: %q is not a DTMF digit", code, r)
		}
	}
	return nil
}

// heldDigits are the digits of one side held back as the start of a code,
// or the number a transfer code collects.
type heldDigits struct {
	mu     sync.Mutex // orders the side's digits to the engine
	digits string
	durs   []time.Duration
	timer  *time.Timer
	gen    uint64 // the timer's generation: a stale timer does nothing

	collecting bool   // the transfer code was keyed: digits are its number
	target     string // the number so far
}

// features holds the held digits of every call's sides.
type features struct {
	mu   sync.Mutex
	held map[string]map[engine.Side]*heldDigits // by call
}

func (f *features) side(call string, s engine.Side) *heldDigits {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.held == nil {
		f.held = map[string]map[engine.Side]*heldDigits{}
	}
	sides := f.held[call]
	if sides == nil {
		sides = map[engine.Side]*heldDigits{}
		f.held[call] = sides
	}
	h := sides[s]
	if h == nil {
		h = &heldDigits{}
		sides[s] = h
	}
	return h
}

// forget drops a call's held digits (the call ended).
func (f *features) forget(call string) {
	f.mu.Lock()
	sides := f.held[call]
	delete(f.held, call)
	f.mu.Unlock()
	for _, h := range sides {
		h.mu.Lock()
		if h.timer != nil {
			h.timer.Stop()
		}
		h.mu.Unlock()
	}
}

// phoneDigit takes one digit a phone of client sent on side of call: a
// feature code's, held back, or the engine's SendDigits by that side. It
// returns the engine's refusal of the digit (or of the digits it let go).
func (a *Adapter) phoneDigit(call string, side engine.Side, client string, d rune, dur time.Duration) error {
	rec, xfer := a.set.RecordCode, a.set.TransferCode
	if rec == "" && xfer == "" {
		return a.sendDigits(call, side, client, string(d), []time.Duration{dur})
	}
	h := a.features.side(call, side)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.timer != nil {
		h.timer.Stop()
		h.timer = nil
	}
	if h.collecting {
		// The number of a transfer: up to '#', or a pause.
		if d == '#' {
			a.transferTo(h, call, side, client)
			return nil
		}
		h.target += string(d)
		h.arm(featureTargetWait, func() { a.transferTo(h, call, side, client) })
		return nil
	}
	h.digits += string(d)
	h.durs = append(h.durs, dur)
	switch {
	case h.digits == rec:
		h.digits, h.durs = "", nil
		a.toggleRecording(call, side, client)
		return nil
	case h.digits == xfer:
		h.digits, h.durs = "", nil
		h.collecting, h.target = true, ""
		h.arm(featureTargetWait, func() { a.transferTo(h, call, side, client) })
		return nil
	case rec != "" && strings.HasPrefix(rec, h.digits), xfer != "" && strings.HasPrefix(xfer, h.digits):
		h.arm(featureDigitWait, func() { _ = a.flushDigits(h, call, side, client) })
		return nil
	}
	return a.flushDigits(h, call, side, client)
}

// arm runs fire, under h.mu, after wait unless another digit comes first;
// h.mu is held.
func (h *heldDigits) arm(wait time.Duration, fire func()) {
	h.gen++
	gen := h.gen
	h.timer = time.AfterFunc(wait, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.gen == gen {
			fire()
		}
	})
}

// transferTo ends the collection of a transfer's number and transfers the
// other party of call there (a blind transfer by the phone's side, as its
// REFER would); no number, no transfer. h.mu is held.
func (a *Adapter) transferTo(h *heldDigits, call string, side engine.Side, client string) {
	target := h.target
	h.collecting, h.target = false, ""
	if target == "" {
		return
	}
	if slot, ok := a.parkSlot(target); ok {
		a.parkByCode(call, side, client, slot) // park_sip.go
		return
	}
	ctx, cancel := a.command(client)
	defer cancel()
	if _, err := a.eng.BlindTransfer(ctx, engine.TransferRequest{Call: call, Side: side.Other(), To: target}); err != nil {
		a.log.Info("feature code: transfer refused", "call", call, "side", side, "to", target, "err", err)
		return
	}
	a.log.Info("feature code: transfer", "call", call, "side", side, "to", target)
}

// flushDigits passes on what h holds; h.mu is held.
func (a *Adapter) flushDigits(h *heldDigits, call string, side engine.Side, client string) error {
	digits, durs := h.digits, h.durs
	h.digits, h.durs = "", nil
	if digits == "" {
		return nil
	}
	return a.sendDigits(call, side, client, digits, durs)
}

// sendDigits is the engine's SendDigits, one tone each with its duration
// (0: the engine's default).
func (a *Adapter) sendDigits(call string, side engine.Side, client, digits string, durs []time.Duration) error {
	ctx, cancel := a.command(client)
	defer cancel()
	for i, d := range digits {
		if _, err := a.eng.SendDigits(ctx, call, side, string(d), engine.ToneOptions{Duration: durs[i]}); err != nil {
			a.log.Debug("the engine refused a phone's digits", "call", call, "side", side, "err", err)
			return err
		}
	}
	return nil
}

// toggleRecording starts the call's recording, or stops the one that runs,
// for side.
func (a *Adapter) toggleRecording(call string, side engine.Side, client string) {
	ctx, cancel := a.command(client)
	defer cancel()
	c, err := a.eng.Call(ctx, call)
	if err != nil {
		return
	}
	what := "started"
	if c.Recording {
		_, err = a.eng.StopRecording(ctx, call, side)
		what = "stopped"
	} else {
		_, err = a.eng.StartRecording(ctx, call, side, "")
	}
	if err != nil {
		a.log.Info("feature code: recording refused", "call", call, "side", side, "client", client, "err", err)
		return
	}
	a.log.Info("feature code: recording "+what, "call", call, "side", side, "client", client)
}
