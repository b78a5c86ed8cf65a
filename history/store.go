package history

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/journal"
)

// format names the layout of the file; a file of another format is rebuilt.
const format = "callengine-history 1"

var (
	bucketMeta     = []byte("meta")
	bucketEntries  = []byte("entries")
	bucketCalls    = []byte("calls")
	bucketMessages = []byte("messages")
	bucketBoxCalls = []byte("boxcalls")
	bucketLive     = []byte("live")
	buckets        = [][]byte{bucketMeta, bucketEntries, bucketCalls, bucketMessages, bucketBoxCalls, bucketLive}

	keyFormat     = []byte("format")
	keyCheckpoint = []byte("checkpoint") // 8 bytes: every journal record up to it is applied
	keyLast       = []byte("last")       // the last record applied: seq, version, crc, stream
	keyOpen       = []byte("open")       // the boot id of the machine that has the file open
)

// fingerprint identifies a journal record: a journal restored from another
// copy holds a different record at the same sequence number.
type fingerprint struct {
	Seq, Version uint64
	CRC          uint32
	Stream       string
}

func fingerprintOf(r journal.Record) fingerprint {
	return fingerprint{Seq: r.Seq, Version: r.Version, CRC: crc32.ChecksumIEEE(r.Data), Stream: r.Stream}
}

func (f fingerprint) encode() []byte {
	b := binary.BigEndian.AppendUint64(nil, f.Seq)
	b = binary.BigEndian.AppendUint64(b, f.Version)
	b = binary.BigEndian.AppendUint32(b, f.CRC)
	return append(b, f.Stream...)
}

func decodeFingerprint(b []byte) (fingerprint, bool) {
	if len(b) < 20 {
		return fingerprint{}, false
	}
	return fingerprint{
		Seq: binary.BigEndian.Uint64(b), Version: binary.BigEndian.Uint64(b[8:]),
		CRC: binary.BigEndian.Uint32(b[16:]), Stream: string(b[20:]),
	}, true
}

// store is the projection's bbolt file.
//
// It is opened with NoSync: a commit is not fsynced. The file holds nothing
// that is not in the journal — it can be rebuilt from it at any time — so it
// need not survive a power cut, only tell when it might not have: a process
// that dies leaves its commits in the page cache, intact (bbolt writes the
// meta page last, so a commit is there whole or not at all), but a machine
// that stops does not. The file therefore records, while it is open, the
// boot id of the machine (keyOpen, synced); Close syncs and clears it. A
// file found still open from another boot, or where the boot id cannot be
// read, is rebuilt.
type store struct {
	path string
	db   *bolt.DB
}

// rebuildError says why a file cannot be used and must be rebuilt.
type rebuildError struct{ why string }

func (e *rebuildError) Error() string { return e.why }

func rebuildf(format string, args ...any) error {
	return &rebuildError{why: fmt.Sprintf(format, args...)}
}

// initialMmapSize is the size of the file's first memory map.
const initialMmapSize = 128 << 20

// openStore opens the file at path, creating it if it does not exist.
func openStore(path string, lockTimeout time.Duration) (s *store, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, rebuildf("damaged file: %v", r)
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: lockTimeout, NoSync: true, NoFreelistSync: true, FreelistType: bolt.FreelistMapType,
		// Address space, not memory: a file that grows past the map is
		// mapped again, and every node of the flush under way copied.
		InitialMmapSize: initialMmapSize,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, errcode.Wrap(errcode.Unavailable, err, "history: "+path+" is held by another process")
	}
	if err != nil {
		return nil, rebuildf("unreadable: %v", err)
	}
	return &store{path: path, db: db}, nil
}

// view runs fn in a read transaction; a panic on a damaged page becomes an
// error.
func (s *store) view(fn func(*bolt.Tx) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = rebuildf("damaged page: %v", r)
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return s.db.View(fn)
}

func (s *store) update(fn func(*bolt.Tx) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = rebuildf("damaged page: %v", r)
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return s.db.Update(fn)
}

// state is what the file says of itself.
type state struct {
	fresh      bool
	checkpoint uint64
	last       fingerprint
	openBy     string // keyOpen: set when the file was not closed
	wasOpen    bool
}

