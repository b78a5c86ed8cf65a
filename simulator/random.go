package simulator

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Generate makes a random scenario from a seed: a few clients with one to
// three devices, scripted outside numbers, and steps that issue valid and
// invalid commands from every side — clients, the far end — with crashes and
// faults at random steps. The same seed gives the same scenario. The
// scenario allows errors (which commands are valid depends on what happened
// before); the invariants are what a generated scenario checks.
func Generate(seed uint64) *Scenario {
	r := rand.New(rand.NewPCG(seed, 0x5ca1ab1e))
	sc := &Scenario{
		Name:        fmt.Sprintf("random scenario, seed %d", seed),
		Seed:        seed,
		RingTimeout: fmt.Sprintf("%ds", 10+r.IntN(30)),
		Numbers:     []string{"+33100000000"},
		AllowErrors: true,
		FarEnd:      map[string]string{"default": "ring after 1s, answer after 2s"},
	}
	names := []string{"ann", "ben", "cid", "dee", "eve"}[:3+r.IntN(3)]
	var exts []string
	devices := map[string][]string{}
	for i, n := range names {
		c := ClientSpec{ID: n, Extensions: []string{fmt.Sprint(201 + i)}}
		for d := 1; d <= 1+r.IntN(3); d++ {
			c.Devices = append(c.Devices, fmt.Sprintf("%s-%d", n, d))
		}
		if r.IntN(2) == 0 {
			c.Numbers = []string{fmt.Sprintf("+3310000%04d", 100+i)}
		}
		if r.IntN(2) == 0 {
			c.Permissions = []string{"record"}
		}
		devices[n] = c.Devices
		exts = append(exts, c.Extensions[0])
		sc.Clients = append(sc.Clients, c)
	}
	// Two groups: ring-all and round-robin, with a member that never
	// registers (offline).
	shuffled := append([]string(nil), names...)
	r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	sc.Groups = Groups{
		{ID: "sales", Extensions: []string{"300"}, Members: shuffled[:2+r.IntN(2)]},
		{ID: "help", Extensions: []string{"301"}, Numbers: []string{"+33100000301"}, Members: append(shuffled[1:], "zed"), Strategy: "round-robin"},
	}
	groupExts := []string{"300", "301"}
	behaviors := []string{
		"answer after 2s", "ring after 1s, answer after 4s, hang up after 20s", "busy", "busy after 3s",
		"no-answer", "no-answer after 8s", "fail after 1s", "reject after 2s", "manual", "silent, answer after 1s",
	}
	messaging := []string{"", "", ", messages after 1s", ", messages fail", ", messages fail no-route"}
	var far []string
	for i := 1; i <= 4; i++ {
		n := fmt.Sprintf("+3360000000%d", i)
		far = append(far, n)
		sc.FarEnd[n] = behaviors[r.IntN(len(behaviors))] + messaging[r.IntN(len(messaging))]
	}
	// What the generator knows of the calls it places: who is on each side
	// (a client, or "" for the far end). It cannot know whether a command
	// succeeds: a call it names may not exist.
	type call struct{ label, caller, callee string }
	var calls []call
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	client := func() string { return pick(names) }
	owner := map[string]string{}
	for i, x := range exts {
		owner[x] = names[i]
		owner[names[i]] = names[i]
	}
	owner["300"] = sc.Groups[0].Members[0]
	owner["301"] = sc.Groups[1].Members[0]
	// Transfers the generator started: their label and who transfers.
	type transfer struct{ label, by string }
	var transfers []transfer
	var messages []string
	pickTransfer := func() transfer {
		if len(transfers) == 0 || r.IntN(10) == 0 {
			return transfer{label: fmt.Sprintf("t%d", len(transfers)+1)}
		}
		return transfers[len(transfers)-1-r.IntN(min(3, len(transfers)))]
	}
	// target picks where a transfer, a click-to-call or a message goes.
	target := func() string {
		switch d := r.IntN(20); {
		case d < 8:
			return pick(exts)
		case d < 11:
			return pick(names)
		case d < 15:
			return pick(far)
		case d < 18:
			return pick(groupExts)
		case d < 19:
			return "299"
		default:
			return "zed"
		}
	}
	pickCall := func() call {
		if len(calls) == 0 || r.IntN(20) == 0 {
			return call{label: fmt.Sprintf("c%d", len(calls)+1+r.IntN(3))} // a call that does not exist (yet)
		}
		if r.IntN(3) > 0 { // mostly the recent ones
			return calls[max(0, len(calls)-1-r.IntN(3))]
		}
		return calls[r.IntN(len(calls))]
	}
	// party picks who acts on c: mostly one of its clients, sometimes anyone.
	party := func(c call, callee bool) string {
		if r.IntN(5) > 0 {
			if callee && c.callee != "" {
				return c.callee
			}
			if !callee && c.caller != "" {
				return c.caller
			}
			if c.callee != "" && r.IntN(2) == 0 {
				return c.callee
			}
			if c.caller != "" {
				return c.caller
			}
		}
		return client()
	}
	// Voicemail boxes (C7): half the clients have one from the start.
	for _, n := range names {
		if r.IntN(2) == 0 {
			sc.Steps = append(sc.Steps, Step{Do: Lines{fmt.Sprintf("%s voicemail on max %ds", n, 5+r.IntN(60))}})
		}
	}
	// Sessions the generator created: their label and owner.
	var sessions []session
	steps := 30 + r.IntN(50)
	for i := 0; i < steps; i++ {
		var st Step
		if r.IntN(10) < 6 {
			st.At = "+" + (time.Duration(r.IntN(120)) * 100 * time.Millisecond).String()
		}
		k := r.IntN(180)
		if k >= 140 {
			// Sessions, presence and voicemail (CL4–CL8, C7).
			more := sessionStep(r, k-140, sessionPicks{
				client: client, exts: exts, groupExts: groupExts, far: far, sessions: &sessions,
				ext: func(c string) string { return exts[slices.Index(names, c)] },
				newCall: func(caller, callee string) string {
					c := call{label: fmt.Sprintf("c%d", len(calls)+1), caller: caller, callee: callee}
					calls = append(calls, c)
					return c.label
				},
			})
			if more[0].At == "" {
				more[0].At = st.At
			}
			sc.Steps = append(sc.Steps, more...)
			continue
		}
		if k >= 100 {
			// Call control: transfers, park, merge, swap, DTMF,
			// recording, click-to-call, messages.
			st.Do = controlStep(r, k-100, controlPicks{
				call: func() (string, string, string) {
					c := pickCall()
					return c.label, c.caller, c.callee
				},
				party: func(label string, callee bool) string {
					for _, c := range calls {
						if c.label == label {
							return party(c, callee)
						}
					}
					return client()
				},
				client: client, target: target, far: func() string { return pick(far) },
				devices: func(c string) []string { return devices[c] },
				transfer: func() (string, string) {
					t := pickTransfer()
					return t.label, t.by
				},
				message: func() string {
					if len(messages) == 0 || r.IntN(10) == 0 {
						return fmt.Sprintf("m%d", len(messages)+1)
					}
					return messages[r.IntN(len(messages))]
				},
				newTransfer: func(by, kept, target string, consult bool) string {
					t := transfer{label: fmt.Sprintf("t%d", len(transfers)+1), by: by}
					transfers = append(transfers, t)
					calls = append(calls, call{label: t.label + ".new", caller: kept, callee: owner[target]})
					if consult {
						calls = append(calls, call{label: t.label + ".consult", caller: by, callee: owner[target]})
					}
					return t.label
				},
				newClick: func(first, target string) string {
					t := transfer{label: fmt.Sprintf("t%d", len(transfers)+1), by: first}
					transfers = append(transfers, t)
					calls = append(calls, call{label: t.label + ".first", callee: owner[first]},
						call{label: t.label + ".new", caller: owner[first], callee: owner[target]})
					return t.label
				},
				newMessage: func() string {
					m := fmt.Sprintf("m%d", len(messages)+1)
					messages = append(messages, m)
					return m
				},
				newCall: func(caller, callee string) string {
					c := call{label: fmt.Sprintf("c%d", len(calls)+1), caller: caller, callee: callee}
					calls = append(calls, c)
					return c.label
				},
				ext:   func(c string) string { return exts[slices.Index(names, c)] },
				owner: func(target string) string { return owner[target] },
			})
			sc.Steps = append(sc.Steps, st)
			continue
		}
		switch k := r.IntN(100); {
		case k < 2:
			st.Do = Lines{"crash"}
		case k < 3:
			st.Do = Lines{"archive older-than 1m"} // retention, among live calls
		case k < 7:
			msgs := []string{"far-ringing", "far-answered", "far-ended", "dialed", "ended", "ringing"}
			if r.IntN(2) == 0 {
				st.Fault = Lines{fmt.Sprintf("drop %s", pick(msgs))}
			} else {
				st.Fault = Lines{fmt.Sprintf("delay %s %ds", pick(msgs), 1+r.IntN(5))}
			}
		case k < 9:
			st.Fault = Lines{"clear"}
		case k < 30:
			c := call{label: fmt.Sprintf("c%d", len(calls)+1), caller: client()}
			var dest string
			switch d := r.IntN(22); {
			case d >= 20:
				dest = pick(groupExts)
			case d < 12:
				dest = pick(exts)
			case d < 17:
				dest = pick(far)
			case d < 18:
				dest = "299" // nobody
			case d < 19:
				dest = "not a number"
			default:
				dest = "sip:someone@example.org"
			}
			c.callee = owner[dest]
			calls = append(calls, c)
			st.Do = Lines{fmt.Sprintf("%s dial %q as %s", c.caller, dest, c.label)}
		case k < 36:
			ext := pick(exts)
			c := call{label: fmt.Sprintf("c%d", len(calls)+1), callee: owner[ext]}
			calls = append(calls, c)
			st.Do = Lines{fmt.Sprintf("far %s dial %s as %s", pick(far), ext, c.label)}
		case k < 52:
			c := pickCall()
			who := party(c, true)
			cmd := fmt.Sprintf("%s answer %s", who, c.label)
			if r.IntN(2) == 0 {
				cmd += " on " + pick(devices[who])
			}
			st.Do = Lines{cmd}
		case k < 78:
			c := pickCall()
			verbs := []string{"hangup", "hold", "resume", "mute", "unmute", "reject", "busy", "ignore", "hangup", "hold", "resume"}
			v := pick(verbs)
			st.Do = Lines{fmt.Sprintf("%s %s %s", party(c, v == "reject" || v == "busy" || v == "ignore"), v, c.label)}
		case k < 92:
			verbs := []string{"ring", "answer", "hangup", "busy", "reject", "fail", "no-answer", "hold", "resume"}
			st.Do = Lines{fmt.Sprintf("far %s %s", pick(verbs), pickCall().label)}
		default:
			c := client()
			switch r.IntN(6) {
			case 0:
				st.Do = Lines{c + " unregister"}
			case 1:
				st.Do = Lines{c + " register"}
			case 2:
				st.Do = Lines{fmt.Sprintf("%s add-device %s-x%d", c, c, r.IntN(3))}
			case 3:
				st.Do = Lines{fmt.Sprintf("%s remove-device %s", c, pick(devices[c]))}
			case 4:
				st.Do = Lines{c + " accept-inbound off"}
			default:
				st.Do = Lines{c + " accept-inbound on"}
			}
		}
		sc.Steps = append(sc.Steps, st)
	}
	// Let every timer fire, then crash once more: every call and session
	// must come back; then let the grace timers of the sessions left
	// without a connection fire, and crash again.
	sc.Steps = append(sc.Steps, Step{At: "+2m"}, Step{Do: Lines{"crash"}}, Step{At: "+6m"}, Step{Do: Lines{"crash"}})
	return sc
}

