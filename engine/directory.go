package engine

import (
	"hash/maphash"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/callengine/callengine/events"
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
//
// The calls a restore brought back without an actor (dormant, see
// restore.go) are not in the shards' maps: they are kept in the restore's
// order — the journal's, by stream name — in restored, found by binary
// search among restoredStreams. A restore of a million calls then writes
// two arrays in order, where inserting into maps spent a third of its time
// waiting for memory. Each restore worker writes its chunk's entries; after
// the restore an entry is read and cleared under the lock of its call's
// shard.
type liveCalls struct {
	seed   maphash.Seed
	shards [64]liveShard
	// wake starts the actor of a dormant call; set by the engine before a
	// restore adds any.
	wake func(stream string, c *fsm.Call) (*actor.PID, error)

	restoredStreams []string       // the restore's call streams, sorted
	restored        []*dormantCall // same index; nil once the call has an actor or ended
	dormantN        atomic.Int64   // restored entries not nil
	restoring       atomic.Bool    // joins go to the clients' pending lists (see clientCalls)
}

type liveShard struct {
	mu       sync.Mutex
	pids     map[string]*actor.PID   // call id → actor
	byClient map[string]*clientCalls // client id → its live calls
}

// clientCalls is the list of a client's live calls. During a restore the
// calls are appended to pending; the set takes them on the client's first
// use after it (a restore adds each call to two lists: appending is what
// it can afford).
type clientCalls struct {
	set     map[string]struct{}
	pending []string
}

// calls returns the set of a client's live calls, pending ones included.
func (cc *clientCalls) calls() map[string]struct{} {
	if cc.pending != nil {
		if cc.set == nil {
			cc.set = make(map[string]struct{}, len(cc.pending))
		}
		for _, id := range cc.pending {
			cc.set[id] = struct{}{}
		}
		cc.pending = nil
	} else if cc.set == nil {
		cc.set = make(map[string]struct{}, 1)
	}
	return cc.set
}

// dormantCall is a restored call whose actor is not started yet: a call
// without a deadline needs none until a command reaches it, so a restore
// of a million calls spawns none of them (see restore.go).
type dormantCall struct {
	state fsm.Call
}

func newLiveCalls() *liveCalls {
	l := &liveCalls{seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].pids = map[string]*actor.PID{}
		l.shards[i].byClient = map[string]*clientCalls{}
	}
	return l
}

func (l *liveCalls) shard(key string) *liveShard {
	return &l.shards[maphash.String(l.seed, key)%uint64(len(l.shards))]
}

// beginRestore makes room for the calls of streams (call streams in the
// journal's order): the restore then sets each dormant call at its index
// (setDormant), and joins go to the clients' pending lists until
// endRestore. Called before the restore's workers start.
func (l *liveCalls) beginRestore(streams []string) {
	l.restoredStreams = streams
	l.restored = make([]*dormantCall, len(streams))
	l.restoring.Store(true)
}

// endRestore ends what beginRestore began.
func (l *liveCalls) endRestore() { l.restoring.Store(false) }

// setDormant keeps restored call c, of the restore's stream i, until its
// actor starts on its first command; c is copied. Each index is set by
// one worker, before any reader.
func (l *liveCalls) setDormant(i int, c *fsm.Call) {
	l.restored[i] = &dormantCall{state: *c}
	l.dormantN.Add(1)
}

// restoredIndex returns the index of call id among the restore's streams,
// -1 if the restore did not list it.
func (l *liveCalls) restoredIndex(id string) int {
	streams := l.restoredStreams
	prefix := len(events.CallStreamPrefix)
	i := sort.Search(len(streams), func(i int) bool { return streams[i][prefix:] >= id })
	if i < len(streams) && streams[i][prefix:] == id {
		return i
	}
	return -1
}

// has reports whether call id is live (dormant or not), without starting
// its actor.
func (l *liveCalls) has(id string) bool {
	s := l.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pids[id] != nil {
		return true
	}
	if l.dormantN.Load() == 0 {
		return false
	}
	i := l.restoredIndex(id)
	return i >= 0 && l.restored[i] != nil
}

func (l *liveCalls) add(id string, pid *actor.PID) {
	s := l.shard(id)
	s.mu.Lock()
	s.pids[id] = pid
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
	if l.dormantN.Load() == 0 {
		return nil
	}
	i := l.restoredIndex(id)
	if i < 0 || l.restored[i] == nil {
		return nil
	}
	// Under the shard's lock, so that it starts once; the actor's start
	// reads only its seed.
	p, err := l.wake(l.restoredStreams[i], &l.restored[i].state)
	if err != nil {
		return nil
	}
	l.restored[i] = nil
	l.dormantN.Add(-1)
	s.pids[id] = p
	return p
}

func (l *liveCalls) remove(id string) {
	s := l.shard(id)
	s.mu.Lock()
	delete(s.pids, id)
	if l.dormantN.Load() > 0 {
		if i := l.restoredIndex(id); i >= 0 && l.restored[i] != nil {
			l.restored[i] = nil
			l.dormantN.Add(-1)
		}
	}
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
	cc := s.byClient[client]
	if cc == nil {
		cc = &clientCalls{}
		s.byClient[client] = cc
	}
	if l.restoring.Load() {
		first := cc.pending == nil && len(cc.set) == 0
		cc.pending = append(cc.pending, call)
		return first
	}
	m := cc.calls()
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
	if cc := s.byClient[client]; cc != nil {
		m := cc.calls()
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
	cc := s.byClient[client]
	return cc != nil && len(cc.pending)+len(cc.set) > 0
}

func (l *liveCalls) callsOf(client string) []string {
	s := l.shard(client)
	s.mu.Lock()
	defer s.mu.Unlock()
	cc := s.byClient[client]
	if cc == nil {
		return []string{}
	}
	m := cc.calls()
	out := make([]string, 0, len(m))
	for id := range m {
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
	// The dormant calls first, then the started ones: a call woken in
	// between (pid moves it from one to the other under its shard's lock)
	// is then seen twice, never missed, and counted once.
	var out []string
	dormant := l.dormantN.Load() > 0
	if dormant {
		prefix := len(events.CallStreamPrefix)
		for i, stream := range l.restoredStreams {
			id := stream[prefix:]
			s := l.shard(id)
			s.mu.Lock()
			if l.restored[i] != nil {
				out = append(out, id)
			}
			s.mu.Unlock()
		}
	}
	asleep := len(out)
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		for id := range s.pids {
			out = append(out, id)
		}
		s.mu.Unlock()
	}
	if asleep == 0 {
		return out
	}
	seen := make(map[string]bool, asleep)
	for _, id := range out[:asleep] {
		seen[id] = true
	}
	kept := out[:asleep]
	for _, id := range out[asleep:] {
		if !seen[id] {
			kept = append(kept, id)
		}
	}
	return kept
}

func (l *liveCalls) count() int {
	n := int(l.dormantN.Load())
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.pids)
		s.mu.Unlock()
	}
	return n
}

// dormantState returns the restored state of a call that has no actor yet.
func (l *liveCalls) dormantState(id string) (fsm.Call, bool) {
	s := l.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if l.dormantN.Load() == 0 {
		return fsm.Call{}, false
	}
	if i := l.restoredIndex(id); i >= 0 && l.restored[i] != nil {
		return l.restored[i].state.Clone(), true
	}
	return fsm.Call{}, false
}