// init creates the layout in a new file, and reads the meta of an old one.
func (s *store) init() (st state, err error) {
	err = s.update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			c := tx.Cursor()
			if k, _ := c.First(); k != nil {
				return rebuildf("a bbolt file that is not a call history")
			}
			for _, b := range buckets {
				if _, err := tx.CreateBucket(b); err != nil {
					return err
				}
			}
			meta = tx.Bucket(bucketMeta)
			st.fresh = true
			if err := meta.Put(keyFormat, []byte(format)); err != nil {
				return err
			}
			return meta.Put(keyCheckpoint, make([]byte, 8))
		}
		if f := meta.Get(keyFormat); string(f) != format {
			return rebuildf("format %q, this build writes %q", f, format)
		}
		for _, b := range buckets {
			if tx.Bucket(b) == nil {
				return rebuildf("bucket %s missing", b)
			}
		}
		cp := meta.Get(keyCheckpoint)
		if len(cp) != 8 {
			return rebuildf("checkpoint of %d bytes", len(cp))
		}
		st.checkpoint = binary.BigEndian.Uint64(cp)
		if v := meta.Get(keyLast); v != nil {
			var ok bool
			if st.last, ok = decodeFingerprint(v); !ok {
				return rebuildf("bad fingerprint")
			}
		}
		if v := meta.Get(keyOpen); v != nil {
			st.wasOpen, st.openBy = true, string(v)
		}
		return nil
	})
	return st, err
}

// markOpen records that the file is open on this machine, durably.
func (s *store) markOpen(boot string) error {
	if err := s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyOpen, []byte(boot))
	}); err != nil {
		return err
	}
	return s.db.Sync()
}

// close syncs the file, clears the open mark and closes it.
func (s *store) close() error {
	err := s.db.Sync()
	if err == nil {
		err = s.update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Delete(keyOpen) })
	}
	if err == nil {
		err = s.db.Sync()
	}
	return errors.Join(err, s.db.Close())
}

// loadLive reads the state of the live calls into a new projection.
func (s *store) loadLive() (*Projection, error) {
	p := NewProjection()
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketLive).ForEach(func(k, v []byte) error {
			var c callState
			if err := json.Unmarshal(v, &c); err != nil || c.ID != string(k) {
				return rebuildf("live call %q does not decode", k)
			}
			p.live[c.ID] = &c
			return nil
		})
	})
	return p, err
}

// bootID names the running boot of the machine, "" when it cannot be known.
func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// pending holds the entries changed since the last flush of the file: an
// entry changes with every event of its call, and only its last value is
// written, when the file is flushed. Between flushes the queries read the
// file through it.
type pending struct {
	calls   map[string][]*pendingEntry // call → its clients' changes
	clients map[string][]*pendingEntry // client → its changes
	n       int                        // changes held
	// The call of the last change, and its clients': a call's changes
	// come together.
	lastCall    string
	lastChanges []*pendingEntry
}

type pendingEntry struct {
	client, call string
	del          bool
	entry        Entry // of a put
}

// set records a PutEntry or a DeleteEntry.
func (p *pending) set(ch *Change) {
	changes := p.lastChanges
	if ch.Call != p.lastCall || changes == nil {
		changes = p.calls[ch.Call]
	}
	var e *pendingEntry
	for _, c := range changes {
		if c.client == ch.Client {
			e = c
			break
		}
	}
	if e == nil {
		if p.calls == nil {
			p.calls, p.clients = map[string][]*pendingEntry{}, map[string][]*pendingEntry{}
		}
		e = &pendingEntry{client: ch.Client, call: ch.Call}
		changes = append(changes, e)
		p.calls[ch.Call] = changes
		p.clients[ch.Client] = append(p.clients[ch.Client], e)
		p.n++
	}
	p.lastCall, p.lastChanges = ch.Call, changes
	e.del = ch.Op == DeleteEntry
	e.entry = ch.Entry
}

// of returns client's changes by call, nil when there are none.
func (p *pending) of(client string) map[string]*pendingEntry {
	list := p.clients[client]
	if len(list) == 0 {
		return nil
	}
	m := make(map[string]*pendingEntry, len(list))
	for _, e := range list {
		m[e.call] = e
	}
	return m
}

func (p *pending) reset() {
	clear(p.calls)
	clear(p.clients)
	p.n = 0
	p.lastCall, p.lastChanges = "", nil
}

// writer applies changes inside one write transaction.
type writer struct {
	entries, calls, messages, boxCalls *bolt.Bucket
	callsCur, boxCur                   *bolt.Cursor // of calls and boxCalls
	ck                                 []byte       // index's key
	arena                              arena        // values put, keys
}

func newWriter(tx *bolt.Tx) *writer {
	return &writer{
		entries: tx.Bucket(bucketEntries), calls: tx.Bucket(bucketCalls),
		messages: tx.Bucket(bucketMessages), boxCalls: tx.Bucket(bucketBoxCalls),
	}
}