// session is a session the generator created: its label and its client.
type session struct{ label, owner string }

// sessionPicks is what sessionStep knows of the scenario so far.
type sessionPicks struct {
	client    func() string
	exts      []string
	groupExts []string
	far       []string
	sessions  *[]session
	ext       func(client string) string
	newCall   func(caller, callee string) string
}

// sessionStep writes one step, or two, for k in [0, 40): sessions created,
// restored, closed, destroyed, subscribed to lines (the organisation's,
// the callpark, and lines that are not one's to follow), auto-answer;
// presence; voicemail boxes switched on and off, and calls that reach
// them — rejected, rung out, or sent there by do-not-disturb — with the
// caller hanging up during the message or the box's limit ending it.
func sessionStep(r *rand.Rand, k int, p sessionPicks) []Step {
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	one := func(cmds ...string) []Step { return []Step{{Do: Lines(cmds)}} }
	// some session, mostly acted on by its own client
	some := func() (session, string) {
		ss := *p.sessions
		if len(ss) == 0 || r.IntN(12) == 0 {
			return session{label: fmt.Sprintf("s%d", len(ss)+1+r.IntN(2))}, p.client() // one that does not exist
		}
		s := ss[len(ss)-1-r.IntN(min(4, len(ss)))]
		if r.IntN(10) == 0 {
			return s, p.client()
		}
		return s, s.owner
	}
	if len(*p.sessions) == 0 && k < 17 {
		k = 0 // a session first
	}
	switch {
	case k < 5:
		c := p.client()
		s := session{label: fmt.Sprintf("s%d", len(*p.sessions)+1), owner: c}
		*p.sessions = append(*p.sessions, s)
		opt := ""
		if r.IntN(3) == 0 {
			opt = " auto-answer off"
		}
		return one(fmt.Sprintf("%s create-session%s as %s", c, opt, s.label))
	case k < 8:
		s, who := some()
		return one(fmt.Sprintf("%s restore-session %s", who, s.label))
	case k < 12:
		s, who := some()
		return one(fmt.Sprintf("%s close-connection %s", who, s.label))
	case k < 13:
		s, who := some()
		return one(fmt.Sprintf("%s destroy-session %s", who, s.label))
	case k < 17:
		s, who := some()
		line := pick(slices.Concat(p.exts, p.groupExts, []string{"callpark", "callpark", "+33100000000", "299", p.far[0]}))
		verb, word := "subscribe", "to"
		if r.IntN(3) == 0 {
			verb, word = "unsubscribe", "from"
		}
		return one(fmt.Sprintf("%s %s %s %s %q", who, verb, s.label, word, line))
	case k < 18:
		s, who := some()
		return one(fmt.Sprintf("%s auto-answer %s %s", who, s.label, pick([]string{"on", "off"})))
	case k < 21:
		activity := pick([]string{"", "", " \"at lunch\"", " \"in a meeting\""})
		return one(fmt.Sprintf("%s presence %s%s", p.client(), pick([]string{"available", "available", "busy", "away", "offline"}), activity))
	case k < 23:
		c := p.client()
		if r.IntN(3) == 0 {
			return one(c + " voicemail off")
		}
		return one(fmt.Sprintf("%s voicemail on max %ds", c, 5+r.IntN(60)))
	case k < 25:
		c := p.client()
		return one(fmt.Sprintf("%s accept-inbound %s", c, pick([]string{"on", "off"})))
	case k < 28:
		// a long wait: grace periods end, boxes' limits pass
		return []Step{{At: fmt.Sprintf("+%ds", 30+r.IntN(330))}}
	default:
		// a call to a client — with a box or not — that is rejected, or
		// left to ring out, or taken; the caller may hang up during the
		// message, or the far end may
		a, b := p.client(), p.client()
		for tries := 0; a == b && tries < 5; tries++ {
			b = p.client()
		}
		var out []Step
		var label string
		if r.IntN(3) == 0 {
			label = p.newCall("", b)
			out = one(fmt.Sprintf("far %s dial %s as %s", pick(p.far), p.ext(b), label))
		} else {
			label = p.newCall(a, b)
			out = one(fmt.Sprintf("%s dial %s as %s", a, p.ext(b), label))
		}
		switch r.IntN(4) {
		case 0, 1:
			out[0].Do = append(out[0].Do, fmt.Sprintf("%s %s %s", b, pick([]string{"reject", "reject", "busy", "hangup"}), label))
		case 2:
			out[0].Do = append(out[0].Do, fmt.Sprintf("%s answer %s", b, label))
		}
		hangup := fmt.Sprintf("%s hangup %s", a, label)
		if strings.HasPrefix(out[0].Do[0], "far") {
			hangup = "far hangup " + label
		}
		if r.IntN(3) > 0 {
			out = append(out, Step{At: fmt.Sprintf("+%ds", 1+r.IntN(40)), Do: Lines{hangup}})
		}
		return out
	}
}

