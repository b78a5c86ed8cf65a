package simulator

import (
	"slices"
	"strings"
	"time"

	"github.com/callengine/callengine/adapters/loopback"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

// plan is a scenario checked and parsed, ready to run.
type plan struct {
	start       time.Time
	ringTimeout time.Duration
	tokens      bool          // access tokens on
	accessTTL   time.Duration // 0: the engine's default
	refreshTTL  time.Duration
	far         map[string]loopback.Behavior
	fallback    *loopback.Behavior
	steps       []planStep
}

type planStep struct {
	src    *Step
	at     time.Duration // from the start of the scenario
	hasAt  bool
	ops    []op
	faults []*fault // a nil fault clears every rule
	expect []expectation
}

type expectation struct{ key, want string }

var (
	callStates     = []string{"connecting", "ringing", "connected", "held", "ended"}
	clientStates   = []string{string(fsm.ClientActive), string(fsm.ClientGone)}
	transferStates = []string{
		string(fsm.Placing), string(fsm.Consulting), string(fsm.Answered), string(fsm.Completed),
		string(fsm.NotAnswered), string(fsm.NotCompleted), string(fsm.Canceled), string(fsm.FailedStatus),
	}
	groupStates   = []string{"defined", "removed"}
	messageStates = []string{string(fsm.MessagePending), string(fsm.MessageDelivered), string(fsm.MessageFailed)}
	sessionStates = []string{string(fsm.SessionActive), string(fsm.SessionGrace), string(fsm.SessionDestroyed)}
	allStates     = slices.Concat(callStates, clientStates, transferStates, groupStates, messageStates, sessionStates, []string{"slots", "listed"})
)

// keywords cannot be client or group ids.
var keywords = []string{"far", "crash", "click-to-call", callparkKey, directoryKey}

// compile checks a scenario and parses everything in it.
func compile(sc *Scenario) (*plan, error) {
	p := &plan{start: defaultStart, ringTimeout: 30 * time.Second, far: map[string]loopback.Behavior{}}
	if sc.Start != "" {
		t, err := time.Parse(time.RFC3339Nano, sc.Start)
		if err != nil {
			return nil, malformed(0, "start %q is not an RFC 3339 time", sc.Start)
		}
		p.start = t.UTC()
	}
	if sc.RingTimeout != "" {
		d, err := time.ParseDuration(sc.RingTimeout)
		if err != nil || d < 0 {
			return nil, malformed(0, "ring-timeout %q is not a duration", sc.RingTimeout)
		}
		p.ringTimeout = d
	}
	if t := sc.Tokens; t != nil {
		p.tokens = true
		for _, f := range []struct {
			name, v string
			d       *time.Duration
		}{{"access", t.Access, &p.accessTTL}, {"refresh", t.Refresh, &p.refreshTTL}} {
			if f.v == "" {
				continue
			}
			d, err := time.ParseDuration(f.v)
			if err != nil || d <= 0 {
				return nil, malformed(0, "tokens: %s %q is not a positive duration", f.name, f.v)
			}
			*f.d = d
		}
	}
	ids := map[string]bool{}
	for _, c := range sc.Clients {
		switch {
		case c.ID == "" || strings.ContainsAny(c.ID, " \t/"):
			return nil, malformed(0, "client id %q: want a word", c.ID)
		case slices.Contains(keywords, c.ID):
			return nil, malformed(0, "client id %q is a keyword of scenarios", c.ID)
		case ids[c.ID]:
			return nil, malformed(0, "client %q twice", c.ID)
		}
		ids[c.ID] = true
		for _, p := range c.Permissions {
			if p != events.PermissionRecord {
				return nil, malformed(0, "client %s: unknown permission %q (known: %s)", c.ID, p, events.PermissionRecord)
			}
		}
	}
	for _, g := range sc.Groups {
		switch {
		case g.ID == "" || strings.ContainsAny(g.ID, " \t/."):
			return nil, malformed(g.Line, "group id %q: want a word without '/' or '.'", g.ID)
		case slices.Contains(keywords, g.ID):
			return nil, malformed(g.Line, "group id %q is a keyword of scenarios", g.ID)
		case ids[g.ID]:
			return nil, malformed(g.Line, "group %q: the id names a client or another group", g.ID)
		case len(g.Members) == 0:
			return nil, malformed(g.Line, "group %s: members: which clients does it ring?", g.ID)
		}
		if _, ok := events.ParseStrategy(g.Strategy); !ok && g.Strategy != "" {
			return nil, malformed(g.Line, "group %s: strategy %q: want ring-all or round-robin", g.ID, g.Strategy)
		}
		ids[g.ID] = true
	}
	for number, spec := range sc.FarEnd {
		b, err := parseBehavior(0, spec)
		if err != nil {
			return nil, err
		}
		if number == "default" {
			p.fallback = &b
			continue
		}
		p.far[farNumber(number)] = b
	}
	var now time.Duration // the clock moves only by steps: compile knows when each one runs
	for i := range sc.Steps {
		st := &sc.Steps[i]
		ps := planStep{src: st}
		if st.At != "" {
			d, rel, err := parseAt(st.Line, st.At)
			if err != nil {
				return nil, err
			}
			if rel {
				d += now
			}
			if d < now {
				return nil, malformed(st.Line, "at %s goes back in time: the previous step ran at %s", st.At, now)
			}
			ps.at, ps.hasAt, now = d, true, d
		}
		for _, text := range st.Do {
			o, err := parseOp(st.Line, text)
			if err != nil {
				return nil, err
			}
			ps.ops = append(ps.ops, o)
		}
		if st.Error != "" && len(ps.ops) == 0 {
			return nil, malformed(st.Line, "error: %q without a command to fail", st.Error)
		}
		for _, text := range st.Fault {
			f, err := parseFault(st.Line, text)
			if err != nil {
				return nil, err
			}
			ps.faults = append(ps.faults, f)
		}
		keys := make([]string, 0, len(st.Expect))
		for k := range st.Expect {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			want := strings.Fields(st.Expect[k])
			if len(want) == 0 || !slices.Contains(allStates, want[0]) {
				return nil, malformed(st.Line, "expect %s: %q must start with a state (a call: %s; a client: %s; a transfer: %s; a group: %s; a message: %s; a session: %s; the callpark: slots; the directory: listed)", k,
					st.Expect[k], strings.Join(callStates, ", "), strings.Join(clientStates, ", "), strings.Join(transferStates, ", "),
					strings.Join(groupStates, ", "), strings.Join(messageStates, ", "), strings.Join(sessionStates, ", "))
			}
			ps.expect = append(ps.expect, expectation{key: k, want: st.Expect[k]})
		}
		for _, line := range st.Events {
			if len(strings.Fields(line)) < 2 {
				return nil, malformed(st.Line, "events: %q: want <call or client> <event> [key=value …]", line)
			}
		}
		for k, lines := range st.Received {
			for _, line := range lines {
				if len(strings.Fields(line)) < 2 {
					return nil, malformed(st.Line, "received %s: %q: want <call, client or session> <event> [key=value …]", k, line)
				}
			}
		}
		p.steps = append(p.steps, ps)
	}
	return p, nil
}
