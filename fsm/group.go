package fsm

import (
	"fmt"
	"slices"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
)

// Group is a group of clients that calls and transfers can target (T6).
type Group struct {
	ID      string
	Version uint64
	events.GroupDefined
	Last    string // the member a round-robin call went to last
	Removed bool
}

// Defined reports whether the group exists.
func (g *Group) Defined() bool { return g.Version > 0 && !g.Removed }

// CheckGroupDefined checks a group definition before it is journaled.
func CheckGroupDefined(e events.GroupDefined) error {
	if len(e.Members) == 0 {
		return errcode.New(errcode.MissingParameter, "a group needs members")
	}
	if e.Strategy != events.RingAll && e.Strategy != events.RoundRobin {
		return errcode.Newf(errcode.InvalidParams, "unknown group strategy %d", e.Strategy)
	}
	seen := map[string]bool{}
	for _, m := range e.Members {
		if m == "" || seen[m] {
			return errcode.Newf(errcode.InvalidParams, "member %q is empty or listed twice", m)
		}
		seen[m] = true
	}
	return nil
}

// ApplyGroup folds one event into the group.
func ApplyGroup(g *Group, ev events.Event, at int64) error {
	switch e := ev.(type) {
	case events.GroupDefined:
		g.GroupDefined = e
		g.GroupDefined.Members = slices.Clone(e.Members)
		g.Removed = false
		if !slices.Contains(e.Members, g.Last) {
			g.Last = ""
		}
	case events.GroupRemoved:
		if !g.Defined() {
			return fmt.Errorf("group %s: removed before it was defined", g.ID)
		}
		g.Removed = true
	case events.GroupMemberPicked:
		if !g.Defined() {
			return fmt.Errorf("group %s: member picked before it was defined", g.ID)
		}
		g.Last = e.Member
	default:
		return fmt.Errorf("group %s: %s is not a group event", g.ID, ev.Type())
	}
	g.Version++
	return nil
}

// NextMembers orders the members a call to the group tries: every member for
// ring-all; for round-robin, the members after the last one picked, wrapping
// around.
func (g *Group) NextMembers() []string {
	if g.Strategy != events.RoundRobin || g.Last == "" {
		return slices.Clone(g.Members)
	}
	i := slices.Index(g.Members, g.Last)
	out := append(slices.Clone(g.Members[i+1:]), g.Members[:i+1]...)
	return out
}
