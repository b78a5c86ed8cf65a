package sip

import (
	"time"

	"github.com/emiago/sipgo/sip"
)

// TransactionLinger is how long a transaction over UDP stays once it is
// over — after its final response (RFC 3261 Timer J), after the 2xx of an
// INVITE on either side (RFC 6026 Timers L and M) — to absorb the
// retransmissions of a message that crossed a lost one: 5 s, the wait
// timer of Kamailio's tm module (wt_timer), instead of the RFCs' 64×T1
// (32 s).
//
// A transaction that lingers holds its request and its response: at 1,000
// calls a second, with five transactions a call, 32 s of them were half
// of serve's heap and of what the garbage collector scanned
// (docs/performance.md). A retransmission comes T1 (500 ms) after the
// message it repeats, then at doubling intervals up to T2 (4 s), so 5 s
// absorbs all but one that follows four lost responses in a row. The ACK
// of a 2xx reaches its call through the dialog (onAck) whether or not the
// INVITE's transaction still lingers.
//
// sipgo keeps its timers in package variables: they are set once, when
// this package is initialized, for every sipgo transaction of the
// process.
const TransactionLinger = 5 * time.Second

func init() {
	sip.Timer_J = TransactionLinger
	sip.Timer_L = TransactionLinger
	sip.Timer_M = TransactionLinger
}
