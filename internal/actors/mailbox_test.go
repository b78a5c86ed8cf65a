package actors

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

type stopNow struct{ enqueued chan struct{} }

type question struct{ reply chan int }

// An actor that stops with a question still in its mailbox, or gets one
// after it stopped, does not leave the asker waiting: the mailbox hands the
// question to Gone, which answers it (a call ending, a transfer reaching its
// outcome, while someone asks it something).
func TestMailboxAnswersWhatItsStoppedActorLeft(t *testing.T) {
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	defer sys.Shutdown()
	var mu sync.Mutex
	var goneTo []string
	deps := &Deps{Gone: func(pid *actor.PID, msg any) {
		mu.Lock()
		goneTo = append(goneTo, pid.Id)
		mu.Unlock()
		if q, ok := msg.(question); ok {
			q.reply <- -1
		}
	}}
	pid, err := sys.Root.SpawnNamed(deps.props(func() actor.Actor {
		return actor.ReceiveFunc(func(ctx actor.Context) {
			switch m := ctx.Message().(type) {
			case stopNow:
				<-m.enqueued // the question is queued behind us now
				ctx.Stop(ctx.Self())
			case question:
				m.reply <- 42
			}
		})
	}, false), "call/stopping")
	if err != nil {
		t.Fatal(err)
	}
	enqueued := make(chan struct{})
	sys.Root.Send(pid, stopNow{enqueued: enqueued})
	reply := make(chan int, 1)
	sys.Root.Send(pid, question{reply: reply})
	close(enqueued)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	select {
	case r := <-reply:
		if r != -1 {
			t.Fatalf("answer %d: want -1 from Gone (the actor stopped before it read the question)", r)
		}
	case <-ctx.Done():
		t.Fatal("the queued question was never answered")
	}
	// Sent to the stopped actor's mailbox (a PID whose process is cached):
	// answered too, by Gone or as a dead letter.
	reply = make(chan int, 1)
	sys.Root.Send(pid, question{reply: reply})
	select {
	case <-reply:
	case <-time.After(200 * time.Millisecond):
		// Not in our mailbox: protoactor found the PID dead and made it a
		// dead letter, which the engine answers (Engine.deadLetter).
	}
	mu.Lock()
	if len(goneTo) == 0 || goneTo[0] != "call/stopping" {
		t.Errorf("Gone heard of %v; want call/stopping", goneTo)
	}
	mu.Unlock()

	// A live actor answers itself.
	live, err := sys.Root.SpawnNamed(deps.props(func() actor.Actor {
		return actor.ReceiveFunc(func(ctx actor.Context) {
			if m, isQ := ctx.Message().(question); isQ {
				m.reply <- 7
			}
		})
	}, false), "call/live")
	if err != nil {
		t.Fatal(err)
	}
	reply = make(chan int, 1)
	sys.Root.Send(live, question{reply: reply})
	if r := <-reply; r != 7 {
		t.Fatalf("live actor: %d", r)
	}
}

// The ring keeps order across growth and wrap-around.
func TestMailboxRingOrder(t *testing.T) {
	var r ring
	next, want := 0, 0
	for round := 0; round < 50; round++ {
		for i := 0; i < round%7+1; i++ {
			r.push(next)
			next++
		}
		for i := 0; i < round%5; i++ {
			m := r.pop()
			if m == nil {
				break
			}
			if m.(int) != want {
				t.Fatalf("popped %v, want %d", m, want)
			}
			want++
		}
	}
	for m := r.pop(); m != nil; m = r.pop() {
		if m.(int) != want {
			t.Fatalf("popped %v, want %d", m, want)
		}
		want++
	}
	if want != next {
		t.Fatalf("popped %d of %d", want, next)
	}
}
