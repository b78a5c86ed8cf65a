package simulator

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/internal/aggregate"
	"github.com/callengine/callengine/journal"
)

// stateOf prints the state of a call (by label), a transfer (by label), a
// text message (by label), a session (by label), a group (by id), the
// callpark, the directory, or a client (by id).
func (s *sim) stateOf(key string) (string, bool) {
	if id, ok := s.labels[key]; ok {
		c, err := s.eng.Call(s.ctx, id)
		if err != nil {
			return "error " + string(errcode.CodeOf(err)), false
		}
		return s.callState(&c), true
	}
	if id, ok := s.transfers.byName[key]; ok {
		t, err := s.eng.Transfer(s.ctx, id)
		if err != nil {
			return "error " + string(errcode.CodeOf(err)), false
		}
		return s.transferState(&t), true
	}
	if id, ok := s.msgs.byName[key]; ok {
		m, err := s.eng.Message(s.ctx, id)
		if err != nil {
			return "error " + string(errcode.CodeOf(err)), false
		}
		return messageState(&m), true
	}
	if id, ok := s.sessions.byName[key]; ok {
		return s.stateOfSession(key, id)
	}
	if key == directoryKey {
		page, err := s.eng.Directory(s.ctx, engine.DirectoryQuery{Limit: 1000})
		if err != nil {
			return "error " + string(errcode.CodeOf(err)), false
		}
		return directoryState(page), true
	}
	if key == callparkKey {
		parked, err := s.eng.ParkedCalls(s.ctx)
		if err != nil {
			return "error " + string(errcode.CodeOf(err)), false
		}
		return s.callparkState(parked), true
	}
	if _, ok := s.groupIDs[key]; ok {
		g, err := s.eng.Group(s.ctx, key)
		if errcode.CodeOf(err) == errcode.NotFound {
			if f, ferr := loadGroup(s.eng.Journal(), key); ferr == nil && f.Version > 0 {
				return "removed", true
			}
		}
		if err != nil {
			return "error " + string(errcode.CodeOf(err)), false
		}
		return groupState(&g), true
	}
	c, err := s.eng.Client(s.ctx, key)
	if errcode.CodeOf(err) == errcode.NotFound {
		// The engine serves registered clients only; the journal remembers
		// the ones that left.
		if f, ferr := aggregate.LoadClient(s.eng.Journal(), key); ferr == nil && f.Version > 0 {
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
	for _, l := range s.transfers.sorted() {
		t, err := s.eng.Transfer(s.ctx, s.transfers.byName[l])
		if err != nil {
			out = append(out, fmt.Sprintf("transfer %s: error %s", l, errcode.CodeOf(err)))
			continue
		}
		out = append(out, fmt.Sprintf("transfer %s: %+v", l, t))
	}
	for _, l := range s.msgs.sorted() {
		m, err := s.eng.Message(s.ctx, s.msgs.byName[l])
		if err != nil {
			out = append(out, fmt.Sprintf("message %s: error %s", l, errcode.CodeOf(err)))
			continue
		}
		out = append(out, fmt.Sprintf("message %s: %+v", l, m))
	}
	if groups, err := s.eng.Groups(s.ctx); err != nil {
		out = append(out, "groups: error "+string(errcode.CodeOf(err)))
	} else {
		for _, g := range groups {
			out = append(out, fmt.Sprintf("group %s: %+v", g.ID, g))
		}
	}
	if parked, err := s.eng.ParkedCalls(s.ctx); err != nil {
		out = append(out, "callpark: error "+string(errcode.CodeOf(err)))
	} else {
		out = append(out, "callpark: "+s.callparkState(parked))
	}
	out = append(out, s.sessionWorld()...)
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
	s.drain() // what the sessions heard before the crash
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
	if n := s.liveSessions(); n > 0 {
		s.say("~ restored %d clients, %d live calls and %d live sessions from the journal", st.Clients, st.Calls, n)
	} else {
		s.say("~ restored %d clients and %d live calls from the journal", st.Clients, st.Calls)
	}
	s.follows = map[string]*engine.Subscription{}
	s.refollow() // the connections subscribe again
	if after := s.world(); !slices.Equal(before, after) {
		s.failDiff("invariant", diff(before, after, func(a, b string) bool { return a == b }),
			"the state after the restore differs from the state before the crash (- before, + after)")
	}
	return nil
}

// checkInvariants checks, after a step, what must always hold: the state
// the engine serves for every call, client, transfer, group, message and
// session equals the fold of its journal stream; a connected call has one
// answering device and no device still ringing; a call in voicemail is
// before its box's deadline and off its callee's list; every client's list
// of live calls and its presence are what the journal says.
func (s *sim) checkInvariants() {
	live := map[string]*fsm.Call{} // live calls, folded from the journal
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
		f, err := aggregate.LoadCall(s.eng.Journal(), id)
		if err != nil {
			s.fail("invariant", "call %s does not fold from the journal: %v", l, err)
			continue
		}
		if c.State != f.Status || c.Version != f.Version || c.AnsweredDevice != f.AnsweredDevice ||
			!slices.Equal(c.RingingDevices, f.Ringing) || c.HeldByCaller != f.HeldByCaller || c.HeldByCallee != f.HeldByCallee ||
			c.MutedCaller != f.MutedCaller || c.MutedCallee != f.MutedCallee ||
			c.Caller != f.Caller || c.Callee != f.Callee || c.CallerDevice != f.CallerDevice ||
			c.ParkSlot != f.ParkSlot || c.ParkedSide != f.ParkedSide || c.Conference != f.Conference || c.Peer != f.Peer ||
			c.Recording != f.Recording || c.RecordingRef != f.RecordingRef || c.Digits != f.Digits ||
			c.Transfer != f.Transfer || c.Group != f.Group || c.CallerLeg != f.CallerLeg || c.CalleeLeg != f.CalleeLeg ||
			c.InVoicemail != f.InVoicemail() || !c.VoicemailAt.Equal(timeOf(f.VoicemailAt)) || int64(c.VoicemailLength) != f.VoicemailLength {
			s.fail("invariant", "call %s: the engine serves %q (version %d) but the journal folds to %s version %d",
				l, s.callState(&c), c.Version, f.Status, f.Version)
		}
		s.settled[id] = c.State == engine.Ended && f.Status == engine.Ended
		if (c.State == engine.Connected || c.State == engine.Held) && (c.Callee.Client != "" || c.Group != "") && !c.InVoicemail {
			// A parked call has left the parking party's device; a client
			// may take a parked call without naming a device.
			if c.AnsweredDevice == "" && c.ParkSlot == "" && !s.unparked[id] || len(c.RingingDevices) > 0 {
				s.fail("invariant", "call %s is %s with answered device %q and ringing %v", l, c.State, c.AnsweredDevice, c.RingingDevices)
			}
		}
		if f.InVoicemail() {
			if !timeOf(f.VoicemailDeadline).After(s.clock.Now()) {
				s.fail("invariant", "call %s is still in voicemail at %s, past its box's deadline %s: the box's timer did not fire",
					l, offset(s.now()), offset(timeOf(f.VoicemailDeadline).Sub(s.p.start)))
			}
			if c.AnsweredDevice != "" || len(c.RingingDevices) > 0 {
				s.fail("invariant", "call %s is in voicemail with answered device %q and ringing %v", l, c.AnsweredDevice, c.RingingDevices)
			}
		}
		if f.Status.Live() {
			live[id] = &f
		}
	}
	s.checkTransfers()
	s.checkMessages()
	s.checkGroups()
	clients, err := s.eng.Clients(s.ctx)
	if err != nil {
		s.fail("invariant", "clients cannot be listed: %v", err)
		return
	}
	onCalls := s.expectedCalls(live)
	for _, c := range clients {
		f, err := aggregate.LoadClient(s.eng.Journal(), c.ID)
		if err != nil {
			s.fail("invariant", "client %s does not fold from the journal: %v", c.ID, err)
			continue
		}
		if c.State != f.Status && !(f.Status == "" && c.State == fsm.ClientGone) || c.Version != f.Version ||
			!slices.Equal(c.Permissions, f.Permissions) || c.SetPresence != f.SetPresence() || c.Activity != f.Activity ||
			c.Voicemail != f.Voicemail || int64(c.VoicemailMax) != f.VoicemailMax {
			s.fail("invariant", "client %s: the engine serves %s version %d but the journal folds to %s version %d",
				c.ID, c.State, c.Version, f.Status, f.Version)
		}
		s.checkClientCalls(&c, &f, onCalls[c.ID])
	}
	s.checkDirectory(clients)
	s.checkSessions(clients)
}

// expectedCalls says, from the journal, which live calls each client is on:
// both parties of a call, but the party that parked it (it left) and the
// callee of a call in voicemail (the caller talks to its box), and every
// member a ring-all group call rings.
func (s *sim) expectedCalls(live map[string]*fsm.Call) map[string][]string {
	on := map[string][]string{}
	add := func(client, id string) {
		if client != "" && !slices.Contains(on[client], id) {
			on[client] = append(on[client], id)
		}
	}
	for id, f := range live {
		for _, side := range []events.Side{events.Caller, events.Callee} {
			if f.ParkSlot != "" && side == f.ParkedSide.Other() || side == events.Callee && f.InVoicemail() {
				continue
			}
			add(f.Party(side).Client, id)
		}
		if f.Status == fsm.Ringing {
			for _, m := range f.RangMembers {
				add(m, id)
			}
		}
	}
	for _, ids := range on {
		slices.Sort(ids)
	}
	return on
}

// checkClientCalls checks a client's list of live calls (C13) against the
// journal — a call in voicemail is not its callee's — and the presence
// others see (CL8): busy exactly when the client set itself available and
// is on a live call, otherwise what it set.
func (s *sim) checkClientCalls(c *engine.Client, f *fsm.Client, want []string) {
	calls, err := s.eng.Calls(s.ctx, c.ID)
	if err != nil {
		s.fail("invariant", "the calls of %s cannot be listed: %v", c.ID, err)
		return
	}
	got := make([]string, len(calls))
	for i := range calls {
		got[i] = calls[i].ID
		if calls[i].InVoicemail && calls[i].Callee.Client == c.ID {
			s.fail("invariant", "call %s is in voicemail but its callee %s still has it among its calls", s.labelOf(calls[i].ID), c.ID)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		s.fail("invariant", "client %s: the engine lists the calls %v but the journal says %v",
			c.ID, s.callLabelList(got), s.callLabelList(want))
	}
	if p := f.EffectivePresence(len(want) > 0); c.Presence != p {
		s.fail("invariant", "client %s shows %s to others, want %s (it set %s and is on %d calls)",
			c.ID, c.Presence, p, f.SetPresence(), len(want))
	}
}

func (s *sim) callLabelList(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = s.labelOf(id)
	}
	return out
}

// checkDirectory checks that the directory (CL9) lists every registered
// client with the presence it shows others.
func (s *sim) checkDirectory(clients []engine.Client) {
	page, err := s.eng.Directory(s.ctx, engine.DirectoryQuery{Limit: 1000})
	if err != nil {
		s.fail("invariant", "the directory cannot be listed: %v", err)
		return
	}
	shown := map[string]events.Presence{}
	for _, e := range page.Entries {
		shown[e.ID] = e.Presence
	}
	if page.Total != len(clients) || len(shown) != len(clients) {
		s.fail("invariant", "the directory lists %d clients (total %d), the engine serves %d", len(shown), page.Total, len(clients))
	}
	for _, c := range clients {
		if p, ok := shown[c.ID]; ok && p != c.Presence {
			s.fail("invariant", "the directory shows %s %s, the client shows %s", c.ID, p, c.Presence)
		}
	}
}

// checkTransfers compares every transfer the engine serves with the fold of
// its stream.
func (s *sim) checkTransfers() {
	for _, l := range s.transfers.sorted() {
		id := s.transfers.byName[l]
		if s.settled[id] {
			continue
		}
		t, err := s.eng.Transfer(s.ctx, id)
		if err != nil {
			s.fail("invariant", "transfer %s cannot be read: %v", l, err)
			continue
		}
		f, err := aggregate.LoadTransfer(s.eng.Journal(), id)
		if err != nil {
			s.fail("invariant", "transfer %s does not fold from the journal: %v", l, err)
			continue
		}
		if t.Status != f.Status || t.Version != f.Version || string(t.Reason) != f.Reason || t.Kind != f.Kind ||
			t.Call != f.Call || t.Kept != f.Kept || t.Consult != f.Consult || t.NewCall != f.NewCall ||
			t.Target != f.Target || t.Group != f.Group || !t.Deadline.Equal(timeOf(f.Deadline)) {
			s.fail("invariant", "transfer %s: the engine serves %q (version %d) but the journal folds to %s version %d",
				l, s.transferState(&t), t.Version, f.Status, f.Version)
		}
		s.settled[id] = t.Status.Done() && f.Status.Done()
	}
}

// timeOf reads an engine-clock time (Unix ns) as the engine's views do: 0
// is the zero time.
func timeOf(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// checkMessages compares every text message the engine serves with the
// fold of its stream.
func (s *sim) checkMessages() {
	for _, l := range s.msgs.sorted() {
		id := s.msgs.byName[l]
		if s.settled[id] {
			continue
		}
		m, err := s.eng.Message(s.ctx, id)
		if err != nil {
			s.fail("invariant", "message %s cannot be read: %v", l, err)
			continue
		}
		f, err := loadMessage(s.eng.Journal(), id)
		if err != nil {
			s.fail("invariant", "message %s does not fold from the journal: %v", l, err)
			continue
		}
		if m.Status != f.Status || m.Reason != f.Reason || m.From != f.From || m.To != f.To || m.Text != f.Text {
			s.fail("invariant", "message %s: the engine serves %q but the journal folds to %s", l, messageState(&m), f.Status)
		}
		s.settled[id] = m.Status != fsm.MessagePending && f.Status != fsm.MessagePending
	}
}

// checkGroups compares the groups the engine serves with the folds of the
// group streams: the same groups, each with the same definition and the
// same last round-robin pick.
func (s *sim) checkGroups() {
	groups, err := s.eng.Groups(s.ctx)
	if err != nil {
		s.fail("invariant", "groups cannot be listed: %v", err)
		return
	}
	served := map[string]engine.Group{}
	for _, g := range groups {
		served[g.ID] = g
		s.groupIDs[g.ID] = struct{}{}
	}
	for _, id := range sortedKeys(s.groupIDs) {
		f, err := loadGroup(s.eng.Journal(), id)
		if err != nil {
			s.fail("invariant", "group %s does not fold from the journal: %v", id, err)
			continue
		}
		g, ok := served[id]
		switch {
		case !ok && f.Defined():
			s.fail("invariant", "group %s: the engine does not serve it but the journal folds to it (version %d)", id, f.Version)
		case ok && (!f.Defined() || g.Version != f.Version || g.Last != f.Last || g.Strategy != f.Strategy ||
			!slices.Equal(g.Members, f.Members) || !slices.Equal(g.Extensions, f.Extensions) || !slices.Equal(g.Numbers, f.Numbers)):
			s.fail("invariant", "group %s: the engine serves %q (version %d) but the journal folds to version %d (last %q)",
				id, groupState(&g), g.Version, f.Version, f.Last)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// loadGroup folds a group's stream from the journal.
func loadGroup(j *journal.Journal, id string) (fsm.Group, error) {
	g := fsm.Group{ID: id}
	err := j.ReadStream(engine.GroupStreamPrefix+id, 1, func(r journal.Record) error {
		env := events.Envelope{Seq: r.Seq, Stream: r.Stream, Version: r.Version}
		if err := events.DecodeBody(r.Data, &env); err != nil {
			return err
		}
		return fsm.ApplyGroup(&g, env.Event, env.Time)
	})
	return g, err
}

// loadMessage folds a text message's stream from the journal.
func loadMessage(j *journal.Journal, id string) (fsm.Message, error) {
	m := fsm.Message{ID: id}
	err := j.ReadStream(engine.MessageStreamPrefix+id, 1, func(r journal.Record) error {
		env := events.Envelope{Seq: r.Seq, Stream: r.Stream, Version: r.Version}
		if err := events.DecodeBody(r.Data, &env); err != nil {
			return err
		}
		return fsm.ApplyMessage(&m, env.Event, env.Time)
	})
	return m, err
}
