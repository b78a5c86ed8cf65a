package simulator

import (
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
)

// issuer is who gives a command of a step.
type issuer int

const (
	byOperator      issuer = iota // "crash", "archive older-than 720h", "click-to-call 101 to 102"
	byClient                      // "alice dial 102": the client's phone
	byFarEnd                      // "far answer c1": the far end of a call or of a text message
	byOutsideNumber               // "far +33600000001 dial 102": a number outside calls in
)

// verb is a command's word: who gives it, and how the words after it parse
// into the command that runs.
type verb struct {
	by    issuer
	name  string
	parse func(a *args) (command, error)
	// unsigned: with tokens on, the client's command carries no access
	// token (login and refresh obtain them; the operator registers and
	// unregisters clients).
	unsigned bool
}

// verbs are every command a scenario's steps can give. A family of verbs
// lives in its own file: verbs_operator.go, verbs_calls.go, verbs_park.go,
// verbs_transfers.go, verbs_messages.go, verbs_clients.go,
// verbs_sessions.go, verbs_far.go.
var verbs = []verb{
	{by: byOperator, name: "crash", parse: parseCrash},
	{by: byOperator, name: "archive", parse: parseArchive},
	{by: byOperator, name: "click-to-call", parse: parseOperatorClickToCall},

	{by: byClient, name: "dial", parse: parseDial},
	{by: byClient, name: "answer", parse: parseAnswer},
	{by: byClient, name: "reject", parse: calleeVerb(rejectCall)},
	{by: byClient, name: "busy", parse: calleeVerb(busyCall)},
	{by: byClient, name: "ignore", parse: calleeVerb(ignoreCall)},
	{by: byClient, name: "hangup", parse: sideVerb((*engine.Engine).Hangup)},
	{by: byClient, name: "hold", parse: sideVerb((*engine.Engine).Hold)},
	{by: byClient, name: "resume", parse: sideVerb((*engine.Engine).Resume)},
	{by: byClient, name: "mute", parse: sideVerb((*engine.Engine).Mute)},
	{by: byClient, name: "unmute", parse: sideVerb((*engine.Engine).Unmute)},
	{by: byClient, name: "swap", parse: parseSwap},
	{by: byClient, name: "dtmf", parse: parseDTMF},
	{by: byClient, name: "record", parse: parseRecord},
	{by: byClient, name: "stop-recording", parse: sideVerb((*engine.Engine).StopRecording)},

	{by: byClient, name: "park", parse: parsePark},
	{by: byClient, name: "pause", parse: sideVerb((*engine.Engine).Pause)},
	{by: byClient, name: "unpark", parse: parseUnpark},

	{by: byClient, name: "transfer", parse: parseTransfer},
	{by: byClient, name: "supervise", parse: parseTransfer},
	{by: byClient, name: "consult", parse: parseConsult},
	{by: byClient, name: "complete", parse: parseEndTransfer},
	{by: byClient, name: "cancel", parse: parseEndTransfer},
	{by: byClient, name: "click-to-call", parse: parseClickToCall},
	{by: byClient, name: "merge", parse: parseMerge},

	{by: byClient, name: "message", parse: parseMessage},

	{by: byClient, name: "register", parse: parseRegister, unsigned: true},
	{by: byClient, name: "unregister", parse: parseUnregister, unsigned: true},
	{by: byClient, name: "add-device", parse: parseAddDevice},
	{by: byClient, name: "remove-device", parse: parseRemoveDevice},
	{by: byClient, name: "connect", parse: parseConnect},
	{by: byClient, name: "disconnect", parse: parseDisconnect},
	{by: byClient, name: "password", parse: parsePassword},
	{by: byClient, name: "accept-inbound", parse: parseAcceptInbound},
	{by: byClient, name: "presence", parse: parsePresence},
	{by: byClient, name: "voicemail", parse: parseVoicemail},
	{by: byClient, name: "login", parse: parseLogin, unsigned: true},
	{by: byClient, name: "refresh", parse: parseRefresh, unsigned: true},

	{by: byClient, name: "create-session", parse: parseCreateSession},
	{by: byClient, name: "restore-session", parse: parseSessionVerb(restoreSession)},
	{by: byClient, name: "close-connection", parse: parseSessionVerb(closeConnection)},
	{by: byClient, name: "destroy-session", parse: parseSessionVerb(destroySession)},
	{by: byClient, name: "subscribe", parse: parseSubscribe},
	{by: byClient, name: "unsubscribe", parse: parseSubscribe},
	{by: byClient, name: "auto-answer", parse: parseAutoAnswer},

	{by: byOutsideNumber, name: "dial", parse: parseOutsideDial},
	{by: byFarEnd, name: "ring", parse: farVerb("far-ringing", engine.FarEnd.FarRinging)},
	{by: byFarEnd, name: "answer", parse: farVerb("far-answered", engine.FarEnd.FarAnswered)},
	{by: byFarEnd, name: "hold", parse: farVerb("far-hold", engine.FarEnd.FarHold)},
	{by: byFarEnd, name: "resume", parse: farVerb("far-resume", engine.FarEnd.FarResume)},
	{by: byFarEnd, name: "hangup", parse: farEndVerb(events.Hangup)},
	{by: byFarEnd, name: "busy", parse: farEndVerb(events.Busy)},
	{by: byFarEnd, name: "no-answer", parse: farEndVerb(events.NoAnswer)},
	{by: byFarEnd, name: "reject", parse: farRefusalVerb(events.Rejected)},
	{by: byFarEnd, name: "fail", parse: farRefusalVerb(events.Failed)},
	{by: byFarEnd, name: "deliver", parse: parseFarDeliver},
}

type verbKey struct {
	by   issuer
	name string
}

var verbIndex = func() map[verbKey]*verb {
	index := make(map[verbKey]*verb, len(verbs))
	for i := range verbs {
		index[verbKey{verbs[i].by, verbs[i].name}] = &verbs[i]
	}
	return index
}()

// lookupVerb finds the verb an issuer gives by that name.
func lookupVerb(by issuer, name string) (*verb, bool) {
	v, ok := verbIndex[verbKey{by, name}]
	return v, ok
}

// exec runs one command of a step. A client's command carries the client's
// access token when the scenario has tokens on, as the client's phone sends
// it; the engine's access control then decides.
func (s *sim) exec(o op) error {
	if s.tokens != nil && o.signedBy != "" {
		saved := s.ctx
		ctx, _, err := s.eng.Authenticate(saved, s.tokens[o.signedBy].Access)
		if err != nil {
			return err
		}
		s.ctx = ctx
		defer func() { s.ctx = saved }()
	}
	return o.cmd.run(s)
}
