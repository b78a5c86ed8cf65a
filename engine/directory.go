package engine

import (
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/callengine/callengine/fsm"
)

// directory is the projection of client streams: who is registered, with
// which numbers, extensions and devices. It is rebuilt from the journal on
// Open and kept current by PublishClient.
type directory struct {
	mu      sync.RWMutex
	clients map[string]*fsm.Client // immutable snapshots, replaced whole
	pids    map[string]*actor.PID
	numbers map[string]string // E.164 → client id
	exts    map[string]string // extension → client id
}

func newDirectory() *directory {
	return &directory{
		clients: map[string]*fsm.Client{}, pids: map[string]*actor.PID{},
		numbers: map[string]string{}, exts: map[string]string{},
	}
}

// put replaces the snapshot of a client.
func (d *directory) put(c *fsm.Client) {
	snap := c.Clone()
	d.mu.Lock()
	defer d.mu.Unlock()
	if old := d.clients[c.ID]; old != nil {
		for _, n := range old.Numbers {
			if d.numbers[n] == c.ID {
				delete(d.numbers, n)
			}
		}
		for _, x := range old.Extensions {
			if d.exts[x] == c.ID {
				delete(d.exts, x)
			}
		}
	}
	d.clients[c.ID] = &snap
	if snap.Registered() {
		for _, n := range snap.Numbers {
			d.numbers[n] = c.ID
		}
		for _, x := range snap.Extensions {
			d.exts[x] = c.ID
		}
	}
}

func (d *directory) get(id string) *fsm.Client {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.clients[id]
}

func (d *directory) pid(id string) *actor.PID {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.pids[id]
}

func (d *directory) setPID(id string, pid *actor.PID) {
	d.mu.Lock()
	d.pids[id] = pid
	d.mu.Unlock()
}

func (d *directory) byNumber(n string) *fsm.Client {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.clients[d.numbers[n]]
}

func (d *directory) byExtension(x string) *fsm.Client {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.clients[d.exts[x]]
}

// owner returns the registered client other than self that holds number or
// extension v.
func (d *directory) owner(v, self string) string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if id, ok := d.numbers[v]; ok && id != self {
		return id
	}
	if id, ok := d.exts[v]; ok && id != self {
		return id
	}
	return ""
}

func (d *directory) list() []*fsm.Client {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]*fsm.Client, 0, len(d.clients))
	for _, c := range d.clients {
		out = append(out, c)
	}
	return out
}

func (d *directory) allPIDs() []*actor.PID {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]*actor.PID, 0, len(d.pids))
	for _, p := range d.pids {
		out = append(out, p)
	}
	return out
}

// liveCalls is the projection of call streams that have not ended: the actor
// of each, and the calls each client is on. Sharded: every call's life cycle
// passes through it twice.
type liveCalls struct {
	seed   maphash.Seed
	shards [64]liveShard
	// wake starts the actor of a dormant call; set by the engine before a
	// restore adds any.
	wake func(stream string, c *fsm.Call) (*actor.PID, error)
	// setSize is the room a client's new list of calls is made with: 1,
	// but during a restore the mean number of live calls per client (see
	// reserve).
	// Atomic: restored transfers' actors may already run when the
	// restore puts it back.
	setSize atomic.Int32
}

// reserve makes room for a restore of calls live calls between clients
// clients: the shards' maps are made at their size once, and a client's
// list of calls starts with room for the mean number of calls per client
// (in all, room for as many entries as the restore adds: a client with
// fewer calls than the mean takes no more than another with more leaves
// unused). reserve(0, 0), after the restore, puts the usual sizes back.
// The shards' maps are made anew only while they are empty: before the
// restore adds its calls.
func (l *liveCalls) reserve(calls, clients int) {
	if calls == 0 {
		l.setSize.Store(1)
		return
	}
	per := calls/len(l.shards) + calls/(8*len(l.shards)) + 1
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		if len(s.dormant) == 0 {
			s.dormant = make(map[string]*dormantCall, per)
		}
		if len(s.byClient) == 0 && clients > 0 {
			s.byClient = make(map[string]map[string]struct{}, clients/len(l.shards)+1)
		}
		s.mu.Unlock()
	}
	if clients > 0 {
		l.setSize.Store(int32(min(max(2*calls/clients, 1), 4096))) // each call is on its caller's and its callee's list
	}
}

