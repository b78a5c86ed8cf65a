package sip

import (
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/emiago/sipgo/sip"
)

// Counters of the adapter, for the server's /metrics (callengine_sip_*,
// registered by serve): Stats reads them.

// Stats is a snapshot of the adapter's counters and gauges.
type Stats struct {
	// Bindings are the registered SIP bindings (devices of kind "sip").
	Bindings int
	// Dialogs are the SIP dialogs the adapter holds now (calls' legs).
	Dialogs int
	// Responses counts the final responses the adapter sent, by request
	// method (the methods SIP defines; any other is "other") and class
	// ("2xx" … "6xx"). Retransmissions are not counted.
	Responses map[string]map[string]uint64
	// AuthFailures counts requests whose digest credentials were wrong
	// (an unknown user, a bad response); a first request without
	// credentials, or a stale nonce, is not one.
	AuthFailures uint64
	// RegisterFlood counts REGISTERs refused by the per-address rate
	// limit (503).
	RegisterFlood uint64
	// ConnsRejected counts TCP and WebSocket connections closed at once:
	// over the per-address limit.
	ConnsRejected uint64
	// OriginRejected counts WebSocket handshakes refused for their Origin
	// (403).
	OriginRejected uint64
	// TrunkFailovers counts calls out handed from a trunk that failed to
	// the next one that carries the number.
	TrunkFailovers uint64
	// DigestReplays counts requests whose digest credentials were right
	// but used a nonce count already seen (a replay): challenged again.
	DigestReplays uint64
	// MediaTimeouts counts the calls hung up because a relayed SIP leg
	// sent no RTP for Settings.MediaTimeout.
	MediaTimeouts uint64
	// SessionTimeouts counts the calls ended because a session timer
	// (RFC 4028) ran out: no refresh from the peer, or ours failed.
	SessionTimeouts uint64
	// PhonesUnreachable counts the registration bindings removed because
	// they left Settings.QualifyPhones probes unanswered.
	PhonesUnreachable uint64
	// Overloaded counts new INVITEs refused with 503 because
	// Settings.MaxPendingCalls calls waited for the engine (load shed).
	Overloaded uint64
	// TrunksRegistered tells, for each trunk the adapter registers to,
	// whether its registration is up.
	TrunksRegistered map[string]bool
	// TrunksUp tells, for each trunk the adapter probes with OPTIONS
	// (Trunk.Qualify), whether it answered its last probe (true until
	// the first probe goes unanswered).
	TrunksUp map[string]bool
}

type counters struct {
	mu        sync.Mutex
	responses map[string]map[string]uint64

	authFailures   atomic.Uint64
	registerFlood  atomic.Uint64
	connsRejected  atomic.Uint64
	originRejected atomic.Uint64
	trunkFailovers atomic.Uint64
	overloaded     atomic.Uint64
	mediaTimeouts  atomic.Uint64
	digestReplays  atomic.Uint64
	sessionExpired atomic.Uint64

	phonesUnreachable atomic.Uint64
}

// failover counts a call handed to the next trunk.
func (c *counters) failover() { c.trunkFailovers.Add(1) }

// knownMethods label the response counters; any other method is "other"
// (a label per method a peer invents would grow without bound).
var knownMethods = map[string]bool{
	"INVITE": true, "ACK": true, "BYE": true, "CANCEL": true, "REGISTER": true, "OPTIONS": true,
	"INFO": true, "REFER": true, "MESSAGE": true, "NOTIFY": true, "SUBSCRIBE": true,
	"UPDATE": true, "PRACK": true, "PUBLISH": true,
}

// response counts a final response.
func (c *counters) response(res *sip.Response) {
	if res.StatusCode < 200 || res.StatusCode > 699 {
		return
	}
	method := "other"
	if h := res.CSeq(); h != nil && knownMethods[string(h.MethodName)] {
		method = string(h.MethodName)
	}
	class := strconv.Itoa(res.StatusCode/100) + "xx"
	c.mu.Lock()
	if c.responses == nil {
		c.responses = map[string]map[string]uint64{}
	}
	m := c.responses[method]
	if m == nil {
		m = map[string]uint64{}
		c.responses[method] = m
	}
	m[class]++
	c.mu.Unlock()
}

// Stats returns the adapter's counters now.
func (a *Adapter) Stats() Stats {
	s := Stats{
		AuthFailures:      a.stats.authFailures.Load(),
		RegisterFlood:     a.stats.registerFlood.Load(),
		ConnsRejected:     a.stats.connsRejected.Load(),
		OriginRejected:    a.stats.originRejected.Load(),
		TrunkFailovers:    a.stats.trunkFailovers.Load(),
		Overloaded:        a.stats.overloaded.Load(),
		MediaTimeouts:     a.stats.mediaTimeouts.Load(),
		SessionTimeouts:   a.stats.sessionExpired.Load(),
		PhonesUnreachable: a.stats.phonesUnreachable.Load(),
		DigestReplays:     a.stats.digestReplays.Load(),
		Responses:         map[string]map[string]uint64{},
	}
	for _, r := range a.regs {
		if s.TrunksRegistered == nil {
			s.TrunksRegistered = map[string]bool{}
		}
		s.TrunksRegistered[r.t.Name] = r.registered.Load()
	}
	if a.trunks != nil {
		for _, t := range a.trunks.list {
			if t.Qualify > 0 {
				if s.TrunksUp == nil {
					s.TrunksUp = map[string]bool{}
				}
				s.TrunksUp[t.Name] = !a.trunks.isDown(t)
			}
		}
	}
	a.stats.mu.Lock()
	for m, byClass := range a.stats.responses {
		cp := make(map[string]uint64, len(byClass))
		for k, v := range byClass {
			cp[k] = v
		}
		s.Responses[m] = cp
	}
	a.stats.mu.Unlock()
	a.mu.Lock()
	s.Dialogs = len(a.dialogs)
	a.mu.Unlock()
	if a.ctx != nil {
		ctx, cancel := a.command("")
		defer cancel()
		if clients, err := a.eng.Clients(ctx); err == nil {
			for _, c := range clients {
				for _, d := range c.Devices {
					if d.Kind == DeviceKind {
						s.Bindings++
					}
				}
			}
		}
	}
	return s
}
