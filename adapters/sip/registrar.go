package sip

import (
	"context"
	"math"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/callengine/callengine/adapters/sip/internal/sipsyntax"
	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/engine"
)

// The registrar (FEATURES M3, CL2): a REGISTER authenticated with digest
// binds its Contact URIs to the client as devices of kind "sip"; Expires 0
// (or the expiry passing) removes them. Every binding rings when the client
// is called.

// onRegister serves REGISTER.
func (a *Adapter) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	if !a.limiter.allow(sourceIP(req)) {
		a.stats.registerFlood.Add(1)
		res := a.response(req, statusServiceUnav)
		res.AppendHeader(sip.NewHeader("Retry-After", "5"))
		a.respond(tx, res)
		return
	}
	auth := a.authenticate(a.ctx, req, false)
	if auth.client == "" {
		a.challenge(req, tx, false, auth.stale)
		return
	}
	client := auth.client
	if to := req.To(); to == nil || to.Address.User != client {
		a.respond(tx, a.response(req, statusForbidden)) // one may register only its own address
		return
	}
	a.noteFlow(req) // over ws: requests to its Contacts go back on its connection
	now := a.set.Clock.Now()
	type change struct {
		uri string
		exp time.Duration
		ice bool // +sip.ice: a WebRTC endpoint (media.go, browsersOnly)
	}
	var changes []change
	wildcard := false
	expHdr, hasExp := "", false
	if h := req.GetHeader("Expires"); h != nil {
		expHdr, hasExp = h.Value(), true
	}
	for _, h := range req.GetHeaders("Contact") {
		c, ok := h.(*sip.ContactHeader)
		if !ok {
			a.respond(tx, a.response(req, statusBadRequest))
			return
		}
		if c.Address.Wildcard {
			wildcard = true
			continue
		}
		p, hasP := c.Params.Get("expires")
		exp, err := sipsyntax.RequestedExpiry(p, hasP, expHdr, hasExp, a.set.DefaultExpires)
		if err != nil {
			a.respond(tx, a.response(req, statusBadRequest))
			return
		}
		uri := c.Address.String()
		var u sip.Uri
		if err := sipsyntax.ParseContactURI(uri, &u); err != nil {
			a.respond(tx, a.response(req, statusBadRequest))
			return
		}
		if exp > 0 && exp < a.set.MinExpires {
			res := a.response(req, statusIntervalLow)
			res.AppendHeader(sip.NewHeader("Min-Expires", strconv.Itoa(int(a.set.MinExpires/time.Second))))
			a.respond(tx, res)
			return
		}
		_, ice := c.Params.Get("+sip.ice")
		changes = append(changes, change{uri, min(exp, a.set.MaxExpires), ice})
	}
	ctx, cancel := a.command(client)
	defer cancel()
	if wildcard {
		// RFC 3261 §10.3 step 6: "*" only alone and with Expires 0.
		if len(changes) > 0 || expHdr != "0" {
			a.respond(tx, a.response(req, statusBadRequest))
			return
		}
		cl, err := a.eng.Client(ctx, client)
		if err != nil {
			a.respond(tx, a.response(req, statusForError(err)))
			return
		}
		for _, d := range cl.Devices {
			if d.Kind == DeviceKind {
				if err := a.unbind(ctx, client, d.ID); err != nil {
					a.respond(tx, a.response(req, statusForError(err)))
					return
				}
			}
		}
	}
	for _, ch := range changes {
		id := deviceID(ch.uri)
		if ch.exp == 0 {
			if err := a.unbind(ctx, client, id); err != nil {
				a.respond(tx, a.response(req, statusForError(err)))
				return
			}
			continue
		}
		at := now.Add(ch.exp).Truncate(time.Second)
		if _, err := a.eng.ConnectDevice(ctx, client, engine.Device{ID: id, Kind: DeviceKind, Contact: sipsyntax.BindingContact(ch.uri, at, ch.ice)}); err != nil {
			a.log.Warn("register: cannot bind", "client", client, "contact", ch.uri, "err", err)
			a.respond(tx, a.response(req, statusForError(err)))
			return
		}
		a.armExpiry(client, id, at)
		a.log.Debug("registered", "client", client, "contact", ch.uri, "expires", at)
	}
	cl, err := a.eng.Client(ctx, client)
	if err != nil {
		a.respond(tx, a.response(req, statusForError(err)))
		return
	}
	res := a.response(req, status{200, "OK"})
	for _, d := range cl.Devices {
		if d.Kind != DeviceKind {
			continue
		}
		b, err := sipsyntax.ParseBinding(d.Contact)
		if err != nil {
			continue
		}
		left := int(math.Ceil(b.ExpiresAt.Sub(now).Seconds()))
		if left <= 0 {
			continue
		}
		c := &sip.ContactHeader{Address: b.URI, Params: sip.NewParams()}
		c.Params.Add("expires", strconv.Itoa(left))
		res.AppendHeader(c)
	}
	res.AppendHeader(sip.NewHeader("Date", now.UTC().Format(time.RFC1123)))
	a.respond(tx, res)
}

