package aggregate

import (
	"slices"

	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

// Kind describes one kind of aggregate to the write path and the fold. S is
// the state (fsm.Call, fsm.Client …), T its status.
type Kind[S any, T comparable] struct {
	Name   string            // "call", "client" … for messages
	Stream events.StreamKind // its streams' kind
	Empty  func(id string) S // the state of an aggregate with no events
	// Apply folds an event into the state. On an error the state is
	// thrown away (Commit folds on a fork; Load fails), so it need not be
	// left unchanged.
	Apply func(*S, events.Event, int64) error
	// Fork makes *dst the copy Commit folds on, Clone a copy for readers,
	// which the fold never writes into. Both write into dst rather than
	// return a state: a state is hundreds of bytes, and the write path
	// would copy it once more through the stack of every command.
	Fork   func(dst, src *S)
	Clone  func(dst, src *S)
	Ver    func(*S) uint64 // the state's version (events folded)
	Status func(*S) T      // its status, recorded before and after each event
	Ended  func(*S) bool   // the stream ends: it leaves the journal's live set
}

// StreamOf returns the stream id of the aggregate id.
func (k *Kind[S, T]) StreamOf(id string) string { return k.Stream.Stream(id) }

// Calls is the call aggregate.
var Calls = &Kind[fsm.Call, fsm.CallStatus]{
	Name: "call", Stream: events.CallStreamKind,
	Empty: func(id string) fsm.Call { return fsm.Call{ID: id} },
	// Commit folds on a fork, and Load discards a stream that does not
	// fold: neither needs ApplyCall's copy of the call.
	Apply: fsm.FoldCall,
	// A call's fold on a shallow copy: ApplyCall replaces its slices, it
	// never writes into them.
	Fork: func(dst, c *fsm.Call) { *dst = *c },
	// A reader's copy shares the slices too: folded slices are never
	// written into again, only replaced. The engine's public views clone
	// them (a user may write into a view).
	Clone:  func(dst, c *fsm.Call) { *dst = *c },
	Ver:    func(c *fsm.Call) uint64 { return c.Version },
	Status: func(c *fsm.Call) fsm.CallStatus { return c.Status },
	Ended:  func(c *fsm.Call) bool { return c.Status == fsm.Ended },
}

// Clients is the client aggregate.
var Clients = &Kind[fsm.Client, fsm.ClientStatus]{
	Name: "client", Stream: events.ClientStreamKind,
	Empty:  func(id string) fsm.Client { return fsm.Client{ID: id} },
	Apply:  fsm.ApplyClient,
	Fork:   func(dst, c *fsm.Client) { *dst = c.Clone() },
	Clone:  func(dst, c *fsm.Client) { *dst = c.Clone() },
	Ver:    func(c *fsm.Client) uint64 { return c.Version },
	Status: func(c *fsm.Client) fsm.ClientStatus { return c.Status },
	Ended:  func(c *fsm.Client) bool { return c.Status == fsm.ClientGone },
}

// Sessions is the session aggregate.
var Sessions = &Kind[fsm.Session, fsm.SessionStatus]{
	Name: "session", Stream: events.SessionStreamKind,
	Empty:  func(id string) fsm.Session { return fsm.Session{ID: id} },
	Apply:  fsm.ApplySession,
	Fork:   func(dst, s *fsm.Session) { *dst = s.Clone() },
	Clone:  func(dst, s *fsm.Session) { *dst = s.Clone() },
	Ver:    func(s *fsm.Session) uint64 { return s.Version },
	Status: func(s *fsm.Session) fsm.SessionStatus { return s.Status },
	Ended:  func(s *fsm.Session) bool { return s.Status == fsm.SessionDestroyed },
}

// Transfers is the transfer aggregate.
var Transfers = &Kind[fsm.Transfer, fsm.TransferStatus]{
	Name: "transfer", Stream: events.TransferStreamKind,
	Empty:  func(id string) fsm.Transfer { return fsm.Transfer{ID: id} },
	Apply:  fsm.ApplyTransfer,
	Fork:   func(dst, t *fsm.Transfer) { *dst = *t },
	Clone:  func(dst, t *fsm.Transfer) { *dst = t.Clone() },
	Ver:    func(t *fsm.Transfer) uint64 { return t.Version },
	Status: func(t *fsm.Transfer) fsm.TransferStatus { return t.Status },
	Ended:  func(t *fsm.Transfer) bool { return t.Status.Done() },
}

// Groups is the group aggregate; its status is whether it was removed.
var Groups = &Kind[fsm.Group, bool]{
	Name: "group", Stream: events.GroupStreamKind,
	Empty: func(id string) fsm.Group { return fsm.Group{ID: id} },
	Apply: fsm.ApplyGroup,
	Fork:  func(dst, g *fsm.Group) { *dst = *g }, // ApplyGroup clones the members it keeps
	Clone: func(dst, g *fsm.Group) {
		*dst = *g
		dst.Members = slices.Clone(g.Members)
	},
	Ver:    func(g *fsm.Group) uint64 { return g.Version },
	Status: func(g *fsm.Group) bool { return g.Removed },
	Ended:  func(g *fsm.Group) bool { return g.Removed },
}

// Messages is the text message aggregate.
var Messages = &Kind[fsm.Message, fsm.MessageStatus]{
	Name: "message", Stream: events.MessageStreamKind,
	Empty:  func(id string) fsm.Message { return fsm.Message{ID: id} },
	Apply:  fsm.ApplyMessage,
	Fork:   func(dst, m *fsm.Message) { *dst = *m },
	Clone:  func(dst, m *fsm.Message) { *dst = *m },
	Ver:    func(m *fsm.Message) uint64 { return m.Version },
	Status: func(m *fsm.Message) fsm.MessageStatus { return m.Status },
	Ended: func(m *fsm.Message) bool {
		return m.Status == fsm.MessageDelivered || m.Status == fsm.MessageFailed
	},
}
