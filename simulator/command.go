package simulator

import (
	"slices"
	"strings"
	"time"

	"github.com/callengine/callengine/events"
)

// op is one parsed command of a step.
type op struct {
	text   string
	verb   string // dial, answer, …; far-dial, far-answer, …; crash
	client string // the client who acts (client verbs)
	number string // the outside number that calls (far-dial)
	call   string // the call's label
	dest   string // dial destination
	device string
	as     string // label for a new call
	// dial and register options
	callerID    string
	name        string
	extensions  []string
	numbers     []string
	devices     []string
	permissions []string
	on          bool          // accept-inbound on|off
	reason      events.Reason // how the far end ends a call (far-hangup, far-busy, …)

	// call control
	target   string        // transfer, consult, supervise: where to; click-to-call, message: the destination
	first    string        // click-to-call by the operator: the first party
	other    string        // merge: the second call
	transfer string        // complete, cancel: the transfer's label
	slot     string        // park in, unpark slot
	digits   string        // dtmf
	duration time.Duration // dtmf: each tone's length
	gap      time.Duration // dtmf: the silence between tones
	timer    time.Duration // supervise: the invite timer
	ref      string        // record: the recording's reference
	message  string        // message: its text

	// sessions, presence, voicemail (CL4–CL8, C7)
	session   string          // the session's label
	line      string          // subscribe, unsubscribe: the line
	presence  events.Presence // presence: what the client sets
	activity  string          // presence: its activity text
	maxLength time.Duration   // voicemail on: the longest message (0: the engine's default)
	noAuto    bool            // create-session auto-answer off

	supervisor bool // login as supervisor
}

// clientVerbs take "<client> <verb> …".
var clientVerbs = map[string]bool{
	"dial": true, "answer": true, "reject": true, "busy": true, "ignore": true, "hangup": true,
	"hold": true, "resume": true, "mute": true, "unmute": true,
	"register": true, "unregister": true, "add-device": true, "remove-device": true, "accept-inbound": true,
	"transfer": true, "consult": true, "supervise": true, "complete": true, "cancel": true,
	"park": true, "pause": true, "unpark": true, "merge": true, "swap": true,
	"dtmf": true, "record": true, "stop-recording": true, "click-to-call": true, "message": true,
	"create-session": true, "restore-session": true, "close-connection": true, "destroy-session": true,
	"subscribe": true, "unsubscribe": true, "auto-answer": true, "presence": true, "voicemail": true,
	"login": true, "refresh": true,
}

// farVerbs take "far <verb> <call>"; their value is the reason of far ends.
var farVerbs = map[string]events.Reason{
	"ring": 0, "answer": 0, "hold": 0, "resume": 0,
	"hangup": events.Hangup, "busy": events.Busy, "reject": events.Rejected,
	"fail": events.Failed, "no-answer": events.NoAnswer,
	"deliver": 0, // messages only
}

