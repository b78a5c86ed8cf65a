package simulator

import (
	"context"
	"time"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
)

// register registers the client, by the operator: "alice register [ext N]…
// [number N]… [device D]… [name NAME] [permission P]…". Without extensions,
// numbers, devices or a name, it registers the client as the scenario
// last knew it.
type register struct {
	client string
	spec   ClientSpec // what the command says
}

func parseRegister(a *args) (command, error) {
	c := &register{client: a.who}
	return c, a.options(listOption("ext", &c.spec.Extensions), listOption("number", &c.spec.Numbers),
		listOption("device", &c.spec.Devices), textOption("name", &c.spec.Name), listOption("permission", &c.spec.Permissions))
}

func (c *register) run(s *sim) error {
	spec, known := s.clients[c.client]
	if !known || len(c.spec.Extensions)+len(c.spec.Numbers)+len(c.spec.Devices) > 0 || c.spec.Name != "" {
		spec = ClientSpec{ID: c.client, Name: c.spec.Name, Extensions: c.spec.Extensions, Numbers: c.spec.Numbers, Devices: c.spec.Devices}
	}
	if len(c.spec.Permissions) > 0 {
		spec.Permissions = c.spec.Permissions
	}
	_, err := s.eng.RegisterClient(s.ctx, clientSpec(spec))
	if err == nil {
		s.clients[c.client] = spec
	}
	return err
}

// clientAction is a client's command on itself that changes how it is
// reached: unregister, add-device, remove-device, accept-inbound,
// presence, voicemail.
type clientAction struct {
	client string
	do     func(e *engine.Engine, ctx context.Context, client string) (engine.Client, error)
}

func (c clientAction) run(s *sim) error {
	_, err := c.do(s.eng, s.ctx, c.client)
	return err
}

// "alice unregister", by the operator.
func parseUnregister(a *args) (command, error) {
	if len(a.rest) != 0 {
		return nil, a.bad("unregister takes nothing")
	}
	return clientAction{client: a.who, do: (*engine.Engine).UnregisterClient}, nil
}

// "alice add-device alice-mobile".
func parseAddDevice(a *args) (command, error) {
	if len(a.rest) != 1 {
		return nil, a.bad("%s takes one device", a.verb)
	}
	device := engine.Device{ID: a.rest[0], Kind: "sim"}
	return clientAction{client: a.who, do: func(e *engine.Engine, ctx context.Context, client string) (engine.Client, error) {
		return e.AddDevice(ctx, client, device)
	}}, nil
}

// "alice remove-device alice-mobile".
func parseRemoveDevice(a *args) (command, error) {
	if len(a.rest) != 1 {
		return nil, a.bad("%s takes one device", a.verb)
	}
	device := a.rest[0]
	return clientAction{client: a.who, do: func(e *engine.Engine, ctx context.Context, client string) (engine.Client, error) {
		return e.RemoveDevice(ctx, client, device)
	}}, nil
}

// "bob connect bob-tab-1 [kind webrtc]": a device arrives over the network
// (a browser logs in, a phone registers); it rings while it is connected.
// The kind is webrtc unless given.
func parseConnect(a *args) (command, error) {
	if len(a.rest) != 1 && (len(a.rest) != 3 || a.rest[1] != "kind") {
		return nil, a.bad("expected connect <device> [kind <kind>]")
	}
	device := engine.Device{ID: a.rest[0], Kind: "webrtc"}
	if len(a.rest) == 3 {
		device.Kind = a.rest[2]
	}
	return clientAction{client: a.who, do: func(e *engine.Engine, ctx context.Context, client string) (engine.Client, error) {
		return e.ConnectDevice(ctx, client, device)
	}}, nil
}

// "bob disconnect bob-tab-1": the device left the network.
func parseDisconnect(a *args) (command, error) {
	if len(a.rest) != 1 {
		return nil, a.bad("%s takes one device", a.verb)
	}
	device := a.rest[0]
	return clientAction{client: a.who, do: func(e *engine.Engine, ctx context.Context, client string) (engine.Client, error) {
		return e.DisconnectDevice(ctx, client, device)
	}}, nil
}

