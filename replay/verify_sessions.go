package replay

import (
	"fmt"
	"time"

	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

// Schema 3: sessions, presence, voicemail and the call history's marks.

var sessionMachine = machine[fsm.Session, fsm.SessionCommand]{
	noun:    "session",
	command: func(_ *fsm.Session, items []item) (fsm.SessionCommand, error) { return sessionCommand(&items[0].env) },
	decide:  fsm.DecideSession,
	apply:   fsm.ApplySession,
	ended:   func(s *fsm.Session) (bool, uint64) { return s.Status == fsm.SessionDestroyed, s.Version },
}

// verifySession verifies one session stream; nil when it does not diverge.
func verifySession(id string, items []item) *Divergence {
	return verifyStream(sessionMachine, &fsm.Session{ID: id}, items)
}

// sessionCommand rebuilds the command that produced a journaled session
// event.
func sessionCommand(env *events.Envelope) (fsm.SessionCommand, error) {
	switch e := env.Event.(type) {
	case events.SessionCreated:
		return fsm.CreateSession{Client: e.Client, AutoAnswer: e.AutoAnswer}, nil
	case events.SessionRestored:
		return fsm.RestoreSession{}, nil
	case events.SessionConnectionClosed:
		// The grace period shows only when the last connection closed;
		// any positive one decides the same event otherwise.
		grace := time.Duration(1)
		if e.Deadline != 0 {
			grace = time.Duration(e.Deadline - env.Time)
		}
		return fsm.CloseConnection{Grace: grace}, nil
	case events.SessionDestroyed:
		if e.Expired {
			return fsm.GraceTimeout{}, nil
		}
		return fsm.DestroySession{}, nil
	case events.SessionSubscribed:
		return fsm.SubscribeLine{Line: e.Line}, nil
	case events.SessionUnsubscribed:
		return fsm.UnsubscribeLine{Line: e.Line}, nil
	case events.SessionAutoAnswerSet:
		return fsm.SetAutoAnswer{On: e.On}, nil
	}
	return nil, fmt.Errorf("%s is not a session event", env.Type)
}

// voicemailCommand rebuilds the command behind a call's voicemail events.
func voicemailCommand(c *fsm.Call, items []item) (fsm.CallCommand, error) {
	env := &items[0].env
	switch e := env.Event.(type) {
	case events.CallToVoicemail:
		if e.Reason == events.NoAnswer {
			return fsm.RingTimeout{}, nil
		}
		return fsm.Reject{}, nil // or the callee's hangup while it rang: the same decision
	case events.VoicemailLeft:
		// The message ends with the CallEnded that follows: the caller's
		// hangup, the box's deadline, or a failure of the far end.
		by := events.NoSide
		if len(items) > 1 && items[1].err == nil {
			if end, ok := items[1].env.Event.(events.CallEnded); ok {
				by = end.By
			}
		}
		switch {
		case by == events.Caller:
			return fsm.Hangup{By: events.Caller}, nil
		case env.Time >= c.VoicemailDeadline:
			return fsm.VoicemailTimeout{}, nil
		}
		return fsm.Fail{Reason: events.Failed}, nil
	}
	return nil, fmt.Errorf("%s is not a voicemail event", env.Type)
}

// clientCommandV3 rebuilds the command behind a schema 3 client event.
func clientCommandV3(ev events.Event) (fsm.ClientCommand, bool) {
	switch e := ev.(type) {
	case events.ClientPresenceSet:
		return fsm.SetPresence{Presence: e.Presence, Activity: e.Activity}, true
	case events.ClientVoicemailSet:
		return fsm.SetVoicemail{Enabled: e.Enabled, MaxLength: e.MaxLength}, true
	case events.ClientPasswordSet:
		return fsm.SetPassword{Hash: e.Hash, Realm: e.Realm, DigestHA1: e.DigestHA1}, true
	case events.HistoryDeleted:
		return fsm.DeleteHistory{Calls: e.Calls}, true
	case events.VoicemailHeard:
		return fsm.MarkVoicemailHeard{Calls: e.Calls}, true
	case events.VoicemailDeleted:
		return fsm.DeleteVoicemail{Calls: e.Calls}, true
	}
	return nil, false
}
