package engine_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/callengine/callengine/adapters/loopback"
	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/ids"
	"github.com/callengine/callengine/journal"
	"github.com/callengine/callengine/replay"
)

// Seeded random sequences of commands from several clients — valid and
// invalid, with restarts in between — never panic, never journal an event
// that the fsm refuses, and the state after a restart always equals the
// state before it.
//
// The engine runs on protoactor's synchronized dispatcher (every actor
// message is handled on the sending goroutine, as in the simulator), a
// virtual clock and seeded ids: each command, with every transfer step and
// timer it sets off, is over when it returns, and a seed gives the same run
// every time. A failure prints its seed and the commands that led to it:
//
//	go test ./engine -run TestPropertyRandomCommands -engine.seed=N -engine.runs=1
var (
	propSeed     = flag.Uint64("engine.seed", 20261121, "first seed of TestPropertyRandomCommands")
	propRuns     = flag.Int("engine.runs", 16, "how many seeds TestPropertyRandomCommands runs, from -engine.seed on")
	propCommands = flag.Int("engine.ops", 250, "commands per seed in TestPropertyRandomCommands")
)

func TestPropertyRandomCommands(t *testing.T) {
	for i := range *propRuns {
		seed := *propSeed + uint64(i)
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			p := newPropRun(t, seed)
			p.run(*propCommands)
		})
	}
}

// The clients of every run and their devices.
var (
	propClients = []engine.ClientSpec{
		{ID: "alice", Name: "Alice", Extensions: []string{"101"}, Numbers: []string{"+14155550101"},
			Devices: []engine.Device{{ID: "a1", Kind: "desk"}, {ID: "a2", Kind: "web"}}, Permissions: []string{events.PermissionRecord}},
		{ID: "bob", Name: "Bob", Extensions: []string{"102"}, Numbers: []string{"+14155550102"},
			Devices: []engine.Device{{ID: "b1", Kind: "desk"}}, Permissions: []string{events.PermissionRecord}},
		{ID: "carol", Name: "Carol", Extensions: []string{"103"}, Devices: []engine.Device{{ID: "c1", Kind: "desk"}}},
		{ID: "dave", Name: "Dave", Extensions: []string{"104"}, Devices: []engine.Device{{ID: "d1", Kind: "web"}}},
	}
	propClientIDs = []string{"alice", "bob", "carol", "dave"}
	propDevices   = []string{"a1", "a2", "b1", "c1", "d1", "d2", "zz"}
	propTargets   = [][]string{
		{"101", "102", "103", "104", "alice", "bob", "carol", "dave", "+14155550101", "+1 415 555 0102", "sip:103@example.com"},       // clients
		{"+33100000001", "+33100000002", "+33100000003", "+33100000004", "+33100000005", "+33100000006", "sip:someone@elsewhere.net"}, // outside
		{"200", "201", "sales", "support", "+14155550200"},                                                                            // groups
		{"999", "call me", "+1234", "sip:nobody@example.com", "zed", "", "tel:abc"},                                                   // nothing
	}
)

// propRun is one seeded run.
type propRun struct {
	t    *testing.T
	seed uint64
	rng  *rand.Rand
	clk  *clock.Virtual
	lb   *loopback.Adapter
	cfg  engine.Config
	e    *engine.Engine
	path string
	logs *logCatcher

	mu    sync.Mutex // ops, for the watchdog
	ops   []string   // what each command did
	opSeq []uint64   // the journal's last seq after each command
	seq   uint64     // records folded so far

	// The journal folded by fsm, stream by stream.
	calls       map[string]*fsm.Call
	callIDs     []string // in the order of their first event
	transfers   map[string]*fsm.Transfer
	transferIDs []string
	clients     map[string]*fsm.Client
	groups      map[string]*fsm.Group
	messages    map[string]*fsm.Message
	sessions    map[string]*fsm.Session
	sessionIDs  []string
	confs       []string
	restarts    int
	succeeded   map[string]int // commands that did something, by kind

	failures []string
}

func newPropRun(t *testing.T, seed uint64) *propRun {
	dir := t.TempDir()
	p := &propRun{
		t: t, seed: seed, rng: rand.New(rand.NewPCG(seed, 0xca11)),
		clk: clock.NewVirtual(start), path: filepath.Join(dir, "journal.db"), logs: &logCatcher{},
		calls: map[string]*fsm.Call{}, transfers: map[string]*fsm.Transfer{}, clients: map[string]*fsm.Client{},
		groups: map[string]*fsm.Group{}, messages: map[string]*fsm.Message{}, succeeded: map[string]int{},
		sessions: map[string]*fsm.Session{},
	}
	p.lb = loopback.New(p.clk)
	p.lb.Script("+33100000001", loopback.Behavior{Outcome: loopback.Answer, RingAfter: time.Second, AnswerAfter: 2 * time.Second})
	p.lb.Script("+33100000002", loopback.Behavior{Outcome: loopback.Busy, RingFor: time.Second})
	p.lb.Script("+33100000003", loopback.Behavior{Outcome: loopback.NoAnswer})
	p.lb.Script("+33100000004", loopback.Behavior{Outcome: loopback.Fail})
	p.lb.Script("+33100000005", loopback.Behavior{Outcome: loopback.Manual})
	p.lb.Script("+33100000006", loopback.Behavior{Outcome: loopback.Answer, HangupAfter: 20 * time.Second})
	p.cfg = engine.Config{
		DataDir: dir, Clock: p.clk, IDs: ids.NewSeeded(p.clk, seed), RingTimeout: 30 * time.Second,
		Adapter: p.lb, Domain: "example.com", Numbers: []string{"+14155550100"},
		Logger:     slog.New(p.logs),
		Dispatcher: actor.NewSynchronizedDispatcher(300),
		// Short enough that the clock's advances let grace timers fire.
		SessionGrace: 20 * time.Second,
	}
	return p
}

func (p *propRun) fail(format string, args ...any) {
	p.failures = append(p.failures, fmt.Sprintf(format, args...))
}

func (p *propRun) run(n int) {
	var err error
	if p.e, err = engine.Open(ctx, p.cfg); err != nil {
		p.t.Fatal(err)
	}
	defer func() { p.e.Close() }()
	for _, c := range propClients {
		if _, err := p.e.RegisterClient(ctx, c); err != nil {
			p.t.Fatalf("register %s: %v", c.ID, err)
		}
	}
	for _, g := range []engine.GroupSpec{
		{ID: "sales", Name: "Sales", Extensions: []string{"200"}, Members: []string{"bob", "carol", "dave"}},
		{ID: "support", Name: "Support", Extensions: []string{"201"}, Numbers: []string{"+14155550200"}, Members: []string{"carol", "dave", "alice"}, Strategy: engine.RoundRobin},
	} {
		if _, err := p.e.DefineGroup(ctx, g); err != nil {
			p.t.Fatalf("group %s: %v", g.ID, err)
		}
	}
	p.collect()
	p.ops = append(p.ops, "setup: alice 101 (a1 a2), bob 102 (b1), carol 103 (c1), dave 104 (d1); groups sales 200, support 201")
	p.opSeq = append(p.opSeq, p.e.Journal().LastSeq())
	for i := 0; i < n && len(p.failures) == 0; i++ {
		p.step()
	}
	if len(p.failures) == 0 {
		p.restart() // the final state survives a restart too; the journal is verified with the engine closed
	}
	if len(p.failures) > 0 {
		p.report()
	}
	var done []string
	for _, o := range propOps {
		done = append(done, fmt.Sprintf("%s %d", o.name, p.succeeded[o.name]))
	}
	p.t.Logf("seed %d: %d commands, %d restarts, %d calls, %d transfers, %d events; succeeded: %s", p.seed, len(p.ops)-1, p.restarts,
		len(p.callIDs), len(p.transferIDs), p.seq, strings.Join(done, ", "))
}