// "alice password "correct horse"": the client sets its password for
// network logins; "alice password none" removes it.
func parsePassword(a *args) (command, error) {
	if len(a.rest) != 1 {
		return nil, a.bad("expected password <password> or password none")
	}
	password := a.rest[0]
	if password == "none" {
		password = ""
	}
	return clientAction{client: a.who, do: func(e *engine.Engine, ctx context.Context, client string) (engine.Client, error) {
		return e.SetPassword(ctx, client, password)
	}}, nil
}

// "alice accept-inbound on|off".
func parseAcceptInbound(a *args) (command, error) {
	if len(a.rest) != 1 || (a.rest[0] != "on" && a.rest[0] != "off") {
		return nil, a.bad("accept-inbound takes on or off")
	}
	accept := a.rest[0] == "on"
	return clientAction{client: a.who, do: func(e *engine.Engine, ctx context.Context, client string) (engine.Client, error) {
		return e.SetAcceptInbound(ctx, client, accept)
	}}, nil
}

// "alice presence available|busy|away|offline ["activity"]".
func parsePresence(a *args) (command, error) {
	if len(a.rest) == 0 || len(a.rest) > 2 {
		return nil, a.bad("expected presence available|busy|away|offline [\"activity\"]")
	}
	p, ok := events.ParsePresence(a.rest[0])
	if !ok {
		return nil, a.bad("presence %q: want available, busy, away or offline", a.rest[0])
	}
	activity := ""
	if len(a.rest) == 2 {
		activity = a.rest[1]
	}
	return clientAction{client: a.who, do: func(e *engine.Engine, ctx context.Context, client string) (engine.Client, error) {
		return e.SetPresence(ctx, client, p, activity)
	}}, nil
}

// "alice voicemail on [max D]", "alice voicemail off".
func parseVoicemail(a *args) (command, error) {
	if len(a.rest) == 0 || (a.rest[0] != "on" && a.rest[0] != "off") {
		return nil, a.bad("expected voicemail on [max <duration>] or voicemail off")
	}
	on := a.rest[0] == "on"
	a.rest = a.rest[1:]
	var maxLength time.Duration // 0: the engine's default
	if on {
		if err := a.options(durationOption("max", &maxLength)); err != nil {
			return nil, err
		}
	} else if len(a.rest) > 0 {
		return nil, a.bad("voicemail off takes nothing more")
	}
	return clientAction{client: a.who, do: func(e *engine.Engine, ctx context.Context, client string) (engine.Client, error) {
		return e.SetVoicemail(ctx, client, on, maxLength)
	}}, nil
}

// login has the operator issue the client's tokens: "alice login [as
// supervisor]"; or the client logs in with its password: "alice login
// password P".
type login struct {
	client string
	role   engine.Role
	// withPassword: "alice login password P" logs in with the client's
	// password (engine.Login) instead of having tokens issued.
	password     string
	withPassword bool
}

func parseLogin(a *args) (command, error) {
	c := login{client: a.who, role: engine.RoleAgent}
	switch {
	case len(a.rest) == 0:
	case len(a.rest) == 2 && a.rest[0] == "as" && a.rest[1] == "supervisor":
		c.role = engine.RoleSupervisor
	case len(a.rest) == 2 && a.rest[0] == "password":
		c.password, c.withPassword = a.rest[1], true
	default:
		return nil, a.bad("expected login [as supervisor] or login password <password>")
	}
	return c, nil
}

func (c login) run(s *sim) error {
	if s.tokens == nil {
		return errTokensOff()
	}
	var t engine.Tokens
	var err error
	if c.withPassword {
		t, err = s.eng.Login(s.ctx, c.client, c.password)
	} else {
		t, err = s.eng.IssueTokens(s.ctx, c.client, c.role)
	}
	if err == nil {
		s.tokens[c.client] = t
	}
	return err
}

// refresh exchanges the client's refresh token for new tokens: "alice
// refresh".
type refresh struct {
	client string
}

func parseRefresh(a *args) (command, error) {
	if len(a.rest) != 0 {
		return nil, a.bad("refresh takes nothing")
	}
	return refresh{client: a.who}, nil
}

func (c refresh) run(s *sim) error {
	if s.tokens == nil {
		return errTokensOff()
	}
	t, err := s.eng.RefreshTokens(s.ctx, s.tokens[c.client].Refresh)
	if err == nil {
		s.tokens[c.client] = t
	}
	return err
}

// errTokensOff refuses login and refresh in a scenario without tokens.
func errTokensOff() error {
	return errcode.New(errcode.Unavailable, "tokens are off in this scenario (tokens:)")
}
