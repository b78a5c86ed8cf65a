package sip

import (
	"slices"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/callengine/callengine/adapters/sip/internal/sipsyntax"
)

// Session timers (RFC 4028) of the INVITEs we answer. A phone or a carrier
// whose INVITE carries Session-Expires asks that the session be refreshed
// within that interval, and that a session nobody refreshes be ended: the
// way to learn that a peer vanished without a BYE (a power cut, a network
// gone), RTP or not.
//
//   - An interval below our Min-SE (90 s, RFC 4028 §5) gets 422 Session
//     Interval Too Small with Min-SE, before anything is journaled; a
//     Session-Expires we cannot read gets 400.
//   - The refresher is the one the INVITE names; unnamed, the caller when
//     it supports timer (it does the refreshing it asked for), else us.
//     Our 2xx says Session-Expires: N;refresher=…, and Require: timer when
//     the caller supports it.
//   - The caller refreshes: each re-INVITE or UPDATE it sends in the
//     dialog is a refresh (its Session-Expires, when there, sets the next
//     interval), answered with Session-Expires again. None within the
//     interval less min(32 s, a third) ends the call on its side: the
//     engine hangs up, the other side gets its BYE, the silent one too.
//   - We refresh: a re-INVITE with the SDP it has, each half interval;
//     a refresh refused (other than 491) or unanswered ends the call the
//     same way.
//
// A session timer survives a restart: the dialog record journals the
// interval, the refresher and when the timer is due (set when the dialog
// is confirmed and at each refresh), and a restarted process arms it again
// for what is left — a refresh or an expiry that fell due while it was
// down runs at once. Our own INVITEs ask for no session timer; a request
// that requires timer is accepted (require.go).

// minSessionExpires is our Min-SE; a variable for the tests that wait a
// session out.
var minSessionExpires = 90 * time.Second

// sessionTimer is the session timer of one dialog we answered.
type sessionTimer struct {
	mu        sync.Mutex
	interval  time.Duration
	refresher string    // "uac": the peer refreshes; "uas": we do
	peerTimer bool      // the peer supports timer
	due       time.Time // when t fires (journaled: the record's session.due)
	t         *time.Timer
}

// maxSessionInterval bounds the interval a record may hold, in seconds (a
// day; a request's is bounded by sipsyntax.ParseSessionExpires).
const maxSessionInterval = 86400

// sessionRecord is the journaled form of a session timer, in the dialog
// record.
type sessionRecord struct {
	Interval  int    `json:"interval"` // seconds
	Refresher string `json:"refresher"`
	PeerTimer bool   `json:"peer_timer,omitempty"`
	Due       int64  `json:"due"` // Unix milliseconds
}

// record is st's journaled form.
func (st *sessionTimer) record() *sessionRecord {
	st.mu.Lock()
	defer st.mu.Unlock()
	return &sessionRecord{Interval: int(st.interval / time.Second), Refresher: st.refresher, PeerTimer: st.peerTimer, Due: st.due.UnixMilli()}
}

// sessionFromRecord rebuilds a journaled session timer, not armed; nil for
// a record that holds none or cannot be one.
func sessionFromRecord(r *sessionRecord) *sessionTimer {
	if r == nil || r.Interval <= 0 || r.Interval > maxSessionInterval || r.Refresher != "uac" && r.Refresher != "uas" {
		return nil
	}
	return &sessionTimer{interval: time.Duration(r.Interval) * time.Second, refresher: r.Refresher,
		peerTimer: r.PeerTimer, due: time.UnixMilli(r.Due)}
}

// sessionTimerOf reads a new INVITE's session timer request: nil for none;
// false when it answered the INVITE (400, 422).
func (a *Adapter) sessionTimerOf(req *sip.Request, tx sip.ServerTransaction) (*sessionTimer, bool) {
	h := req.GetHeader("Session-Expires")
	if h == nil {
		h = req.GetHeader("x") // the compact form
	}
	if h == nil {
		return nil, true
	}
	se, err := sipsyntax.ParseSessionExpires(h.Value())
	if err != nil {
		a.respond(tx, a.response(req, statusBadRequest))
		return nil, false
	}
	if time.Duration(se.Seconds)*time.Second < minSessionExpires {
		res := a.response(req, status{422, "Session Interval Too Small"})
		res.AppendHeader(sip.NewHeader("Min-SE", itoa(int(minSessionExpires/time.Second))))
		a.respond(tx, res)
		return nil, false
	}
	st := &sessionTimer{interval: time.Duration(se.Seconds) * time.Second, refresher: se.Refresher,
		peerTimer: listsTag(req.GetHeaders("supported"), "timer") || listsTag(req.GetHeaders("require"), "timer")}
	if st.refresher == "" {
		st.refresher = "uas"
		if st.peerTimer {
			st.refresher = "uac"
		}
	}
	return st, true
}

// listsTag reports whether the headers (a Require's, a Supported's) list
// option tag tag; a list we cannot read lists nothing.
func listsTag(headers []sip.Header, tag string) bool {
	values := make([]string, len(headers))
	for i, h := range headers {
		values[i] = h.Value()
	}
	tags, err := sipsyntax.OptionTags(values)
	return err == nil && slices.Contains(tags, tag)
}

