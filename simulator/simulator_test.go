package simulator

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

var ctx = context.Background()

func load(t *testing.T, path string) *Scenario {
	t.Helper()
	sc, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func run(t *testing.T, sc *Scenario, opts Options) *Result {
	t.Helper()
	res, err := Run(ctx, sc, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// Every example scenario passes, and writes the same journal at GOMAXPROCS
// 1 and 2.
func TestExampleScenariosPassAndAreDeterministic(t *testing.T) {
	files, err := filepath.Glob("../examples/scenarios/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 15 {
		t.Fatalf("%d example scenarios, want at least 15", len(files))
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			sc := load(t, f)
			runtime.GOMAXPROCS(1)
			first := run(t, sc, Options{})
			if !first.OK() {
				t.Fatalf("failed:\n%s", strings.Join(first.Lines, "\n"))
			}
			if first.Checks == 0 {
				t.Fatal("the scenario checks nothing")
			}
			runtime.GOMAXPROCS(2)
			second := run(t, sc, Options{})
			if second.Digest != first.Digest || strings.Join(second.Lines, "\n") != strings.Join(first.Lines, "\n") {
				t.Fatalf("GOMAXPROCS=1 digest %s, GOMAXPROCS=2 digest %s", first.Digest, second.Digest)
			}
		})
	}
}

// The seed changes the ids, so the journal's bytes, and nothing else.
func TestSeedChangesOnlyTheIDs(t *testing.T) {
	sc := load(t, "../examples/scenarios/basic-call.yaml")
	a := run(t, sc, Options{Seed: 1})
	b := run(t, sc, Options{Seed: 2})
	if a.Digest == b.Digest {
		t.Fatal("seeds 1 and 2 wrote the same journal: ids are not seeded")
	}
	if strings.Join(a.Lines, "\n") != strings.Join(b.Lines, "\n") {
		t.Fatalf("the timelines differ between seeds:\n%s\n---\n%s", strings.Join(a.Lines, "\n"), strings.Join(b.Lines, "\n"))
	}
	if again := run(t, sc, Options{Seed: 1}); again.Digest != a.Digest {
		t.Fatal("the same seed gave another journal")
	}
}

// The journal kept with JournalPath is the run's: its digest is the run's.
func TestJournalIsKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kept.db")
	if err := os.WriteFile(path, []byte("an older file, replaced"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := run(t, load(t, "../examples/scenarios/basic-call.yaml"), Options{JournalPath: path})
	d, n, err := Digest(path)
	if err != nil {
		t.Fatal(err)
	}
	if d != res.Digest || n != res.Events || n == 0 {
		t.Fatalf("kept journal: digest %s with %d events, run: %s with %d", d, n, res.Digest, res.Events)
	}
}

// The scenarios under testdata/ print what the golden files hold: the
// timeline with its checks, failures and diffs.
func TestGoldenTimelines(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.yaml")
	if len(files) == 0 {
		t.Fatal("no scenario under testdata/")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { golden(t, f) })
	}
}

// Every example scenario prints what its golden file next to it holds
// (examples/scenarios/NAME.out): the timeline a reader can compare with
// `callengine sim`.
func TestExampleGoldenTimelines(t *testing.T) {
	files, _ := filepath.Glob("../examples/scenarios/*.yaml")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { golden(t, f) })
	}
}

// golden runs scenario f and compares its timeline, failures included,
// with f's .out file; -update rewrites the file.
func golden(t *testing.T, f string) {
	t.Helper()
	var out bytes.Buffer
	res := run(t, load(t, f), Options{Out: &out})
	for _, fl := range res.Failures {
		out.WriteString("failure: " + fl.String() + "\n")
	}
	golden := strings.TrimSuffix(f, ".yaml") + ".out"
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != string(want) {
		t.Fatalf("output differs from %s (go test -update rewrites it):\n%s", golden,
			diff(strings.Split(string(want), "\n"), strings.Split(out.String(), "\n"), func(a, b string) bool { return a == b }))
	}
}

// The failing scenario under testdata/ fails each way a scenario can.
func TestFailuresAreReported(t *testing.T) {
	res := run(t, load(t, "testdata/failures.yaml"), Options{})
	kinds := map[string]int{}
	for _, f := range res.Failures {
		kinds[f.Kind]++
		if f.Line == 0 {
			t.Errorf("failure without its line: %s", f)
		}
	}
	if kinds["expectation"] < 4 || kinds["command"] != 1 || res.OK() {
		t.Fatalf("failures by kind %v, want ≥ 4 expectations and 1 command:\n%s", kinds, strings.Join(res.Lines, "\n"))
	}
}

