package simulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/callengine/callengine/adapters/loopback"
	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/ids"
	"github.com/callengine/callengine/journal"
	"github.com/callengine/callengine/replay"
)

// Options tune a run. The zero value runs the scenario with its own seed on a
// temporary journal and prints nothing.
type Options struct {
	// Seed, when not 0, replaces the scenario's seed.
	Seed uint64
	// JournalPath keeps the run's journal there (an existing file is
	// replaced). Empty: a temporary file, removed after the run.
	JournalPath string
	// Out receives the timeline as it happens.
	Out io.Writer

	afterStep func(*sim) // tests break the engine's truth behind its back here
}

// Result is what a run did and found.
type Result struct {
	Name     string
	Seed     uint64
	Lines    []string // the timeline as printed: commands, events, checks, faults
	Steps    int      // steps run
	Events   int      // events journaled
	Crashes  int      // crashes injected
	Checks   int      // expectations checked
	Digest   string   // sha256 of the journal's events in order
	Failures []Failure
}

// OK reports whether every expectation was met and every invariant held.
func (r *Result) OK() bool { return len(r.Failures) == 0 }

// Failure is an unmet expectation, a broken invariant, or a command that
// failed when the scenario did not say it would.
type Failure struct {
	Step    int    // 1-based index of the step
	Line    int    // line of the step in its file (0 when generated)
	Kind    string // "expectation", "invariant", "command", "scenario"
	Message string
	Diff    string // for expectations on several lines: "- wanted", "+ got"
}

func (f Failure) String() string {
	where := fmt.Sprintf("step %d", f.Step)
	if f.Line > 0 {
		where += fmt.Sprintf(" (line %d)", f.Line)
	}
	s := fmt.Sprintf("%s: %s: %s", where, f.Kind, f.Message)
	if f.Diff != "" {
		s += "\n" + strings.TrimRight(f.Diff, "\n")
	}
	return s
}

// sim is one run.
type sim struct {
	ctx   context.Context
	opts  Options
	sc    *Scenario
	p     *plan
	res   *Result
	out   io.Writer
	clock *clock.Virtual
	cfg   engine.Config
	eng   *engine.Engine
	net   *network

	labels         map[string]string // label → call id, for calls journaled
	names          map[string]string // call id → label
	reserved       map[string]string // call id → label, for calls named before they are journaled
	reservedLabels map[string]string // label → call id, of the reserved ones
	nextLabel      string            // label for the call the command under way creates
	clients        map[string]ClientSpec
	transfers      *labels                         // transfers: t1, …
	confs          *labels                         // conferences made by merge: conf1, …
	msgs           *labels                         // text messages: m1, …
	groupIDs       map[string]struct{}             // groups of the scenario and of the journal
	transferBy     map[string]string               // transfer label → the client who started it
	sessions       *labels                         // sessions: s1, …
	sessionOwner   map[string]string               // session label → the client who created it
	follows        map[string]*engine.Subscription // session label → its SessionEvents, while live
	received       map[string][]string             // session label → event lines delivered since its last check

	seq      uint64          // last journal seq read
	pending  []string        // event lines since the last Events check
	timeline []string        // every event line, with its time
	ended    map[string]bool // calls, transfers and messages whose stream has ended
	settled  map[string]bool // ended calls, transfers and messages whose invariants were checked once
	answered map[string]int
	unparked map[string]bool // calls a client took from the callpark

	step, line int                      // the step under way
	draining   bool                     // drain is reading the sessions' events
	tokens     map[string]engine.Tokens // client → its tokens, when the scenario has tokens on
	collecting bool                     // collect is reading the journal
	dead       bool                     // the engine is closed, or could not reopen after a crash
	broken     bool                     // an invariant broke: the run stops after this step
}

