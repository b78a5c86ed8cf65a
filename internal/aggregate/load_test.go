package aggregate

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/journal"
)

// LoadStreams folds what Load folds, aggregate after aggregate, those with
// no events included.
func TestLoadStreamsMatchesLoad(t *testing.T) {
	j, err := journal.Open(filepath.Join(t.TempDir(), "j.db"), journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	ctx := context.Background()
	var streams []string
	for i := 0; i < 2500; i++ {
		id := fmt.Sprintf("c%d", i)
		if i%7 == 3 {
			streams = append(streams, Calls.StreamOf("none"+id)) // no events
		}
		streams = append(streams, Calls.StreamOf(id))
		evs := []events.Event{events.CallDialed{
			Caller: events.Party{Client: "a", Number: "100"}, Callee: events.Party{Client: fmt.Sprintf("b%d", i), Number: "200"},
			CallerDevice: "d", Direction: events.Internal,
		}}
		if i%3 > 0 {
			evs = append(evs, events.CallRinging{Devices: []string{"x", "y"}, Deadline: int64(1000 + i)})
		}
		if i%3 > 1 {
			evs = append(evs, events.CallAnswered{Device: "x"}, events.CallHeld{By: events.Caller})
		}
		if _, err := appendEvents(ctx, j, Calls.StreamOf(id), 0, evs, int64(i+1), false); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	err = Calls.LoadStreams(j, streams, func(i int, c *fsm.Call) error {
		if i != n {
			t.Fatalf("aggregate %d given after %d", i, n-1)
		}
		n++
		want, err := Calls.Load(j, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if Calls.StreamOf(c.ID) != streams[i] || !reflect.DeepEqual(*c, want) {
			t.Fatalf("%s: %+v, Load gives %+v", streams[i], *c, want)
		}
		return nil
	})
	if err != nil || n != len(streams) {
		t.Fatalf("LoadStreams: %v after %d of %d", err, n, len(streams))
	}
	stop := errors.New("stop")
	if err := Calls.LoadStreams(j, streams, func(int, *fsm.Call) error { return stop }); err != stop {
		t.Fatalf("fn error: %v", err)
	}
	// An event that does not fold is journal_corrupt.
	if _, err := appendEvents(ctx, j, Calls.StreamOf("c0"), 1, []events.Event{events.CallDialed{}}, 1, false); err != nil {
		t.Fatal(err)
	}
	err = Calls.LoadStreams(j, streams, func(int, *fsm.Call) error { return nil })
	if errcode.CodeOf(err) != errcode.JournalCorrupt {
		t.Fatalf("a call dialed twice folds: %v", err)
	}
}
