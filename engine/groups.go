package engine

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/internal/aggregate"
)

// GroupStreamPrefix is the stream prefix of groups in the journal.
const GroupStreamPrefix = events.GroupStreamPrefix

// Strategy is how a call to a group picks whom it rings (T6).
type Strategy = events.Strategy

// The group strategies.
const (
	RingAll    = events.RingAll
	RoundRobin = events.RoundRobin
)

// GroupSpec defines a group of clients.
type GroupSpec struct {
	ID         string
	Name       string
	Extensions []string // extensions that reach the group
	Numbers    []string // E.164 numbers that reach the group
	Members    []string // client ids, in round-robin order
	Strategy   Strategy // zero: RingAll
}

// Group is a group as the engine keeps it.
type Group struct {
	ID         string
	Name       string
	Extensions []string
	Numbers    []string
	Members    []string
	Strategy   Strategy
	Last       string // the member the last round-robin call went to
	Version    uint64
}

type groups struct {
	mu   sync.Mutex // serialises definitions and round-robin picks
	byID map[string]*fsm.Group
}

func groupView(g *fsm.Group) Group {
	return Group{
		ID: g.ID, Name: g.Name, Extensions: slices.Clone(g.Extensions), Numbers: slices.Clone(g.Numbers),
		Members: slices.Clone(g.Members), Strategy: g.Strategy, Last: g.Last, Version: g.Version,
	}
}

// DefineGroup creates a group or redefines it. Its extensions and numbers
// must not belong to a client or another group; members need not be
// registered yet (an unregistered member is skipped as offline).
func (e *Engine) DefineGroup(ctx context.Context, spec GroupSpec) (Group, error) {
	if err := e.checkOpen(); err != nil {
		return Group{}, err
	}
	if err := e.authorizeAdmin(ctx, "define groups"); err != nil {
		return Group{}, err
	}
	if spec.ID == "" || strings.ContainsAny(spec.ID, "/ ") {
		return Group{}, errcode.Newf(errcode.InvalidParams, "group id %q must be non-empty, without '/' or spaces", spec.ID)
	}
	if spec.Strategy == 0 {
		spec.Strategy = RingAll
	}
	ev := events.GroupDefined{Name: spec.Name, Extensions: slices.Clone(spec.Extensions), Members: slices.Clone(spec.Members), Strategy: spec.Strategy}
	for _, n := range spec.Numbers {
		num, ok := fsm.NormalizeNumber(n)
		if !ok {
			return Group{}, errcode.Newf(errcode.InvalidParams, "group number %q is not E.164", n)
		}
		ev.Numbers = append(ev.Numbers, num)
	}
	if err := fsm.CheckGroupDefined(ev); err != nil {
		return Group{}, err
	}
	e.regMu.Lock()
	defer e.regMu.Unlock()
	e.groups.mu.Lock()
	defer e.groups.mu.Unlock()
	for _, x := range ev.Extensions {
		if e.dir.byExtension(x) != nil {
			return Group{}, errcode.Newf(errcode.AlreadyExists, "extension %s belongs to a client", x)
		}
		if g := e.groups.byAddress(x); g != nil && g.ID != spec.ID {
			return Group{}, errcode.Newf(errcode.AlreadyExists, "extension %s belongs to group %s", x, g.ID)
		}
	}
	for _, n := range ev.Numbers {
		if e.dir.byNumber(n) != nil {
			return Group{}, errcode.Newf(errcode.AlreadyExists, "number %s belongs to a client", n)
		}
		if g := e.groups.byAddress(n); g != nil && g.ID != spec.ID {
			return Group{}, errcode.Newf(errcode.AlreadyExists, "number %s belongs to group %s", n, g.ID)
		}
	}
	g := e.groups.byID[spec.ID]
	if g == nil {
		// A group removed earlier keeps its stream: go on from its version.
		var err error
		if g, err = e.loadGroup(spec.ID); err != nil {
			return Group{}, err
		}
	}
	next, err := e.appendGroup(ctx, g, ev)
	if err != nil {
		return Group{}, err
	}
	e.groups.byID[spec.ID] = next
	return groupView(next), nil
}

// RemoveGroup removes a group; calls already ringing its members go on.
func (e *Engine) RemoveGroup(ctx context.Context, id string) error {
	if err := e.checkOpen(); err != nil {
		return err
	}
	if err := e.authorizeAdmin(ctx, "remove groups"); err != nil {
		return err
	}
	e.groups.mu.Lock()
	defer e.groups.mu.Unlock()
	g := e.groups.byID[id]
	if g == nil || !g.Defined() {
		return errcode.Newf(errcode.NotFound, "no group %s", id)
	}
	if _, err := e.appendGroup(ctx, g, events.GroupRemoved{}); err != nil {
		return err
	}
	delete(e.groups.byID, id)
	return nil
}

// Group returns one group.
func (e *Engine) Group(ctx context.Context, id string) (Group, error) {
	if err := e.checkOpen(); err != nil {
		return Group{}, err
	}
	e.groups.mu.Lock()
	defer e.groups.mu.Unlock()
	g := e.groups.byID[id]
	if g == nil {
		return Group{}, errcode.Newf(errcode.NotFound, "no group %s", id)
	}
	return groupView(g), nil
}