// index finds the timed key of client's call through an index bucket. ck
// is valid until the next call (bbolt copies a key it puts).
func (w *writer) index(idx *bolt.Bucket, client, call string) (ck []byte, t int64, ok bool) {
	w.ck = callKey(w.ck[:0], client, call)
	// A cursor of the writer's own, not Get: Get makes one each time.
	c := &w.boxCur
	if idx == w.calls {
		c = &w.callsCur
	}
	if *c == nil {
		*c = idx.Cursor()
	}
	k, v := (*c).Seek(w.ck)
	if !bytes.Equal(k, w.ck) || len(v) != 8 {
		return w.ck, 0, false
	}
	return w.ck, getTime(v), true
}

// put writes value under key (client · t · call) in data, indexed in idx,
// removing a value the call had under another time.
func (w *writer) put(data, idx *bolt.Bucket, client, call string, t int64, key, value []byte) error {
	ck, old, ok := w.index(idx, client, call)
	if ok && old != t {
		if err := data.Delete(timedKey(nil, client, old, call)); err != nil {
			return err
		}
	}
	if !ok || old != t {
		if err := idx.Put(ck, putTime(w.arena.carve(8), t)); err != nil {
			return err
		}
	}
	return data.Put(key, value)
}

func (w *writer) del(data, idx *bolt.Bucket, client, call string) error {
	ck, t, ok := w.index(idx, client, call)
	if !ok {
		return nil
	}
	if err := data.Delete(timedKey(nil, client, t, call)); err != nil {
		return err
	}
	return idx.Delete(ck)
}

// apply writes a change of a voicemail message (entries go through
// pending: see flush).
func (w *writer) apply(ch *Change) error {
	switch ch.Op {
	case PutMessage:
		t := nanos(ch.Message.At)
		return w.put(w.messages, w.boxCalls, ch.Client, ch.Call, t, timedKey(nil, ch.Client, t, ch.Call), encodeMessage(nil, &ch.Message))
	case DeleteMessage:
		return w.del(w.messages, w.boxCalls, ch.Client, ch.Call)
	case HeardMessage:
		_, t, ok := w.index(w.boxCalls, ch.Client, ch.Call)
		if !ok {
			return nil
		}
		k := timedKey(nil, ch.Client, t, ch.Call)
		var m Message
		if err := decodeMessage(w.messages.Get(k), &m); err != nil {
			return err
		}
		if !m.New {
			return nil
		}
		m.New = false
		return w.messages.Put(k, encodeMessage(nil, &m))
	}
	return fmt.Errorf("history: unknown change %d", ch.Op)
}

// flush writes the entries of p, in key order.
func (w *writer) flush(p *pending) error {
	type put struct {
		key []byte
		e   *Entry
	}
	list := make([]put, 0, p.n)
	for _, changes := range p.calls {
		for _, pe := range changes {
			if pe.del {
				if err := w.del(w.entries, w.calls, pe.client, pe.call); err != nil {
					return err
				}
				continue
			}
			e := &pe.entry
			k := w.arena.carve(len(e.Client) + len(e.Call) + 2*binary.MaxVarintLen64 + 8)
			list = append(list, put{timedKey(k, e.Client, nanos(e.SetupAt), e.Call), e})
		}
	}
	slices.SortFunc(list, func(a, b put) int { return bytes.Compare(a.key, b.key) })
	var buf []byte
	for _, p := range list {
		e := p.e
		buf = encodeEntry(buf[:0], e)
		// bbolt keeps the value until the commit: a copy each.
		v := append(w.arena.carve(len(buf)), buf...)
		if err := w.put(w.entries, w.calls, e.Client, e.Call, nanos(e.SetupAt), p.key, v); err != nil {
			return err
		}
	}
	return nil
}

// arena hands out byte slices that stay valid until the transaction ends
// (bbolt keeps the values put until the commit), carved from shared blocks:
// one allocation for many entries.
type arena struct{ block []byte }

// carve returns an empty slice with room for n bytes.
func (a *arena) carve(n int) []byte {
	if cap(a.block)-len(a.block) < n {
		a.block = make([]byte, 0, max(64<<10, n))
	}
	start := len(a.block)
	a.block = a.block[:start+n]
	return a.block[start : start : start+n]
}

// saveLive writes the fold's state of the calls that changed since the
// last flush (the caller forgets them once the transaction commits).
func saveLive(tx *bolt.Tx, p *Projection) error {
	live := tx.Bucket(bucketLive)
	return p.eachDirty(func(id string, c *callState) error {
		if c == nil {
			return live.Delete([]byte(id))
		}
		v, err := json.Marshal(c)
		if err != nil {
			return err
		}
		return live.Put([]byte(id), v)
	})
}

func saveCheckpoint(tx *bolt.Tx, checkpoint uint64, last *fingerprint) error {
	meta := tx.Bucket(bucketMeta)
	if last != nil {
		if err := meta.Put(keyLast, last.encode()); err != nil {
			return err
		}
	}
	return meta.Put(keyCheckpoint, binary.BigEndian.AppendUint64(nil, checkpoint))
}