// controlPicks is what controlStep knows of the scenario so far.
type controlPicks struct {
	call        func() (label, caller, callee string)
	party       func(label string, callee bool) string
	client      func() string
	target      func() string
	far         func() string
	devices     func(client string) []string
	transfer    func() (label, by string)
	message     func() string
	newTransfer func(by, kept, target string, consult bool) string
	newClick    func(first, target string) string
	newMessage  func() string
	newCall     func(caller, callee string) string
	ext         func(client string) string
	owner       func(target string) string // the client a target rings, if the generator knows
}

// controlStep writes one call-control command, valid or not, for k in
// [0, 40): on a call the generator placed before, or — one time in three
// — on a call it sets up and answers first, in the same step, so that
// transfers, parks, merges and recordings often find a call that is up.
func controlStep(r *rand.Rand, k int, p controlPicks) Lines {
	if r.IntN(3) == 0 {
		return episode(r, k, p)
	}
	return Lines{controlCommand(r, k, p)}
}

// episode sets up what a call-control command needs, then issues it: a
// call from one client to another, answered; for a merge, two calls of
// the same client, both held.
func episode(r *rand.Rand, k int, p controlPicks) Lines {
	a, b := p.client(), p.client()
	for tries := 0; a == b && tries < 5; tries++ {
		b = p.client()
	}
	setup := func(from, to string) (string, []string) {
		label := p.newCall(from, to)
		return label, []string{
			fmt.Sprintf("%s dial %s as %s", from, p.ext(to), label),
			fmt.Sprintf("%s answer %s on %s", to, label, p.devices(to)[r.IntN(len(p.devices(to)))]),
		}
	}
	c1, out := setup(a, b)
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	switch {
	case k < 11:
		to := p.target()
		switch r.IntN(3) {
		case 0:
			out = append(out, fmt.Sprintf("%s transfer %s to %q as %s", b, c1, to, p.newTransfer(b, a, to, false)))
		case 1:
			t := p.newTransfer(b, a, to, true)
			out = append(out, fmt.Sprintf("%s consult %q about %s as %s", b, to, c1, t))
			if target := p.owner(to); target != "" && r.IntN(2) == 0 {
				out = append(out, fmt.Sprintf("%s answer %s.consult on %s", target, t, pick(p.devices(target))))
			}
		default:
			t := p.newTransfer(a, b, to, true)
			out = append(out, fmt.Sprintf("%s supervise %s to %q within %ds as %s", a, c1, to, 3+r.IntN(10), t))
			if target := p.owner(to); target != "" && r.IntN(2) == 0 {
				out = append(out, fmt.Sprintf("%s answer %s.consult on %s", target, t, pick(p.devices(target))))
			}
		}
	case k < 17:
		if r.IntN(2) == 0 {
			out = append(out, fmt.Sprintf("%s park %s", pick([]string{a, b}), c1))
		} else {
			out = append(out, fmt.Sprintf("%s pause %s", pick([]string{a, b}), c1))
		}
		if r.IntN(2) == 0 {
			out = append(out, fmt.Sprintf("%s unpark %s", p.client(), c1))
		}
	case k < 21:
		c := p.client()
		if c == a || c == b {
			c = p.client()
		}
		c2, more := setup(c, b)
		out = append(out, fmt.Sprintf("%s hold %s", b, c1))
		out = append(out, more...)
		out = append(out, fmt.Sprintf("%s hold %s", b, c2), fmt.Sprintf("%s merge %s with %s", b, c1, c2))
	case k < 26:
		out = append(out, fmt.Sprintf("%s dtmf %s %s", pick([]string{a, b}), c1, pick([]string{"1", "123#", "*0,9"})))
	case k < 31:
		out = append(out, fmt.Sprintf("%s record %s", pick([]string{a, b}), c1))
	default:
		out = append(out, fmt.Sprintf("%s %s %s", b, pick([]string{"hold", "mute"}), c1))
	}
	return Lines(out)
}

