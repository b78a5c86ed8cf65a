package fsm

import (
	"fmt"

	lfsm "github.com/looplab/fsm"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
)

// TransferStatus is the state of a transfer (FEATURES T1–T3, C14).
type TransferStatus string

const (
	NoTransfer   TransferStatus = ""
	Placing      TransferStatus = "placing"    // blind: the new call is being placed
	Consulting   TransferStatus = "consulting" // the consultation (or first) call rings
	Answered     TransferStatus = "answered"   // the target (or first party) answered
	Completed    TransferStatus = "completed"
	NotAnswered  TransferStatus = "not-answered"
	NotCompleted TransferStatus = "not-completed"
	Canceled     TransferStatus = "canceled"
	FailedStatus TransferStatus = "failed"
)

// Done reports whether the transfer reached an outcome.
func (s TransferStatus) Done() bool {
	switch s {
	case Completed, NotAnswered, NotCompleted, Canceled, FailedStatus:
		return true
	}
	return false
}

// Transitions of the transfer machine.
const (
	evConsult     = "consult"
	evPlace       = "place"
	evAnswered    = "answered"
	evComplete    = "complete"
	evNotAnswered = "not-answered"
	evNotComplete = "not-completed"
	evCancel      = "cancel"
	evFail        = "fail"
)

// TransferMachine is the transfer's state machine:
//
//	placing → completed | failed                          (blind)
//	consulting → answered → completed                     (attended, supervised, click-to-call)
//	consulting → not-answered | canceled | not-completed | failed
//	answered → canceled | not-completed | failed
var TransferMachine = newMachine(string(NoTransfer), lfsm.Events{
	{Name: evPlace, Src: []string{string(NoTransfer)}, Dst: string(Placing)},
	{Name: evConsult, Src: []string{string(NoTransfer)}, Dst: string(Consulting)},
	{Name: evAnswered, Src: []string{string(Consulting)}, Dst: string(Answered)},
	{Name: evComplete, Src: []string{string(Placing), string(Answered)}, Dst: string(Completed)},
	{Name: evNotAnswered, Src: []string{string(Consulting)}, Dst: string(NotAnswered)},
	{Name: evNotComplete, Src: []string{string(Consulting), string(Answered)}, Dst: string(NotCompleted)},
	{Name: evCancel, Src: []string{string(Consulting), string(Answered)}, Dst: string(Canceled)},
	{Name: evFail, Src: []string{string(Placing), string(Consulting), string(Answered)}, Dst: string(FailedStatus)},
})

// Transfer is the state of one transfer. Its zero value is a transfer that
// does not exist yet: the only event it accepts is TransferInitiated.
type Transfer struct {
	ID      string
	Version uint64
	Status  TransferStatus
	events.TransferInitiated
	Reason    string // why it was not answered, not completed or failed
	StartedAt int64
	EndedAt   int64
}

// Transferor is the side of the original call that transfers.
func (t *Transfer) TransferorSide() events.Side { return t.Kept.Other() }

// Clone returns a copy.
func (t *Transfer) Clone() Transfer { return *t }

// ApplyTransfer folds one event into the transfer; an event that does not fit
// is an error and t is unchanged.
func ApplyTransfer(t *Transfer, ev events.Event, at int64) error {
	next := *t
	var err error
	fire := func(event string) {
		var to string
		if to, err = TransferMachine.fire(string(next.Status), event); err == nil {
			next.Status = TransferStatus(to)
		} else {
			err = fmt.Errorf("transfer %s: %s in state %q: %w", t.ID, event, t.Status, err)
		}
	}
	switch e := ev.(type) {
	case events.TransferInitiated:
		if e.Kind == events.Blind {
			fire(evPlace)
		} else {
			fire(evConsult)
		}
		next.TransferInitiated = e
		next.StartedAt = at
	case events.TransferAnswered:
		fire(evAnswered)
	case events.TransferNotAnswered:
		fire(evNotAnswered)
		next.Reason = e.Reason
	case events.TransferCompleted:
		fire(evComplete)
	case events.TransferNotCompleted:
		fire(evNotComplete)
		next.Reason = e.Reason
	case events.TransferCanceled:
		fire(evCancel)
	case events.TransferFailed:
		fire(evFail)
		next.Reason = e.Reason
	default:
		return fmt.Errorf("transfer %s: %s is not a transfer event", t.ID, ev.Type())
	}
	if err != nil {
		return err
	}
	if next.Status.Done() {
		next.EndedAt = at
	}
	next.Version++
	*t = next
	return nil
}

// CheckTransferInitiated checks the event that starts a transfer before it is
// journaled.
func CheckTransferInitiated(e events.TransferInitiated) error {
	switch e.Kind {
	case events.Blind, events.Attended, events.Supervised:
		if e.Call == "" {
			return errcode.New(errcode.MissingParameter, "a transfer needs the call")
		}
		if !e.Kept.Valid() {
			return badSide(e.Kept)
		}
		if e.Kind != events.Blind && e.Consult == "" {
			return errcode.New(errcode.MissingParameter, "an attended transfer needs a consultation call id")
		}
	case events.ClickToCall:
		if e.Consult == "" || e.First.Client == "" && e.First.Number == "" {
			return errcode.New(errcode.MissingParameter, "click-to-call needs the first party and its call id")
		}
	default:
		return errcode.Newf(errcode.InvalidParams, "unknown transfer kind %d", e.Kind)
	}
	if e.NewCall == "" {
		return errcode.New(errcode.MissingParameter, "a transfer needs the id of its new call")
	}
	if e.Target.Client == "" && e.Target.Number == "" && e.Group == "" {
		return errcode.New(errcode.MissingParameter, "a transfer needs a target")
	}
	if e.Kind == events.ClickToCall && e.Target.Number == "" && e.Destination == "" {
		return errcode.New(errcode.MissingParameter, "click-to-call needs a number or destination to present to the first party")
	}
	if e.Deadline < 0 {
		return errcode.New(errcode.InvalidParams, "invite timer must not be negative")
	}
	return nil
}
