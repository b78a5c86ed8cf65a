package server

import (
	"context"
	"fmt"
	"slices"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

// Provisioned tells what Provision did, by client or group id.
type Provisioned struct {
	Registered, Updated, Unchanged []string // clients
	Defined, Redefined, Same       []string // groups
}

func (p Provisioned) String() string {
	return fmt.Sprintf("clients: %d registered, %d updated, %d unchanged; groups: %d defined, %d redefined, %d unchanged",
		len(p.Registered), len(p.Updated), len(p.Unchanged), len(p.Defined), len(p.Redefined), len(p.Same))
}

// clientSpec is the engine's view of a configured client.
func clientSpec(c Client) engine.ClientSpec {
	spec := engine.ClientSpec{
		ID: c.ID, Name: c.Name, Numbers: slices.Clone(c.Numbers),
		Extensions: slices.Clone(c.Extensions), Permissions: slices.Clone(c.Permissions),
	}
	spec.Password = c.Password // the journal keeps a salted hash (ClientPasswordSet)
	return spec
}

// echoSpec is the echo-test client: one device, named as the client, whose
// empty kind says it is no network device (it is not counted as connected).
func echoSpec(e Echo) engine.ClientSpec {
	return engine.ClientSpec{
		ID: e.Client, Name: "Echo test", Extensions: []string{e.Extension},
		Devices: []engine.Device{{ID: e.Client}},
	}
}

// Provision registers the configured clients (and the echo client) and
// defines the configured groups, idempotently: what is missing is
// registered, what differs from the configuration is registered again, what
// matches is left alone — a second start with the same file journals
// nothing. Clients and groups that are not in the configuration are left
// as they are (they stay in the journal).
//
// A client whose numbers, extensions, permissions or name changed is
// unregistered and registered again (the engine has no command that changes
// them in place): its tokens and sessions end, its live calls go on, its
// devices are kept.
func Provision(ctx context.Context, e *engine.Engine, c Config) (Provisioned, error) {
	var specs []engine.ClientSpec
	if !c.Echo.Disabled {
		specs = append(specs, echoSpec(c.Echo))
	}
	for _, cl := range c.Clients {
		specs = append(specs, clientSpec(cl))
	}
	var p Provisioned
	// First unregister every client that changed, so that a number or
	// extension that moves from one client to another is free when the
	// other registers.
	var todo []engine.ClientSpec
	for _, spec := range specs {
		cur, err := e.Client(ctx, spec.ID)
		switch {
		case errcode.CodeOf(err) == errcode.NotFound:
			todo = append(todo, spec)
			p.Registered = append(p.Registered, spec.ID)
		case err != nil:
			return p, fmt.Errorf("client %s: %w", spec.ID, err)
		case sameClient(cur, spec):
			p.Unchanged = append(p.Unchanged, spec.ID)
		default:
			if len(spec.Devices) == 0 {
				spec.Devices = cur.Devices
			}
			if _, err := e.UnregisterClient(ctx, spec.ID); err != nil {
				return p, fmt.Errorf("client %s: unregister to apply the changed configuration: %w", spec.ID, err)
			}
			todo = append(todo, spec)
			p.Updated = append(p.Updated, spec.ID)
		}
	}
	for _, spec := range todo {
		if _, err := e.RegisterClient(ctx, spec); err != nil {
			return p, fmt.Errorf("client %s: %w", spec.ID, err)
		}
	}
	// A client that did not change otherwise may have a new password (or
	// none): SetPassword journals only a change.
	for _, spec := range specs {
		if slices.Contains(p.Unchanged, spec.ID) {
			if _, err := e.SetPassword(ctx, spec.ID, spec.Password); err != nil {
				return p, fmt.Errorf("client %s: set the password: %w", spec.ID, err)
			}
		}
	}
	for _, g := range c.Groups {
		spec := engine.GroupSpec{
			ID: g.ID, Name: g.Name, Extensions: slices.Clone(g.Extensions), Numbers: normalized(g.Numbers),
			Members: slices.Clone(g.Members), Strategy: engine.RingAll,
		}
		if g.Strategy != "" {
			s, ok := events.ParseStrategy(g.Strategy)
			if !ok {
				return p, fmt.Errorf("group %s: strategy %q is not ring-all or round-robin", g.ID, g.Strategy)
			}
			spec.Strategy = s
		}
		cur, err := e.Group(ctx, g.ID)
		switch {
		case errcode.CodeOf(err) == errcode.NotFound:
			p.Defined = append(p.Defined, g.ID)
		case err != nil:
			return p, fmt.Errorf("group %s: %w", g.ID, err)
		case sameGroup(cur, spec):
			p.Same = append(p.Same, g.ID)
			continue
		default:
			p.Redefined = append(p.Redefined, g.ID)
		}
		if _, err := e.DefineGroup(ctx, spec); err != nil {
			return p, fmt.Errorf("group %s: %w", g.ID, err)
		}
	}
	return p, nil
}

// sameClient reports whether the registered client cur already is what
// spec asks for. Devices are not compared: adapters add and remove them.
func sameClient(cur engine.Client, spec engine.ClientSpec) bool {
	if spec.Devices != nil && !slices.EqualFunc(cur.Devices, spec.Devices, func(a, b engine.Device) bool { return a.ID == b.ID && a.Kind == b.Kind }) {
		return false
	}
	return cur.Name == spec.Name && cur.AcceptInbound == !spec.RejectInbound &&
		sameSet(cur.Numbers, normalized(spec.Numbers)) && sameSet(cur.Extensions, spec.Extensions) &&
		sameSet(cur.Permissions, spec.Permissions)
}

func sameGroup(cur engine.Group, spec engine.GroupSpec) bool {
	return cur.Name == spec.Name && cur.Strategy == spec.Strategy && sameSet(cur.Extensions, spec.Extensions) &&
		sameSet(cur.Numbers, spec.Numbers) && slices.Equal(cur.Members, spec.Members) // members: round-robin order
}

func normalized(numbers []string) []string {
	var out []string
	for _, n := range numbers {
		if m, ok := fsm.NormalizeNumber(n); ok {
			n = m
		}
		out = append(out, n)
	}
	return out
}

// sameSet compares two lists as sets.
func sameSet(a, b []string) bool {
	a, b = slices.Compact(slices.Sorted(slices.Values(a))), slices.Compact(slices.Sorted(slices.Values(b)))
	return slices.Equal(a, b)
}