func (p *propRun) report() {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d failed after command #%d:\n", p.seed, len(p.ops)-1)
	for _, f := range p.failures {
		fmt.Fprintf(&b, "  - %s\n", f)
	}
	fmt.Fprintf(&b, "commands (reproduce with: go test ./engine -run 'TestPropertyRandomCommands' -engine.seed=%d -engine.runs=1 -engine.ops=%d):\n", p.seed, len(p.ops)-1)
	for i, o := range p.ops {
		fmt.Fprintf(&b, "  #%-3d %s\n", i, o)
	}
	if j := p.journalOf(len(p.ops) - 1); j != "" {
		fmt.Fprintf(&b, "events of the last command:\n%s", j)
	}
	p.t.Error(b.String())
}

// step runs one random command and checks the invariants after it.
func (p *propRun) step() {
	op := pickWeighted(p.rng, propOps)
	before := p.e.Journal().LastSeq()
	at := p.clk.Now().Sub(start)
	var (
		desc     string
		err      error
		mayWrite bool
		panicked any
		stack    []byte
	)
	func() {
		defer func() {
			if panicked = recover(); panicked != nil {
				stack = debug.Stack()
			}
		}()
		opCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		// A command that blocks inside an actor never sees its context:
		// print what led there before the test binary's timeout does.
		watchdog := time.AfterFunc(time.Minute, func() {
			p.mu.Lock()
			log := strings.Join(p.ops, "\n  ")
			p.mu.Unlock()
			panic(fmt.Sprintf("seed %d: command %s has not returned in a minute; the commands before it:\n  %s", p.seed, op.name, log))
		})
		defer watchdog.Stop()
		desc, err, mayWrite = op.run(p, opCtx)
	}()
	after := p.e.Journal().LastSeq()
	line := fmt.Sprintf("+%-6v %s", at, desc)
	switch {
	case panicked != nil:
		line += fmt.Sprintf(" → PANIC %v", panicked)
		p.fail("%s panicked: %v\n%s", op.name, panicked, stack)
	case err != nil:
		code := errcode.CodeOf(err)
		line += fmt.Sprintf(" → %s: %v", code, err)
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			p.fail("%s did not return within 10 s (a message to an actor is stuck behind itself?)", op.name)
		case code == "" || code == errcode.Internal || code == errcode.JournalCorrupt:
			p.fail("%s failed without a stable error code: %v", op.name, err)
		case errors.Is(err, journal.ErrConflict):
			// One goroutine drives the engine: no one else writes.
			p.fail("%s lost a race to its own stream: %v", op.name, err)
		}
		if after != before && !mayWrite {
			p.fail("%s was refused (%v) but journaled %d events", op.name, err, after-before)
		}
	default:
		line += " → ok"
		p.succeeded[op.name]++
	}
	if n := after - before; n > 0 {
		line += fmt.Sprintf(" [%d events]", n)
	}
	p.mu.Lock()
	p.ops = append(p.ops, line)
	p.mu.Unlock()
	if len(p.failures) > 0 {
		p.opSeq = append(p.opSeq, p.e.Journal().LastSeq())
		return
	}
	p.clk.Advance(0) // what the far end does at once
	p.collect()
	p.opSeq = append(p.opSeq, p.e.Journal().LastSeq())
	p.checkViews()
	for _, l := range p.logs.take() {
		p.fail("the engine logged: %s", l)
	}
}

// journalOf describes the events command i wrote.
func (p *propRun) journalOf(i int) string {
	if i < 1 || i >= len(p.opSeq) {
		return ""
	}
	from, to := p.opSeq[i-1]+1, p.opSeq[i]
	if to < from || p.e == nil {
		return ""
	}
	var b strings.Builder
	p.e.Journal().Scan(from, func(r journal.Record) error {
		if r.Seq > to {
			return errStop
		}
		env := events.Envelope{Seq: r.Seq, Stream: r.Stream, Version: r.Version}
		events.DecodeBody(r.Data, &env)
		fmt.Fprintf(&b, "  %d %s v%d %s %+v\n", r.Seq, r.Stream, r.Version, env.Type, env.Event)
		return nil
	})
	return b.String()
}

var errStop = errors.New("stop")

// opOf returns the command that wrote seq.
func (p *propRun) opOf(seq uint64) string {
	for i, s := range p.opSeq {
		if seq <= s {
			return fmt.Sprintf("#%d %s", i, p.ops[i])
		}
	}
	return "?"
}

// --- the journal folded by fsm -------------------------------------------

// collect folds what was journaled since the last call: every event must
// fold onto its stream, at the next version, and agree with the streams it
// names.
func (p *propRun) collect() {
	err := p.e.Journal().Scan(p.seq+1, func(r journal.Record) error {
		p.seq = r.Seq
		p.fold(r)
		return nil
	})
	if err != nil {
		p.fail("cannot read the journal: %v", err)
	}
}

func (p *propRun) fold(r journal.Record) {
	env := events.Envelope{Seq: r.Seq, Stream: r.Stream, Version: r.Version}
	if err := events.DecodeBody(r.Data, &env); err != nil {
		p.fail("event %d of %s does not decode: %v", r.Seq, r.Stream, err)
		return
	}
	kind, id, _ := strings.Cut(r.Stream, "/")
	bad := func(format string, args ...any) {
		p.fail("event %d %s v%d %s %+v: %s", r.Seq, r.Stream, r.Version, env.Type, env.Event, fmt.Sprintf(format, args...))
	}
	var version uint64
	var err error
	switch kind {
	case "call":
		c := p.calls[id]
		if c == nil {
			c = &fsm.Call{ID: id}
			p.calls[id] = c
			p.callIDs = append(p.callIDs, id)
		}
		version = c.Version
		err = fsm.ApplyCall(c, env.Event, env.Time)
		switch e := env.Event.(type) {
		case events.CallDialed:
			if e.Transfer != "" {
				if t := p.transfers[e.Transfer]; t == nil || id != t.Consult && id != t.NewCall {
					bad("placed for transfer %s, which does not name it", e.Transfer)
				}
			}
		case events.CallJoined:
			if !slices.Contains(p.confs, e.Conference) {
				p.confs = append(p.confs, e.Conference)
			}
		}
	case "transfer":
		t := p.transfers[id]
		if t == nil {
			t = &fsm.Transfer{ID: id}
			p.transfers[id] = t
			p.transferIDs = append(p.transferIDs, id)
		}
		version = t.Version
		err = fsm.ApplyTransfer(t, env.Event, env.Time)
		switch e := env.Event.(type) {
		case events.TransferInitiated:
			if cerr := fsm.CheckTransferInitiated(e); cerr != nil {
				bad("the fsm refuses it: %v", cerr)
			}
			if e.Call != "" {
				if x := p.calls[e.Call]; x == nil || x.Status != fsm.Connected && x.Status != fsm.Held {
					bad("the call it transfers is not established")
				}
			}
			for _, c := range []string{e.Consult, e.NewCall} {
				if p.calls[c] != nil {
					bad("its call %s exists already", c)
				}
			}
		case events.TransferAnswered:
			if z := p.calls[t.Consult]; z == nil || !z.Answered() {
				bad("its consultation %s has not been answered", t.Consult)
			}
		case events.TransferCompleted:
			if p.calls[t.NewCall] == nil {
				bad("its new call %s was never placed", t.NewCall)
			}
		}
	case "client":
		c := p.clients[id]
		if c == nil {
			c = &fsm.Client{ID: id}
			p.clients[id] = c
		}
		version = c.Version
		err = fsm.ApplyClient(c, env.Event, env.Time)
	case "group":
		g := p.groups[id]
		if g == nil {
			g = &fsm.Group{ID: id}
			p.groups[id] = g
		}
		version = g.Version
		if d, ok := env.Event.(events.GroupDefined); ok {
			if cerr := fsm.CheckGroupDefined(d); cerr != nil {
				bad("the fsm refuses it: %v", cerr)
			}
		}
		err = fsm.ApplyGroup(g, env.Event, env.Time)
	case "message":
		m := p.messages[id]
		if m == nil {
			m = &fsm.Message{ID: id}
			p.messages[id] = m
		}
		version = m.Version
		err = fsm.ApplyMessage(m, env.Event, env.Time)
	case "session":
		se := p.sessions[id]
		if se == nil {
			se = &fsm.Session{ID: id}
			p.sessions[id] = se
			p.sessionIDs = append(p.sessionIDs, id)
		}
		version = se.Version
		err = fsm.ApplySession(se, env.Event, env.Time)
		if se.Connections < 0 || (se.Status == fsm.SessionGrace) != (se.Live() && se.Connections == 0) {
			bad("the session's counter is broken: %+v", *se)
		}
	default:
		bad("a stream of no known kind")
		return
	}
	if r.Version != version+1 {
		bad("the stream was at version %d", version)
	}
	if err != nil {
		bad("it does not fold: %v", err)
	}
}

