package fsm

import (
	"fmt"
	"slices"
	"strings"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
)

// ClientStatus is the state of a client.
type ClientStatus string

const (
	ClientUnknown ClientStatus = "unknown"
	ClientActive  ClientStatus = "registered"
	ClientGone    ClientStatus = "unregistered"
)

// Client is the state of one client (agent, softphone user). Its zero value is
// a client that was never registered.
type Client struct {
	ID            string
	Version       uint64
	Status        ClientStatus // "" is read as ClientUnknown
	Name          string
	Numbers       []string // E.164
	Extensions    []string
	Devices       []events.Device
	AcceptInbound bool
	RegisteredAt  int64
	// Generation is the stream version of the client's current
	// registration: it changes with every registration, even two at the
	// same instant. Tokens are bound to it (CL3).
	Generation  int64
	Permissions []string // e.g. events.PermissionRecord, in registration order

	// Presence and Activity are what the client set (CL8); NoPresence
	// reads as available. The presence others see is derived from this and
	// the client's calls: see EffectivePresence.
	Presence events.Presence
	Activity string
	// Voicemail is whether the client has a voicemail box, and
	// VoicemailMax the longest message it takes (C7): 0 without a box, so
	// it is what a call to the client carries as its voicemail limit.
	Voicemail    bool
	VoicemailMax int64 // ns

	// PasswordHash is the salted hash of the client's password for a
	// network login (M2), "" when it has none; DigestRealm and DigestHA1
	// are its SIP digest credentials (M3). A new registration starts
	// without them.
	PasswordHash, DigestRealm, DigestHA1 string
}

// MaxPasswordHash bounds the stored hash of a password.
const MaxPasswordHash = 256

// DefaultVoicemailMax is the longest voicemail message when a box is set up
// without a limit.
const DefaultVoicemailMax = int64(2 * 60 * 1e9)

// SetPresence is the presence the client set, available when never set.
func (c *Client) SetPresence() events.Presence {
	if c.Presence == events.NoPresence {
		return events.PresenceAvailable
	}
	return c.Presence
}

// EffectivePresence is the presence others see (CL8): offline for a client
// that is not registered; busy while the client is on a call (onCall) and
// has set itself available; otherwise what it set.
func (c *Client) EffectivePresence(onCall bool) events.Presence {
	if !c.Registered() {
		return events.PresenceOffline
	}
	p := c.SetPresence()
	if onCall && p == events.PresenceAvailable {
		return events.PresenceBusy
	}
	return p
}

func (c *Client) status() ClientStatus {
	if c.Status == "" {
		return ClientUnknown
	}
	return c.Status
}

// Registered reports whether the client is registered.
func (c *Client) Registered() bool { return c.Status == ClientActive }

// Can reports whether the client is registered and holds permission p.
func (c *Client) Can(p string) bool { return c.Registered() && slices.Contains(c.Permissions, p) }

// KnownPermissions lists the permissions a client may be registered with.
var KnownPermissions = []string{events.PermissionRecord}

// Device returns the device with the given id.
func (c *Client) Device(id string) (events.Device, bool) {
	for _, d := range c.Devices {
		if d.ID == id {
			return d, true
		}
	}
	return events.Device{}, false
}

// DeviceIDs lists the ids of the client's devices, in registration order.
func (c *Client) DeviceIDs() []string {
	ids := make([]string, len(c.Devices))
	for i, d := range c.Devices {
		ids[i] = d.ID
	}
	return ids
}

// Clone returns a deep copy.
func (c *Client) Clone() Client {
	cp := *c
	cp.Numbers = slices.Clone(c.Numbers)
	cp.Extensions = slices.Clone(c.Extensions)
	cp.Devices = slices.Clone(c.Devices)
	cp.Permissions = slices.Clone(c.Permissions)
	return cp
}

// ClientCommand is a command addressed to one client.
type ClientCommand interface{ clientCommand() }

// Register registers the client (FEATURES CL1, CL2, CL7). Numbers must be
// E.164, extensions 2 to 6 digits; device ids must be unique; permissions
// must be among KnownPermissions (C11). Uniqueness of numbers and extensions
// across clients is the directory's business (engine/), which checks it
// before the command reaches here.
type Register struct {
	Name          string
	Numbers       []string
	Extensions    []string
	Devices       []events.Device
	AcceptInbound bool
	Permissions   []string
}

