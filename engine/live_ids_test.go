package engine

import (
	"fmt"
	"sync"
	"testing"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

// A restored call woken while the live calls are listed is listed once:
// never missed (it moves from the dormant list to the started ones under
// its shard's lock, between the two halves of the listing) and never
// twice. A query of every call with SIP dialogs after a restart missed a
// call woken by the adapter's own re-INVITE at that moment.
func TestLiveIDsWhileDormantCallsWake(t *testing.T) {
	const n = 200
	l := newLiveCalls()
	var streams []string
	for i := range n {
		streams = append(streams, events.CallStreamPrefix+fmt.Sprintf("c%04d", i))
	}
	l.beginRestore(streams)
	for i := range n {
		l.setDormant(i, &fsm.Call{ID: streams[i][len(events.CallStreamPrefix):]})
	}
	l.endRestore()
	l.wake = func(stream string, _ *fsm.Call) (*actor.PID, error) { return &actor.PID{Id: stream}, nil }

	var wg sync.WaitGroup
	wg.Go(func() {
		for _, s := range streams {
			if l.pid(s[len(events.CallStreamPrefix):]) == nil {
				t.Errorf("%s did not wake", s)
			}
		}
	})
	for round := 0; round < 2000; round++ {
		ids := l.ids()
		seen := map[string]bool{}
		for _, id := range ids {
			if seen[id] {
				t.Fatalf("round %d: %s listed twice", round, id)
			}
			seen[id] = true
		}
		if len(ids) != n {
			t.Fatalf("round %d: %d calls listed, want %d", round, len(ids), n)
		}
	}
	wg.Wait()
	if ids := l.ids(); len(ids) != n || l.dormantN.Load() != 0 {
		t.Fatalf("after waking every call: %d listed, %d dormant", len(ids), l.dormantN.Load())
	}
}