func (p *propRun) liveCalls() []string {
	var out []string
	for _, id := range p.callIDs {
		if p.calls[id].Status.Live() {
			out = append(out, id)
		}
	}
	return out
}

// checkViews compares what the engine shows with the journal folded by
// fsm: every live call, the calls each client is on, every transfer, every
// client and group; and checks that no transfer has a step left to take.
func (p *propRun) checkViews() {
	if len(p.failures) > 0 {
		return
	}
	live := p.liveCalls()
	if n := p.e.LiveCalls(); n != len(live) {
		p.fail("the engine has %d live calls, the journal %d", n, len(live))
	}
	for _, id := range live {
		c := p.calls[id]
		v, err := p.e.Call(ctx, id)
		if err != nil {
			p.fail("call %s is live in the journal; the engine says %v", id, err)
			continue
		}
		if d := callDiff(v, c); d != "" {
			p.fail("call %s: the engine's view differs from the journal: %s", id, d)
		}
	}
	for _, client := range append(slices.Clone(propClientIDs), "zed") {
		got, err := p.e.Calls(ctx, client)
		if err != nil {
			p.fail("Calls(%s): %v", client, err)
			continue
		}
		var want []string
		for _, id := range live {
			c := p.calls[id]
			s := c.SideOf(client)
			if c.Status == fsm.Ringing && slices.Contains(c.RangMembers, client) {
				want = append(want, id) // a ring-all group call rings it
				continue
			}
			if s == events.NoSide || c.ParkSlot != "" && s == c.ParkedSide.Other() {
				continue // not on it, or parked it and left
			}
			if s == events.Callee && c.InVoicemail() {
				continue // the caller talks to its box
			}
			want = append(want, id)
		}
		var gotIDs []string
		for _, c := range got {
			gotIDs = append(gotIDs, c.ID)
		}
		slices.Sort(want)
		slices.Sort(gotIDs)
		if !slices.Equal(want, gotIDs) {
			p.fail("Calls(%s) = %v; the journal has %s on %v", client, gotIDs, client, want)
		}
	}
	lookup := func(id string) (*fsm.Call, bool) { c, ok := p.calls[id]; return c, ok }
	for _, id := range p.transferIDs {
		t := p.transfers[id]
		v, err := p.e.Transfer(ctx, id)
		if err != nil {
			p.fail("transfer %s: %v", id, err)
			continue
		}
		if v.Status != t.Status || v.Version != t.Version || string(v.Reason) != t.Reason {
			p.fail("transfer %s: the engine says %s v%d %q, the journal %s v%d %q", id, v.Status, v.Version, v.Reason, t.Status, t.Version, t.Reason)
		}
		if !knownTransferReason(v.Reason) {
			p.fail("transfer %s: reason %q is none of the TransferReason values", id, v.Reason)
		}
		if t.Status.Done() {
			continue
		}
		if step := fsm.NextTransferStep(t, lookup, fsm.NoIntent, p.clk.Now().UnixNano()); step.Kind != fsm.StepWait {
			p.fail("transfer %s (%s) is stuck: its next step is %+v", id, t.Status, step)
		}
	}
	for _, id := range propClientIDs {
		c := p.clients[id]
		v, err := p.e.Client(ctx, id)
		switch {
		case c.Registered() && err != nil:
			p.fail("client %s is registered in the journal; the engine says %v", id, err)
		case !c.Registered() && err == nil:
			p.fail("client %s is not registered in the journal; the engine shows %+v", id, v)
		case err == nil && (v.Version != c.Version || fmt.Sprint(v.Devices) != fmt.Sprint(c.Devices) || v.AcceptInbound != c.AcceptInbound):
			p.fail("client %s: the engine shows %+v, the journal %+v", id, v, *c)
		}
	}
	gs, err := p.e.Groups(ctx)
	if err != nil {
		p.fail("Groups: %v", err)
	}
	var got, want []string
	for _, g := range gs {
		got = append(got, fmt.Sprintf("%s v%d last=%s", g.ID, g.Version, g.Last))
	}
	groupIDs := make([]string, 0, len(p.groups))
	for id := range p.groups {
		groupIDs = append(groupIDs, id)
	}
	slices.Sort(groupIDs)
	for _, id := range groupIDs {
		if g := p.groups[id]; g.Defined() {
			want = append(want, fmt.Sprintf("%s v%d last=%s", id, g.Version, g.Last))
		}
	}
	if !slices.Equal(got, want) {
		p.fail("groups: the engine has %v, the journal %v", got, want)
	}
}

// callDiff lists the fields in which a call's view differs from its fold.
func callDiff(v engine.Call, c *fsm.Call) string {
	var d []string
	check := func(name string, got, want any) {
		if fmt.Sprint(got) != fmt.Sprint(want) {
			d = append(d, fmt.Sprintf("%s %v (journal %v)", name, got, want))
		}
	}
	check("state", v.State, c.Status)
	check("version", v.Version, c.Version)
	check("caller", v.Caller, c.Caller)
	check("callee", v.Callee, c.Callee)
	check("ringing", v.RingingDevices, c.Ringing)
	check("held", [2]bool{v.HeldByCaller, v.HeldByCallee}, [2]bool{c.HeldByCaller, c.HeldByCallee})
	check("muted", [2]bool{v.MutedCaller, v.MutedCallee}, [2]bool{c.MutedCaller, c.MutedCallee})
	check("answered device", v.AnsweredDevice, c.AnsweredDevice)
	check("park", v.ParkSlot+"/"+v.ParkedSide.String(), c.ParkSlot+"/"+c.ParkedSide.String())
	check("conference", v.Conference+"/"+v.Peer, c.Conference+"/"+c.Peer)
	check("recording", v.Recording, c.Recording)
	check("digits", v.Digits, c.Digits)
	deadline := time.Time{}
	if c.RingDeadline != 0 {
		deadline = time.Unix(0, c.RingDeadline).UTC()
	}
	check("ring deadline", v.RingDeadline, deadline)
	return strings.Join(d, "; ")
}

// --- restarts --------------------------------------------------------------

// propState is everything a client of the engine can see, as text.
type propState map[string]string

