package sip

import (
	"time"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
)

// The engine commands the adapter sends for one call (Answer, Hangup,
// Reject, the trunk's far-end reports) run in the order the SIP messages
// asked for them, one at a time: a BYE that comes right after a device's
// 200 hangs up after the Answer that 200 caused, not before it (a hangup
// of a call still ringing would end it "rejected" or "canceled", and the
// Answer would then be refused). Each call has a lane: a queue of commands
// and at most one goroutine running them; the lane goes away when empty.

// lane is the queue of one call's commands.
type lane struct {
	q       []func()
	running bool
}

// inOrder queues f after the commands already queued for call id; it
// returns at once.
func (a *Adapter) inOrder(id string, f func()) {
	a.mu.Lock()
	ln, run := a.enqueueLocked(id, f)
	a.mu.Unlock()
	if run {
		a.wg.Go(func() { a.runLane(id, ln, nil) })
	}
}

// inOrderWait runs f after the commands already queued for call id and
// returns once it ran. When the lane is idle, f runs on the caller's
// goroutine.
func (a *Adapter) inOrderWait(id string, f func()) {
	a.mu.Lock()
	a.inOrderWaitLocked(id, f)
}

// inOrderWaitLocked is inOrderWait with a.mu held, which it releases:
// what the caller did under the same lock (registering a dialog, so that
// its BYE can be served) comes before any command queued after f.
func (a *Adapter) inOrderWaitLocked(id string, f func()) {
	done := make(chan struct{})
	ln, run := a.enqueueLocked(id, func() {
		defer close(done)
		f()
	})
	a.mu.Unlock()
	if run {
		a.runLane(id, ln, done)
	}
	<-done
}

// enqueueLocked queues f in call id's lane; it reports whether the caller
// must run the lane (nobody runs it). a.mu is held.
func (a *Adapter) enqueueLocked(id string, f func()) (*lane, bool) {
	ln := a.lanes[id]
	if ln == nil {
		ln = &lane{}
		a.lanes[id] = ln
	}
	ln.q = append(ln.q, f)
	if ln.running {
		return ln, false
	}
	ln.running = true
	return ln, true
}

// runLane runs the commands of a lane until it is empty — or, with a
// non-nil until, until that is closed: the commands left then go on on a
// goroutine of their own.
func (a *Adapter) runLane(id string, ln *lane, until <-chan struct{}) {
	for {
		a.mu.Lock()
		if len(ln.q) == 0 {
			ln.running = false
			if a.lanes[id] == ln {
				delete(a.lanes, id)
			}
			a.mu.Unlock()
			return
		}
		if until != nil {
			select {
			case <-until:
				a.mu.Unlock()
				a.wg.Go(func() { a.runLane(id, ln, nil) })
				return
			default:
			}
		}
		f := ln.q[0]
		ln.q[0] = nil
		ln.q = ln.q[1:]
		a.mu.Unlock()
		f()
	}
}

// hangupTries bounds how often a hangup is tried while the call is still
// live; the waits between tries double from hangupRetry.
const (
	hangupTries = 4
	hangupRetry = 100 * time.Millisecond
)

// hangupNow ends call id on behalf of client's side (run in the call's
// lane). A refused hangup of a call that is still live — the engine was
// too slow for the command's timeout, or something else failed — is tried
// again: a phone that got 200 to its BYE has hung up, and its call must
// not stay up. A call that has ended already needs nothing.
func (a *Adapter) hangupNow(id, client string, side engine.Side) {
	wait := hangupRetry
	for try := 1; ; try++ {
		ctx, cancel := a.command(client)
		_, err := a.eng.Hangup(ctx, id, side)
		cancel()
		if err == nil || a.ctx.Err() != nil {
			return
		}
		if !a.callLive(id) {
			a.log.Debug("hangup of a call that has ended", "call", id, "side", side, "err", err)
			return
		}
		if try == hangupTries {
			a.log.Error("hangup refused; the call stays up", "call", id, "side", side, "tries", try, "err", err)
			return
		}
		a.log.Warn("hangup refused; trying again", "call", id, "side", side, "try", try, "err", err)
		select {
		case <-time.After(wait):
		case <-a.ctx.Done():
			return
		}
		wait *= 2
	}
}

// callLive reports whether call id is still live in the engine (true when
// the engine cannot tell: a hangup is then tried again).
func (a *Adapter) callLive(id string) bool {
	ctx, cancel := a.command("")
	defer cancel()
	c, err := a.eng.Call(ctx, id)
	if err != nil {
		return errcode.CodeOf(err) != errcode.NotFound
	}
	return c.State != engine.Ended
}