// parseOp parses one command of a Do list.
func parseOp(line int, text string) (op, error) {
	w, err := words(text)
	if err != nil {
		return op{}, malformed(line, "%q: %v", text, err)
	}
	o := op{text: text}
	bad := func(format string, args ...any) (op, error) {
		return op{}, malformed(line, "%q: "+format, append([]any{text}, args...)...)
	}
	if len(w) == 0 {
		return bad("empty command")
	}
	switch {
	case w[0] == "crash":
		if len(w) != 1 {
			return bad("crash takes nothing")
		}
		o.verb = "crash"
		return o, nil
	case w[0] == "archive":
		// archive older-than <duration>: retention, run by the operator
		if len(w) != 3 || w[1] != "older-than" {
			return bad("expected archive older-than <duration>")
		}
		d, err := time.ParseDuration(w[2])
		if err != nil {
			return bad("archive older-than %q: not a duration", w[2])
		}
		o.verb, o.duration = "archive", d
		return o, nil
	case w[0] == "click-to-call":
		// click-to-call <first> [on DEVICE] to <second> [as T]: an
		// application bridges two parties.
		k := slices.Index(w, "to")
		if k < 2 || k+1 >= len(w) {
			return bad("expected click-to-call <first> [on <device>] to <second> [as <label>]")
		}
		o.verb, o.first = "click-to-call", w[1]
		switch {
		case k == 4 && w[2] == "on":
			o.device = w[3]
		case k != 2:
			return bad("expected click-to-call <first> [on <device>] to <second> [as <label>]")
		}
		o.target = w[k+1]
		rest := w[k+2:]
		switch {
		case len(rest) == 2 && rest[0] == "as":
			o.as = rest[1]
		case len(rest) != 0:
			return bad("unexpected %q (as <label>)", strings.Join(rest, " "))
		}
		if err := checkLabel(line, text, o.as); err != nil {
			return op{}, err
		}
		return o, nil
	case w[0] == "far":
		if len(w) < 3 {
			return bad("expected far <verb> <call> or far <number> dial <destination>")
		}
		// "far +33 6 00 00 00 01 dial 102": the number may have spaces.
		if k := slices.Index(w, "dial"); k >= 2 {
			o.verb, o.number = "far-dial", strings.Join(w[1:k], " ")
			rest := w[k+1:]
			if len(rest) == 0 {
				return bad("far %s dial: what number or extension?", w[1])
			}
			o.dest, rest = rest[0], rest[1:]
			for len(rest) > 0 {
				if len(rest) < 2 {
					return bad("%q needs a value", rest[0])
				}
				switch rest[0] {
				case "as":
					o.as = rest[1]
					if err := checkLabel(line, text, o.as); err != nil {
						return op{}, err
					}
				case "name":
					o.name = rest[1]
				default:
					return bad("unknown option %q (as, name)", rest[0])
				}
				rest = rest[2:]
			}
			return o, nil
		}
		r, ok := farVerbs[w[1]]
		if !ok {
			return bad("unknown far-end action %q", w[1])
		}
		if len(w) != 3 {
			return bad("far %s takes one call", w[1])
		}
		o.verb, o.call, o.reason = "far-"+w[1], w[2], r
		return o, nil
	}
	if len(w) < 2 || !clientVerbs[w[1]] {
		return bad("expected <client> <verb> …, crash, or far …")
	}
	o.client, o.verb = w[0], w[1]
	rest := w[2:]
	opts := func(allowed ...string) error {
		for len(rest) > 0 {
			if len(rest) < 2 {
				return malformed(line, "%q: %q needs a value", text, rest[0])
			}
			k, v := rest[0], rest[1]
			found := false
			for _, a := range allowed {
				found = found || a == k
			}
			if !found {
				return malformed(line, "%q: unknown option %q (%s)", text, k, strings.Join(allowed, ", "))
			}
			switch k {
			case "as":
				if err := checkLabel(line, text, v); err != nil {
					return err
				}
				o.as = v
			case "in":
				o.slot = v
			case "ref":
				o.ref = v
			case "permission":
				o.permissions = append(o.permissions, v)
			case "within", "duration", "gap", "max":
				d, err := time.ParseDuration(v)
				if err != nil || d < 0 {
					return malformed(line, "%q: %s %q is not a duration", text, k, v)
				}
				switch k {
				case "within":
					o.timer = d
				case "duration":
					o.duration = d
				case "max":
					o.maxLength = d
				default:
					o.gap = d
				}
			case "auto-answer":
				if v != "on" && v != "off" {
					return malformed(line, "%q: auto-answer takes on or off", text)
				}
				o.noAuto = v == "off"
			case "from", "on":
				o.device = v
			case "caller-id":
				o.callerID = v
			case "name":
				o.name = v
			case "ext":
				o.extensions = append(o.extensions, v)
			case "number":
				o.numbers = append(o.numbers, v)
			case "device":
				o.devices = append(o.devices, v)
			}
			rest = rest[2:]
		}
		return nil
	}
	switch o.verb {
	case "dial":
		if len(rest) == 0 {
			return bad("dial what?")
		}
		o.dest, rest = rest[0], rest[1:]
		err = opts("from", "caller-id", "as")
	case "answer":
		if len(rest) == 0 {
			return bad("answer which call?")
		}
		o.call, rest = rest[0], rest[1:]
		err = opts("on")
	case "reject", "busy", "ignore", "hangup", "hold", "resume", "mute", "unmute", "pause", "stop-recording":
		if len(rest) != 1 {
			return bad("%s takes one call", o.verb)
		}
		o.call = rest[0]
	case "transfer", "supervise":
		// transfer <call> to <target> [as T]; supervise … [within D]
		if len(rest) < 3 || rest[1] != "to" {
			return bad("expected %s <call> to <target>", o.verb)
		}
		o.call, o.target, rest = rest[0], rest[2], rest[3:]
		if o.verb == "supervise" {
			err = opts("within", "as")
		} else {
			err = opts("as")
		}
	case "consult":
		// consult <target> about <call> [as T]
		if len(rest) < 3 || rest[1] != "about" {
			return bad("expected consult <target> about <call>")
		}
		o.target, o.call, rest = rest[0], rest[2], rest[3:]
		err = opts("as")
	case "complete", "cancel":
		if len(rest) != 1 {
			return bad("%s takes one transfer", o.verb)
		}
		o.transfer = rest[0]
	case "park":
		if len(rest) == 0 {
			return bad("park which call?")
		}
		o.call, rest = rest[0], rest[1:]
		err = opts("in")
	case "unpark":
		// unpark <call> [on DEVICE] | unpark slot <slot> [on DEVICE]
		switch {
		case len(rest) == 0:
			return bad("unpark which call, or which slot?")
		case rest[0] == "slot" && len(rest)%2 == 0:
			o.slot, rest = rest[1], rest[2:]
		default:
			o.call, rest = rest[0], rest[1:]
		}
		err = opts("on")
	case "swap":
		if len(rest) == 0 {
			return bad("swap to which call?")
		}
		o.call, rest = rest[0], rest[1:]
		err = opts("on")
	case "merge":
		// merge <call> with <call> [as CONF]
		if len(rest) < 3 || rest[1] != "with" {
			return bad("expected merge <call> with <call>")
		}
		o.call, o.other, rest = rest[0], rest[2], rest[3:]
		err = opts("as")
	case "dtmf":
		if len(rest) < 2 {
			return bad("expected dtmf <call> <digits>")
		}
		o.call, o.digits, rest = rest[0], rest[1], rest[2:]
		err = opts("duration", "gap")
	case "record":
		if len(rest) == 0 {
			return bad("record which call?")
		}
		o.call, rest = rest[0], rest[1:]
		err = opts("ref")
	case "click-to-call":
		if len(rest) == 0 {
			return bad("click-to-call whom?")
		}
		o.target, rest = rest[0], rest[1:]
		err = opts("from", "as")
	case "message":
		// message <destination> "<text>" [as M]
		if len(rest) < 2 {
			return bad("expected message <destination> \"<text>\"")
		}
		o.target, o.message, rest = rest[0], rest[1], rest[2:]
		err = opts("as")
	case "register":
		err = opts("ext", "number", "device", "name", "permission")
	case "unregister":
		if len(rest) != 0 {
			return bad("unregister takes nothing")
		}
	case "add-device", "remove-device":
		if len(rest) != 1 {
			return bad("%s takes one device", o.verb)
		}
		o.device = rest[0]
	case "accept-inbound":
		if len(rest) != 1 || (rest[0] != "on" && rest[0] != "off") {
			return bad("accept-inbound takes on or off")
		}
		o.on = rest[0] == "on"
	case "create-session":
		// create-session [auto-answer on|off] [as S]
		err = opts("auto-answer", "as")
	case "restore-session", "close-connection", "destroy-session":
		if len(rest) != 1 {
			return bad("%s takes one session", o.verb)
		}
		o.session = rest[0]
	case "subscribe", "unsubscribe":
		// subscribe <session> to <line>; unsubscribe <session> from <line>
		word := map[string]string{"subscribe": "to", "unsubscribe": "from"}[o.verb]
		if len(rest) != 3 || rest[1] != word {
			return bad("expected %s <session> %s <line>", o.verb, word)
		}
		o.session, o.line = rest[0], rest[2]
	case "auto-answer":
		if len(rest) != 2 || (rest[1] != "on" && rest[1] != "off") {
			return bad("expected auto-answer <session> on|off")
		}
		o.session, o.on = rest[0], rest[1] == "on"
	case "presence":
		// presence available|busy|away|offline ["activity"]
		if len(rest) == 0 || len(rest) > 2 {
			return bad("expected presence available|busy|away|offline [\"activity\"]")
		}
		p, ok := events.ParsePresence(rest[0])
		if !ok {
			return bad("presence %q: want available, busy, away or offline", rest[0])
		}
		o.presence = p
		if len(rest) == 2 {
			o.activity = rest[1]
		}
	case "login":
		// login [as supervisor]
		switch {
		case len(rest) == 0:
		case len(rest) == 2 && rest[0] == "as" && rest[1] == "supervisor":
			o.supervisor = true
		default:
			return bad("expected login [as supervisor]")
		}
	case "refresh":
		if len(rest) != 0 {
			return bad("refresh takes nothing")
		}
	case "voicemail":
		// voicemail on [max D] | voicemail off
		if len(rest) == 0 || (rest[0] != "on" && rest[0] != "off") {
			return bad("expected voicemail on [max <duration>] or voicemail off")
		}
		o.on, rest = rest[0] == "on", rest[1:]
		if o.on {
			err = opts("max")
		} else if len(rest) > 0 {
			return bad("voicemail off takes nothing more")
		}
	}
	if err != nil {
		return op{}, err
	}
	return o, nil
}

