package server

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/callengine/callengine/engine"
)

func openEngine(t *testing.T, dir string) *engine.Engine {
	t.Helper()
	e, err := engine.Open(context.Background(), engine.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// Provisioning twice journals nothing the second time; a change is applied
// and keeps the client's devices; clients not in the configuration stay.
func TestProvisionIsIdempotent(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := Default()
	cfg.Clients = []Client{
		{ID: "alice", Name: "Alice", Numbers: []string{"+1 415 555 0101"}, Extensions: []string{"101"}, Permissions: []string{"record"}},
		{ID: "bob", Name: "Bob", Extensions: []string{"102"}},
	}
	cfg.Groups = []Group{{ID: "support", Extensions: []string{"700"}, Members: []string{"alice", "bob"}, Strategy: "round-robin"}}
	e := openEngine(t, dir)
	p, err := Provision(ctx, e, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Registered, []string{"echo", "alice", "bob"}) || !slices.Equal(p.Defined, []string{"support"}) {
		t.Errorf("first: %+v", p)
	}
	if _, err := e.RegisterClient(ctx, engine.ClientSpec{ID: "carol", Extensions: []string{"103"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.AddDevice(ctx, "bob", engine.Device{ID: "bob-web", Kind: "webrtc"}); err != nil {
		t.Fatal(err)
	}
	seq := e.Journal().LastSeq()
	p, err = Provision(ctx, e, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Registered)+len(p.Updated)+len(p.Defined)+len(p.Redefined) != 0 || len(p.Unchanged) != 3 || len(p.Same) != 1 {
		t.Errorf("second: %+v", p)
	}
	if got := e.Journal().LastSeq(); got != seq {
		t.Errorf("the second provisioning journaled %d events", got-seq)
	}

	// Bob gets a new name and alice's extension; alice gives it up.
	cfg.Clients[0].Extensions = []string{"104"}
	cfg.Clients[1].Name = "Robert"
	cfg.Clients[1].Extensions = []string{"102", "101"}
	cfg.Groups[0].Members = []string{"bob", "alice"}
	if p, err = Provision(ctx, e, cfg); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Updated, []string{"alice", "bob"}) || !slices.Equal(p.Redefined, []string{"support"}) {
		t.Errorf("third: %+v", p)
	}
	bob, err := e.Client(ctx, "bob")
	if err != nil || bob.Name != "Robert" || !slices.Contains(bob.Extensions, "101") || len(bob.Devices) != 1 {
		t.Errorf("bob: %+v %v", bob, err)
	}
	if _, err := e.Client(ctx, "carol"); err != nil {
		t.Errorf("carol, not in the configuration, is gone: %v", err)
	}
	g, err := e.Group(ctx, "support")
	if err != nil || !slices.Equal(g.Members, []string{"bob", "alice"}) || g.Strategy != engine.RoundRobin {
		t.Errorf("group: %+v %v", g, err)
	}

	// After a restart, the same configuration changes nothing.
	e.Close()
	e = openEngine(t, dir)
	seq = e.Journal().LastSeq()
	if p, err = Provision(ctx, e, cfg); err != nil || len(p.Unchanged) != 3 || len(p.Same) != 1 {
		t.Errorf("after a restart: %+v %v", p, err)
	}
	if got := e.Journal().LastSeq(); got != seq {
		t.Errorf("provisioning after a restart journaled %d events", got-seq)
	}
}

// An address held by a client outside the configuration is an error that
// names the client.
func TestProvisionConflict(t *testing.T) {
	ctx := context.Background()
	e := openEngine(t, t.TempDir())
	if _, err := e.RegisterClient(ctx, engine.ClientSpec{ID: "old", Extensions: []string{"101"}}); err != nil {
		t.Fatal(err)
	}
	cfg := Default()
	cfg.Clients = []Client{{ID: "alice", Extensions: []string{"101"}}}
	_, err := Provision(ctx, e, cfg)
	if err == nil || !strings.Contains(err.Error(), "client alice") || !strings.Contains(err.Error(), "101 already belongs to client old") {
		t.Errorf("err %v", err)
	}
}