// currentSession is d's session timer, nil for none.
func (d *dialog) currentSession() *sessionTimer {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.session
}

// sessionHeaders adds the session timer of d, if any, to res, a 2xx to
// its INVITE or to a refresh.
func (d *dialog) sessionHeaders(res *sip.Response) {
	st := d.currentSession()
	if st == nil {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	se := sipsyntax.SessionExpires{Seconds: int(st.interval / time.Second), Refresher: st.refresher}
	res.AppendHeader(sip.NewHeader("Session-Expires", se.String()))
	if st.peerTimer {
		res.AppendHeader(sip.NewHeader("Require", "timer"))
	}
}

// armSession starts (again) the session timer of d, a confirmed dialog of
// ours, for a full interval from now. It reports whether d has one: its
// due time then changed, for the record.
func (a *Adapter) armSession(d *dialog) bool {
	st := d.currentSession()
	if st == nil {
		return false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	wait := st.interval - min(32*time.Second, st.interval/3)
	if st.refresher == "uas" {
		wait = st.interval / 2
	}
	a.armSessionLocked(d, st, time.Now().Add(wait))
	return true
}

// armSessionLocked sets st, d's session timer, to fire at due: our refresh
// or its expiry. st.mu is held.
func (a *Adapter) armSessionLocked(d *dialog, st *sessionTimer, due time.Time) {
	if st.t != nil {
		st.t.Stop()
	}
	st.due = due
	fire := func() { a.sessionExpired(d) }
	if st.refresher == "uas" {
		fire = func() { a.refreshSession(d) }
	}
	st.t = time.AfterFunc(max(time.Until(due), 0), fire)
}

// resumeSession arms the session timer of d, a dialog restored from its
// record, for the time its record had left: at once when it fell due
// while no process ran.
func (a *Adapter) resumeSession(d *dialog) {
	st := d.currentSession()
	if st == nil {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	a.armSessionLocked(d, st, st.due)
}

// sessionRefreshed: the peer's re-INVITE or UPDATE req on d was answered;
// its Session-Expires, when there, is the next interval.
func (a *Adapter) sessionRefreshed(d *dialog, req *sip.Request) {
	st := d.currentSession()
	if st == nil {
		return
	}
	if h := req.GetHeader("Session-Expires"); h != nil {
		if se, err := sipsyntax.ParseSessionExpires(h.Value()); err == nil && time.Duration(se.Seconds)*time.Second >= minSessionExpires {
			st.mu.Lock()
			st.interval = time.Duration(se.Seconds) * time.Second
			if se.Refresher != "" {
				st.refresher = se.Refresher
			}
			st.mu.Unlock()
		}
	}
	a.armSession(d)
	d.save() // the next due time, for a restart
}

// sessionLeg is the call and leg of dialog d while it is up, or nil.
func (a *Adapter) sessionLeg(d *dialog) (*call, *sipLeg) {
	a.mu.Lock()
	ref, ok := a.dialogs[d.key()]
	a.mu.Unlock()
	if !ok {
		return nil, nil
	}
	cl, l := a.refLeg(ref)
	if l == nil || l.dlg != d {
		return nil, nil
	}
	return cl, l
}

// sessionExpired: nobody refreshed d's session in time; the call ends on
// its side.
func (a *Adapter) sessionExpired(d *dialog) {
	cl, l := a.sessionLeg(d)
	if l == nil {
		return // the dialog ended meanwhile
	}
	a.log.Info("session timer expired: no refresh, the call ends", "call", cl.id, "side", l.side, "call-id", d.CallID)
	a.stats.sessionExpired.Add(1)
	a.hangup(cl.id, l.client, l.side)
}

// refreshSession refreshes d's session with a re-INVITE of the SDP the
// peer has (we are the refresher), in the call's order.
func (a *Adapter) refreshSession(d *dialog) {
	cl, l := a.sessionLeg(d)
	if l == nil {
		return
	}
	a.serial(cl, func() {
		res, err := a.reinvite(l, l.stamp(l.sentSDP()))
		switch {
		case err == nil && res.StatusCode < 300:
			a.armSession(d)
			if checkSDP(res.Body()) == nil {
				l.gotSDP(res.Body()) // journals the record, the next due time with it
			} else {
				d.save()
			}
		case err == nil && res.StatusCode == 491:
			a.armSession(d) // glare: the peer's own re-INVITE refreshes
		default:
			a.log.Info("session refresh failed: the call ends", "call", cl.id, "side", l.side, "status", statusOf(res), "err", err)
			a.stats.sessionExpired.Add(1)
			a.hangup(cl.id, l.client, l.side)
		}
	})
}

// stopSession stops d's session timer (the dialog ended).
func (d *dialog) stopSession() {
	st := d.currentSession()
	if st == nil {
		return
	}
	st.mu.Lock()
	if st.t != nil {
		st.t.Stop()
	}
	st.mu.Unlock()
}
