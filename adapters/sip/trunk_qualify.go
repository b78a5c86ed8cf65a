package sip

import (
	"context"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Qualifying trunks: OPTIONS probes, as Asterisk's qualify_frequency or
// Kamailio dispatcher's ds_ping_interval send them. A trunk with
// Trunk.Qualify gets an OPTIONS every Qualify; any response — 200, but
// also 401, 404 or 405: something is there — keeps it up, and nothing
// within qualifyTimeout marks it down until a probe is answered again. A
// call out tries the trunks that are up first, in the order configured,
// and those that are down only after them (Trunks.routes): a carrier that
// is down no longer costs each call the failover's 4 s of silence, and a
// probe that is wrong never refuses a call. Adapter.Stats tells which
// qualified trunks are up (callengine_sip_trunk_up in serve).

// maxQualifyTimeout bounds the wait for the answer to one probe.
const maxQualifyTimeout = 5 * time.Second

// qualifyTimeout is how long a probe of t waits for a response.
func (t *Trunk) qualifyTimeout() time.Duration {
	return min(t.Qualify, maxQualifyTimeout)
}

// startQualifying probes each trunk with Qualify until the adapter stops
// (from Start).
func (a *Adapter) startQualifying() {
	if a.trunks == nil {
		return
	}
	for _, t := range a.trunks.list {
		if t.Qualify > 0 {
			a.wg.Go(func() { a.keepQualifying(t) })
		}
	}
}

// keepQualifying sends t a probe every t.Qualify and records the result.
func (a *Adapter) keepQualifying(t *Trunk) {
	ticker := time.NewTicker(t.Qualify)
	defer ticker.Stop()
	for {
		ctx, cancel := context.WithTimeout(a.ctx, t.qualifyTimeout())
		res, err := a.probe(ctx, t)
		cancel()
		if a.ctx.Err() != nil {
			return
		}
		up := err == nil
		if was := a.trunks.setUp(t, up); was != up {
			if up {
				a.log.Info("trunk: up", "trunk", t.Name, "status", res.StatusCode)
			} else {
				a.log.Warn("trunk: down (no answer to OPTIONS)", "trunk", t.Name, "err", err)
			}
		}
		select {
		case <-a.ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// probe sends t one OPTIONS and returns its final response.
func (a *Adapter) probe(ctx context.Context, t *Trunk) (*sip.Response, error) {
	target, domain, err := t.target()
	if err != nil {
		return nil, err
	}
	user := t.Username
	if user == "" {
		user = "callengine"
	}
	req := sip.NewRequest(sip.OPTIONS, target)
	req.AppendHeader(newVia(t.transport()))
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: domain}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(12))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: target, Params: sip.NewParams()})
	cid := sip.CallIDHeader(sip.GenerateTagN(24))
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.OPTIONS})
	req.AppendHeader(sip.NewHeader("Max-Forwards", "70"))
	req.AppendHeader(sip.NewHeader("User-Agent", a.set.UserAgent))
	req.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
	req.SetTransport(t.transport())
	a.prepare(req)
	return a.finalResponse(ctx, req)
}

// setUp records whether t answered its last probe and returns what was
// known before (a trunk not probed yet is up).
func (ts *Trunks) setUp(t *Trunk, up bool) bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	was := !ts.down[t]
	if up {
		delete(ts.down, t)
	} else {
		ts.down[t] = true
	}
	return was
}

// isDown reports whether t's last probe went unanswered.
func (ts *Trunks) isDown(t *Trunk) bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.down[t]
}
