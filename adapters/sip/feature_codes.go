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
// are gone). A code's digits never reach the other party: a digit that
// begins a code is held back until the code is complete, another digit
// comes, or featureDigitWait passes — then it is passed on, late, in
// order. Digits come from the phone's RFC 4733 events on the relay and
// from its INFO requests alike.

// featureDigitWait is how long a digit that may begin a feature code is
// held back (Asterisk's featuredigittimeout is 1 s).
var featureDigitWait = 1500 * time.Millisecond

// maxFeatureCode bounds a feature code's length.
const maxFeatureCode = 8

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

// featureKey names a call's side.
type featureKey struct {
	call string
	side engine.Side
}

// heldDigits are the digits of one side held back as the start of a code.
type heldDigits struct {
	mu     sync.Mutex // orders the side's digits to the engine
	digits string
	durs   []time.Duration
	timer  *time.Timer
	gen    uint64 // the timer's generation: a stale timer does nothing
}

// features holds the held digits of every side.
type features struct {
	mu   sync.Mutex
	held map[featureKey]*heldDigits
}

func (f *features) side(k featureKey) *heldDigits {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.held == nil {
		f.held = map[featureKey]*heldDigits{}
	}
	h := f.held[k]
	if h == nil {
		h = &heldDigits{}
		f.held[k] = h
	}
	return h
}

// forget drops a call's held digits (the call ended).
func (f *features) forget(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, h := range f.held {
		if k.call == call {
			h.mu.Lock()
			if h.timer != nil {
				h.timer.Stop()
			}
			h.mu.Unlock()
			delete(f.held, k)
		}
	}
}

// phoneDigit takes one digit a phone of client sent on side of call: a
// feature code's, held back, or the engine's SendDigits by that side. It
// returns the engine's refusal of the digit (or of the digits it let go).
func (a *Adapter) phoneDigit(call string, side engine.Side, client string, d rune, dur time.Duration) error {
	code := a.set.RecordCode
	if code == "" {
		return a.sendDigits(call, side, client, string(d), []time.Duration{dur})
	}
	h := a.features.side(featureKey{call, side})
	h.mu.Lock()
	defer h.mu.Unlock()
	h.digits += string(d)
	h.durs = append(h.durs, dur)
	if h.timer != nil {
		h.timer.Stop()
		h.timer = nil
	}
	switch {
	case h.digits == code:
		h.digits, h.durs = "", nil
		a.toggleRecording(call, side, client)
		return nil
	case strings.HasPrefix(code, h.digits):
		h.gen++
		gen := h.gen
		h.timer = time.AfterFunc(featureDigitWait, func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			if h.gen == gen {
				a.flushDigits(h, call, side, client)
			}
		})
		return nil
	}
	return a.flushDigits(h, call, side, client)
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