func TestMalformedScenarios(t *testing.T) {
	for name, text := range map[string]string{
		"not yaml":          "steps: [",
		"unknown key":       "name: x\nsteps:\n  - da: alice dial 101\n",
		"unknown verb":      "steps:\n  - do: alice phone 101\n",
		"no call":           "steps:\n  - do: alice answer\n",
		"bad option":        "steps:\n  - do: alice dial 101 via desk\n",
		"unclosed quote":    "steps:\n  - do: far +33600000001 dial 101 name \"Jane\n",
		"bad time":          "steps:\n  - at: soon\n",
		"back in time":      "steps:\n  - at: 10s\n  - at: 5s\n",
		"bad behavior":      "far-end:\n  \"+33600000001\": answer maybe\nsteps: []\n",
		"two outcomes":      "far-end:\n  \"+33600000001\": busy, answer\nsteps: []\n",
		"bad fault":         "steps:\n  - fault: drop everything\n",
		"bad delay":         "steps:\n  - fault: delay far-answered soon\n",
		"error without do":  "steps:\n  - error: invalid_state\n",
		"stateless expect":  "steps:\n  - expect: {c1: fine}\n",
		"short event line":  "steps:\n  - events: [c1]\n",
		"keyword client":    "clients:\n  far: {devices: [x]}\nsteps: []\n",
		"twice the client":  "clients:\n  a: {}\n  a: {}\nsteps: []\n",
		"bad start":         "start: monday\nsteps: []\n",
		"bad ring timeout":  "ring-timeout: long\nsteps: []\n",
		"accept-inbound":    "steps:\n  - do: alice accept-inbound maybe\n",
		"crash with a word": "steps:\n  - do: crash now\n",
		"group key":         "groups:\n  sales: {members: [a], ring: all}\nsteps: []\n",
		"group strategy":    "groups:\n  sales: {members: [a], strategy: random}\nsteps: []\n",
		"group no members":  "groups:\n  sales: {extensions: [\"300\"]}\nsteps: []\n",
		"group not a map":   "groups:\n  sales: [a, b]\nsteps: []\n",
		"group is a client": "clients:\n  sales: {}\ngroups:\n  sales: {members: [a]}\nsteps: []\n",
		"group keyword":     "groups:\n  callpark: {members: [a]}\nsteps: []\n",
		"callpark client":   "clients:\n  callpark: {}\nsteps: []\n",
		"permission":        "clients:\n  a: {permissions: [fly]}\nsteps: []\n",
		"dotted label":      "steps:\n  - do: alice dial 101 as t1.new\n",
		"transfer no to":    "steps:\n  - do: bob transfer c1 103\n",
		"consult no about":  "steps:\n  - do: bob consult 103 c1\n",
		"supervise timer":   "steps:\n  - do: bob supervise c1 to 103 within soon\n",
		"blind timer":       "steps:\n  - do: bob transfer c1 to 103 within 5s\n",
		"complete nothing":  "steps:\n  - do: bob complete\n",
		"park option":       "steps:\n  - do: bob park c1 at 701\n",
		"unpark nothing":    "steps:\n  - do: bob unpark\n",
		"merge no with":     "steps:\n  - do: bob merge c1 c2\n",
		"dtmf no digits":    "steps:\n  - do: bob dtmf c1\n",
		"dtmf gap":          "steps:\n  - do: bob dtmf c1 12 gap long\n",
		"message no text":   "steps:\n  - do: bob message 102\n",
		"click-to-call":     "steps:\n  - do: click-to-call 101 102\n",
		"messages clause":   "far-end:\n  \"+33600000001\": messages sometimes\nsteps: []\n",
		"transfer state":    "steps:\n  - expect: {t1: transferred}\n",
		"session option":    "steps:\n  - do: alice create-session auto-answer maybe\n",
		"session twice":     "steps:\n  - do: alice restore-session s1 s2\n",
		"subscribe no to":   "steps:\n  - do: alice subscribe s1 101\n",
		"unsubscribe to":    "steps:\n  - do: alice unsubscribe s1 to 101\n",
		"auto-answer":       "steps:\n  - do: alice auto-answer s1 maybe\n",
		"presence":          "steps:\n  - do: alice presence sleepy\n",
		"presence words":    "steps:\n  - do: alice presence away at lunch\n",
		"voicemail":         "steps:\n  - do: alice voicemail maybe\n",
		"voicemail max":     "steps:\n  - do: alice voicemail on max long\n",
		"voicemail off max": "steps:\n  - do: alice voicemail off max 1m\n",
		"received line":     "steps:\n  - received: {s1: [s1]}\n",
		"directory client":  "clients:\n  directory: {}\nsteps: []\n",
		"session state":     "steps:\n  - expect: {s1: open}\n",
	} {
		_, err := Parse([]byte(text))
		if errcode.CodeOf(err) != errcode.Malformed {
			t.Errorf("%s: error %v, want code malformed", name, err)
		}
	}
	_, err := Parse([]byte("steps:\n  - do: alice dial 101\n  - at: 3s\n    do: alice wave\n"))
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("error %v does not name line 3", err)
	}
	for _, text := range []string{
		"clients:\n  a: {}\ngroups:\n  sales: {members: [a]}\n  help: {members: [a], strategy: random}\nsteps: []\n",
		"groups:\n  sales: {members: [a]}\n  help:\n    members: [a]\n    wrong: 1\nsteps: []\n",
	} {
		if _, err := Parse([]byte(text)); err == nil || !strings.Contains(err.Error(), "line 5") {
			t.Errorf("error %v does not name line 5 of\n%s", err, text)
		}
	}
}

