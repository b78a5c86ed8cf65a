package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

// MergeRequest names the two calls of a merge and the party of each that
// joins the conference (T4). The other party of Call and the other party of
// Other must be the same client: the host, who merges its two calls.
type MergeRequest struct {
	Call      string // the first call
	Side      Side   // the party of Call that joins
	Other     string // the second call
	OtherSide Side   // the party of Other that joins
}

// Conference is an audio conference of three parties made by Merge (T4).
type Conference struct {
	ID      string
	Host    Party    // the client that merged its two calls
	Parties []Party  // every party on a live call of the conference, the host first
	Calls   []string // the live calls of the conference, oldest first
}

// Merge joins two held calls of the same client into one conference of the
// three parties (T4). Either party of each call may be chosen; the parties
// not chosen must be the same client. Both calls are connected again, each
// with its Conference and Peer set. Hold is then not available on them.
//
// When one call of the conference ends, the conference has dropped to two
// parties: the other call leaves it (CallLeftConference) and is an ordinary
// two-party call again — it can be held, transferred, parked, recorded and
// merged, and its Conference and Peer are empty.
//
// Both calls are checked before anything is journaled, and merges run one at
// a time, so that a refused merge journals nothing. One race remains: a
// command from elsewhere (a resume, a hangup, a park) may reach the second
// call between the check and its join. The first call is then already in
// the conference: Merge returns the second call's refusal, and takes the
// first call out of the conference again (CallLeftConference), connected.
func (e *Engine) Merge(ctx context.Context, req MergeRequest) (Conference, error) {
	if err := e.checkOpen(); err != nil {
		return Conference{}, err
	}
	for _, id := range []string{req.Call, req.Other} {
		if err := e.authorizeCall(ctx, id, events.NoSide, "merge"); err != nil {
			return Conference{}, err
		}
	}
	if req.Call == "" || req.Other == "" {
		return Conference{}, errcode.New(errcode.MissingParameter, "merge needs two calls")
	}
	if req.Call == req.Other {
		return Conference{}, errcode.New(errcode.InvalidParams, "a call cannot be merged with itself")
	}
	if !req.Side.Valid() || !req.OtherSide.Valid() {
		return Conference{}, errcode.New(errcode.InvalidParams, "merge needs the side of each call (caller or callee)")
	}
	l := e.locks()
	l.merge.Lock()
	defer l.merge.Unlock()
	a, err := e.Call(ctx, req.Call)
	if err != nil {
		return Conference{}, err
	}
	b, err := e.Call(ctx, req.Other)
	if err != nil {
		return Conference{}, err
	}
	hostA, hostB := partyOf(&a, req.Side.Other()), partyOf(&b, req.OtherSide.Other())
	if hostA.Client == "" || hostA.Client != hostB.Client {
		return Conference{}, errcode.Newf(errcode.InvalidParams,
			"cannot merge: the %s of call %s (%s) and the %s of call %s (%s) are not the same client",
			req.Side.Other(), a.ID, describeParty(hostA), req.OtherSide.Other(), b.ID, describeParty(hostB))
	}
	if pa, pb := partyOf(&a, req.Side), partyOf(&b, req.OtherSide); pa.Client != "" && pa.Client == pb.Client {
		return Conference{}, errcode.Newf(errcode.InvalidParams, "cannot merge: client %s is the merged party of both calls", pa.Client)
	}
	for _, c := range []*Call{&a, &b} {
		if err := mergeable(c); err != nil {
			return Conference{}, err
		}
	}
	id := e.cfg.IDs.NewID()
	if err = e.command(ctx, a.ID, fsm.Join{Conference: id, Peer: b.ID}, &a); err != nil {
		return Conference{}, err
	}
	if err = e.command(ctx, b.ID, fsm.Join{Conference: id, Peer: a.ID}, &b); err != nil {
		if errcode.CodeOf(err) == "" {
			return Conference{}, err // the context's error
		}
		// The first call is alone in the conference: out of it again. If
		// it ended meanwhile, there is nothing to undo.
		var left Call
		_ = e.command(context.WithoutCancel(ctx), a.ID, fsm.LeaveConference{Peer: b.ID}, &left)
		return Conference{}, errcode.Wrap(errcode.CodeOf(err), err,
			fmt.Sprintf("call %s joined conference %s, but call %s did not", a.ID, id, b.ID))
	}
	return conferenceOf(id, []Call{a, b}, hostA.Client), nil
}

// mergeable mirrors fsm's checks of Join, so that Merge refuses before the
// first join rather than after it.
func mergeable(c *Call) error {
	switch {
	case !c.State.Live():
		return errcode.Newf(errcode.InvalidState, "cannot merge: call %s has ended", c.ID)
	case c.State != Held:
		return errcode.Newf(errcode.InvalidState, "cannot merge: call %s is %s, not held", c.ID, c.State)
	case c.ParkSlot != "" || c.Conference != "":
		return errcode.Newf(errcode.InvalidState, "cannot merge: call %s is parked or already in a conference", c.ID)
	}
	return nil
}

func describeParty(p Party) string {
	if p.Client != "" {
		return "client " + p.Client
	}
	return "external " + p.Number
}

// Conference returns a conference made by Merge from its live calls. It is
// not_found once none of them lives.
func (e *Engine) Conference(ctx context.Context, id string) (Conference, error) {
	if err := e.checkOpen(); err != nil {
		return Conference{}, err
	}
	if id == "" {
		return Conference{}, errcode.New(errcode.MissingParameter, "conference id is empty")
	}
	calls, err := e.liveCallViews(ctx, func(c *Call) bool { return c.Conference == id })
	if err != nil {
		return Conference{}, err
	}
	if len(calls) == 0 {
		return Conference{}, errcode.Newf(errcode.NotFound, "no live call is in conference %s", id)
	}
	// The host is the client on both calls; with one call left, its peer
	// (ended, read from the journal) tells which.
	both := calls
	if len(calls) == 1 {
		peer, err := e.Call(ctx, calls[0].Peer)
		if err != nil {
			return Conference{}, err
		}
		both = []Call{calls[0], peer}
	}
	return conferenceOf(id, calls, hostOf(both)), nil
}

// hostOf returns the client that is a party of both calls.
func hostOf(calls []Call) string {
	if len(calls) < 2 {
		return ""
	}
	for _, p := range []Party{calls[0].Caller, calls[0].Callee} {
		if p.Client != "" && calls[1].SideOf(p.Client) != 0 {
			return p.Client
		}
	}
	return ""
}

// conferenceOf builds a conference from its live calls and its host.
func conferenceOf(id string, calls []Call, host string) Conference {
	calls = slices.Clone(calls)
	slices.SortFunc(calls, func(a, b Call) int {
		if c := a.SetupAt.Compare(b.SetupAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	conf := Conference{ID: id}
	for i := range calls {
		c := &calls[i]
		conf.Calls = append(conf.Calls, c.ID)
		hs := c.SideOf(host)
		if conf.Host.Client == "" && hs != 0 {
			conf.Host = partyOf(c, hs)
		}
	}
	conf.Parties = append(conf.Parties, conf.Host)
	for i := range calls {
		c := &calls[i]
		conf.Parties = append(conf.Parties, partyOf(c, c.SideOf(host).Other()))
	}
	return conf
}
