package sip

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
)

// SIP trunks (issue 14 part 3): configured upstream carriers that carry the
// engine's calls to numbers outside and bring calls from outside to the
// organisation's numbers. Trunks is the engine's Adapter (engine.Config.
// Adapter, in place of the loopback far end): a CallDialed outbound is an
// INVITE to the trunk that serves the number (trunk_out.go); an INVITE from
// one of a trunk's inbound addresses is an engine Inbound (trunk_in.go).
// The SIP adapter carries the messages: Adapter.SetTrunks links the two
// before Start.

// Trunk is one upstream trunk.
type Trunk struct {
	// Name names the trunk in logs.
	Name string
	// Address is the trunk's host:port; INVITEs go to
	// sip:<number>@Address.
	Address string
	// Transport is "udp" (default), "tcp" or "tls" (verified with
	// Settings.TLSClientConfig).
	Transport string
	// Username and Password answer the trunk's 401/407 challenges (digest
	// MD5). Empty: a challenge ends the call failed.
	Username, Password string
	// FromDomain is the host of our From URI (default the trunk's host).
	FromDomain string
	// InboundAddresses are the IPs or CIDRs the trunk's INVITEs come from;
	// only those are taken as calls from outside. Empty: the host of
	// Address when it is an IP.
	InboundAddresses []string
	// Prefixes are the number prefixes (E.164, "+44", "+1555") the trunk
	// carries out; empty: every number. The first trunk whose prefix
	// matches a number carries it; the next ones that match take the call
	// over when it fails there before ringing (failover).
	Prefixes []string
	// Register makes the adapter register to the trunk with Username and
	// Password (trunk_register.go), for a carrier that sends calls only to
	// a registered PBX; RegisterExpires is the time asked for (default
	// RegisterExpires, 300 s).
	Register        bool
	RegisterExpires time.Duration
	// Qualify is the interval of OPTIONS probes to the trunk
	// (trunk_qualify.go): a trunk that leaves one unanswered is down, and
	// calls try it only after the trunks that are up. 0: no probes.
	Qualify time.Duration
	// SRTP makes the relay's offers to the trunk SRTP (RTP/SAVP, SDES; see
	// Settings.SRTP).
	SRTP bool

	inbound []netip.Prefix
}

// Check validates a trunk's settings.
func (t *Trunk) Check() error {
	if _, _, err := net.SplitHostPort(t.Address); err != nil {
		return fmt.Errorf("trunk %q: address %q is not host:port", t.Name, t.Address)
	}
	switch strings.ToLower(t.Transport) {
	case "", "udp", "tcp", "tls":
	default:
		return fmt.Errorf("trunk %q: transport %q is not udp, tcp or tls", t.Name, t.Transport)
	}
	for _, p := range t.Prefixes {
		if p == "" || strings.ContainsAny(p, " @:;<>") {
			return fmt.Errorf("trunk %q: %q is not a number prefix", t.Name, p)
		}
	}
	if t.Register && t.Username == "" {
		return fmt.Errorf("trunk %q: register needs a username", t.Name)
	}
	if t.RegisterExpires < 0 {
		return fmt.Errorf("trunk %q: register_expires %s is negative", t.Name, t.RegisterExpires)
	}
	if t.Qualify < 0 {
		return fmt.Errorf("trunk %q: qualify %s is negative", t.Name, t.Qualify)
	}
	_, err := t.parseInbound()
	return err
}