// checkLabel refuses a label with a dot or a slash: "t1.new" and
// "t1.consult" name the calls of transfer t1.
func checkLabel(line int, text, label string) error {
	if strings.ContainsAny(label, "./") {
		return malformed(line, "%q: label %q: a label has no '.' or '/' (t1.new names the new call of transfer t1)", text, label)
	}
	return nil
}

// words splits a command into words; "double quotes" keep spaces.
func words(s string) ([]string, error) {
	var out []string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return nil, errUnclosedQuote
			}
			out = append(out, s[1:end+1])
			s = s[end+2:]
			continue
		}
		end := strings.IndexAny(s, " \t")
		if end < 0 {
			end = len(s)
		}
		out = append(out, s[:end])
		s = s[end:]
	}
	return out, nil
}

type parseError string

func (e parseError) Error() string { return string(e) }

const errUnclosedQuote = parseError("unclosed quote")

// parseAt reads a step's time: "90s" from the start, "+2s" from now.
func parseAt(line int, s string) (d time.Duration, relative bool, err error) {
	s = strings.TrimSpace(s)
	relative = strings.HasPrefix(s, "+")
	d, err = time.ParseDuration(strings.TrimPrefix(s, "+"))
	if err != nil || d < 0 {
		return 0, false, malformed(line, "at %q: want a duration such as 90s, or +2s after the previous step", s)
	}
	return d, relative, nil
}
