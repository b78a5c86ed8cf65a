package engine_test

import (
	"slices"
	"testing"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
)

func TestDirectoryListAndSearch(t *testing.T) {
	h := newHarness(t)
	for _, c := range []struct{ id, name, ext, num string }{
		{"alice", "Alice Martin", "101", "+14155550101"},
		{"bob", "Bob Stone", "102", "+14155550102"},
		{"carol", "carol king", "203", ""},
		{"dave", "Dave Martinez", "204", "+442079460204"},
	} {
		spec := engine.ClientSpec{ID: c.id, Name: c.name, Extensions: []string{c.ext}, Devices: []engine.Device{{ID: c.id + "-1"}}}
		if c.num != "" {
			spec.Numbers = []string{c.num}
		}
		must[engine.Client](t)(h.e.RegisterClient(ctx, spec))
	}
	must[engine.Client](t)(h.e.SetPresence(ctx, "carol", events.PresenceAway, "lunch"))
	must[engine.Client](t)(h.e.UnregisterClient(ctx, "dave"))
	must[engine.Client](t)(h.e.RegisterClient(ctx, engine.ClientSpec{ID: "erin", Name: "Erin Martin"}))
	must[engine.Call](t)(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))

	ids := func(q engine.DirectoryQuery) []string {
		t.Helper()
		p, err := h.e.Directory(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range p.Entries {
			out = append(out, e.ID)
		}
		return out
	}
	for _, c := range []struct {
		q    engine.DirectoryQuery
		want []string
	}{
		{engine.DirectoryQuery{}, []string{"alice", "bob", "carol", "erin"}}, // by name; dave is gone
		{engine.DirectoryQuery{Search: "martin"}, []string{"alice", "erin"}},
		{engine.DirectoryQuery{Search: "KING"}, []string{"carol"}},
		{engine.DirectoryQuery{Search: "555 0102"}, []string{"bob"}},
		{engine.DirectoryQuery{Search: "20"}, []string{"carol"}},
		{engine.DirectoryQuery{Search: "+1 415"}, []string{"alice", "bob"}},
		{engine.DirectoryQuery{Search: "zzz"}, nil},
		{engine.DirectoryQuery{Presence: []events.Presence{events.PresenceBusy}}, []string{"alice", "bob"}}, // on a call
		{engine.DirectoryQuery{Presence: []events.Presence{events.PresenceAway}}, []string{"carol"}},
		{engine.DirectoryQuery{Limit: 2, Offset: 1}, []string{"bob", "carol"}},
		{engine.DirectoryQuery{Offset: 9}, nil},
	} {
		if got := ids(c.q); !slices.Equal(got, c.want) {
			t.Errorf("%+v: got %v, want %v", c.q, got, c.want)
		}
	}
	p := must[engine.DirectoryPage](t)(h.e.Directory(ctx, engine.DirectoryQuery{Search: "carol"}))
	if p.Total != 1 || p.Entries[0].Activity != "lunch" || !slices.Equal(p.Entries[0].Extensions, []string{"203"}) {
		t.Fatalf("carol's entry: %+v", p)
	}
	for _, q := range []engine.DirectoryQuery{{Limit: -1}, {Offset: -1}, {Limit: 1001}, {Presence: []events.Presence{9}}} {
		_, err := h.e.Directory(ctx, q)
		wantCode(t, err, errcode.InvalidParams)
	}
}