type liveShard struct {
	mu       sync.Mutex
	pids     map[string]*actor.PID          // call id → actor
	dormant  map[string]*dormantCall        // call id → restored state, no actor yet
	byClient map[string]map[string]struct{} // client id → call ids
}

// dormantCall is a restored call whose actor is not started yet: a call
// without a deadline needs none until a command reaches it, so a restore
// of a million calls spawns none of them (see restore.go).
type dormantCall struct {
	stream string
	state  fsm.Call
}

func newLiveCalls() *liveCalls {
	l := &liveCalls{seed: maphash.MakeSeed()}
	l.setSize.Store(1)
	for i := range l.shards {
		l.shards[i].pids = map[string]*actor.PID{}
		l.shards[i].dormant = map[string]*dormantCall{}
		l.shards[i].byClient = map[string]map[string]struct{}{}
	}
	return l
}

func (l *liveCalls) shard(key string) *liveShard {
	return &l.shards[maphash.String(l.seed, key)%uint64(len(l.shards))]
}

func (l *liveCalls) add(id string, pid *actor.PID) {
	s := l.shard(id)
	s.mu.Lock()
	s.pids[id] = pid
	s.mu.Unlock()
}

// addDormant keeps a restored call whose actor starts on its first
// command; c is copied.
func (l *liveCalls) addDormant(stream string, c *fsm.Call) {
	s := l.shard(c.ID)
	s.mu.Lock()
	s.dormant[c.ID] = &dormantCall{stream: stream, state: *c}
	s.mu.Unlock()
}

// pid returns the actor of a live call, starting it if the call is dormant;
// nil when the call is not live (or its actor cannot start: the error is
// logged by wake's caller).
func (l *liveCalls) pid(id string) *actor.PID {
	s := l.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.pids[id]; p != nil {
		return p
	}
	d := s.dormant[id]
	if d == nil {
		return nil
	}
	// Under the shard's lock, so that it starts once; the actor's start
	// reads only its seed.
	p, err := l.wake(d.stream, &d.state)
	if err != nil {
		return nil
	}
	delete(s.dormant, id)
	s.pids[id] = p
	return p
}

func (l *liveCalls) remove(id string) {
	s := l.shard(id)
	s.mu.Lock()
	delete(s.pids, id)
	delete(s.dormant, id)
	s.mu.Unlock()
}

// join puts call on client's list; it reports whether the list was empty
// (the client just became busy).
func (l *liveCalls) join(client, call string) bool {
	if client == "" {
		return false
	}
	s := l.shard(client)
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.byClient[client]
	if m == nil {
		m = make(map[string]struct{}, l.setSize.Load())
		s.byClient[client] = m
	}
	first := len(m) == 0
	m[call] = struct{}{}
	return first
}

// leave takes call off client's list; it reports whether the list became
// empty (the client is free again).
func (l *liveCalls) leave(client, call string) bool {
	if client == "" {
		return false
	}
	s := l.shard(client)
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.byClient[client]; m != nil {
		if _, ok := m[call]; !ok {
			return false
		}
		delete(m, call)
		return len(m) == 0 // the empty set stays: the client's next call needs no new one
	}
	return false
}

// busy reports whether client is on a live call.
func (l *liveCalls) busy(client string) bool {
	s := l.shard(client)
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byClient[client]) > 0
}

func (l *liveCalls) callsOf(client string) []string {
	s := l.shard(client)
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.byClient[client]))
	for id := range s.byClient[client] {
		out = append(out, id)
	}
	return out
}

// all returns the actors of the live calls that have one (not the dormant
// ones).
func (l *liveCalls) all() map[string]*actor.PID {
	out := map[string]*actor.PID{}
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		for id, p := range s.pids {
			out[id] = p
		}
		s.mu.Unlock()
	}
	return out
}

// ids returns the ids of every live call, dormant ones included.
func (l *liveCalls) ids() []string {
	var out []string
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		for id := range s.pids {
			out = append(out, id)
		}
		for id := range s.dormant {
			out = append(out, id)
		}
		s.mu.Unlock()
	}
	return out
}

func (l *liveCalls) count() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.pids) + len(s.dormant)
		s.mu.Unlock()
	}
	return n
}

// dormantState returns the restored state of a call that has no actor yet.
func (l *liveCalls) dormantState(id string) (fsm.Call, bool) {
	s := l.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.dormant[id]; d != nil {
		return d.state.Clone(), true
	}
	return fsm.Call{}, false
}