func (p *propRun) state() propState {
	s := propState{}
	put := func(key string, v any, err error) {
		if err != nil {
			s[key] = "error " + string(errcode.CodeOf(err))
			return
		}
		s[key] = fmt.Sprintf("%+v", v)
	}
	s["last seq"] = fmt.Sprint(p.e.Journal().LastSeq())
	s["live calls"] = fmt.Sprint(p.e.LiveCalls())
	for _, id := range p.callIDs {
		v, err := p.e.Call(ctx, id)
		put("call "+id, v, err)
	}
	for _, id := range append(slices.Clone(propClientIDs), "zed") {
		v, err := p.e.Calls(ctx, id)
		put("calls of "+id, v, err)
		c, err := p.e.Client(ctx, id)
		put("client "+id, c, err)
	}
	cs, err := p.e.Clients(ctx)
	put("clients", cs, err)
	for _, id := range p.transferIDs {
		v, err := p.e.Transfer(ctx, id)
		put("transfer "+id, v, err)
	}
	gs, err := p.e.Groups(ctx)
	put("groups", gs, err)
	parked, err := p.e.ParkedCalls(ctx)
	put("parked", parked, err)
	for _, id := range p.confs {
		v, err := p.e.Conference(ctx, id)
		put("conference "+id, v, err)
	}
	return s
}

// restart closes the engine, verifies its journal with replay, opens it
// again and checks that nothing a client can see changed.
func (p *propRun) restart() (string, error) {
	before := p.state()
	if err := p.e.Close(); err != nil {
		return "restart", err
	}
	p.restarts++
	p.verifyJournal()
	e, err := engine.Open(ctx, p.cfg)
	if err != nil {
		p.fail("Open after Close: %v", err) // p.e stays the closed engine
		return "restart", err
	}
	p.e = e
	after := p.state()
	var diffs []string
	keys := make([]string, 0, len(before))
	for k := range before {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if before[k] != after[k] {
			diffs = append(diffs, fmt.Sprintf("%s:\n      before %s\n      after  %s", k, before[k], after[k]))
		}
	}
	for k, v := range after {
		if _, ok := before[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: only after: %s", k, v))
		}
	}
	if len(diffs) > 0 {
		p.fail("the state after the restart differs from the state before it:\n    %s", strings.Join(diffs, "\n    "))
	}
	return "restart", nil
}

// verifyJournal runs replay's verification of every stream against the
// current fsm on the closed engine's journal.
func (p *propRun) verifyJournal() {
	l, err := replay.Open(p.path)
	if err != nil {
		p.fail("the journal does not open for replay: %v", err)
		return
	}
	defer l.Close()
	rep, err := l.Verify()
	if err != nil {
		p.fail("the journal does not verify: %v", err)
		return
	}
	for _, d := range rep.Divergences {
		p.fail("replay.Verify: %s\n      written by %s", d, p.opOf(d.Seq))
	}
}

// --- commands ----------------------------------------------------------------

type propOp struct {
	name   string
	weight int
	// run issues the command; mayWrite says a refusal may have journaled
	// events legitimately (a transfer that began and then failed).
	run func(p *propRun, ctx context.Context) (desc string, err error, mayWrite bool)
}

func pickWeighted(r *rand.Rand, ops []propOp) propOp {
	total := 0
	for _, o := range ops {
		total += o.weight
	}
	n := r.IntN(total)
	for _, o := range ops {
		if n < o.weight {
			return o
		}
		n -= o.weight
	}
	return ops[len(ops)-1]
}

func pick[T any](r *rand.Rand, xs ...T) T { return xs[r.IntN(len(xs))] }

func (p *propRun) chance(percent int) bool { return p.rng.IntN(100) < percent }

// call picks a call: mostly a live one, sometimes an ended one, an unknown
// id or none.
func (p *propRun) call() string {
	return p.callWhere(func(*fsm.Call) bool { return true })
}

// callWhere prefers live calls for which keep is true.
func (p *propRun) callWhere(keep func(*fsm.Call) bool) string {
	var live, fit []string
	for _, id := range p.liveCalls() {
		live = append(live, id)
		if keep(p.calls[id]) {
			fit = append(fit, id)
		}
	}
	n := p.rng.IntN(100)
	switch {
	case n < 65 && len(fit) > 0:
		return pick(p.rng, fit...)
	case n < 85 && len(live) > 0:
		return pick(p.rng, live...)
	case n < 94 && len(p.callIDs) > 0:
		return pick(p.rng, p.callIDs...)
	case n < 97:
		return "nope"
	}
	return ""
}

// mergeable lists the merges that can succeed: two held calls with a client
// in common, each merging its other party.
func (p *propRun) mergeable() []engine.MergeRequest {
	var held []*fsm.Call
	for _, id := range p.liveCalls() {
		if c := p.calls[id]; c.Status == fsm.Held && c.ParkSlot == "" && c.Conference == "" {
			held = append(held, c)
		}
	}
	var out []engine.MergeRequest
	for i, a := range held {
		for _, b := range held[i+1:] {
			for _, host := range propClientIDs {
				sa, sb := a.SideOf(host), b.SideOf(host)
				if sa != events.NoSide && sb != events.NoSide {
					out = append(out, engine.MergeRequest{Call: a.ID, Side: sa.Other(), Other: b.ID, OtherSide: sb.Other()})
				}
			}
		}
	}
	return out
}

// holdToMerge lists the holds that give a client two held calls.
func (p *propRun) holdToMerge() []engine.MergeRequest {
	var out []engine.MergeRequest
	live := p.liveCalls()
	for _, a := range live {
		ca := p.calls[a]
		if ca.Status != fsm.Connected || ca.ParkSlot != "" || ca.Conference != "" {
			continue
		}
		for _, b := range live {
			cb := p.calls[b]
			if b == a || cb.Status != fsm.Held || cb.ParkSlot != "" || cb.Conference != "" {
				continue
			}
			for _, host := range propClientIDs {
				if s := ca.SideOf(host); s != events.NoSide && cb.SideOf(host) != events.NoSide {
					out = append(out, engine.MergeRequest{Call: a, Side: s})
				}
			}
		}
	}
	return out
}

func established(c *fsm.Call) bool { return c.Status == fsm.Connected || c.Status == fsm.Held }

func (p *propRun) side() engine.Side {
	n := p.rng.IntN(100)
	switch {
	case n < 47:
		return engine.Caller
	case n < 94:
		return engine.Callee
	case n < 97:
		return events.NoSide
	}
	return engine.Side(3)
}

// client picks a client: mostly a registered one.
func (p *propRun) client() string {
	var reg []string
	for _, id := range propClientIDs {
		if p.clients[id].Registered() {
			reg = append(reg, id)
		}
	}
	n := p.rng.IntN(100)
	switch {
	case n < 75 && len(reg) > 0:
		return pick(p.rng, reg...)
	case n < 95:
		return pick(p.rng, propClientIDs...)
	}
	return pick(p.rng, "zed", "")
}

func (p *propRun) device(client string) string {
	n := p.rng.IntN(100)
	if c := p.clients[client]; n < 55 && c != nil && len(c.Devices) > 0 {
		return pick(p.rng, c.Devices...).ID
	}
	if n < 80 {
		return ""
	}
	return pick(p.rng, propDevices...)
}

// target picks a destination; dial leaves out client ids, which are
// transfer targets but not destinations.
func (p *propRun) target(dial bool) string {
	n := p.rng.IntN(100)
	switch {
	case n < 50 && dial:
		return pick(p.rng, slices.DeleteFunc(slices.Clone(propTargets[0]), func(s string) bool { return slices.Contains(propClientIDs, s) })...)
	case n < 50:
		return pick(p.rng, propTargets[0]...)
	case n < 70:
		return pick(p.rng, propTargets[1]...)
	case n < 84:
		return pick(p.rng, propTargets[2]...)
	}
	return pick(p.rng, propTargets[3]...)
}

