package simulator

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/callengine/callengine/actors"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/fsm"
)

// stateOf prints the state of a call (by label) or a client (by id).
func (s *sim) stateOf(key string) (string, bool) {
	if id, ok := s.labels[key]; ok {
		c, err := s.eng.Call(s.ctx, id)
		if err != nil {
			return "error " + string(errcode.CodeOf(err)), false
		}
		return callState(&c), true
	}
	c, err := s.eng.Client(s.ctx, key)
	if errcode.CodeOf(err) == errcode.NotFound {
		// The engine serves registered clients only; the journal remembers
		// the ones that left.
		if f, ferr := actors.LoadClient(s.eng.Journal(), key); ferr == nil && f.Version > 0 {
			return string(fsm.ClientGone), true
		}
	}
	if err != nil {
		return "error " + string(errcode.CodeOf(err)), false
	}
	return clientState(&c, s.callsOf(key)), true
}

// callsOf labels the live calls of a client.
func (s *sim) callsOf(client string) []string {
	active, err := s.eng.ActiveCalls(s.ctx, client)
	if err != nil {
		return nil
	}
	var out []string
	for _, a := range active {
		out = append(out, s.labelOf(a.ID))
	}
	return out
}

// world prints everything the engine knows that the scenario can name, to
// compare the states before a crash and after the restore.
func (s *sim) world() []string {
	var out []string
	for _, l := range s.sortedLabels() {
		c, err := s.eng.Call(s.ctx, s.labels[l])
		if err != nil {
			out = append(out, fmt.Sprintf("call %s: error %s", l, errcode.CodeOf(err)))
			continue
		}
		out = append(out, fmt.Sprintf("call %s: %+v", l, c))
	}
	clients, err := s.eng.Clients(s.ctx)
	if err != nil {
		return append(out, "clients: error "+string(errcode.CodeOf(err)))
	}
	slices.SortFunc(clients, func(a, b engine.Client) int { return strings.Compare(a.ID, b.ID) })
	for _, c := range clients {
		calls := s.callsOf(c.ID)
		slices.Sort(calls)
		out = append(out, fmt.Sprintf("client %s: %+v calls=%v", c.ID, c, calls))
	}
	return out
}

// crash stops the engine as a crash would — nothing more is written — and
// opens a new one on the same journal. The far end lives on: its pending
// actions report to the new engine.
func (s *sim) crash() error {
	before := s.world()
	s.res.Crashes++
	s.eng.Close()
	e, err := engine.Open(s.ctx, s.cfg)
	if err != nil {
		// The engine cannot come back: nothing more can run.
		s.dead = true
		s.fail("invariant", "the engine cannot reopen its journal after the crash: %v", err)
		return nil
	}
	s.eng = e
	st := e.Restored()
	s.say("~ restored %d clients and %d live calls from the journal", st.Clients, st.Calls)
	if after := s.world(); !slices.Equal(before, after) {
		s.failDiff("invariant", diff(before, after, func(a, b string) bool { return a == b }),
			"the state after the restore differs from the state before the crash (- before, + after)")
	}
	return nil
}

// checkInvariants checks, after a step, what must always hold: the state
// the engine serves equals the fold of its journal, and a connected call
// has one answering device and no device still ringing.
func (s *sim) checkInvariants() {
	for _, l := range s.sortedLabels() {
		id := s.labels[l]
		if s.settled[id] {
			continue // checked once ended; any later event is caught by collect
		}
		c, err := s.eng.Call(s.ctx, id)
		if err != nil {
			s.fail("invariant", "call %s cannot be read: %v", l, err)
			continue
		}
		f, err := actors.LoadCall(s.eng.Journal(), id)
		if err != nil {
			s.fail("invariant", "call %s does not fold from the journal: %v", l, err)
			continue
		}
		if c.State != f.Status || c.Version != f.Version || c.AnsweredDevice != f.AnsweredDevice ||
			!slices.Equal(c.RingingDevices, f.Ringing) || c.HeldByCaller != f.HeldByCaller || c.HeldByCallee != f.HeldByCallee ||
			c.MutedCaller != f.MutedCaller || c.MutedCallee != f.MutedCallee {
			s.fail("invariant", "call %s: the engine serves %q (version %d) but the journal folds to %s version %d",
				l, callState(&c), c.Version, f.Status, f.Version)
		}
		s.settled[id] = c.State == engine.Ended && f.Status == engine.Ended
		if (c.State == engine.Connected || c.State == engine.Held) && c.Callee.Client != "" {
			if c.AnsweredDevice == "" || len(c.RingingDevices) > 0 {
				s.fail("invariant", "call %s is %s with answered device %q and ringing %v", l, c.State, c.AnsweredDevice, c.RingingDevices)
			}
		}
	}
	clients, err := s.eng.Clients(s.ctx)
	if err != nil {
		s.fail("invariant", "clients cannot be listed: %v", err)
		return
	}
	for _, c := range clients {
		f, err := actors.LoadClient(s.eng.Journal(), c.ID)
		if err != nil {
			s.fail("invariant", "client %s does not fold from the journal: %v", c.ID, err)
			continue
		}
		if c.State != f.Status && !(f.Status == "" && c.State == fsm.ClientGone) || c.Version != f.Version {
			s.fail("invariant", "client %s: the engine serves %s version %d but the journal folds to %s version %d",
				c.ID, c.State, c.Version, f.Status, f.Version)
		}
	}
}

// sortedLabels lists the scenario's call labels in order.
func (s *sim) sortedLabels() []string {
	return slices.Sorted(maps.Keys(s.labels))
}
