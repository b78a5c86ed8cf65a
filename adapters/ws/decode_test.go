package ws

import (
	"slices"
	"testing"

	"github.com/callengine/callengine/adapters/ws/wire"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/history"
)

// The decoder checks history kinds against its own list (package wire does
// not link package history): the list and history.ParseKind must agree.
func TestDecodeKindsAgreeWithHistory(t *testing.T) {
	names := wire.KindNames()
	for _, k := range []history.Kind{history.Made, history.Received, history.Missed} {
		if !slices.Contains(names, string(k)) {
			t.Errorf("history kind %q is not in wire.KindNames %q", k, names)
		}
	}
	for _, s := range append(names, "nope", "") {
		_, want := history.ParseKind(s)
		r, err := Decode([]byte(`{"type":"history.query","kinds":["` + s + `"]}`))
		if got := err == nil; got != want {
			t.Errorf("Decode(kinds [%q]) = %v; history.ParseKind accepts it: %v", s, err, want)
			continue
		}
		if want && !slices.Equal(r.Kinds, []string{s}) {
			t.Errorf("Decode(kinds [%q]).Kinds = %q", s, r.Kinds)
		}
		if !want && errcode.CodeOf(err) != errcode.InvalidParams {
			t.Errorf("Decode(kinds [%q]): code %q, want invalid_params", s, errcode.CodeOf(err))
		}
	}
}
