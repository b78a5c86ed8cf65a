package sip

import (
	"context"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/callengine/callengine/adapters/sip/internal/sipsyntax"
)

// Qualifying phones: an OPTIONS to every registration binding each
// Settings.QualifyPhones, as Asterisk's qualify_frequency on an AOR or
// Kamailio's keepalive module send them. Any response — 200, but also 405
// or 404: a SIP stack is there — keeps the binding; qualifyMisses probes
// in a row without one remove it, as an expiry does (DisconnectDevice,
// journaled). The engine then stops ringing a phone that vanished without
// unregistering — a power cut, a laptop closed, a network gone — instead
// of ringing it, and making its caller wait, until its registration
// lapses, which may be an hour. The phone comes back with its next
// REGISTER. Counted in Stats.PhonesUnreachable.

// qualifyMisses is how many probes in a row a binding leaves unanswered
// before it is removed.
const qualifyMisses = 3

// maxParallelProbes bounds the probes in flight at once.
const maxParallelProbes = 32

// startQualifyingPhones probes the bindings until the adapter stops (from
// Start).
func (a *Adapter) startQualifyingPhones() {
	if a.set.QualifyPhones <= 0 {
		return
	}
	a.wg.Go(func() {
		ticker := time.NewTicker(a.set.QualifyPhones)
		defer ticker.Stop()
		misses := map[string]int{} // binding (device id) → probes unanswered in a row
		for {
			select {
			case <-a.ctx.Done():
				return
			case <-ticker.C:
			}
			a.qualifyPhones(misses)
		}
	})
}

// qualifyPhones probes every binding once and removes those that missed
// qualifyMisses probes in a row; misses carries the count over rounds.
func (a *Adapter) qualifyPhones(misses map[string]int) {
	ctx, cancel := a.command("")
	clients, err := a.eng.Clients(ctx)
	cancel()
	if err != nil {
		a.log.Debug("qualify: cannot list the bindings", "err", err)
		return
	}
	type probe struct {
		client string
		d      sipDevice
		ok     bool
	}
	var probes []*probe
	seen := map[string]bool{}
	for _, cl := range clients {
		for _, d := range cl.Devices {
			if d.Kind != DeviceKind {
				continue
			}
			if b, err := sipsyntax.ParseBinding(d.Contact); err == nil {
				probes = append(probes, &probe{client: cl.ID, d: sipDevice{id: d.ID, binding: b}})
				seen[d.ID] = true
			}
		}
	}
	for id := range misses {
		if !seen[id] {
			delete(misses, id) // gone meanwhile: unregistered, expired
		}
	}
	wait := min(a.set.QualifyPhones, maxQualifyTimeout)
	sem := make(chan struct{}, maxParallelProbes)
	var wg sync.WaitGroup
	for _, p := range probes {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			pctx, cancel := context.WithTimeout(a.ctx, wait)
			defer cancel()
			_, err := a.probePhone(pctx, p.d)
			p.ok = err == nil
		})
	}
	wg.Wait()
	if a.ctx.Err() != nil {
		return
	}
	for _, p := range probes {
		if p.ok {
			delete(misses, p.d.id)
			continue
		}
		if misses[p.d.id]++; misses[p.d.id] < qualifyMisses {
			continue
		}
		delete(misses, p.d.id)
		ctx, cancel := a.command("")
		err := a.unbind(ctx, p.client, p.d.id)
		cancel()
		if err != nil {
			a.log.Warn("qualify: cannot remove an unreachable binding", "client", p.client, "device", p.d.id, "err", err)
			continue
		}
		a.stats.phonesUnreachable.Add(1)
		a.log.Info("qualify: binding removed, no answer to OPTIONS", "client", p.client, "device", p.d.id, "contact", p.d.binding.URI.String())
	}
}

// probePhone sends one OPTIONS to binding d and returns its final
// response.
func (a *Adapter) probePhone(ctx context.Context, d sipDevice) (*sip.Response, error) {
	transport := uriTransport(&d.binding.URI)
	req := sip.NewRequest(sip.OPTIONS, *d.binding.URI.Clone())
	req.SetTransport(transport)
	req.AppendHeader(newVia(transport))
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "callengine", Host: a.domain()}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(12))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: *d.binding.URI.Clone(), Params: sip.NewParams()})
	cid := sip.CallIDHeader(sip.GenerateTagN(24))
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.OPTIONS})
	req.AppendHeader(sip.NewHeader("User-Agent", a.set.UserAgent))
	req.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
	a.prepare(req)
	return a.finalResponse(ctx, req)
}
