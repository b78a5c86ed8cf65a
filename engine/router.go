package engine

import (
	"slices"
	"strings"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

// router decides where a call goes before anything is journaled: from a
// parsed destination to the client of the engine it addresses, a group, or
// a party outside (nil); which group members are available; which number a
// call presents; what a transfer target names. It reads the directory, the
// live calls and the groups, and journals nothing.
type router struct {
	dir     *directory
	live    *liveCalls
	groups  *groups
	numbers []string // the organisation's numbers (Config.Numbers in E.164)
	domain  string   // Config.Domain: sip: URIs at it address clients
	adapter Adapter  // Config.Adapter: nil when nothing reaches a party outside
}

// router returns the engine's router: a value made from the engine's fields
// on each use, without allocating, so that it needs no setting up in Open.
func (e *Engine) router() router {
	return router{dir: e.dir, live: e.live, groups: &e.groups, numbers: e.orgNumbers, domain: e.cfg.Domain, adapter: e.cfg.Adapter}
}

// route finds the client a destination addresses, or nil for a party outside
// the engine. An extension that no client has is not_found.
func (r router) route(d fsm.Destination) (*fsm.Client, error) {
	var c *fsm.Client
	switch d.Kind {
	case fsm.DestExtension:
		if c = r.dir.byExtension(d.Number); c == nil {
			return nil, errcode.Newf(errcode.NotFound, "no client has extension %s", d.Number)
		}
	case fsm.DestE164, fsm.DestTelURI:
		c = r.dir.byNumber(d.Number)
	case fsm.DestSIPURI:
		if r.domain != "" && strings.EqualFold(d.Hostname(), r.domain) {
			if c = r.dir.byExtension(d.Number); c == nil {
				if c = r.dir.byNumber(d.Number); c == nil {
					if c = r.dir.get(d.Number); c == nil || !c.Registered() {
						return nil, errcode.Newf(errcode.NotFound, "no client %s at %s", d.Number, d.Host)
					}
				}
			}
		}
	}
	return c, nil
}

// findGroup is groups.byAddress under the lock: a copy of the group, or nil.
func (r router) findGroup(a string) *fsm.Group {
	r.groups.mu.Lock()
	defer r.groups.mu.Unlock()
	if g := r.groups.byAddress(a); g != nil {
		cp := *g
		return &cp
	}
	return nil
}

// callerID picks the number a call presents: the requested one if the
// organisation owns it, else the caller's first number; a client without a
// number presents its extension inside the organisation and the
// organisation's first number outside it.
func (r router) callerID(c *fsm.Client, want string, outbound bool) (string, error) {
	if want == "" {
		if len(c.Numbers) > 0 {
			return c.Numbers[0], nil
		}
		if outbound && len(r.numbers) > 0 {
			return r.numbers[0], nil
		}
		if len(c.Extensions) > 0 {
			return c.Extensions[0], nil
		}
		return c.ID, nil
	}
	n, ok := fsm.NormalizeNumber(want)
	if !ok {
		return "", errcode.Newf(errcode.InvalidParams, "caller id %q is not an E.164 number", want)
	}
	if slices.Contains(r.numbers, n) || r.dir.byNumber(n) != nil {
		return n, nil
	}
	return "", errcode.Newf(errcode.Forbidden, "caller id %s is not a number of the organisation", n)
}

// ringableDevices lists the devices an inbound call rings: none for a client
// that does not accept inbound calls (CL7).
func ringableDevices(c *fsm.Client) []string {
	if !c.AcceptInbound {
		return nil
	}
	return c.DeviceIDs()
}

// available reports whether a member can take a call now: registered,
// accepting inbound calls, with a device, not away or offline by its own
// presence (CL8), and on no other call.
func (r router) available(member string) (*fsm.Client, bool) {
	c := r.dir.get(member)
	if c == nil || !c.Registered() || len(ringableDevices(c)) == 0 {
		return nil, false
	}
	if p := c.SetPresence(); p == events.PresenceAway || p == events.PresenceOffline {
		return nil, false
	}
	return c, len(r.live.callsOf(member)) == 0
}

// groupAvailable says whether a call to g would ring anyone now.
func (r router) groupAvailable(g *fsm.Group) error {
	for _, m := range g.Members {
		if _, ok := r.available(m); ok {
			return nil
		}
	}
	return errcode.Newf(errcode.Unavailable, "no member of group %s is available", g.ID)
}

// resolveTarget finds what a transfer target names: a registered client (by
// id or address), a group, or a number outside. Anything else is
// transfer_failed, with the cause's code inside.
func (r router) resolveTarget(to string) (events.Party, string, string, error) {
	failed := func(err error) (events.Party, string, string, error) {
		return events.Party{}, "", "", errcode.Wrap(errcode.TransferFailed, err, "transfer failed")
	}
	reachable := func(c *fsm.Client) error {
		if len(ringableDevices(c)) == 0 {
			return errcode.Newf(errcode.Unavailable, "client %s cannot take a call now (no device, or not accepting calls)", c.ID)
		}
		return nil
	}
	if c := r.dir.get(to); c != nil {
		if !c.Registered() {
			return failed(errcode.Newf(errcode.NotFound, "client %s is not registered", c.ID))
		}
		if err := reachable(c); err != nil {
			return failed(err)
		}
		return clientParty(c), "", to, nil
	}
	if g := r.findGroup(to); g != nil {
		if err := r.groupAvailable(g); err != nil {
			return failed(err)
		}
		return events.Party{Number: firstOf(g.Extensions, g.Numbers, to), Name: g.Name}, g.ID, to, nil
	}
	dest, err := parseDestination(to)
	if err != nil {
		return failed(err)
	}
	if g := r.findGroup(dest.Number); g != nil && dest.Kind != fsm.DestSIPURI {
		if err := r.groupAvailable(g); err != nil {
			return failed(err)
		}
		return events.Party{Number: dest.Number, Name: g.Name}, g.ID, to, nil
	}
	c, err := r.route(dest)
	if err != nil {
		return failed(err)
	}
	if c != nil {
		if !c.Registered() {
			return failed(errcode.Newf(errcode.NotFound, "client %s is not registered", c.ID))
		}
		if err := reachable(c); err != nil {
			return failed(err)
		}
		p := clientParty(c)
		p.Number = dest.Number
		return p, "", to, nil
	}
	if r.adapter == nil {
		return failed(errcode.Newf(errcode.Unavailable, "no adapter reaches %s", to))
	}
	number := dest.Number
	if dest.Kind == fsm.DestSIPURI {
		number = dest.Scheme + ":" + dest.Number + "@" + dest.Host
	}
	return events.Party{Number: number}, "", to, nil
}

// parseDestination is fsm.ParseDestination for a target that is neither a
// client id nor a group id: its message says that these were looked for too.
func parseDestination(to string) (fsm.Destination, error) {
	d, err := fsm.ParseDestination(to)
	if t := strings.TrimSpace(to); err != nil && errcode.CodeOf(err) == errcode.InvalidParams && !strings.HasPrefix(t, "+") && !strings.Contains(t, ":") {
		return d, errcode.Newf(errcode.InvalidParams, "destination %q is no client or group, nor an E.164 number, an extension, a SIP URI or a TEL URI", to)
	}
	return d, err
}

func clientParty(c *fsm.Client) events.Party {
	return events.Party{Client: c.ID, Number: firstOf(c.Numbers, c.Extensions, ""), Name: c.Name}
}

func firstOf(a, b []string, def string) string {
	if len(a) > 0 {
		return a[0]
	}
	if len(b) > 0 {
		return b[0]
	}
	return def
}
