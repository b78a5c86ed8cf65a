package engine

import (
	"context"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/fsm"
)

// Devices that come and go with the network (CL2). A browser tab that logs
// in on the WebSocket protocol, or a SIP phone that registers, is a device
// of its client while it is connected: the adapter that serves it calls
// ConnectDevice when it arrives and DisconnectDevice when it leaves. Both
// are journaled (DeviceAdded, DeviceRemoved), so a restored engine knows
// which devices were connected; the adapter reconnects or removes them.
// A call to the client rings the devices the client has at that moment:
// a device that is not connected is not rung.

// ConnectDevice makes d a device of the client, or does nothing when the
// client already has it as it is. d.Kind names the adapter that serves it
// ("webrtc", "sip"). A device of the same id with another kind or contact
// is replaced. The client itself or a supervisor may connect devices.
func (e *Engine) ConnectDevice(ctx context.Context, clientID string, d Device) (Client, error) {
	if err := e.authorizeClient(ctx, clientID); err != nil {
		return Client{}, err
	}
	if d.Kind == "" {
		return Client{}, errcode.New(errcode.MissingParameter, "a connected device needs a kind")
	}
	c := e.dir.get(clientID)
	if c == nil || !c.Registered() {
		return Client{}, errcode.Newf(errcode.NotFound, "no client %s is registered", clientID)
	}
	if have, ok := c.Device(d.ID); ok {
		if have == d {
			return e.viewClient(c), nil
		}
		if _, err := e.clientCommand(ctx, clientID, false, fsm.RemoveDevice{ID: d.ID}); err != nil {
			return Client{}, err
		}
	}
	return e.clientCommand(ctx, clientID, false, fsm.AddDevice{Device: d})
}

// DisconnectDevice removes a device that left the network. A device the
// client does not have (already gone) is not an error: the client is
// returned unchanged.
func (e *Engine) DisconnectDevice(ctx context.Context, clientID, deviceID string) (Client, error) {
	if err := e.authorizeClient(ctx, clientID); err != nil {
		return Client{}, err
	}
	c := e.dir.get(clientID)
	if c == nil || !c.Registered() {
		return Client{}, errcode.Newf(errcode.NotFound, "no client %s is registered", clientID)
	}
	if _, ok := c.Device(deviceID); !ok {
		return e.viewClient(c), nil
	}
	return e.clientCommand(ctx, clientID, false, fsm.RemoveDevice{ID: deviceID})
}
