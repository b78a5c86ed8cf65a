package replay

import (
	"testing"

	"github.com/callengine/callengine/events"
)

// The journal refuses appends out of version order, so a gap can only come
// from a damaged file: this feeds the stream verifier one directly.
func TestVerifyReportsAVersionGap(t *testing.T) {
	dialed := events.CallDialed{Caller: events.Party{Client: "a"}, Callee: events.Party{Number: "+33144556677"}, Direction: events.Outbound}
	items := []item{
		{env: events.Envelope{Seq: 1, Version: 1, Type: events.TypeCallDialed, Time: 10, Event: dialed}},
		{env: events.Envelope{Seq: 2, Version: 2, Type: events.TypeCallRinging, Time: 20, Event: events.CallRinging{}}},
		{env: events.Envelope{Seq: 5, Version: 4, Type: events.TypeCallAnswered, Time: 30, Event: events.CallAnswered{}}},
	}
	d := verifyCall("gap", items)
	if d == nil || d.Kind != KindVersion || d.Version != 4 || d.Seq != 5 || d.Current != "expects version 3" {
		t.Fatalf("divergence %+v, want a version gap at version 4", d)
	}
	if d := verifyCall("gap", items[:2]); d != nil {
		t.Fatalf("the stream before the gap diverges: %v", d)
	}
}
