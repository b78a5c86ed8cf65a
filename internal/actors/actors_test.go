package actors_test

import (
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/internal/actors"
	"github.com/callengine/callengine/internal/aggregate"
	"github.com/callengine/callengine/journal"
)

// checkingPublisher asserts persist → apply → publish: whatever it hears is
// already durable in the journal and already applied to the state.
type checkingPublisher struct {
	t       *testing.T
	j       *journal.Journal
	mu      sync.Mutex
	changes []actors.CallChange
}

func (p *checkingPublisher) PublishCall(c *fsm.Call, changes []actors.CallChange) {
	v, err := p.j.StreamVersion(events.CallStream(c.ID))
	if err != nil {
		p.t.Errorf("StreamVersion: %v", err)
	}
	last := changes[len(changes)-1].Envelope
	if v != last.Version || c.Version != last.Version {
		p.t.Errorf("published v%d while journal has v%d and state v%d", last.Version, v, c.Version)
	}
	p.mu.Lock()
	p.changes = append(p.changes, changes...)
	p.mu.Unlock()
}

func (p *checkingPublisher) PublishClient(*fsm.Client, []events.Envelope)     {}
func (p *checkingPublisher) PublishTransfer(*fsm.Transfer, []events.Envelope) {}

func setup(t *testing.T) (*actor.RootContext, *actors.Deps, *checkingPublisher, *clock.Virtual) {
	t.Helper()
	j, err := journal.Open(filepath.Join(t.TempDir(), "j.db"), journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return log }))
	t.Cleanup(sys.Shutdown)
	pub := &checkingPublisher{t: t, j: j}
	clk := clock.NewVirtual(time.Unix(1_700_000_000, 0))
	return sys.Root, &actors.Deps{Journal: j, Clock: clk, Publisher: pub, Log: log}, pub, clk
}

func ask(t *testing.T, root *actor.RootContext, pid *actor.PID, cmd fsm.CallCommand) actors.CallResult {
	t.Helper()
	req := &actors.CallRequest{Command: cmd, Reply: make(chan actors.CallResult, 1)}
	root.Send(pid, req)
	select {
	case r := <-req.Reply:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no reply")
		return actors.CallResult{}
	}
}

func TestCallActorPersistsBeforePublishAndReply(t *testing.T) {
	root, deps, pub, _ := setup(t)
	pid, err := actors.SpawnCall(root, deps, "k1", &fsm.Call{ID: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	r := ask(t, root, pid, fsm.Dial{
		Caller: events.Party{Client: "a"}, Callee: events.Party{Client: "b"},
		Devices: []string{"b1"}, RingTimeout: time.Minute,
	})
	if r.Err != nil || r.State.Status != fsm.Ringing || len(r.Events) != 2 {
		t.Fatalf("dial: %+v", r)
	}
	if r.Events[0].Seq+1 != r.Events[1].Seq || r.Events[1].Version != 2 {
		t.Fatalf("envelopes: %v", r.Events)
	}
	r = ask(t, root, pid, fsm.Answer{Device: "b1"})
	if r.Err != nil || r.State.Status != fsm.Connected {
		t.Fatalf("answer: %+v", r)
	}
	want := []fsm.CallStatus{fsm.Connecting, fsm.Ringing, fsm.Connected}
	if len(pub.changes) != 3 {
		t.Fatalf("published %d changes", len(pub.changes))
	}
	for i, ch := range pub.changes {
		if ch.Status != want[i] {
			t.Errorf("change %d: %s, want %s", i, ch.Status, want[i])
		}
	}
}

func TestRefusedCommandWritesNothing(t *testing.T) {
	root, deps, pub, _ := setup(t)
	pid, _ := actors.SpawnCall(root, deps, "k2", &fsm.Call{ID: "k2"})
	ask(t, root, pid, fsm.Dial{Caller: events.Party{Client: "a"}, Callee: events.Party{Number: "+33100000000"}})
	seq := deps.Journal.LastSeq()
	for _, cmd := range []fsm.CallCommand{fsm.Hold{By: events.Caller}, fsm.Resume{By: events.Callee}, fsm.Ignore{}, fsm.Hangup{By: 9}} {
		r := ask(t, root, pid, cmd)
		if r.Err == nil {
			t.Fatalf("%T accepted in state connecting", cmd)
		}
		if r.State.Status != fsm.Connecting || r.State.Version != 1 {
			t.Fatalf("%T changed the state: %+v", cmd, r.State)
		}
	}
	if deps.Journal.LastSeq() != seq || len(pub.changes) != 1 {
		t.Fatalf("refused commands wrote %d events, published %d", deps.Journal.LastSeq()-seq, len(pub.changes)-1)
	}
}

func TestRingTimerFiresFromState(t *testing.T) {
	root, deps, _, clk := setup(t)
	pid, _ := actors.SpawnCall(root, deps, "k3", &fsm.Call{ID: "k3"})
	ask(t, root, pid, fsm.Dial{Caller: events.Party{Client: "a"}, Callee: events.Party{Client: "b"}, Devices: []string{"b1"}, RingTimeout: 10 * time.Second})
	clk.Advance(10 * time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := aggregate.LoadCall(deps.Journal, "k3")
		if err != nil {
			t.Fatal(err)
		}
		if c.Status == fsm.Ended {
			if c.Reason != events.NoAnswer || !c.Missed {
				t.Fatalf("ended %v missed=%v", c.Reason, c.Missed)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ring timer did not fire: %s", c.Status)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestActorStartsFromJournalWithoutInitialState(t *testing.T) {
	root, deps, _, _ := setup(t)
	pid, _ := actors.SpawnCall(root, deps, "k4", &fsm.Call{ID: "k4"})
	ask(t, root, pid, fsm.Dial{Caller: events.Party{Client: "a"}, Callee: events.Party{Client: "b"}, Devices: []string{"b1"}})
	ask(t, root, pid, fsm.Answer{Device: "b1"})
	if err := root.StopFuture(pid).Wait(); err != nil {
		t.Fatal(err)
	}
	pid, err := actors.SpawnCall(root, deps, "k4", nil) // reads its stream back
	if err != nil {
		t.Fatal(err)
	}
	r := ask(t, root, pid, fsm.Hold{By: events.Callee})
	if r.Err != nil || r.State.Status != fsm.Held || r.State.Version != 4 {
		t.Fatalf("after reload: %+v", r)
	}
	_, err = actors.SpawnCall(root, deps, "k4", nil)
	if errcode.CodeOf(err) != errcode.AlreadyExists {
		t.Fatalf("second actor for one call: %v", err)
	}
}