// Unregister removes the client; its stream ends.
type Unregister struct{}

// AddDevice adds a device to a registered client.
type AddDevice struct{ Device events.Device }

// RemoveDevice removes a device from a registered client.
type RemoveDevice struct{ ID string }

// Update changes the client's settings.
type Update struct {
	Name          string
	AcceptInbound bool
}

// SetPresence sets the client's presence and activity text (CL8).
type SetPresence struct {
	Presence events.Presence
	Activity string
}

// SetVoicemail switches the client's voicemail box on or off (C7);
// MaxLength 0 means DefaultVoicemailMax.
type SetVoicemail struct {
	Enabled   bool
	MaxLength int64 // ns
}

// SetPassword sets the hashes of the client's password, or clears them
// with "" (M2, M3). Hashing is the shell's business (engine/): the machine
// sees only the hashes.
type SetPassword struct{ Hash, Realm, DigestHA1 string }

// DeleteHistory removes calls from the client's call history (H1). That
// they are in it is the history's business (engine/), checked before.
type DeleteHistory struct{ Calls []string }

// MarkVoicemailHeard marks voicemail messages, named by their calls, heard.
type MarkVoicemailHeard struct{ Calls []string }

// DeleteVoicemail deletes voicemail messages, named by their calls.
type DeleteVoicemail struct{ Calls []string }

func (SetPresence) clientCommand()        {}
func (SetPassword) clientCommand()        {}
func (SetVoicemail) clientCommand()       {}
func (DeleteHistory) clientCommand()      {}
func (MarkVoicemailHeard) clientCommand() {}
func (DeleteVoicemail) clientCommand()    {}

func (Register) clientCommand()     {}
func (Unregister) clientCommand()   {}
func (AddDevice) clientCommand()    {}
func (RemoveDevice) clientCommand() {}
func (Update) clientCommand()       {}

func clientInvalid(c *Client, what string) error {
	if c.status() != ClientActive {
		return errcode.Newf(errcode.NotFound, "cannot %s: client %s is not registered", what, c.ID)
	}
	return errcode.Newf(errcode.InvalidState, "cannot %s: client %s is %s", what, c.ID, c.status())
}

func validDevice(d events.Device) error {
	if strings.TrimSpace(d.ID) == "" {
		return errcode.New(errcode.MissingParameter, "a device needs an id")
	}
	return nil
}

