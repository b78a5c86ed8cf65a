package engine

import (
	"context"
	"strconv"
	"time"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

// ToneOptions shapes the DTMF tones of SendDigits (C10). The zero value
// takes the defaults: 100 ms tones (fsm.DefaultToneDuration) with 70 ms of
// silence between them (fsm.DefaultToneGap).
type ToneOptions struct {
	Duration time.Duration // each tone's length; at most 10 s
	Gap      time.Duration // the silence between two tones; at most 10 s
}

// SendDigits sends DTMF tones on behalf of side (C10): 0-9, *, #, A-D and
// ',' for a pause, at most fsm.MaxDigits at once, on a connected or held
// call. The tones are one CallDigits event; the adapter plays them (RFC 4733
// in the media path, SIP INFO as a fallback). Call.Digits counts the tones
// sent so far.
func (e *Engine) SendDigits(ctx context.Context, callID string, side Side, digits string, opt ToneOptions) (c Call, err error) {
	err = e.command(ctx, callID, fsm.SendDigits{Side: side, Digits: digits, Duration: opt.Duration, Gap: opt.Gap}, &c)
	return c, err
}

// StartRecording starts recording a connected or held call on behalf of side
// by (C11). The client on that side must be registered with
// events.PermissionRecord; an external party cannot record. Both refusals,
// like a call that is not established, are errors with code
// recording_not_available and journal nothing. An empty ref takes
// "rec/<call id>/<n>", where n is the version the CallRecordingStarted event
// gets in the call's stream: the same on every run, and unique within the
// call.
func (e *Engine) StartRecording(ctx context.Context, callID string, by Side, ref string) (view Call, err error) {
	if callID == "" {
		return Call{}, errcode.New(errcode.MissingParameter, "call id is empty")
	}
	err = e.resolveCall(ctx, callID, func(c *fsm.Call) (fsm.CallCommand, error) {
		if err := e.mayRecord(c, by); err != nil {
			return nil, err
		}
		r := ref
		if r == "" {
			r = "rec/" + c.ID + "/" + strconv.FormatUint(c.Version+1, 10)
		}
		return fsm.StartRecording{By: by, Ref: r}, nil
	}, &view)
	return view, err
}

// StopRecording stops the call's recording on behalf of side by, whose
// client must hold events.PermissionRecord, as for StartRecording.
func (e *Engine) StopRecording(ctx context.Context, callID string, by Side) (view Call, err error) {
	if callID == "" {
		return Call{}, errcode.New(errcode.MissingParameter, "call id is empty")
	}
	err = e.resolveCall(ctx, callID, func(c *fsm.Call) (fsm.CallCommand, error) {
		if err := e.mayRecord(c, by); err != nil {
			return nil, err
		}
		return fsm.StopRecording{By: by}, nil
	}, &view)
	return view, err
}

// mayRecord checks, on the call actor's goroutine, that the party on side by
// is a client allowed to record. The directory holds immutable snapshots:
// reading it here does not wait for the client's actor.
func (e *Engine) mayRecord(c *fsm.Call, by Side) error {
	if !by.Valid() {
		return errcode.Newf(errcode.InvalidParams, "side %d is neither caller nor callee", by)
	}
	p := c.Party(by)
	if p.Client == "" {
		return errcode.Newf(errcode.RecordingNotAvailable, "recording not available: the %s of call %s is external", by, c.ID)
	}
	if cl := e.dir.get(p.Client); cl == nil || !cl.Can(events.PermissionRecord) {
		return errcode.Newf(errcode.RecordingNotAvailable, "recording not available: client %s may not record", p.Client)
	}
	return nil
}

// partyOf returns the party on side s of a call view.
func partyOf(c *Call, s Side) Party {
	if s == Callee {
		return c.Callee
	}
	return c.Caller
}

// liveCallViews returns every live call that keep selects, by asking each
// call's actor in turn: O(live calls) round trips. Park, ParkedCalls and
// Conference use it; a projection of parked slots and conferences kept by
// the publisher would make them O(1).
func (e *Engine) liveCallViews(ctx context.Context, keep func(*Call) bool) ([]Call, error) {
	var out []Call
	for _, id := range e.live.ids() {
		c, err := e.Call(ctx, id)
		if err != nil {
			if code := errcode.CodeOf(err); code == errcode.InvalidState || code == errcode.NotFound {
				continue // ended meanwhile
			}
			return nil, err
		}
		if c.State.Live() && keep(&c) {
			out = append(out, c)
		}
	}
	return out, nil
}