// Groups lists the groups by id.
func (e *Engine) Groups(ctx context.Context) ([]Group, error) {
	if err := e.checkOpen(); err != nil {
		return nil, err
	}
	e.groups.mu.Lock()
	defer e.groups.mu.Unlock()
	out := make([]Group, 0, len(e.groups.byID))
	for _, g := range e.groups.byID {
		out = append(out, groupView(g))
	}
	slices.SortFunc(out, func(a, b Group) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// appendGroup journals ev on g's stream and returns the folded group. The
// caller holds e.groups.mu.
func (e *Engine) appendGroup(ctx context.Context, g *fsm.Group, ev events.Event) (*fsm.Group, error) {
	next := *g
	changes, err := aggregate.Groups.Commit(ctx, e.journal, events.GroupStream(g.ID), &next, []events.Event{ev}, e.now())
	if err != nil {
		return nil, err
	}
	if e.observed() {
		view := groupView(&next)
		for _, ch := range changes {
			e.emit(&Event{Envelope: ch.Envelope, Group: &view})
		}
	}
	return &next, nil
}

// byAddress finds a group by id, extension or number. The caller holds
// gs.mu.
func (gs *groups) byAddress(a string) *fsm.Group {
	if g := gs.byID[a]; g != nil {
		return g
	}
	for _, g := range gs.byID {
		if slices.Contains(g.Extensions, a) || slices.Contains(g.Numbers, a) {
			return g
		}
	}
	return nil
}

// routeGroup fills cmd for a call to group id: ring-all rings every
// available member's devices ("member/device"); round-robin rings the next
// available member and journals the pick. No available member is
// unavailable.
func (e *Engine) routeGroup(ctx context.Context, id, callID string, cmd *fsm.Dial, skip ...string) error {
	e.groups.mu.Lock()
	defer e.groups.mu.Unlock()
	g := e.groups.byID[id]
	if g == nil || !g.Defined() {
		return errcode.Newf(errcode.NotFound, "no group %s", id)
	}
	cmd.Group = g.ID
	cmd.RingTimeout = e.cfg.RingTimeout
	var devices []string
	for _, m := range g.NextMembers() {
		if slices.Contains(skip, m) {
			continue
		}
		c, ok := e.router().available(m)
		if !ok {
			continue
		}
		if g.Strategy == RoundRobin {
			next, err := e.appendGroup(ctx, g, events.GroupMemberPicked{Member: m, Call: callID})
			if err != nil {
				return err
			}
			e.groups.byID[id] = next
			cmd.Callee = events.Party{Client: c.ID, Number: cmd.Callee.Number, Name: c.Name}
			cmd.Devices = ringableDevices(c)
			return nil
		}
		for _, d := range ringableDevices(c) {
			devices = append(devices, c.ID+"/"+d)
		}
	}
	if len(devices) == 0 {
		return errcode.Newf(errcode.Unavailable, "no member of group %s is available", id)
	}
	cmd.Callee = events.Party{Number: cmd.Callee.Number, Name: g.Name}
	cmd.Devices = devices
	return nil
}

// ringNext is the ring timer of a round-robin group call whose member did
// not answer within the ring time (T6): the next available member after
// the group's last pick — not one the call rang already, nor its caller —
// is picked (GroupMemberPicked, as for a new call) and the call moves on to
// it (fsm.RingNext). Nil when the call is not such a call or nobody is
// left: the ring timeout then ends it.
func (e *Engine) ringNext(c *fsm.Call) fsm.CallCommand {
	if !c.RoundRobin() || c.InVoicemail() {
		return nil
	}
	e.groups.mu.Lock()
	defer e.groups.mu.Unlock()
	g := e.groups.byID[c.Group]
	if g == nil || !g.Defined() || g.Strategy != RoundRobin {
		return nil
	}
	for _, m := range g.NextMembers() {
		if m == c.Callee.Client || m == c.Caller.Client || slices.Contains(c.Tried, m) {
			continue
		}
		cl, ok := e.router().available(m)
		if !ok {
			continue
		}
		next, err := e.appendGroup(context.Background(), g, events.GroupMemberPicked{Member: m, Call: c.ID})
		if err != nil {
			e.cfg.Logger.Error("round-robin: the pick of the next member was not journaled; the call ends no-answer",
				slog.String("call", c.ID), slog.String("group", g.ID), slog.String("error", err.Error()))
			return nil
		}
		e.groups.byID[g.ID] = next
		return fsm.RingNext{Member: m, Devices: ringableDevices(cl), Timeout: e.cfg.RingTimeout}
	}
	return nil
}

// restoreGroups folds every live group stream.
func (e *Engine) restoreGroups(ids []string) error {
	for _, id := range ids {
		g, err := e.loadGroup(id)
		if err != nil {
			return err
		}
		if g.Defined() {
			e.groups.byID[id] = g
		}
	}
	return nil
}

// loadGroup folds a group's stream from the journal (version 0 for a group
// never defined).
func (e *Engine) loadGroup(id string) (*fsm.Group, error) {
	g, err := aggregate.Groups.Load(e.journal, id)
	if err != nil {
		return nil, err
	}
	return &g, nil
}