// calls lists the entries q selects, newest first: those of the file, or
// of pend when it holds the call.
func (s *store) calls(q *Query, before cursor, now time.Time, pend *pending) ([]Entry, error) {
	out := make([]Entry, 0, min(q.Limit, 64))
	err := s.view(func(tx *bolt.Tx) error {
		prefix := clientPrefix(nil, q.Client)
		// The first key not wanted: the cursor's entry, To, or the end
		// of the client's keys; the list starts with the key before it.
		var stop []byte
		if !q.To.IsZero() {
			stop = putTime(append([]byte(nil), prefix...), q.To.UnixNano())
		}
		if before.set {
			b := timedKey(nil, q.Client, before.Setup, before.Call)
			if stop == nil || bytes.Compare(b, stop) < 0 {
				stop = b
			}
		}
		if stop == nil {
			stop = successor(prefix)
		}
		m := newMatcher(q)
		from := int64(0)
		if !q.From.IsZero() {
			from = q.From.UnixNano()
		}
		// The entries of pend that q selects, newest first.
		held := pend.of(q.Client)
		type cand struct {
			key []byte
			e   *Entry
		}
		var cands []cand
		var buf []byte
		for _, pe := range held {
			if pe.del {
				continue
			}
			e := &pe.entry
			setup := nanos(e.SetupAt)
			if !q.From.IsZero() && setup < from {
				continue
			}
			k := timedKey(nil, e.Client, setup, e.Call)
			if stop != nil && bytes.Compare(k, stop) >= 0 {
				continue
			}
			buf = encodeEntry(buf[:0], e)
			if raw, ok := peekEntry(buf); !ok || !m.match(&raw) {
				continue
			}
			cands = append(cands, cand{k, e})
		}
		slices.SortFunc(cands, func(a, b cand) int { return bytes.Compare(b.key, a.key) })

		c := tx.Bucket(bucketEntries).Cursor()
		var k, v []byte
		if stop == nil {
			k, v = c.Last()
		} else if k, _ = c.Seek(stop); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for len(out) < q.Limit {
			// The file's next entry: k, or nil when it has no more.
			if k != nil && !bytes.HasPrefix(k, prefix) {
				k = nil
			}
			if k != nil {
				setup, _, ok := splitTimedKey(prefix, k)
				if !ok {
					return errBadValue
				}
				if !q.From.IsZero() && setup < from {
					k = nil
				}
			}
			if len(cands) > 0 && (k == nil || bytes.Compare(cands[0].key, k) > 0) {
				e := *cands[0].e
				cands = cands[1:]
				e.measure(now)
				out = append(out, e)
				continue
			}
			if k == nil {
				break
			}
			if held[string(k[len(prefix)+8:])] != nil {
				k, v = c.Prev() // pend has the call's entry
				continue
			}
			raw, ok := peekEntry(v)
			if !ok {
				return errBadValue
			}
			if m.match(&raw) {
				var e Entry
				if err := decodeEntry(v, &e); err != nil {
					return err
				}
				e.measure(now)
				out = append(out, e)
			}
			k, v = c.Prev()
		}
		return nil
	})
	return out, err
}

// Box is a client's voicemail box: its messages, newest first, and their
// counts.
type Box struct {
	Counts   Counts    `json:"counts"`
	Messages []Message `json:"messages"`
}

func (s *store) box(client string) (Box, error) {
	box := Box{Messages: []Message{}}
	err := s.view(func(tx *bolt.Tx) error {
		prefix := clientPrefix(nil, client)
		c := tx.Bucket(bucketMessages).Cursor()
		var k, v []byte
		if stop := successor(prefix); stop == nil {
			k, v = c.Last()
		} else if k, _ = c.Seek(stop); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Prev() {
			var m Message
			if err := decodeMessage(v, &m); err != nil {
				return err
			}
			box.Messages = append(box.Messages, m)
			box.Counts.Total++
			if m.New {
				box.Counts.New++
			}
		}
		return nil
	})
	return box, err
}

// missing returns the calls that client does not have in the index bucket
// (in pend, when it holds the call).
func (s *store) missing(idx []byte, client string, calls []string, pend *pending) ([]string, error) {
	var out []string
	var held map[string]*pendingEntry
	if pend != nil {
		held = pend.of(client)
	}
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(idx)
		for _, id := range calls {
			if pe := held[id]; pe != nil {
				if pe.del {
					out = append(out, id)
				}
				continue
			}
			if b.Get(callKey(nil, client, id)) == nil {
				out = append(out, id)
			}
		}
		return nil
	})
	return out, err
}