// DecideClient turns a client command into events, or an error.
func DecideClient(c *Client, cmd ClientCommand, now int64) ([]events.Event, error) {
	switch cmd := cmd.(type) {
	case Register:
		if !ClientMachine.can(string(c.status()), evRegister) {
			return nil, errcode.Newf(errcode.AlreadyExists, "client %s is already registered", c.ID)
		}
		ev := events.ClientRegistered{Name: cmd.Name, AcceptInbound: cmd.AcceptInbound}
		for _, n := range cmd.Numbers {
			num, ok := NormalizeNumber(n)
			if !ok {
				return nil, errcode.Newf(errcode.InvalidParams, "number %q is not E.164", n)
			}
			if !slices.Contains(ev.Numbers, num) {
				ev.Numbers = append(ev.Numbers, num)
			}
		}
		for _, x := range cmd.Extensions {
			if !ValidExtension(x) {
				return nil, errcode.Newf(errcode.InvalidParams, "extension %q is not 2 to 6 digits", x)
			}
			if !slices.Contains(ev.Extensions, x) {
				ev.Extensions = append(ev.Extensions, x)
			}
		}
		for _, d := range cmd.Devices {
			if err := validDevice(d); err != nil {
				return nil, err
			}
			if slices.ContainsFunc(ev.Devices, func(o events.Device) bool { return o.ID == d.ID }) {
				return nil, errcode.Newf(errcode.InvalidParams, "device %q listed twice", d.ID)
			}
			ev.Devices = append(ev.Devices, d)
		}
		for _, p := range cmd.Permissions {
			if !slices.Contains(KnownPermissions, p) {
				return nil, errcode.Newf(errcode.InvalidParams, "unknown permission %q (known: %s)", p, strings.Join(KnownPermissions, ", "))
			}
			if !slices.Contains(ev.Permissions, p) {
				ev.Permissions = append(ev.Permissions, p)
			}
		}
		return []events.Event{ev}, nil
	case Unregister:
		if !ClientMachine.can(string(c.status()), evUnregister) {
			return nil, clientInvalid(c, "unregister")
		}
		return []events.Event{events.ClientUnregistered{}}, nil
	case AddDevice:
		if c.status() != ClientActive {
			return nil, clientInvalid(c, "add a device")
		}
		if err := validDevice(cmd.Device); err != nil {
			return nil, err
		}
		if _, ok := c.Device(cmd.Device.ID); ok {
			return nil, errcode.Newf(errcode.AlreadyExists, "client %s already has device %q", c.ID, cmd.Device.ID)
		}
		return []events.Event{events.DeviceAdded{Device: cmd.Device}}, nil
	case RemoveDevice:
		if c.status() != ClientActive {
			return nil, clientInvalid(c, "remove a device")
		}
		if _, ok := c.Device(cmd.ID); !ok {
			return nil, errcode.Newf(errcode.NotFound, "client %s has no device %q", c.ID, cmd.ID)
		}
		return []events.Event{events.DeviceRemoved{ID: cmd.ID}}, nil
	case Update:
		if c.status() != ClientActive {
			return nil, clientInvalid(c, "update")
		}
		if cmd.Name == c.Name && cmd.AcceptInbound == c.AcceptInbound {
			return nil, nil // nothing changes, nothing is journaled
		}
		return []events.Event{events.ClientUpdated{Name: cmd.Name, AcceptInbound: cmd.AcceptInbound}}, nil
	case SetPresence:
		if c.status() != ClientActive {
			return nil, clientInvalid(c, "set presence")
		}
		if !cmd.Presence.Valid() {
			return nil, errcode.Newf(errcode.InvalidParams, "presence must be available, busy, away or offline, not %d", cmd.Presence)
		}
		if len(cmd.Activity) > MaxActivity {
			return nil, errcode.Newf(errcode.InvalidParams, "activity text is longer than %d bytes", MaxActivity)
		}
		if cmd.Presence == c.SetPresence() && cmd.Activity == c.Activity {
			return nil, nil
		}
		return []events.Event{events.ClientPresenceSet{Presence: cmd.Presence, Activity: cmd.Activity}}, nil
	case SetPassword:
		if c.status() != ClientActive {
			return nil, clientInvalid(c, "set a password")
		}
		if len(cmd.Hash)+len(cmd.Realm)+len(cmd.DigestHA1) > MaxPasswordHash {
			return nil, errcode.Newf(errcode.InvalidParams, "a password's hashes are longer than %d bytes", MaxPasswordHash)
		}
		if cmd.Hash == c.PasswordHash && cmd.Realm == c.DigestRealm && cmd.DigestHA1 == c.DigestHA1 {
			return nil, nil
		}
		return []events.Event{events.ClientPasswordSet{Hash: cmd.Hash, Realm: cmd.Realm, DigestHA1: cmd.DigestHA1}}, nil
	case SetVoicemail:
		if c.status() != ClientActive {
			return nil, clientInvalid(c, "set up voicemail")
		}
		if cmd.MaxLength < 0 {
			return nil, errcode.New(errcode.InvalidParams, "voicemail length must not be negative")
		}
		max := cmd.MaxLength
		if max == 0 {
			max = DefaultVoicemailMax
		}
		if !cmd.Enabled {
			max = 0
		}
		if cmd.Enabled == c.Voicemail && max == c.VoicemailMax {
			return nil, nil
		}
		return []events.Event{events.ClientVoicemailSet{Enabled: cmd.Enabled, MaxLength: max}}, nil
	case DeleteHistory:
		return decideCallList(c, "delete call history", cmd.Calls, func(l []string) events.Event { return events.HistoryDeleted{Calls: l} })
	case MarkVoicemailHeard:
		return decideCallList(c, "mark voicemail heard", cmd.Calls, func(l []string) events.Event { return events.VoicemailHeard{Calls: l} })
	case DeleteVoicemail:
		return decideCallList(c, "delete voicemail", cmd.Calls, func(l []string) events.Event { return events.VoicemailDeleted{Calls: l} })
	}
	return nil, errcode.Newf(errcode.InvalidParams, "unknown client command %T", cmd)
}

// MaxActivity bounds a presence's activity text, in bytes.
const MaxActivity = 256