func (p *propRun) transfer() string {
	var live, answered []string
	for _, id := range p.transferIDs {
		if t := p.transfers[id]; !t.Status.Done() {
			live = append(live, id)
			if t.Status == fsm.Answered {
				answered = append(answered, id)
			}
		}
	}
	n := p.rng.IntN(100)
	switch {
	case n < 80 && len(answered) > 0:
		return pick(p.rng, answered...)
	case n < 80 && len(live) > 0:
		return pick(p.rng, live...)
	case n < 92 && len(p.transferIDs) > 0:
		return pick(p.rng, p.transferIDs...)
	}
	return pick(p.rng, "nope", "")
}

func sideName(s engine.Side) string {
	if n := s.String(); n != "" {
		return n
	}
	return fmt.Sprintf("side(%d)", s)
}

func callResult(desc string, c engine.Call, err error) (string, error, bool) {
	if err == nil {
		desc += fmt.Sprintf(" = %s %s", c.ID, c.State)
	}
	return desc, err, false
}

func transferResult(desc string, t engine.Transfer, err error) (string, error, bool) {
	if t.ID != "" {
		desc += fmt.Sprintf(" = %s %s consult=%s new=%s", t.ID, t.Status, t.Consult, t.NewCall)
	}
	// A transfer that had begun (its TransferInitiated is journaled) may
	// answer with an error and still have written its outcome.
	return desc, err, err != nil && t.Version > 0
}