// A scenario survives Marshal and Parse unchanged; Generate is a pure
// function of its seed.
func TestGenerateIsDeterministicAndRoundTrips(t *testing.T) {
	a, _ := Generate(7).Marshal()
	b, _ := Generate(7).Marshal()
	c, _ := Generate(8).Marshal()
	if !bytes.Equal(a, b) || bytes.Equal(a, c) {
		t.Fatal("Generate is not a function of its seed")
	}
	sc, err := Parse(a)
	if err != nil {
		t.Fatalf("a generated scenario does not parse: %v\n%s", err, a)
	}
	again, _ := sc.Marshal()
	if !bytes.Equal(a, again) {
		t.Fatalf("round trip changed the scenario:\n%s\n---\n%s", a, again)
	}
}

func TestRandomScenariosHoldTheInvariants(t *testing.T) {
	runs, crashes, events := 0, 0, 0
	f, err := RunRandom(ctx, 40, 1, RandomOptions{FailureDir: t.TempDir(), Progress: func(_ int, r *Result) {
		runs, crashes, events = runs+1, crashes+r.Crashes, events+r.Events
	}})
	if err != nil {
		t.Fatal(err)
	}
	if f != nil {
		t.Fatalf("seed %d: %s\n%s", f.Seed, f.Reason, strings.Join(f.Result.Lines, "\n"))
	}
	if runs != 40 || crashes < 40 || events < 40*10 {
		t.Fatalf("%d runs, %d crashes, %d events: the generator does too little", runs, crashes, events)
	}
}

// appendBehind journals an event on a call's stream behind the engine's
// back, as a bug in the engine might.
func appendBehind(t *testing.T, s *sim, label string, ev events.Event) {
	t.Helper()
	id := s.labels[label]
	stream := "call/" + id
	v, err := s.eng.Journal().StreamVersion(stream)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.eng.Journal().Append(ctx, stream, v, [][]byte{events.EncodeBody(nil, s.clock.Now().UnixNano(), ev)}, false)
	if err != nil {
		t.Fatal(err)
	}
}

// The invariants catch an engine whose truth is broken.
func TestInvariantsCatchABrokenEngine(t *testing.T) {
	sc := load(t, "../examples/scenarios/basic-call.yaml")
	for name, c := range map[string]struct {
		step int
		ev   events.Event
		want string
	}{
		"an event after the end": {7, events.CallHeld{By: events.Caller}, "follows its end"},
		"a second answer":        {4, events.CallAnswered{Device: "bob-desk"}, "answered twice"},
		"memory and disk differ": {4, events.CallHeld{By: events.Caller}, "the journal folds to held"},
	} {
		res := run(t, sc, Options{afterStep: func(s *sim) {
			if s.step == c.step {
				appendBehind(t, s, "c1", c.ev)
			}
		}})
		found := false
		for _, f := range res.Failures {
			found = found || f.Kind == "invariant" && strings.Contains(f.Message, c.want)
		}
		if !found {
			t.Errorf("%s: no invariant failure %q:\n%s", name, c.want, strings.Join(res.Lines, "\n"))
		}
	}
}

