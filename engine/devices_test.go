package engine_test

import (
	"slices"
	"testing"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
)

func deviceIDs(c engine.Client) []string {
	var ids []string
	for _, d := range c.Devices {
		ids = append(ids, d.ID)
	}
	return ids
}

// Devices that connect over the network ring while connected: a call to the
// client rings the devices connected at that moment, connecting twice
// journals once, and what is connected survives a restart.
func TestConnectedDevicesRing(t *testing.T) {
	h := newTokenHarness(t)
	h.register("alice", "201", nil)
	h.register("bob", "202", nil)
	h.events()

	bob := login(t, h.e, "bob", engine.RoleAgent)
	tab1 := engine.Device{ID: "ws-1", Kind: "webrtc", Contact: "127.0.0.1:50001"}
	must[engine.Client](t)(h.e.ConnectDevice(bob, "bob", tab1))
	must[engine.Client](t)(h.e.ConnectDevice(bob, "bob", tab1)) // again: nothing changes
	c := must[engine.Client](t)(h.e.ConnectDevice(bob, "bob", engine.Device{ID: "ws-2", Kind: "webrtc"}))
	if got := deviceIDs(c); !slices.Equal(got, []string{"ws-1", "ws-2"}) {
		t.Fatalf("devices %q", got)
	}
	h.expectEvents("DeviceAdded", "DeviceAdded")

	call := must[engine.Call](t)(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "202"}))
	if !slices.Equal(call.RingingDevices, []string{"ws-1", "ws-2"}) {
		t.Fatalf("rings %q", call.RingingDevices)
	}
	must[engine.Call](t)(h.e.Hangup(ctx, call.ID, engine.Caller))

	// A device that left is not rung; leaving twice is not an error.
	must[engine.Client](t)(h.e.DisconnectDevice(bob, "bob", "ws-1"))
	must[engine.Client](t)(h.e.DisconnectDevice(bob, "bob", "ws-1"))
	h.events()
	call = must[engine.Call](t)(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "202"}))
	if !slices.Equal(call.RingingDevices, []string{"ws-2"}) {
		t.Fatalf("rings %q", call.RingingDevices)
	}

	// The same id from another place replaces the device.
	moved := engine.Device{ID: "ws-2", Kind: "webrtc", Contact: "127.0.0.1:50002"}
	c = must[engine.Client](t)(h.e.ConnectDevice(bob, "bob", moved))
	if len(c.Devices) != 1 || c.Devices[0] != moved {
		t.Fatalf("devices %+v", c.Devices)
	}

	h.e.Close()
	h.openWithSecret()
	c = must[engine.Client](t)(h.e.Client(ctx, "bob"))
	if len(c.Devices) != 1 || c.Devices[0] != moved {
		t.Fatalf("after restart: devices %+v", c.Devices)
	}
}

// A client connects and disconnects only its own devices; a device needs a
// kind; refusals journal nothing.
func TestConnectDeviceRefusals(t *testing.T) {
	h := newTokenHarness(t)
	h.register("alice", "201", nil)
	h.register("bob", "202", nil)
	alice := login(t, h.e, "alice", engine.RoleAgent)
	last := h.e.Journal().LastSeq()

	_, err := h.e.ConnectDevice(alice, "bob", engine.Device{ID: "x", Kind: "webrtc"})
	wantCode(t, err, errcode.Forbidden)
	_, err = h.e.DisconnectDevice(alice, "bob", "x")
	wantCode(t, err, errcode.Forbidden)
	_, err = h.e.ConnectDevice(alice, "alice", engine.Device{ID: "x"})
	wantCode(t, err, errcode.MissingParameter)
	_, err = h.e.ConnectDevice(alice, "alice", engine.Device{Kind: "webrtc"})
	wantCode(t, err, errcode.MissingParameter)
	_, err = h.e.ConnectDevice(ctx, "nobody", engine.Device{ID: "x", Kind: "webrtc"})
	wantCode(t, err, errcode.NotFound)
	if got := h.e.Journal().LastSeq(); got != last {
		t.Fatalf("refusals journaled %d events", got-last)
	}
}