// Run runs a scenario against a real engine on a virtual clock and checks
// its expectations and the invariants after every step. The error is for a
// scenario that cannot run (malformed, or a journal that cannot be
// written); what the run finds is in the Result.
func Run(ctx context.Context, sc *Scenario, opts Options) (*Result, error) {
	p, err := compile(sc)
	if err != nil {
		return nil, err
	}
	seed := sc.Seed
	if opts.Seed != 0 {
		seed = opts.Seed
	}
	if seed == 0 {
		seed = 1
	}
	path := opts.JournalPath
	if path == "" {
		dir, err := os.MkdirTemp("", "callengine-sim-")
		if err != nil {
			return nil, errcode.Wrap(errcode.Unavailable, err, "cannot create a temporary journal")
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "journal.db")
	} else if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return nil, errcode.Wrap(errcode.Unavailable, err, "cannot replace "+path)
	}
	s := &sim{
		ctx: ctx, opts: opts, sc: sc, p: p, out: opts.Out,
		res:    &Result{Name: sc.Name, Seed: seed},
		clock:  clock.NewVirtual(p.start),
		labels: map[string]string{}, names: map[string]string{}, clients: map[string]ClientSpec{},
		reserved: map[string]string{}, reservedLabels: map[string]string{},
		transfers: newLabels("t"), confs: newLabels("conf"), msgs: newLabels("m"),
		groupIDs: map[string]struct{}{}, transferBy: map[string]string{},
		sessions: newLabels("s"), sessionOwner: map[string]string{},
		follows: map[string]*engine.Subscription{}, received: map[string][]string{},
		ended: map[string]bool{}, settled: map[string]bool{}, answered: map[string]int{},
		unparked: map[string]bool{},
	}
	for _, g := range sc.Groups {
		s.groupIDs[g.ID] = struct{}{}
	}
	far := loopback.New(s.clock)
	if p.fallback != nil {
		far.Default(*p.fallback)
	}
	for n, b := range p.far {
		far.Script(n, b)
	}
	s.net = &network{s: s, far: far}
	s.cfg = engine.Config{
		JournalPath: path, Clock: s.clock, IDs: ids.NewSeeded(s.clock, seed),
		RingTimeout: p.ringTimeout, Numbers: sc.Numbers, Adapter: s.net,
		Logger: slog.New(slog.DiscardHandler),
		// The call history is a projection the simulator does not check;
		// nothing is written beside the journal (nor in the working
		// directory, the engine's default data directory).
		NoHistory: true, DataDir: filepath.Join(filepath.Dir(path), "data"),
		AccessTokenTTL: p.accessTTL, RefreshTokenTTL: p.refreshTTL,
		// Every actor runs on the goroutine that sends to it: the
		// simulator's. Nothing runs unless a step or a timer makes it.
		Dispatcher: engine.InlineDispatcher(),
	}
	if p.tokens {
		s.cfg.TokenSecret = []byte("the simulator's token secret, 32+ bytes")
		s.tokens = map[string]engine.Tokens{}
	}
	if err := s.run(); err != nil {
		return nil, err
	}
	s.res.Digest, s.res.Events, err = Digest(path)
	if err != nil {
		return nil, err
	}
	if !s.broken {
		s.verify(path)
	}
	return s.res, nil
}

func (s *sim) run() error {
	var err error
	s.eng, err = engine.Open(s.ctx, s.cfg)
	if err != nil {
		return err
	}
	defer func() {
		if !s.dead {
			s.eng.Close()
		}
	}()
	for _, c := range s.sc.Clients {
		s.clients[c.ID] = c
		before := s.lastSeq()
		if _, err := s.eng.RegisterClient(s.ctx, clientSpec(c)); err != nil {
			s.fail("scenario", "client %s: %v", c.ID, err)
			s.refused("register "+c.ID, err, before)
		}
	}
	for _, g := range s.sc.Groups {
		before := s.lastSeq()
		if _, err := s.eng.DefineGroup(s.ctx, groupSpec(g)); err != nil {
			s.line = g.Line
			s.fail("scenario", "group %s: %v", g.ID, err)
			s.refused("define group "+g.ID, err, before)
			s.line = 0
		}
	}
	s.collect()
	for i := range s.p.steps {
		if err := s.ctx.Err(); err != nil {
			return err
		}
		ps := &s.p.steps[i]
		s.step, s.line = i+1, ps.src.Line
		s.res.Steps++
		s.runStep(ps)
		if s.dead {
			return nil
		}
		if s.opts.afterStep != nil {
			s.opts.afterStep(s)
			s.collect()
		}
		s.checkInvariants()
		if s.broken {
			s.say("stopped: an invariant broke")
			break
		}
	}
	s.dead = true // closed
	return s.eng.Close()
}

// verify re-runs every stream of the journal through the current fsm/, as
// `callengine replay --verify` does: the decisions the engine journaled
// must be the ones its code takes.
func (s *sim) verify(path string) {
	l, err := replay.Open(path)
	if err != nil {
		s.fail("invariant", "the journal does not open for replay: %v", err)
		return
	}
	defer l.Close()
	rep, err := l.Verify()
	if err != nil {
		s.fail("invariant", "the journal does not verify: %v", err)
		return
	}
	for _, d := range rep.Divergences {
		s.fail("invariant", "replay diverges: %s", d)
	}
}