// The invariants catch a transfer whose journal says something else than
// the engine.
func TestInvariantsCatchABrokenTransfer(t *testing.T) {
	sc := load(t, "../examples/scenarios/transfer-attended-completed.yaml")
	res := run(t, sc, Options{afterStep: func(s *sim) {
		if s.step != 2 {
			return
		}
		id := s.transfers.byName["t1"]
		stream := "transfer/" + id
		v, err := s.eng.Journal().StreamVersion(stream)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.eng.Journal().Append(ctx, stream, v, [][]byte{events.EncodeBody(nil, s.clock.Now().UnixNano(), events.TransferCanceled{})}, true)
		if err != nil {
			t.Fatal(err)
		}
	}})
	found := false
	for _, f := range res.Failures {
		found = found || f.Kind == "invariant" && strings.Contains(f.Message, "transfer t1: the engine serves")
	}
	if !found {
		t.Errorf("no invariant failure on transfer t1:\n%s", strings.Join(res.Lines, "\n"))
	}
}

// The invariants catch a session whose journal says something else than the
// engine, and a presence the journal does not explain.
func TestInvariantsCatchABrokenSessionAndPresence(t *testing.T) {
	sc := load(t, "../examples/scenarios/session-grace-timer.yaml")
	for name, c := range map[string]struct {
		stream func(s *sim) string
		ev     events.Event
		want   string
	}{
		"a restore behind its back": {func(s *sim) string { return "session/" + s.sessions.byName["s1"] }, events.SessionRestored{}, "session s1: the engine serves"},
		"a presence behind its back": {func(s *sim) string { return "client/alice" },
			events.ClientPresenceSet{Presence: events.PresenceAway}, "client alice shows available to others, want away"},
	} {
		res := run(t, sc, Options{afterStep: func(s *sim) {
			if s.step != 2 {
				return
			}
			stream := c.stream(s)
			v, err := s.eng.Journal().StreamVersion(stream)
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.eng.Journal().Append(ctx, stream, v, [][]byte{events.EncodeBody(nil, s.clock.Now().UnixNano(), c.ev)}, false)
			if err != nil {
				t.Fatal(err)
			}
		}})
		found := false
		for _, f := range res.Failures {
			found = found || f.Kind == "invariant" && strings.Contains(f.Message, c.want)
		}
		if !found {
			t.Errorf("%s: no invariant failure %q:\n%s", name, c.want, strings.Join(res.Lines, "\n"))
		}
	}
}

// The scenarios under testdata/pending/ show engine bugs: each fails today,
// and passes once the engine is fixed — then it moves to the examples.
func TestPendingScenariosParse(t *testing.T) {
	files, _ := filepath.Glob("testdata/pending/*.yaml")
	for _, f := range files {
		sc := load(t, f)
		if res := run(t, sc, Options{}); res.OK() {
			t.Logf("%s passes now: move it to examples/scenarios/ with its story", f)
		}
	}
}

// A failing random seed writes a scenario file that reproduces the failure.
func TestRandomFailureWritesAReproducingScenario(t *testing.T) {
	dir := t.TempDir()
	breakIt := Options{afterStep: func(s *sim) {
		for _, l := range []string{"c1", "c2", "c3"} {
			if id, ok := s.labels[l]; ok && s.ended[id] {
				appendBehind(t, s, l, events.CallMuted{Side: events.Caller})
				return
			}
		}
	}}
	f, err := RunRandom(ctx, 10, 100, RandomOptions{FailureDir: dir, run: breakIt})
	if err != nil {
		t.Fatal(err)
	}
	if f == nil || f.File == "" {
		t.Fatal("a broken engine passed 10 random scenarios")
	}
	if filepath.Dir(f.File) != dir || !strings.Contains(f.Reason, "follows its end") {
		t.Fatalf("failure %+v", f)
	}
	sc := load(t, f.File)
	res := run(t, sc, breakIt)
	if res.OK() || res.Failures[0].Message != f.Result.Failures[0].Message || res.Failures[0].Step != f.Result.Failures[0].Step {
		t.Fatalf("the written scenario does not reproduce %q: %v", f.Reason, res.Failures)
	}
	if res.Seed != f.Seed {
		t.Fatalf("reproduction ran with seed %d, failure had %d", res.Seed, f.Seed)
	}
}