func (t *Trunk) parseInbound() ([]netip.Prefix, error) {
	list := t.InboundAddresses
	if len(list) == 0 {
		if host, _, err := net.SplitHostPort(t.Address); err == nil {
			if _, err := netip.ParseAddr(host); err == nil {
				list = []string{host}
			}
		}
	}
	var out []netip.Prefix
	for _, s := range list {
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("trunk %q: inbound address %q is not an IP or CIDR", t.Name, s)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("trunk %q: inbound address %q is not an IP or CIDR", t.Name, s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// transport is the trunk's transport as sipgo names it.
func (t *Trunk) transport() string {
	switch strings.ToLower(t.Transport) {
	case "tcp":
		return "TCP"
	case "tls":
		return "TLS"
	}
	return "UDP"
}

// serves reports whether the trunk carries number out.
func (t *Trunk) serves(number string) bool {
	if len(t.Prefixes) == 0 {
		return true
	}
	for _, p := range t.Prefixes {
		if strings.HasPrefix(number, p) {
			return true
		}
	}
	return false
}

// from reports whether ip is one of the trunk's inbound addresses.
func (t *Trunk) from(ip netip.Addr) bool {
	for _, p := range t.inbound {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Trunks is the engine's far end through SIP trunks: an engine.Adapter.
// Build it with NewTrunks, give it to engine.Config.Adapter, and link it to
// the SIP adapter with Adapter.SetTrunks before Start. Events that come
// before Start wait for it.
type Trunks struct {
	list []*Trunk

	mu    sync.Mutex
	far   engine.FarEnd
	a     *Adapter
	queue []engine.Event
	wake  chan struct{}
	legs  map[string]*trunkLeg // engine leg (call id at dial) → its outbound leg
	down  map[*Trunk]bool      // qualified trunks whose last probe went unanswered
}

// NewTrunks checks the trunks' settings and returns their adapter.
func NewTrunks(list []Trunk) (*Trunks, error) {
	if len(list) == 0 {
		return nil, fmt.Errorf("sip: no trunk")
	}
	ts := &Trunks{wake: make(chan struct{}, 1), legs: map[string]*trunkLeg{}, down: map[*Trunk]bool{}}
	for i := range list {
		t := list[i]
		if t.Name == "" {
			t.Name = "trunk" + strconv.Itoa(i+1)
		}
		if err := t.Check(); err != nil {
			return nil, err
		}
		t.inbound, _ = t.parseInbound()
		ts.list = append(ts.list, &t)
	}
	return ts, nil
}

// Attach implements engine.Adapter.
func (ts *Trunks) Attach(far engine.FarEnd) {
	ts.mu.Lock()
	ts.far = far
	ts.mu.Unlock()
}

// HandleEvent implements engine.Adapter: it queues the event for the
// trunks' loop and returns at once.
func (ts *Trunks) HandleEvent(ev engine.Event) {
	switch ev.Type {
	case events.TypeCallDialed, events.TypeCallEnded:
	default:
		return
	}
	ts.mu.Lock()
	ts.queue = append(ts.queue, ev)
	ts.mu.Unlock()
	select {
	case ts.wake <- struct{}{}:
	default:
	}
}

// routes are the trunks that carry number out, in the order configured —
// those that are up first, then those whose last probe went unanswered
// (trunk_qualify.go): the first carries the call, the others take it over
// in turn when it fails (trunkLeg.place).
func (ts *Trunks) routes(number string) []*Trunk {
	var up, down []*Trunk
	for _, t := range ts.list {
		switch {
		case !t.serves(number):
		case ts.isDown(t):
			down = append(down, t)
		default:
			up = append(up, t)
		}
	}
	return append(up, down...)
}

// inboundTrunk is the trunk whose inbound addresses hold the request's
// source, or nil.
func (ts *Trunks) inboundTrunk(source string) *Trunk {
	host, _, err := net.SplitHostPort(source)
	if err != nil {
		host = source
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return nil
	}
	ip = ip.Unmap()
	for _, t := range ts.list {
		if t.from(ip) {
			return t
		}
	}
	return nil
}

// SetTrunks makes the adapter carry the trunks' calls. Call it before
// Start.
func (a *Adapter) SetTrunks(ts *Trunks) {
	a.trunks = ts
	ts.mu.Lock()
	ts.a = a
	ts.mu.Unlock()
}

// startTrunks runs the trunks' loop (from Start).
func (a *Adapter) startTrunks() {
	if a.trunks == nil {
		return
	}
	a.wg.Go(a.trunks.loop)
}

// loop hands the queued events to their legs until the adapter stops.
func (ts *Trunks) loop() {
	a := ts.a
	for {
		ts.mu.Lock()
		q := ts.queue
		ts.queue = nil
		ts.mu.Unlock()
		for _, ev := range q {
			ts.handle(ev)
		}
		select {
		case <-ts.wake:
		case <-a.ctx.Done():
			return
		}
	}
}

// handle: a CallDialed outbound places a leg on a trunk; a CallEnded stops
// the call's legs.
func (ts *Trunks) handle(ev engine.Event) {
	a := ts.a
	id := ev.CallID()
	switch e := ev.Event.(type) {
	case events.CallDialed:
		if e.Direction != events.Outbound && e.Direction != events.Transit || e.CalleeLeg != "" {
			return
		}
		leg := &trunkLeg{ts: ts, id: id, number: e.Callee.Number}
		ts.mu.Lock()
		ts.legs[id] = leg
		ts.mu.Unlock()
		a.wg.Go(func() { leg.place(ev.Call) })
	case events.CallEnded:
		if e.Reason == events.Transferred {
			return // the far-end leg goes on in the transfer's new call
		}
		legs := []string{id}
		if c := ev.Call; c != nil {
			legs = append(legs, c.CallerLeg, c.CalleeLeg)
		}
		for _, l := range legs {
			ts.mu.Lock()
			leg := ts.legs[l]
			delete(ts.legs, l)
			ts.mu.Unlock()
			if leg != nil {
				leg.stop()
			}
		}
	}
}

// farEnd is the engine the trunks report to.
func (ts *Trunks) farEnd() engine.FarEnd {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.far
}