// controlCommand writes one call-control command, valid or not.
func controlCommand(r *rand.Rand, k int, p controlPicks) string {
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	switch {
	case k < 7: // transfers
		label, caller, callee := p.call()
		who, kept := caller, callee
		if r.IntN(2) == 0 || caller == "" {
			who, kept = callee, caller
		}
		if who == "" || r.IntN(8) == 0 {
			who = p.client()
		}
		to := p.target()
		switch r.IntN(3) {
		case 0:
			return fmt.Sprintf("%s transfer %s to %q as %s", who, label, to, p.newTransfer(who, kept, to, false))
		case 1:
			return fmt.Sprintf("%s consult %q about %s as %s", who, to, label, p.newTransfer(who, kept, to, true))
		default:
			within := ""
			if r.IntN(4) > 0 {
				within = fmt.Sprintf(" within %ds", 2+r.IntN(15))
			}
			return fmt.Sprintf("%s supervise %s to %q%s as %s", who, label, to, within, p.newTransfer(who, kept, to, true))
		}
	case k < 11:
		t, by := p.transfer()
		if by == "" || r.IntN(6) == 0 {
			by = p.client()
		}
		return fmt.Sprintf("%s %s %s", by, pick([]string{"complete", "complete", "cancel"}), t)
	case k < 17: // park, pause, unpark
		label, _, _ := p.call()
		switch r.IntN(5) {
		case 0:
			return fmt.Sprintf("%s park %s", p.party(label, r.IntN(2) == 0), label)
		case 1:
			return fmt.Sprintf("%s park %s in %s", p.party(label, r.IntN(2) == 0), label, pick([]string{"1", "2", "701"}))
		case 2:
			return fmt.Sprintf("%s pause %s", p.party(label, r.IntN(2) == 0), label)
		case 3:
			who := p.client()
			return fmt.Sprintf("%s unpark %s on %s", who, label, pick(p.devices(who)))
		default:
			return fmt.Sprintf("%s unpark slot %s", p.client(), pick([]string{"1", "2", "701", "201", "202", "203"}))
		}
	case k < 19: // swap
		label, _, _ := p.call()
		who := p.party(label, r.IntN(2) == 0)
		if r.IntN(3) == 0 {
			return fmt.Sprintf("%s swap %s on %s", who, label, pick(p.devices(who)))
		}
		return fmt.Sprintf("%s swap %s", who, label)
	case k < 21: // merge
		a, _, _ := p.call()
		b, _, _ := p.call()
		return fmt.Sprintf("%s merge %s with %s", p.party(a, r.IntN(2) == 0), a, b)
	case k < 26: // DTMF
		label, _, _ := p.call()
		digits := pick([]string{"1", "123", "*0#", "9,9", "ABCD", "12x", `""`, "55555"})
		opt := pick([]string{"", "", " duration 50ms", " gap 200ms", " duration 11s"})
		return fmt.Sprintf("%s dtmf %s %s%s", p.party(label, r.IntN(2) == 0), label, digits, opt)
	case k < 31: // recording
		label, _, _ := p.call()
		verb := pick([]string{"record", "record", "stop-recording"})
		return fmt.Sprintf("%s %s %s", p.party(label, r.IntN(2) == 0), verb, label)
	case k < 34: // click-to-call
		to := p.target()
		if r.IntN(3) == 0 {
			first := pick([]string{p.far(), p.client(), "299"})
			return fmt.Sprintf("click-to-call %q to %q as %s", first, to, p.newClick(first, to))
		}
		who := p.client()
		return fmt.Sprintf("%s click-to-call %q as %s", who, to, p.newClick(who, to))
	default: // messages, sent and reported
		if r.IntN(3) == 0 {
			return fmt.Sprintf("far %s %s", pick([]string{"deliver", "reject", "fail"}), p.message())
		}
		text := pick([]string{"hello", "running late", "", "call me back"})
		return fmt.Sprintf("%s message %q %q as %s", p.client(), p.target(), text, p.newMessage())
	}
}

