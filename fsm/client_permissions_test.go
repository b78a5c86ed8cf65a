package fsm_test

import (
	"testing"

	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

// TestClonePermissions: a clone's permissions are its own, so that a
// snapshot handed to the engine's directory cannot change under it.
func TestClonePermissions(t *testing.T) {
	c := fsm.Client{ID: "bob"}
	evs, err := fsm.DecideClient(&c, fsm.Register{Permissions: []string{events.PermissionRecord}}, start)
	if err != nil {
		t.Fatal(err)
	}
	if err := fsm.ApplyClient(&c, evs[0], start); err != nil {
		t.Fatal(err)
	}
	cp := c.Clone()
	cp.Permissions[0] = "changed"
	if !c.Can(events.PermissionRecord) || cp.Can(events.PermissionRecord) {
		t.Fatalf("clone shares its permissions: original %v, clone %v", c.Permissions, cp.Permissions)
	}
}