// unbind removes a binding and its expiry timer.
func (a *Adapter) unbind(ctx context.Context, client, id string) error {
	a.mu.Lock()
	if t, ok := a.timers[id]; ok {
		t.Stop()
		delete(a.timers, id)
	}
	a.mu.Unlock()
	_, err := a.eng.DisconnectDevice(ctx, client, id)
	return err
}

// armExpiry (re)sets the timer that removes a binding when it lapses.
func (a *Adapter) armExpiry(client, id string, at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if t, ok := a.timers[id]; ok {
		t.Stop()
	}
	if a.ctx.Err() != nil {
		return
	}
	a.timers[id] = a.set.Clock.AfterFunc(at.Sub(a.set.Clock.Now()), func() { a.expire(client, id, at) })
}

// expire removes a binding whose expiry passed, unless it was refreshed
// meanwhile.
func (a *Adapter) expire(client, id string, at time.Time) {
	if a.ctx.Err() != nil {
		return
	}
	ctx, cancel := a.command("")
	defer cancel()
	cl, err := a.eng.Client(ctx, client)
	if err != nil {
		return
	}
	for _, d := range cl.Devices {
		if d.ID != id {
			continue
		}
		if b, err := sipsyntax.ParseBinding(d.Contact); err == nil && b.ExpiresAt.After(at) {
			return // refreshed: its own timer runs
		}
		a.mu.Lock()
		delete(a.timers, id)
		a.mu.Unlock()
		if _, err := a.eng.DisconnectDevice(ctx, client, id); err != nil {
			a.log.Warn("cannot remove an expired binding", "client", client, "device", id, "err", err)
		} else {
			a.log.Debug("binding expired", "client", client, "device", id)
		}
	}
}

// restoreBindings, at start, removes the bindings (devices of kind "sip")
// that expired while the adapter was down — and any it cannot read — and
// re-arms the others' expiry.
func (a *Adapter) restoreBindings() {
	ctx, cancel := a.command("")
	defer cancel()
	clients, err := a.eng.Clients(ctx)
	if err != nil {
		a.log.Warn("cannot list the clients' bindings", "err", err)
		return
	}
	now := a.set.Clock.Now()
	for _, cl := range clients {
		for _, d := range cl.Devices {
			if d.Kind != DeviceKind {
				continue
			}
			b, err := sipsyntax.ParseBinding(d.Contact)
			if err != nil || !b.ExpiresAt.After(now) {
				if _, err := a.eng.DisconnectDevice(ctx, cl.ID, d.ID); err != nil {
					a.log.Warn("cannot remove a lapsed binding", "client", cl.ID, "device", d.ID, "err", err)
				}
				continue
			}
			a.armExpiry(cl.ID, d.ID, b.ExpiresAt)
		}
	}
}

// sourceIP is the IP a request came from.
func sourceIP(req *sip.Request) string {
	host, _, err := net.SplitHostPort(req.Source())
	if err != nil {
		return req.Source()
	}
	return host
}

// limiter is a token bucket per source IP.
type limiter struct {
	mu      sync.Mutex
	rate    float64
	burst   float64
	clock   clock.Clock
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// maxBuckets bounds the limiter's memory; full, it forgets the buckets
// that have refilled.
const maxBuckets = 16384

func newLimiter(rate float64, burst int, c clock.Clock) *limiter {
	return &limiter{rate: rate, burst: float64(burst), clock: c, buckets: map[string]*bucket{}}
}

// allow takes a token from ip's bucket, or reports false.
func (l *limiter) allow(ip string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	b, ok := l.buckets[ip]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			for k, v := range l.buckets {
				if v.tokens+now.Sub(v.last).Seconds()*l.rate >= l.burst {
					delete(l.buckets, k)
				}
			}
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[ip] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