var propOps = []propOp{
	{"dial", 16, func(p *propRun, ctx context.Context) (string, error, bool) {
		req := engine.DialRequest{From: p.client(), To: p.target(true)}
		req.Device = p.device(req.From)
		if p.chance(12) {
			req.CallerID = pick(p.rng, "+14155550100", "+19999999999", "abc", "+14155550102")
		}
		c, err := p.e.Dial(ctx, req)
		return callResult(fmt.Sprintf("dial %s/%s → %q (caller id %q)", req.From, req.Device, req.To, req.CallerID), c, err)
	}},
	{"inbound", 4, func(p *propRun, ctx context.Context) (string, error, bool) {
		from := pick(p.rng, "+33612345678", "+44 20 7946 0000", "")
		to := pick(p.rng, "+14155550101", "+14155550102", "101", "+14155550200", "200", "+19995550000", "garbage")
		c, err := p.lb.Call(ctx, from, "Customer", to)
		return callResult(fmt.Sprintf("inbound %q → %q", from, to), c, err)
	}},
	{"answer", 11, func(p *propRun, ctx context.Context) (string, error, bool) {
		id := p.callWhere(func(c *fsm.Call) bool { return c.Status == fsm.Ringing })
		var consults []string // let transfers get to answered
		for _, t := range p.transferIDs {
			if tr := p.transfers[t]; tr.Status == fsm.Consulting && p.calls[tr.Consult] != nil && p.calls[tr.Consult].Status == fsm.Ringing {
				consults = append(consults, tr.Consult)
			}
		}
		if len(consults) > 0 && p.chance(70) {
			id = pick(p.rng, consults...)
		}
		dev := ""
		if c := p.calls[id]; c != nil && len(c.Ringing) > 0 && p.chance(85) {
			dev = pick(p.rng, c.Ringing...)
		} else if p.chance(70) {
			dev = pick(p.rng, propDevices...)
		}
		c, err := p.e.Answer(ctx, id, dev)
		return callResult(fmt.Sprintf("answer %s from %q", id, dev), c, err)
	}},
	{"reject", 3, func(p *propRun, ctx context.Context) (string, error, bool) {
		id, busy := p.callWhere(func(c *fsm.Call) bool { return c.Status == fsm.Ringing }), p.chance(50)
		c, err := p.e.Reject(ctx, id, busy)
		return callResult(fmt.Sprintf("reject %s busy=%v", id, busy), c, err)
	}},
	{"ignore", 2, func(p *propRun, ctx context.Context) (string, error, bool) {
		id := p.callWhere(func(c *fsm.Call) bool { return c.Status == fsm.Ringing })
		c, err := p.e.Ignore(ctx, id)
		return callResult("ignore "+id, c, err)
	}},
	{"hangup", 6, func(p *propRun, ctx context.Context) (string, error, bool) {
		id, s := p.call(), p.side()
		c, err := p.e.Hangup(ctx, id, s)
		return callResult(fmt.Sprintf("hangup %s by %s", id, sideName(s)), c, err)
	}},
	{"hold", 6, func(p *propRun, ctx context.Context) (string, error, bool) {
		id, s := p.callWhere(established), p.side()
		if pairs := p.holdToMerge(); len(pairs) > 0 && p.chance(40) {
			h := pick(p.rng, pairs...) // a client's second held call makes a merge possible
			id, s = h.Call, h.Side
		}
		c, err := p.e.Hold(ctx, id, s)
		return callResult(fmt.Sprintf("hold %s by %s", id, sideName(s)), c, err)
	}},
	{"resume", 5, func(p *propRun, ctx context.Context) (string, error, bool) {
		id, s := p.callWhere(func(c *fsm.Call) bool { return c.Status == fsm.Held }), p.side()
		c, err := p.e.Resume(ctx, id, s)
		return callResult(fmt.Sprintf("resume %s by %s", id, sideName(s)), c, err)
	}},
	{"mute", 3, func(p *propRun, ctx context.Context) (string, error, bool) {
		id, s, on := p.call(), p.side(), p.chance(55)
		var c engine.Call
		var err error
		if on {
			c, err = p.e.Mute(ctx, id, s)
		} else {
			c, err = p.e.Unmute(ctx, id, s)
		}
		return callResult(fmt.Sprintf("mute=%v %s %s", on, id, sideName(s)), c, err)
	}},
	{"far end", 5, func(p *propRun, ctx context.Context) (string, error, bool) {
		id := p.callWhere(func(c *fsm.Call) bool { return c.Direction != events.Internal })
		var c engine.Call
		var err error
		what := pick(p.rng, "ringing", "answered", "ended", "hold", "resume")
		switch what {
		case "ringing":
			c, err = p.e.FarRinging(ctx, id)
		case "answered":
			c, err = p.e.FarAnswered(ctx, id)
		case "ended":
			r := pick(p.rng, events.Hangup, events.Busy, events.Rejected, events.Failed, events.NoAnswer, events.Transferred, events.Canceled)
			what += " " + r.String()
			c, err = p.e.FarEnded(ctx, id, r)
		case "hold":
			c, err = p.e.FarHold(ctx, id)
		case "resume":
			c, err = p.e.FarResume(ctx, id)
		}
		return callResult(fmt.Sprintf("far end of %s: %s", id, what), c, err)
	}},
	{"transfer", 12, func(p *propRun, ctx context.Context) (string, error, bool) {
		req := engine.TransferRequest{Call: p.callWhere(established), Side: p.side(), To: p.target(false)}
		kind := pick(p.rng, "blind", "attended", "supervised")
		switch {
		case kind == "supervised" && p.chance(70):
			req.InviteTimer = pick(p.rng, 5*time.Second, 10*time.Second, 40*time.Second)
		case p.chance(5):
			req.InviteTimer = pick(p.rng, -time.Second, 5*time.Second)
		}
		var t engine.Transfer
		var err error
		switch kind {
		case "blind":
			t, err = p.e.BlindTransfer(ctx, req)
		case "attended":
			t, err = p.e.AttendedTransfer(ctx, req)
		default:
			t, err = p.e.SupervisedTransfer(ctx, req)
		}
		return transferResult(fmt.Sprintf("%s transfer of %s (%s kept) to %q timer %v", kind, req.Call, sideName(req.Side), req.To, req.InviteTimer), t, err)
	}},
	{"complete", 5, func(p *propRun, ctx context.Context) (string, error, bool) {
		id := p.transfer()
		t, err := p.e.CompleteTransfer(ctx, id)
		return transferResult("complete transfer "+id, t, err)
	}},
	{"cancel", 3, func(p *propRun, ctx context.Context) (string, error, bool) {
		id := p.transfer()
		t, err := p.e.CancelTransfer(ctx, id)
		return transferResult("cancel transfer "+id, t, err)
	}},
	{"click to call", 2, func(p *propRun, ctx context.Context) (string, error, bool) {
		req := engine.ClickToCallRequest{
			First:  pick(p.rng, "alice", "bob", "carol", "dave", "+33100000001", "+33100000005", "sales", "zed", ""),
			Second: p.target(false),
		}
		if p.chance(20) {
			req.FirstDevice = pick(p.rng, propDevices...)
		}
		t, err := p.e.ClickToCall(ctx, req)
		return transferResult(fmt.Sprintf("click to call %q/%q → %q", req.First, req.FirstDevice, req.Second), t, err)
	}},
	{"park", 3, func(p *propRun, ctx context.Context) (string, error, bool) {
		id, s := p.callWhere(established), p.side()
		slot := pick(p.rng, "", "", "1", "7", "a b", "x/y", strings.Repeat("9", 70))
		c, err := p.e.Park(ctx, id, s, slot)
		return callResult(fmt.Sprintf("park %s by %s in %q", id, sideName(s), slot), c, err)
	}},
	{"pause", 2, func(p *propRun, ctx context.Context) (string, error, bool) {
		id, s := p.callWhere(established), p.side()
		c, err := p.e.Pause(ctx, id, s)
		return callResult(fmt.Sprintf("pause %s by %s", id, sideName(s)), c, err)
	}},
	{"unpark", 4, func(p *propRun, ctx context.Context) (string, error, bool) {
		who := p.client()
		dev := p.device(who)
		if p.chance(25) {
			slot := pick(p.rng, "1", "7", "101", "102", "103", "104", "nope", "")
			c, err := p.e.UnparkSlot(ctx, slot, who, dev)
			return callResult(fmt.Sprintf("unpark slot %q to %s/%q", slot, who, dev), c, err)
		}
		id := p.callWhere(func(c *fsm.Call) bool { return c.ParkSlot != "" })
		c, err := p.e.Unpark(ctx, id, who, dev)
		return callResult(fmt.Sprintf("unpark %s to %s/%q", id, who, dev), c, err)
	}},
	{"merge", 3, func(p *propRun, ctx context.Context) (string, error, bool) {
		held := func(c *fsm.Call) bool { return c.Status == fsm.Held }
		req := engine.MergeRequest{Call: p.callWhere(held), Side: p.side(), Other: p.callWhere(held), OtherSide: p.side()}
		if pairs := p.mergeable(); len(pairs) > 0 && p.chance(60) {
			req = pick(p.rng, pairs...)
		}
		c, err := p.e.Merge(ctx, req)
		desc := fmt.Sprintf("merge %s (%s) with %s (%s)", req.Call, sideName(req.Side), req.Other, sideName(req.OtherSide))
		if err == nil {
			desc += fmt.Sprintf(" = conference %s %v", c.ID, c.Calls)
		}
		return desc, err, false
	}},
	{"dtmf", 3, func(p *propRun, ctx context.Context) (string, error, bool) {
		id, s := p.callWhere(established), p.side()
		digits := pick(p.rng, "123", "*#", "A,B,0", "12x", "", strings.Repeat("1", 70), "9")
		opt := engine.ToneOptions{}
		if p.chance(20) {
			opt.Duration = pick(p.rng, 50*time.Millisecond, -time.Millisecond, 11*time.Second)
			opt.Gap = pick(p.rng, 0, 30*time.Millisecond, -time.Millisecond)
		}
		c, err := p.e.SendDigits(ctx, id, s, digits, opt)
		return callResult(fmt.Sprintf("dtmf %s by %s %q %+v", id, sideName(s), digits, opt), c, err)
	}},
	{"recording", 3, func(p *propRun, ctx context.Context) (string, error, bool) {
		id, s := p.callWhere(established), p.side()
		if p.chance(55) {
			ref := pick(p.rng, "", "", "rec-42")
			c, err := p.e.StartRecording(ctx, id, s, ref)
			return callResult(fmt.Sprintf("start recording %s by %s ref %q", id, sideName(s), ref), c, err)
		}
		c, err := p.e.StopRecording(ctx, id, s)
		return callResult(fmt.Sprintf("stop recording %s by %s", id, sideName(s)), c, err)
	}},
	{"swap", 2, func(p *propRun, ctx context.Context) (string, error, bool) {
		who := p.client()
		id := p.callWhere(func(c *fsm.Call) bool { return c.SideOf(who) != events.NoSide || c.Group != "" })
		dev := ""
		if p.chance(30) {
			dev = p.device(who)
		}
		c, err := p.e.Swap(ctx, who, id, dev)
		return callResult(fmt.Sprintf("swap %s to %s from %q", who, id, dev), c, err)
	}},
	{"client", 3, func(p *propRun, ctx context.Context) (string, error, bool) {
		who := p.client()
		var c engine.Client
		var err error
		var desc string
		n := p.rng.IntN(100)
		if cl := p.clients[who]; cl != nil && !cl.Registered() && p.chance(75) {
			n = 99 // register it again
		}
		switch {
		case n < 30:
			on := p.chance(60)
			desc = fmt.Sprintf("%s accepts inbound calls: %v", who, on)
			c, err = p.e.SetAcceptInbound(ctx, who, on)
		case n < 50:
			d := engine.Device{ID: pick(p.rng, "d2", "a3", "x9", "b1", ""), Kind: "web"}
			desc = fmt.Sprintf("add device %q to %s", d.ID, who)
			c, err = p.e.AddDevice(ctx, who, d)
		case n < 65:
			d := pick(p.rng, propDevices...)
			desc = fmt.Sprintf("remove device %q from %s", d, who)
			c, err = p.e.RemoveDevice(ctx, who, d)
		case n < 75:
			desc = "unregister " + who
			c, err = p.e.UnregisterClient(ctx, who)
		default:
			spec := engine.ClientSpec{ID: who}
			for _, s := range propClients {
				if s.ID == who {
					spec = s
				}
			}
			if p.chance(15) {
				spec.ID = "erin" // with the extension, numbers and devices of another
			}
			desc = "register " + spec.ID
			c, err = p.e.RegisterClient(ctx, spec)
		}
		if err == nil {
			desc += fmt.Sprintf(" = %s v%d devices %v", c.State, c.Version, c.Devices)
		}
		return desc, err, false
	}},
	{"group", 1, func(p *propRun, ctx context.Context) (string, error, bool) {
		id := pick(p.rng, "sales", "support", "nope")
		if p.chance(30) {
			return "remove group " + id, p.e.RemoveGroup(ctx, id), false
		}
		spec := engine.GroupSpec{ID: id, Name: id, Extensions: []string{map[string]string{"sales": "200", "support": "201", "nope": "209"}[id]}}
		for _, m := range propClientIDs {
			if p.chance(50) {
				spec.Members = append(spec.Members, m)
			}
		}
		spec.Strategy = pick(p.rng, engine.RingAll, engine.RoundRobin, engine.Strategy(0))
		g, err := p.e.DefineGroup(ctx, spec)
		desc := fmt.Sprintf("define group %s %v %v", id, spec.Members, spec.Strategy)
		if err == nil {
			desc += fmt.Sprintf(" = v%d", g.Version)
		}
		return desc, err, false
	}},
	{"voicemail box", 2, func(p *propRun, ctx context.Context) (string, error, bool) {
		id, on := p.client(), p.chance(70)
		d := pick(p.rng, 0, 10*time.Second, time.Minute, -time.Second)
		c, err := p.e.SetVoicemail(ctx, id, on, d)
		desc := fmt.Sprintf("voicemail of %s on=%v max %v", id, on, d)
		if err == nil {
			desc += fmt.Sprintf(" = %v %v", c.Voicemail, c.VoicemailMax)
		}
		return desc, err, false
	}},
	{"presence", 2, func(p *propRun, ctx context.Context) (string, error, bool) {
		id := p.client()
		pr := pick(p.rng, events.PresenceAvailable, events.PresenceBusy, events.PresenceAway, events.PresenceOffline, events.Presence(0), events.Presence(9))
		act := pick(p.rng, "", "lunch", strings.Repeat("x", 300))
		c, err := p.e.SetPresence(ctx, id, pr, act)
		desc := fmt.Sprintf("presence of %s %v %q", id, pr, act)
		if err == nil {
			desc += fmt.Sprintf(" = %v", c.Presence)
		}
		return desc, err, false
	}},
	{"session", 5, func(p *propRun, ctx context.Context) (string, error, bool) {
		id := pick(p.rng, "s-nope", "")
		if len(p.sessionIDs) > 0 && p.chance(85) {
			id = pick(p.rng, p.sessionIDs...)
		}
		what := pick(p.rng, "create", "create", "restore", "close", "close", "destroy", "subscribe", "unsubscribe", "auto-answer")
		var s engine.Session
		var err error
		switch what {
		case "create":
			id = p.client()
			s, err = p.e.CreateSession(ctx, id, engine.SessionOptions{NoAutoAnswer: p.chance(30)})
		case "restore":
			s, err = p.e.RestoreSession(ctx, id)
		case "close":
			s, err = p.e.CloseConnection(ctx, id)
		case "destroy":
			err = p.e.DestroySession(ctx, id)
		case "subscribe", "unsubscribe":
			line := pick(p.rng, "101", "102", "+14155550101", "200", "callpark", "999", "")
			what += " " + line
			if what[0] == 's' {
				s, err = p.e.SubscribeLine(ctx, id, line)
			} else {
				s, err = p.e.UnsubscribeLine(ctx, id, line)
			}
		case "auto-answer":
			s, err = p.e.SetAutoAnswer(ctx, id, p.chance(50))
		}
		desc := fmt.Sprintf("session %s %s", what, id)
		if err == nil && s.ID != "" {
			desc += fmt.Sprintf(" = %s %s conns=%d lines=%v", s.ID, s.State, s.Connections, s.Lines)
		}
		return desc, err, false
	}},
	{"advance", 7, func(p *propRun, ctx context.Context) (string, error, bool) {
		d := pick(p.rng, 0, 300*time.Millisecond, time.Second, 2*time.Second, 5*time.Second, 11*time.Second, 31*time.Second)
		p.clk.Advance(d)
		return fmt.Sprintf("advance %v", d), nil, false
	}},
	{"restart", 3, func(p *propRun, ctx context.Context) (string, error, bool) {
		desc, err := p.restart()
		return desc, err, false
	}},
}