func clientSpec(c ClientSpec) engine.ClientSpec {
	spec := engine.ClientSpec{ID: c.ID, Name: c.Name, Extensions: c.Extensions, Numbers: c.Numbers, RejectInbound: c.RejectInbound,
		Permissions: c.Permissions}
	for _, d := range c.Devices {
		spec.Devices = append(spec.Devices, engine.Device{ID: d, Kind: "sim"})
	}
	return spec
}

func groupSpec(g GroupSpec) engine.GroupSpec {
	st, _ := events.ParseStrategy(g.Strategy) // compile checked it; "" is ring-all
	return engine.GroupSpec{ID: g.ID, Name: g.Name, Extensions: g.Extensions, Numbers: g.Numbers, Members: g.Members, Strategy: st}
}

func (s *sim) now() time.Duration { return s.clock.Now().Sub(s.p.start) }

// say prints a line of the timeline, after the events journaled before it.
func (s *sim) say(format string, args ...any) {
	if !s.collecting {
		s.collect()
	}
	s.print(offset(s.now()) + "  " + fmt.Sprintf(format, args...))
}

func (s *sim) print(line string) {
	s.res.Lines = append(s.res.Lines, line)
	if s.out != nil {
		fmt.Fprintln(s.out, line)
	}
}

// fail records a failure. After a broken invariant the run stops at the end
// of the step: the engine's truth is broken, and what follows would repeat it.
func (s *sim) fail(kind, format string, args ...any) {
	f := Failure{Step: s.step, Line: s.line, Kind: kind, Message: fmt.Sprintf(format, args...)}
	s.res.Failures = append(s.res.Failures, f)
	s.say("FAIL %s: %s", kind, f.Message)
	if kind == "invariant" {
		s.broken = true
	}
}

func (s *sim) failDiff(kind, diff, format string, args ...any) {
	s.fail(kind, format, args...)
	s.res.Failures[len(s.res.Failures)-1].Diff = diff
	for _, l := range strings.Split(strings.TrimRight(diff, "\n"), "\n") {
		s.print(l)
	}
}

func (s *sim) runStep(ps *planStep) {
	if ps.hasAt {
		s.clock.Set(s.p.start.Add(ps.at))
		s.collect()
	}
	if ps.src.Note != "" {
		s.say("# %s", ps.src.Note)
	}
	for _, f := range ps.faults {
		if f == nil {
			s.net.faults = nil
			s.say("~ fault: clear")
			continue
		}
		s.net.faults = append(s.net.faults, f)
		s.say("~ fault: %s", f.text)
	}
	for i, o := range ps.ops {
		if s.dead {
			return
		}
		s.say("> %s", o.text)
		before := s.lastSeq()
		err := s.exec(o)
		s.settle()
		last := i == len(ps.ops)-1
		switch {
		case err != nil && last && ps.src.Error != "":
			s.refused(o.text, err, before)
			if code := errcode.CodeOf(err); ps.src.Error != "any" && string(code) != ps.src.Error {
				s.fail("expectation", "%q failed with %s, want %s", o.text, code, ps.src.Error)
			}
		case err != nil:
			s.refused(o.text, err, before)
			if !s.sc.AllowErrors {
				s.fail("command", "%q failed: %s", o.text, s.relabel(err.Error()))
			}
		case last && ps.src.Error != "":
			s.fail("expectation", "%q succeeded, want error %s", o.text, ps.src.Error)
		}
	}
	for _, x := range ps.expect {
		s.res.Checks++
		got, ok := s.stateOf(x.key)
		if !ok || !matchState(x.want, got) {
			s.fail("expectation", "%s: want %q, got %q", x.key, x.want, got)
			continue
		}
		s.say("= %s %s", x.key, got)
	}
	if len(ps.src.Events) > 0 || ps.src.checkEvents {
		s.res.Checks++
		want, got := []string(ps.src.Events), s.pending
		if !slices.EqualFunc(want, got, matchEvent) {
			s.failDiff("expectation", diff(want, got, matchEvent), "events since the last check differ (- wanted, + journaled)")
		} else {
			s.say("= %d events as expected", len(got))
		}
		s.pending = nil
	}
	if len(ps.src.Received) > 0 {
		s.drain()
		for _, l := range sortedKeys(ps.src.Received) {
			s.res.Checks++
			if _, ok := s.sessions.byName[l]; !ok {
				s.fail("expectation", "received: no session is labelled %q in this scenario", l)
				continue
			}
			want, got := []string(ps.src.Received[l]), s.received[l]
			if !slices.EqualFunc(want, got, matchEvent) {
				s.failDiff("expectation", diff(want, got, matchEvent), "the events delivered to session %s differ (- wanted, + delivered)", l)
			} else {
				s.say("= %s received %d events as expected", l, len(got))
			}
			s.received[l] = nil
		}
	}
	if ps.src.Timeline != "" {
		s.res.Checks++
		want, got := splitLines(ps.src.Timeline), s.timeline
		same := func(w, g string) bool {
			return strings.Join(strings.Fields(w), " ") == strings.Join(strings.Fields(g), " ")
		}
		if !slices.EqualFunc(want, got, same) {
			s.failDiff("expectation", diff(want, got, same), "the timeline differs (- wanted, + journaled)")
		} else {
			s.say("= timeline of %d events as expected", len(got))
		}
	}
}

