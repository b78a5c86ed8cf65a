package engine

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

type stopNow struct{ enqueued chan struct{} }

type question struct{ reply chan int }

// An actor that stops drops what is still in its mailbox: ask must not wait
// for that answer forever (a call ending, a transfer reaching its outcome,
// while someone asks it something).
func TestAskAnActorThatStopsWithTheQuestionInItsMailbox(t *testing.T) {
	e := &Engine{system: actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))}
	e.root = actor.NewRootContext(e.system, nil)
	e.pulse = startPulse()
	defer e.pulse.close()
	defer e.system.Shutdown()
	pid := e.root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case stopNow:
			<-m.enqueued // the question is queued behind us now
			ctx.Stop(ctx.Self())
		case question:
			m.reply <- 42
		}
	}))
	enqueued := make(chan struct{})
	e.root.Send(pid, stopNow{enqueued: enqueued})
	reply := make(chan int, 1)
	go func() { time.Sleep(10 * time.Millisecond); close(enqueued) }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, ok, stopped := ask(ctx, e, pid, question{reply: reply}, reply)
	if ok || !stopped {
		t.Fatalf("ok %v stopped %v: want the stop reported (ctx err %v)", ok, stopped, ctx.Err())
	}

	// A live actor answers.
	live := e.root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if m, isQ := ctx.Message().(question); isQ {
			m.reply <- 7
		}
	}))
	reply = make(chan int, 1)
	if r, ok, _ := ask(ctx, e, live, question{reply: reply}, reply); !ok || r != 7 {
		t.Fatalf("live actor: %d %v", r, ok)
	}
}
