package engine

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/internal/actors"
	"github.com/callengine/callengine/internal/aggregate"
)

// ClientSpec describes a client to register (CL1, CL2, CL7).
type ClientSpec struct {
	ID         string
	Name       string
	Numbers    []string // E.164, unique across clients
	Extensions []string // 2–6 digits, unique across clients
	Devices    []Device
	// RejectInbound makes the client never receive inbound calls (the SDKs'
	// acceptInboundCalls=false). The zero value accepts them.
	RejectInbound bool
	// Permissions the client holds, e.g. events.PermissionRecord to start
	// and stop recordings (C11). Unknown permissions are refused.
	Permissions []string
	// Password lets the client log in over the network (Login, M2). The
	// journal keeps a salted hash of it (ClientPasswordSet), never the
	// password; "" sets none.
	Password string
}

// Can reports whether the client holds permission p (for example
// events.PermissionRecord).
func (c Client) Can(p string) bool {
	return c.State == fsm.ClientActive && slices.Contains(c.Permissions, p)
}

// RegisterClient registers a client, or registers again one that was
// unregistered. Its numbers and extensions must not belong to another client.
func (e *Engine) RegisterClient(ctx context.Context, spec ClientSpec) (Client, error) {
	if err := e.checkOpen(); err != nil {
		return Client{}, err
	}
	if err := e.authorizeAdmin(ctx, "register clients"); err != nil {
		return Client{}, err
	}
	if strings.TrimSpace(spec.ID) == "" || strings.ContainsAny(spec.ID, "/\x00") {
		return Client{}, errcode.New(errcode.InvalidParams, "a client needs an id without '/'")
	}
	e.regMu.Lock()
	defer e.regMu.Unlock()
	for _, v := range append(slices.Clone(spec.Numbers), spec.Extensions...) {
		key := v
		if n, ok := fsm.NormalizeNumber(v); ok {
			key = n
		}
		if other := e.dir.owner(key, spec.ID); other != "" {
			return Client{}, errcode.Newf(errcode.AlreadyExists, "%s already belongs to client %s", v, other)
		}
		if g := e.router().findGroup(key); g != nil && g.ID != key {
			return Client{}, errcode.Newf(errcode.AlreadyExists, "%s already belongs to group %s", v, g.ID)
		}
	}
	password, err := e.passwordCommand(spec.ID, spec.Password)
	if err != nil {
		return Client{}, err
	}
	c, err := e.clientCommand(ctx, spec.ID, true, fsm.Register{
		Name: spec.Name, Numbers: spec.Numbers, Extensions: spec.Extensions,
		Devices: spec.Devices, AcceptInbound: !spec.RejectInbound, Permissions: spec.Permissions,
	})
	if err != nil || password.Hash == "" {
		return c, err
	}
	return e.clientCommand(ctx, spec.ID, false, password)
}

// UnregisterClient unregisters a client. Its live calls go on.
func (e *Engine) UnregisterClient(ctx context.Context, id string) (Client, error) {
	if err := e.authorizeAdmin(ctx, "unregister clients"); err != nil {
		return Client{}, err
	}
	return e.clientCommand(ctx, id, false, fsm.Unregister{})
}

// AddDevice adds a device to a client (CL2).
func (e *Engine) AddDevice(ctx context.Context, clientID string, d Device) (Client, error) {
	if err := e.authorizeClient(ctx, clientID); err != nil {
		return Client{}, err
	}
	return e.clientCommand(ctx, clientID, false, fsm.AddDevice{Device: d})
}

// RemoveDevice removes a device from a client.
func (e *Engine) RemoveDevice(ctx context.Context, clientID, deviceID string) (Client, error) {
	if err := e.authorizeClient(ctx, clientID); err != nil {
		return Client{}, err
	}
	return e.clientCommand(ctx, clientID, false, fsm.RemoveDevice{ID: deviceID})
}

// SetVoicemail switches a client's voicemail box on or off (C7). maxLength
// bounds one message; 0 means two minutes. A call to the client that it
// declines, or that rings out, then goes to the box; so does every call
// while it takes no inbound calls.
func (e *Engine) SetVoicemail(ctx context.Context, clientID string, enabled bool, maxLength time.Duration) (Client, error) {
	if err := e.authorizeClient(ctx, clientID); err != nil {
		return Client{}, err
	}
	return e.clientCommand(ctx, clientID, false, fsm.SetVoicemail{Enabled: enabled, MaxLength: int64(maxLength)})
}

// SetAcceptInbound sets whether a client receives inbound calls (CL7).
func (e *Engine) SetAcceptInbound(ctx context.Context, clientID string, accept bool) (Client, error) {
	if err := e.authorizeClient(ctx, clientID); err != nil {
		return Client{}, err
	}
	c := e.dir.get(clientID)
	name := ""
	if c != nil {
		name = c.Name
	}
	return e.clientCommand(ctx, clientID, false, fsm.Update{Name: name, AcceptInbound: accept})
}

// Client returns a client by id.
func (e *Engine) Client(ctx context.Context, id string) (Client, error) {
	if err := e.checkOpen(); err != nil {
		return Client{}, err
	}
	c := e.dir.get(id)
	if c == nil || !c.Registered() {
		return Client{}, errcode.Newf(errcode.NotFound, "no client %s is registered", id)
	}
	return e.viewClient(c), nil
}

// Clients returns every registered client, ordered by id.
func (e *Engine) Clients(ctx context.Context) ([]Client, error) {
	if err := e.checkOpen(); err != nil {
		return nil, err
	}
	var out []Client
	for _, c := range e.dir.list() {
		if c.Registered() {
			out = append(out, e.viewClient(c))
		}
	}
	slices.SortFunc(out, func(a, b Client) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (e *Engine) clientCommand(ctx context.Context, id string, create bool, cmd fsm.ClientCommand) (Client, error) {
	if err := e.checkOpen(); err != nil {
		return Client{}, err
	}
	pid := e.dir.pid(id)
	if pid == nil {
		if !create {
			return Client{}, errcode.Newf(errcode.NotFound, "no client %s", id)
		}
		c, err := aggregate.LoadClient(e.journal, id) // an unregistered client's stream may exist
		if err != nil {
			return Client{}, err
		}
		if err := e.startClient(&c); err != nil {
			return Client{}, err
		}
		pid = e.dir.pid(id)
	}
	req := &actors.ClientRequest{Ctx: ctx, Command: cmd, Reply: make(chan actors.ClientResult, 1)}
	e.root.Send(pid, req)
	var r actors.ClientResult
	if !await(ctx, req.Reply, &r) {
		return Client{}, ctx.Err()
	}
	if r.Err != nil {
		e.logRefused(ctx, commandName(cmd), id, r.Err)
		return Client{}, r.Err
	}
	return e.viewClient(&r.State), nil
}
