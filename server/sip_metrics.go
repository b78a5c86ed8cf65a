package server

import (
	"errors"
	"sort"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	sipadapter "github.com/callengine/callengine/adapters/sip"
)

// The SIP adapter's series (callengine_sip_*), read from its Stats at
// scrape time: registrations, live dialogs, requests answered by method
// and response class, digest failures, REGISTER flood and connection
// refusals.

var (
	descSIPBindings = prometheus.NewDesc("callengine_sip_bindings", "Registered SIP bindings (devices of kind sip).", nil, nil)
	descSIPDialogs  = prometheus.NewDesc("callengine_sip_dialogs", "SIP dialogs the adapter holds now.", nil, nil)
	descSIPRequests = prometheus.NewDesc("callengine_sip_requests_total",
		"SIP requests the adapter answered, by method and the class of its final response.", []string{"method", "class"}, nil)
	descSIPAuthFailures   = prometheus.NewDesc("callengine_sip_auth_failures_total", "SIP requests whose digest credentials were wrong.", nil, nil)
	descSIPOverloaded     = prometheus.NewDesc("callengine_sip_overload_rejected_total", "New INVITEs refused with 503 while sip.max_pending_calls calls waited for the engine (load shed).", nil, nil)
	descSIPRegistered     = prometheus.NewDesc("callengine_sip_trunk_registered", "1 while the registration to a trunk is up, 0 while it is not (trunks with register only).", []string{"trunk"}, nil)
	descSIPReplays        = prometheus.NewDesc("callengine_sip_digest_replays_total", "SIP requests whose digest reused a nonce count already seen (a replay): challenged again.", nil, nil)
	descSIPMediaTimeout   = prometheus.NewDesc("callengine_sip_media_timeouts_total", "Calls hung up because a relayed SIP leg sent no RTP for sip.media_timeout while connected.", nil, nil)
	descSIPSessionTimeout = prometheus.NewDesc("callengine_sip_session_timeouts_total", "Calls ended because a SIP session timer (RFC 4028) ran out: no refresh from the peer, or ours failed.", nil, nil)
	descSIPUnreachable    = prometheus.NewDesc("callengine_sip_phones_unreachable_total", "Registration bindings removed because they left sip.qualify_phones OPTIONS probes unanswered.", nil, nil)
	descSIPTrunkUp        = prometheus.NewDesc("callengine_sip_trunk_up", "1 while a trunk answers its OPTIONS probes, 0 once one went unanswered (trunks with qualify only).", []string{"trunk"}, nil)
	descSIPFailovers      = prometheus.NewDesc("callengine_sip_trunk_failovers_total", "Calls out handed from a trunk that failed (no answer, 500, 502, 503, 504 before ringing) to the next one.", nil, nil)
	descSIPFlood          = prometheus.NewDesc("callengine_sip_register_flood_rejected_total", "REGISTER requests refused by the per-address rate limit (503).", nil, nil)
	descSIPConns          = prometheus.NewDesc("callengine_sip_connections_rejected_total",
		"TCP and WebSocket connections refused: over the per-address limit (limit), or a WebSocket Origin not allowed (origin).", []string{"reason"}, nil)
)

// sipCollector reads the SIP adapter at scrape time (nothing before it
// started).
type sipCollector struct {
	a atomic.Pointer[sipadapter.Adapter]
}

func (c *sipCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSIPBindings, descSIPDialogs, descSIPRequests, descSIPAuthFailures, descSIPFlood, descSIPConns, descSIPFailovers, descSIPRegistered, descSIPOverloaded, descSIPTrunkUp, descSIPMediaTimeout, descSIPSessionTimeout, descSIPUnreachable, descSIPReplays} {
		ch <- d
	}
}

func (c *sipCollector) Collect(ch chan<- prometheus.Metric) {
	a := c.a.Load()
	if a == nil {
		return
	}
	st := a.Stats()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(descSIPBindings, float64(st.Bindings))
	gauge(descSIPDialogs, float64(st.Dialogs))
	methods := make([]string, 0, len(st.Responses))
	for m := range st.Responses {
		methods = append(methods, m)
	}
	sort.Strings(methods)
	for _, m := range methods {
		for class, n := range st.Responses[m] {
			counter(descSIPRequests, n, m, class)
		}
	}
	counter(descSIPAuthFailures, st.AuthFailures)
	counter(descSIPFlood, st.RegisterFlood)
	counter(descSIPFailovers, st.TrunkFailovers)
	counter(descSIPOverloaded, st.Overloaded)
	counter(descSIPMediaTimeout, st.MediaTimeouts)
	counter(descSIPSessionTimeout, st.SessionTimeouts)
	counter(descSIPUnreachable, st.PhonesUnreachable)
	counter(descSIPReplays, st.DigestReplays)
	for name, up := range st.TrunksRegistered {
		v := 0.0
		if up {
			v = 1
		}
		gauge(descSIPRegistered, v, name)
	}
	for name, up := range st.TrunksUp {
		v := 0.0
		if up {
			v = 1
		}
		gauge(descSIPTrunkUp, v, name)
	}
	counter(descSIPConns, st.ConnsRejected, "limit")
	counter(descSIPConns, st.OriginRejected, "origin")
}

// observeSIP makes the scrape read the SIP adapter a (serve's buildSIP).
func (m *Metrics) observeSIP(a *sipadapter.Adapter) {
	if m == nil || a == nil {
		return
	}
	c := &sipCollector{}
	c.a.Store(a)
	if err := m.reg.Register(c); err != nil {
		var dup prometheus.AlreadyRegisteredError
		if errors.As(err, &dup) {
			if have, ok := dup.ExistingCollector.(*sipCollector); ok {
				have.a.Store(a)
			}
		}
	}
}