// logCatcher records what the engine and protoactor log that means a bug:
// errors, and an actor recovering from a panic.
type logCatcher struct {
	mu  sync.Mutex
	bad []string
}

func (l *logCatcher) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelInfo }

func (l *logCatcher) Handle(_ context.Context, r slog.Record) error {
	if r.Level < slog.LevelError && !strings.Contains(r.Message, "Recovering") && !strings.Contains(strings.ToLower(r.Message), "panic") {
		return nil
	}
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	l.bad = append(l.bad, b.String())
	l.mu.Unlock()
	return nil
}

func (l *logCatcher) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logCatcher) WithGroup(string) slog.Handler      { return l }

func (l *logCatcher) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.bad
	l.bad = nil
	return out
}

// --- what the property test found ----------------------------------------
//
// Each test below is the smallest sequence of commands that shows one bug a
// seed of TestPropertyRandomCommands ran into. The first four were fixed
// while the test was written (a977c97, d2aabe1) and stay as regression
// tests; the seed counts are of the generator as committed with them.

// The parking party resumed a parked call (Resume, Swap, or a transfer
// that gives its original call back): the call was connected while it sat
// in its slot, and Unpark then failed with internal ("decision does not
// fold: resume in state connected"), so the call could never leave the
// slot (fixed in a977c97). Found by seed 152 (a transfer canceled after
// bob paused its original call; Unpark failed at command #43) and 44 more of
// seeds 1–300 (-engine.seed=1 -engine.runs=300).
func TestPropertyFoundResumeOfAParkedCall(t *testing.T) {
	parked := func(t *testing.T) (*harness, engine.Call) {
		h := newHarness(t)
		x := h.connected() // alice (a1) → bob (b1), answered; carol (c1) free
		x = must[engine.Call](t)(h.e.Park(ctx, x.ID, engine.Callee, "1"))
		if x.State != engine.Held || x.ParkSlot != "1" || !x.HeldByCallee {
			t.Fatalf("after park: %+v", x)
		}
		return h, x
	}
	// check: a parked call is held, and carol can take it.
	check := func(t *testing.T, h *harness, id, how string, err error) {
		t.Helper()
		c := must[engine.Call](t)(h.e.Call(ctx, id))
		if c.ParkSlot == "" {
			return // the resume took it out of the slot: consistent too
		}
		if c.State != engine.Held {
			t.Errorf("%s (returned %v): the call is %s while parked in slot %s", how, err, c.State, c.ParkSlot)
		}
		if _, err := h.e.Unpark(ctx, id, "carol", "c1"); err != nil {
			t.Errorf("unpark after %s: %v", how, err)
		}
	}
	t.Run("Resume by the parker", func(t *testing.T) {
		h, x := parked(t)
		_, err := h.e.Resume(ctx, x.ID, engine.Callee)
		check(t, h, x.ID, "Resume by the parking side", err)
	})
	t.Run("Swap", func(t *testing.T) {
		h, x := parked(t)
		_, err := h.e.Swap(ctx, "bob", x.ID, "")
		check(t, h, x.ID, "bob's Swap to the call he parked", err)
	})
	t.Run("transfer canceled", func(t *testing.T) {
		h := newHarness(t)
		x := h.connected()
		tr := must[engine.Transfer](t)(h.e.AttendedTransfer(ctx, engine.TransferRequest{Call: x.ID, Side: engine.Caller, To: "103"}))
		must[engine.Call](t)(h.e.Pause(ctx, x.ID, engine.Callee)) // bob parks the held call in his own slot
		_, err := h.e.CancelTransfer(ctx, tr.ID)
		h.waitCall(tr.Consult, engine.Ended)
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
			if got, _ := h.e.Transfer(ctx, tr.ID); got.Status.Done() {
				break // its last steps are taken
			}
		}
		check(t, h, x.ID, "canceling a transfer whose original call was paused", err)
	})
}

// A group that was removed could not be defined again: DefineGroup appended
// to the group's stream at version 0, but the stream had the removed
// group's events (journal version conflict, code conflict), before and after
// a restart (fixed in d2aabe1). Found by seed 115 at command #27, and 23
// more of seeds 1–300.
func TestPropertyFoundGroupDefinedAgainAfterRemove(t *testing.T) {
	h := newHarness(t)
	h.register("bob", "102", nil, "b1")
	spec := engine.GroupSpec{ID: "sales", Extensions: []string{"200"}, Members: []string{"bob"}}
	must[engine.Group](t)(h.e.DefineGroup(ctx, spec))
	if err := h.e.RemoveGroup(ctx, "sales"); err != nil {
		t.Fatal(err)
	}
	if g, err := h.e.DefineGroup(ctx, spec); err != nil {
		t.Errorf("define sales again after removing it: %v", err)
	} else if g.Version != 3 {
		t.Errorf("sales defined again at version %d, want 3", g.Version)
	}
	h.reopen()
	if _, err := h.e.Group(ctx, "sales"); err != nil {
		t.Errorf("sales after the restart: %v", err)
	}
}

