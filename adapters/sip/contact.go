package sip

import (
	"crypto/sha256"
	"encoding/hex"
)

// A registered binding is a device of its client: engine.Device{ID:
// "sip-<hash>", Kind: "sip", Contact: "<contact URI>;expires-at=<RFC3339>"}.
// The Contact field holds everything the adapter needs after a restart: the
// URI to send INVITEs to and when the binding lapses.

// DeviceKind is the engine.Device Kind of a SIP binding.
const DeviceKind = "sip"

// deviceID is the stable device id of a contact URI: "sip-" and the first
// 12 hex digits of its SHA-256.
func deviceID(contact string) string {
	h := sha256.Sum256([]byte(contact))
	return "sip-" + hex.EncodeToString(h[:6])
}
