package simulator

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
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
		devices[n] = c.Devices
		exts = append(exts, c.Extensions[0])
		sc.Clients = append(sc.Clients, c)
	}
	behaviors := []string{
		"answer after 2s", "ring after 1s, answer after 4s, hang up after 20s", "busy", "busy after 3s",
		"no-answer", "no-answer after 8s", "fail after 1s", "reject after 2s", "manual", "silent, answer after 1s",
	}
	var far []string
	for i := 1; i <= 4; i++ {
		n := fmt.Sprintf("+3360000000%d", i)
		far = append(far, n)
		sc.FarEnd[n] = behaviors[r.IntN(len(behaviors))]
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
	steps := 30 + r.IntN(50)
	for i := 0; i < steps; i++ {
		var st Step
		if r.IntN(10) < 6 {
			st.At = "+" + (time.Duration(r.IntN(120)) * 100 * time.Millisecond).String()
		}
		switch k := r.IntN(100); {
		case k < 3:
			st.Do = Lines{"crash"}
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
			switch d := r.IntN(20); {
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
	// Let every timer fire, then crash once more: every call must come back.
	sc.Steps = append(sc.Steps, Step{At: "+2m"}, Step{Do: Lines{"crash"}})
	return sc
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
