package media

import "sync"

// ICECandidate is one ICE candidate, in JSON as the browser's
// RTCIceCandidateInit. An empty Candidate is the end of candidates.
type ICECandidate struct {
	Candidate     string  `json:"candidate"`
	SDPMid        *string `json:"sdpMid,omitempty"`
	SDPMLineIndex *uint16 `json:"sdpMLineIndex,omitempty"`
}

// LegState is the state of a leg's connection.
type LegState string

// The states of a leg.
const (
	LegConnecting   LegState = "connecting"
	LegConnected    LegState = "connected"
	LegDisconnected LegState = "disconnected"
	LegFailed       LegState = "failed"
	LegClosed       LegState = "closed"
)

// LegEvents are the callbacks of one leg; each may be nil. They are called in
// order, one at a time, on a goroutine of the leg, never while the relay holds
// a lock: a callback may call the relay, except Relay.Close. None is called
// before AnswerOffer or CreateOffer has returned (send the SDP first, then
// the candidates).
type LegEvents struct {
	// Candidate is a local candidate to send to the peer (trickle ICE).
	Candidate func(c ICECandidate)
	// GatheringDone: local gathering finished (the signalling's ice.done).
	GatheringDone func()
	// DTMF is one RFC 4733 digit received from the peer, reported once per
	// key press (at the end of the event), whether the leg is muted or not.
	DTMF func(digit rune)
	// State is each change of the leg's connection state.
	State func(s LegState)
	// Renegotiate is a new offer for the leg, already up: the relay added
	// outgoing tracks (Join). Send it to the peer on the existing peer
	// connection; its answer goes to AcceptAnswer. One offer at a time: the
	// next comes after the answer to this one. Without it, a leg cannot
	// join a conference of three or more.
	Renegotiate func(offer string)
}

// eventQueue runs a leg's callbacks in order on one goroutine. It holds them
// until released (the SDP is out), and never blocks the one who pushes.
type eventQueue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	items  []func()
	held   bool
	closed bool
}

func newEventQueue() *eventQueue {
	q := &eventQueue{held: true}
	q.cond = sync.NewCond(&q.mu)
	return q
}

func (q *eventQueue) push(f func()) {
	q.mu.Lock()
	if !q.closed {
		q.items = append(q.items, f)
		q.cond.Signal()
	}
	q.mu.Unlock()
}

func (q *eventQueue) release() {
	q.mu.Lock()
	q.held = false
	q.cond.Signal()
	q.mu.Unlock()
}

// close ends the queue: what was pushed is still delivered, unless the queue
// was never released (the leg failed to set up: no events).
func (q *eventQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.cond.Signal()
	q.mu.Unlock()
}

func (q *eventQueue) run() {
	q.mu.Lock()
	for {
		for !q.closed && (q.held || len(q.items) == 0) {
			q.cond.Wait()
		}
		if q.held || len(q.items) == 0 {
			q.items = nil
			q.mu.Unlock()
			return
		}
		batch := q.items
		q.items = nil
		q.mu.Unlock()
		for _, f := range batch {
			f()
		}
		q.mu.Lock()
	}
}