func decideCallList(c *Client, what string, calls []string, ev func([]string) events.Event) ([]events.Event, error) {
	if c.status() != ClientActive {
		return nil, clientInvalid(c, what)
	}
	if len(calls) == 0 {
		return nil, errcode.Newf(errcode.MissingParameter, "%s: no calls given", what)
	}
	var list []string
	for _, id := range calls {
		if strings.TrimSpace(id) == "" {
			return nil, errcode.Newf(errcode.InvalidParams, "%s: empty call id", what)
		}
		if !slices.Contains(list, id) {
			list = append(list, id)
		}
	}
	return []events.Event{ev(list)}, nil
}

// ApplyClient folds one event into the client.
func ApplyClient(c *Client, ev events.Event, at int64) error {
	next := c.Clone()
	if err := applyClient(&next, ev, at); err != nil {
		return err
	}
	next.Version++
	*c = next
	return nil
}

func (c *Client) transition(event string) error {
	to, err := ClientMachine.fire(string(c.status()), event)
	if err != nil {
		return fmt.Errorf("client %s: %s in state %s: %w", c.ID, event, c.status(), err)
	}
	c.Status = ClientStatus(to)
	return nil
}

func applyClient(c *Client, ev events.Event, at int64) error {
	switch e := ev.(type) {
	case events.ClientRegistered:
		if err := c.transition(evRegister); err != nil {
			return err
		}
		c.Name, c.AcceptInbound = e.Name, e.AcceptInbound
		c.Numbers = slices.Clone(e.Numbers)
		c.Extensions = slices.Clone(e.Extensions)
		c.Devices = slices.Clone(e.Devices)
		c.Permissions = slices.Clone(e.Permissions)
		c.RegisteredAt = at
		c.Generation = int64(c.Version) + 1 // ApplyClient counts this event after
		// A new registration starts with the defaults: available, no
		// voicemail box, no password (they are set again after it).
		c.Presence, c.Activity, c.Voicemail, c.VoicemailMax = events.NoPresence, "", false, 0
		c.PasswordHash, c.DigestRealm, c.DigestHA1 = "", "", ""
	case events.ClientUnregistered:
		if err := c.transition(evUnregister); err != nil {
			return err
		}
		c.Devices = nil
	case events.DeviceAdded:
		if c.status() != ClientActive {
			return fmt.Errorf("client %s: device added while %s", c.ID, c.status())
		}
		if _, ok := c.Device(e.Device.ID); ok {
			return fmt.Errorf("client %s: device %q added twice", c.ID, e.Device.ID)
		}
		c.Devices = append(c.Devices, e.Device)
	case events.DeviceRemoved:
		i := slices.IndexFunc(c.Devices, func(d events.Device) bool { return d.ID == e.ID })
		if c.status() != ClientActive || i < 0 {
			return fmt.Errorf("client %s: device %q removed but not there", c.ID, e.ID)
		}
		c.Devices = slices.Delete(c.Devices, i, i+1)
	case events.ClientUpdated:
		if c.status() != ClientActive {
			return fmt.Errorf("client %s: updated while %s", c.ID, c.status())
		}
		c.Name, c.AcceptInbound = e.Name, e.AcceptInbound
	case events.ClientPresenceSet:
		if c.status() != ClientActive || !e.Presence.Valid() {
			return fmt.Errorf("client %s: presence set while %s", c.ID, c.status())
		}
		c.Presence, c.Activity = e.Presence, e.Activity
	case events.ClientPasswordSet:
		if c.status() != ClientActive {
			return fmt.Errorf("client %s: password set while %s", c.ID, c.status())
		}
		c.PasswordHash, c.DigestRealm, c.DigestHA1 = e.Hash, e.Realm, e.DigestHA1
	case events.ClientVoicemailSet:
		if c.status() != ClientActive {
			return fmt.Errorf("client %s: voicemail set while %s", c.ID, c.status())
		}
		c.Voicemail, c.VoicemailMax = e.Enabled, e.MaxLength
	case events.HistoryDeleted, events.VoicemailHeard, events.VoicemailDeleted:
		// The call history and the voicemail box are projections of the
		// journal (engine/history): the client's state does not hold them.
		if c.status() != ClientActive {
			return fmt.Errorf("client %s: %s while %s", c.ID, ev.Type(), c.status())
		}
	default:
		return fmt.Errorf("client %s: %s is not a client event", c.ID, ev.Type())
	}
	return nil
}
