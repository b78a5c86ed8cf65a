package ids_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/ids"
)

func TestIDsAreUniqueAndSortByTime(t *testing.T) {
	v := clock.NewVirtual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	g := ids.NewRandom(v)
	var all []string
	for ms := 0; ms < 50; ms++ {
		for i := 0; i < 200; i++ { // many ids in one millisecond stay ordered
			id := g.NewID()
			if len(id) != 26 {
				t.Fatalf("id %q has %d characters", id, len(id))
			}
			all = append(all, id)
		}
		v.Advance(time.Millisecond)
	}
	if !slices.IsSorted(all) {
		t.Fatal("ids do not sort in creation order")
	}
	if len(slices.Compact(slices.Clone(all))) != len(all) {
		t.Fatal("duplicate ids")
	}
}

func TestSeededIDsRepeat(t *testing.T) {
	run := func(seed uint64) []string {
		v := clock.NewVirtual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		g := ids.NewSeeded(v, seed)
		var out []string
		for i := 0; i < 100; i++ {
			out = append(out, g.NewID())
			if i%7 == 0 {
				v.Advance(time.Millisecond)
			}
		}
		return out
	}
	a, b, c := run(42), run(42), run(43)
	if !slices.Equal(a, b) {
		t.Fatal("same seed, different ids")
	}
	if slices.Equal(a, c) {
		t.Fatal("different seeds, same ids")
	}
}

func TestConcurrentIDsUnique(t *testing.T) {
	g := ids.NewRandom(clock.Real{})
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				id := g.NewID()
				mu.Lock()
				if seen[id] {
					t.Errorf("duplicate %s", id)
				}
				seen[id] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

func TestSequence(t *testing.T) {
	s := &ids.Sequence{Prefix: "call-"}
	if a, b := s.NewID(), s.NewID(); a != "call-1" || b != "call-2" {
		t.Fatalf("%s %s", a, b)
	}
}