// RandomOptions tune RunRandom.
type RandomOptions struct {
	// FailureDir is where the scenario file of a failing seed is written;
	// default the current directory.
	FailureDir string
	// Progress, when set, hears of every scenario run.
	Progress func(i int, res *Result)

	run Options // what each run starts from (tests set a hook here)
}

// RandomFailure is a generated scenario that broke an invariant or did not
// give the same journal twice.
type RandomFailure struct {
	Seed   uint64
	File   string // the scenario, written to reproduce it
	Result *Result
	Reason string
}

// RunRandom runs n generated scenarios, the i-th from seed+i, each twice:
// the invariants must hold after every step and both runs must write the
// same journal. It stops at the first failure and writes its scenario to a
// file that reproduces it with `callengine sim FILE`.
func RunRandom(ctx context.Context, n int, seed uint64, opts RandomOptions) (*RandomFailure, error) {
	for i := 0; i < n; i++ {
		s := seed + uint64(i)
		sc := Generate(s)
		first, err := Run(ctx, sc, opts.run)
		if err != nil {
			return nil, err
		}
		if opts.Progress != nil {
			opts.Progress(i, first)
		}
		reason := ""
		if !first.OK() {
			reason = first.Failures[0].String()
		} else {
			again, err := Run(ctx, sc, opts.run)
			if err != nil {
				return nil, err
			}
			if again.Digest != first.Digest {
				reason = fmt.Sprintf("two runs wrote different journals: digest %s, then %s", first.Digest, again.Digest)
			}
		}
		if reason == "" {
			continue
		}
		f := &RandomFailure{Seed: s, Result: first, Reason: reason}
		data, err := sc.Marshal()
		if err != nil {
			return f, err
		}
		f.File = filepath.Join(opts.FailureDir, fmt.Sprintf("sim-failure-seed-%d.yaml", s))
		header := "# " + strings.ReplaceAll(reason, "\n", "\n# ") + "\n# reproduce: callengine sim " + f.File + "\n"
		return f, os.WriteFile(f.File, append([]byte(header), data...), 0o644)
	}
	return nil, nil
}