// Click-to-call whose second party is the first party itself was accepted:
// when the first party answered, the engine placed a call from that client
// to itself (Dial refuses this with invalid_params; a transfer to a party
// already on the call is transfer_failed). The client was then both sides
// of one call: park it and the client's list of calls differed before and
// after a restart (fixed in d2aabe1). Seeds 59, 76, 168 and 181 of 1–300
// failed on it (their busy-index and restart checks).
func TestPropertyFoundClickToCallToItself(t *testing.T) {
	h := newHarness(t)
	h.register("alice", "101", []string{"+14155550101"}, "a1", "a2")
	for _, second := range []string{"101", "alice", "+14155550101"} {
		before := h.e.Journal().LastSeq()
		tr, err := h.e.ClickToCall(ctx, engine.ClickToCallRequest{First: "alice", Second: second})
		if err == nil {
			t.Errorf("click-to-call from alice to %q (alice herself) accepted: %+v", second, tr)
			continue
		}
		if code := errcode.CodeOf(err); code != errcode.InvalidParams && code != errcode.TransferFailed {
			t.Errorf("click-to-call from alice to %q: %v, want invalid_params or transfer_failed", second, err)
		}
		if n := h.e.Journal().LastSeq() - before; n != 0 {
			t.Errorf("refused click-to-call journaled %d events", n)
		}
	}
}

// A blind transfer to a registered client that cannot ring — it does not
// accept inbound calls (CL7) or has no device — "completed": the original
// call ended transferred and the new call ended failed at once, so the kept
// party was dropped (fixed in d2aabe1). BlindTransfer's doc says a target
// that cannot be reached is transfer_failed and nothing changes, and a
// transfer to a group whose members are all in that state was refused so.
// Not found by a seed: by reading transfers.go while writing the property
// test.
func TestFoundBlindTransferToAClientThatCannotRing(t *testing.T) {
	for _, how := range []string{"rejects inbound calls", "has no device"} {
		t.Run(how, func(t *testing.T) {
			h := newHarness(t)
			x := h.connected()
			if how == "rejects inbound calls" {
				must[engine.Client](t)(h.e.SetAcceptInbound(ctx, "carol", false))
			} else {
				must[engine.Client](t)(h.e.RemoveDevice(ctx, "carol", "c1"))
			}
			before := h.e.Journal().LastSeq()
			tr, err := h.e.BlindTransfer(ctx, engine.TransferRequest{Call: x.ID, Side: engine.Caller, To: "103"})
			if errcode.CodeOf(err) != errcode.TransferFailed {
				y, _ := h.e.Call(ctx, tr.NewCall)
				old, _ := h.e.Call(ctx, x.ID)
				t.Errorf("blind transfer to carol, who %s: transfer %s (err %v); alice's call %s %s, the new call %s %s",
					how, tr.Status, err, old.State, old.Reason, y.State, y.Reason)
			}
			if n := h.e.Journal().LastSeq() - before; n != 0 {
				t.Errorf("the refused transfer journaled %d events", n)
			}
		})
	}
}

// Swap to a call the client parked passes Swap's checks (the call is held
// by the client's side), so Swap holds the client's other calls, journaled,
// and only then is the resume refused (the call is parked): an error, and
// yet the client's other call is on hold. Swap's doc: nothing is changed
// when a check fails. Found by seed 715 at command #49, and 43 more of seeds
// 1–1500 (-engine.ops=300).
func TestPropertyFoundSwapToAParkedCall(t *testing.T) {
	h := newHarness(t)
	x := h.connected() // alice (a1) → bob (b1), answered
	h.register("dave", "104", nil, "d1")
	y := must[engine.Call](t)(h.e.Dial(ctx, engine.DialRequest{From: "dave", To: "102"}))
	must[engine.Call](t)(h.e.Answer(ctx, y.ID, "b1")) // bob talks to alice and to dave
	must[engine.Call](t)(h.e.Park(ctx, x.ID, engine.Callee, "1"))
	before := h.e.Journal().LastSeq()
	_, err := h.e.Swap(ctx, "bob", x.ID, "")
	if err == nil {
		return // a swap that unparks the call would be consistent too
	}
	if n := h.e.Journal().LastSeq() - before; n != 0 {
		t.Errorf("Swap refused (%v) but journaled %d events", err, n)
	}
	if y := must[engine.Call](t)(h.e.Call(ctx, y.ID)); y.State != engine.Connected {
		t.Errorf("Swap refused (%v) but bob's call with dave is %s", err, y.State)
	}
}

// A transfer's Transferor and Transferee are "the parties of the original
// call, as they were when the transfer started", but Open takes them from
// the original call as it is now: when the call was parked by the
// transferor and unparked by another client, the transfer's transferor
// changes across a restart. And once the transfer is over, GetTransfer
// reads it from the journal and both are empty (the doc says empty for a
// click-to-call). Found by seed 473 at command #40, and 11 more of seeds
// 1–1500 (-engine.ops=300); in some of them the transferee changes (the
// kept party parked the call and another client took it).
func TestPropertyFoundTransferPartiesAcrossRestart(t *testing.T) {
	h := newHarness(t)
	x := h.connected() // alice (a1) → bob (b1), answered
	h.register("dave", "104", nil, "d1")
	tr := must[engine.Transfer](t)(h.e.AttendedTransfer(ctx, engine.TransferRequest{Call: x.ID, Side: engine.Caller, To: "103"}))
	if tr.Transferor.Client != "bob" || tr.Transferee.Client != "alice" {
		t.Fatalf("transfer started with transferor %+v, transferee %+v", tr.Transferor, tr.Transferee)
	}
	must[engine.Call](t)(h.e.Park(ctx, x.ID, engine.Callee, "1")) // bob parks alice…
	must[engine.Call](t)(h.e.Unpark(ctx, x.ID, "dave", "d1"))     // …and dave takes her
	parties := func(when string) {
		t.Helper()
		got := must[engine.Transfer](t)(h.e.Transfer(ctx, tr.ID))
		if got.Transferor != tr.Transferor || got.Transferee != tr.Transferee {
			t.Errorf("%s (transfer %s): transferor %+v, transferee %+v; the transfer started with %+v and %+v",
				when, got.Status, got.Transferor, got.Transferee, tr.Transferor, tr.Transferee)
		}
	}
	parties("before the restart")
	h.reopen()
	parties("after the restart")
	must[engine.Transfer](t)(h.e.CancelTransfer(ctx, tr.ID))
	h.waitCall(tr.Consult, engine.Ended)
	parties("once it is over")
}

// knownTransferReason reports whether r is one of the documented
// TransferReason values (empty included).
func knownTransferReason(r engine.TransferReason) bool {
	switch r {
	case "", engine.TransferBusy, engine.TransferNoAnswer, engine.TransferRejected, engine.TransferCallFailed,
		engine.TransferInviteTimeout, engine.TransferTargetHungUp, engine.TransferFirstPartyHungUp,
		engine.TransferOriginalCallEnded, engine.TransferCallEndedFirst:
		return true
	}
	if _, ok := r.CallReason(); ok || r.ErrorCode() != "" {
		return true
	}
	_, ok := r.OriginalCallStatus()
	return ok
}
