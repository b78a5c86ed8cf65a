package clock_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/callengine/callengine/clock"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestVirtualFiresInDueOrderAtDueTime(t *testing.T) {
	v := clock.NewVirtual(t0)
	var got []string
	at := func(name string) func() {
		return func() { got = append(got, name+"@"+v.Now().Sub(t0).String()) }
	}
	v.AfterFunc(3*time.Second, at("c"))
	v.AfterFunc(time.Second, at("a"))
	v.AfterFunc(time.Second, at("b")) // same instant: creation order
	stopped := v.AfterFunc(2*time.Second, at("never"))
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop must report true once, then false")
	}
	v.Advance(2 * time.Second)
	if want := []string{"a@1s", "b@1s"}; !slices.Equal(got, want) {
		t.Fatalf("after 2s: %v, want %v", got, want)
	}
	if !v.Now().Equal(t0.Add(2*time.Second)) || v.Pending() != 1 {
		t.Fatalf("now %v, pending %d", v.Now(), v.Pending())
	}
	v.Advance(time.Hour)
	if want := []string{"a@1s", "b@1s", "c@3s"}; !slices.Equal(got, want) {
		t.Fatalf("after 1h: %v", got)
	}
}

func TestVirtualTimerSetByATimerFiresInTheSameAdvance(t *testing.T) {
	v := clock.NewVirtual(t0)
	fired := 0
	v.AfterFunc(time.Second, func() {
		v.AfterFunc(time.Second, func() { fired++ })
	})
	v.Advance(2 * time.Second)
	if fired != 1 {
		t.Fatalf("chained timer fired %d times", fired)
	}
	if due, ok := v.NextDue(); ok {
		t.Fatalf("timer left at %v", due)
	}
}

func TestVirtualZeroDelayFiresOnNextAdvance(t *testing.T) {
	v := clock.NewVirtual(t0)
	fired := false
	v.AfterFunc(-time.Second, func() { fired = true })
	if fired {
		t.Fatal("fired before the clock moved")
	}
	v.Advance(0)
	if !fired {
		t.Fatal("not fired by Advance(0)")
	}
	v.Set(t0.Add(-time.Hour)) // never backwards
	if !v.Now().Equal(t0) {
		t.Fatalf("clock went back to %v", v.Now())
	}
}

func TestVirtualConcurrentUse(t *testing.T) {
	v := clock.NewVirtual(t0)
	var mu sync.Mutex
	n := 0
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				tm := v.AfterFunc(time.Duration(j)*time.Millisecond, func() { mu.Lock(); n++; mu.Unlock() })
				if j%10 == 0 {
					tm.Stop()
				}
			}
		}(i)
	}
	wg.Wait()
	v.Advance(time.Second)
	if n != 8*90 {
		t.Fatalf("%d timers fired, want %d", n, 8*90)
	}
}

func TestRealClock(t *testing.T) {
	c := clock.Real{}
	done := make(chan struct{})
	c.AfterFunc(time.Millisecond, func() { close(done) })
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("real timer did not fire")
	}
	if time.Since(c.Now()) > time.Minute {
		t.Fatal("real clock is not the wall clock")
	}
}
