package actors

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// mailbox is the mailbox of every actor of the engine. It schedules like
// protoactor's default mailbox (system messages first, Throughput user
// messages per run, the same idle/running hand-over), so a synchronized
// dispatcher steps actors in the same order; it differs in two ways:
//
//   - its queues are plain rings under a mutex: no allocation per message;
//   - a message still queued when its actor stops, or posted after, is not
//     dropped: it goes to gone, which answers it. Every request is answered
//     exactly once, and nobody polls to find out that an actor went away.
type mailbox struct {
	mu      sync.Mutex
	user    ring
	sys     ring
	stopped bool

	status    atomic.Int32 // idle or running
	userN     atomic.Int32
	sysN      atomic.Int32
	suspended atomic.Bool

	invoker    actor.MessageInvoker
	dispatcher actor.Dispatcher
	inline     bool   // the dispatcher is an InlineDispatcher: process runs on the sender's goroutine
	processFn  func() // m.process, made once for other dispatchers: a method value per schedule allocates
	self       *actor.PID
	gone       func(*actor.PID, any)
}

const (
	mailboxIdle int32 = iota
	mailboxRunning
)

// ring is a FIFO of messages.
type ring struct {
	buf   []any
	head  int
	n     int
	small [4]any // buf's first space, inside the mailbox: no allocation for an actor's first messages
}

func (r *ring) push(m any) {
	if r.buf == nil {
		r.buf = r.small[:]
	}
	if r.n == len(r.buf) {
		grown := make([]any, max(4, 2*len(r.buf)))
		for i := 0; i < r.n; i++ {
			grown[i] = r.buf[(r.head+i)%len(r.buf)]
		}
		clear(r.buf) // small keeps no message it no longer holds
		r.buf, r.head = grown, 0
	}
	r.buf[(r.head+r.n)%len(r.buf)] = m
	r.n++
}

func (r *ring) pop() any {
	if r.n == 0 {
		return nil
	}
	m := r.buf[r.head]
	r.buf[r.head] = nil
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	return m
}

// mailboxProducer returns the producer of mailboxes whose undeliverable
// messages go to gone (nil: they are dropped, as protoactor does).
func mailboxProducer(gone func(*actor.PID, any)) actor.MailboxProducer {
	return func() actor.Mailbox { return &mailbox{gone: gone} }
}

// PostUserMessage implements actor.Mailbox.
func (m *mailbox) PostUserMessage(msg any) {
	m.mu.Lock()
	if m.stopped {
		m.mu.Unlock()
		m.undeliverable(msg)
		return
	}
	m.user.push(msg)
	m.mu.Unlock()
	m.userN.Add(1)
	m.schedule()
}

// PostSystemMessage implements actor.Mailbox.
func (m *mailbox) PostSystemMessage(msg any) {
	m.mu.Lock()
	m.sys.push(msg)
	m.mu.Unlock()
	m.sysN.Add(1)
	m.schedule()
}

// RegisterHandlers implements actor.Mailbox.
func (m *mailbox) RegisterHandlers(invoker actor.MessageInvoker, dispatcher actor.Dispatcher) {
	m.invoker, m.dispatcher = invoker, dispatcher
	if _, m.inline = dispatcher.(InlineDispatcher); !m.inline {
		m.processFn = m.process
	}
	if c, ok := invoker.(interface{ Self() *actor.PID }); ok {
		m.self = c.Self()
	}
}

// Start implements actor.Mailbox.
func (m *mailbox) Start() {}

// UserMessageCount implements actor.Mailbox.
func (m *mailbox) UserMessageCount() int { return int(m.userN.Load()) }

func (m *mailbox) schedule() {
	if m.status.CompareAndSwap(mailboxIdle, mailboxRunning) {
		if m.inline {
			m.process() // what InlineDispatcher.Schedule does, without a func value per mailbox
			return
		}
		m.dispatcher.Schedule(m.processFn)
	}
}

func (m *mailbox) process() {
	for {
		m.run()
		m.status.Store(mailboxIdle)
		sys, user := m.sysN.Load(), m.userN.Load()
		// Messages posted after the loop ended: run again, unless another
		// schedule took them.
		if (sys > 0 || !m.suspended.Load() && user > 0) && m.status.CompareAndSwap(mailboxIdle, mailboxRunning) {
			continue
		}
		return
	}
}

func (m *mailbox) run() {
	var msg any
	defer func() {
		if r := recover(); r != nil {
			m.invoker.EscalateFailure(r, msg)
		}
	}()
	i, t := 0, m.dispatcher.Throughput()
	for {
		if i > t {
			i = 0
			runtime.Gosched()
		}
		i++
		if msg = m.popSystem(); msg != nil {
			m.sysN.Add(-1)
			switch msg.(type) {
			case *actor.SuspendMailbox:
				m.suspended.Store(true)
			case *actor.ResumeMailbox:
				m.suspended.Store(false)
			default:
				m.invoker.InvokeSystemMessage(msg)
				if _, ok := msg.(*actor.Stop); ok {
					m.stop()
				}
			}
			continue
		}
		if m.suspended.Load() {
			return
		}
		if msg = m.popUser(); msg == nil {
			return
		}
		m.userN.Add(-1)
		m.invoker.InvokeUserMessage(msg)
	}
}

func (m *mailbox) popSystem() any {
	m.mu.Lock()
	msg := m.sys.pop()
	m.mu.Unlock()
	return msg
}

func (m *mailbox) popUser() any {
	m.mu.Lock()
	msg := m.user.pop()
	m.mu.Unlock()
	return msg
}

// stop runs once the actor handled Stop: what is still queued, and
// whatever comes later, is undeliverable.
func (m *mailbox) stop() {
	m.mu.Lock()
	m.stopped = true
	var left []any
	for msg := m.user.pop(); msg != nil; msg = m.user.pop() {
		left = append(left, msg)
	}
	m.userN.Add(-int32(len(left)))
	m.mu.Unlock()
	for _, msg := range left {
		m.undeliverable(msg)
	}
}

func (m *mailbox) undeliverable(msg any) {
	if m.gone != nil {
		m.gone(m.self, msg)
	}
}