// settle fires the timers due now (a far end that reacts at once) and reads
// what they journaled, and what the sessions were delivered.
func (s *sim) settle() {
	s.clock.Advance(0)
	s.collect()
	s.drain()
}

// refused checks what a refused command must be: a typed error with a
// stable code, and nothing journaled.
func (s *sim) refused(what string, err error, before uint64) {
	code := errcode.CodeOf(err)
	s.say("! %s: %s: %s", what, code, s.relabel(errMessage(err)))
	if code == "" || code == errcode.Internal {
		s.fail("invariant", "%q failed without a stable error code: %v", what, err)
	}
	s.collect()
	if after := s.lastSeq(); after != before {
		s.fail("invariant", "%q was refused but journaled %d events", what, after-before)
	}
}

// errMessage prints an error without its code, with its cause: "transfer
// failed: not_found: no client has extension 199".
func errMessage(err error) string {
	var e *errcode.Error
	if errors.As(err, &e) {
		return strings.TrimPrefix(e.Error(), string(e.Code)+": ")
	}
	return err.Error()
}

func (s *sim) lastSeq() uint64 { return s.eng.Journal().LastSeq() }

// collect reads what was journaled since the last read into the timeline,
// checking that nothing follows an ended call and that no call is answered
// twice.
func (s *sim) collect() {
	if s.collecting || s.dead {
		return
	}
	s.collecting = true
	defer func() { s.collecting = false }()
	err := s.eng.Journal().Scan(s.seq+1, func(r journal.Record) error {
		s.seq = r.Seq
		env := events.Envelope{Seq: r.Seq, Stream: r.Stream, Version: r.Version}
		if err := events.DecodeBody(r.Data, &env); err != nil {
			s.fail("invariant", "event %d of %s does not decode: %v", r.Seq, r.Stream, err)
			return nil
		}
		label := s.streamLabel(r.Stream, &env)
		line := s.eventLine(label, &env)
		at := time.Unix(0, env.Time).Sub(s.p.start)
		s.pending = append(s.pending, line)
		s.timeline = append(s.timeline, offset(at)+"  "+line)
		s.print(offset(at) + "    " + line)
		return nil
	})
	if err != nil {
		s.fail("invariant", "cannot read the journal: %v", err)
	}
}

// streamLabel names the stream an event was read from — a call, a client, a
// transfer, a group, a message, a session — and checks, for the streams that end, that
// nothing follows their end and that no call is answered twice.
func (s *sim) streamLabel(stream string, env *events.Envelope) string {
	kind, id, _ := strings.Cut(stream, "/")
	var label string
	switch kind {
	case "client":
		return id
	case "group":
		s.groupIDs[id] = struct{}{}
		return id
	case "call":
		label = s.labelOf(id)
		s.bindCall(label, id)
		switch env.Event.(type) {
		case events.CallAnswered:
			if s.answered[id]++; s.answered[id] > 1 {
				s.fail("invariant", "%s answered twice", label)
			}
		case events.CallJoined:
			s.nameOf(s.confs, env.Event.(events.CallJoined).Conference)
		case events.CallUnparked:
			s.unparked[id] = true
		}
	case "transfer":
		label = s.nameOf(s.transfers, id)
		if ev, ok := env.Event.(events.TransferInitiated); ok {
			s.transferSeen(label, ev)
		}
	case "message":
		label = s.nameOf(s.msgs, id)
	case "session":
		label = s.nameOf(s.sessions, id)
	default:
		return stream
	}
	if s.ended[id] {
		s.fail("invariant", "event %s of %s follows its end", eventName(env.Type), label)
	}
	if events.Ends(env.Event) {
		s.ended[id] = true
	}
	return label
}
