package server

import (
	"context"
	"errors"
	"net/url"
	"strings"

	sipadapter "github.com/callengine/callengine/adapters/sip"
	"github.com/callengine/callengine/adapters/ws"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/media"
)

// The network edge of callengine serve: the media relay (package media),
// the WebSocket protocol (package adapters/ws) on /ws, wired to the engine,
// the metrics and the echo client, and the SIP adapter (package
// adapters/sip, buildSIP). Run builds it after provisioning unless
// the embedding program set Server.WebSocket itself.

// edge is what Run builds: the relay and the handler, closed on drain.
type edge struct {
	relay    *media.Relay
	handler  *ws.Handler
	sip      *sipadapter.Adapter // nil when sip.disabled or it could not listen
	recorder *recorder           // the audio of recorded calls (recording.go)
}

// mediaSettings turns the configuration into the relay's settings. A
// server that listens for HTTP on a loopback address keeps ICE on the
// loopback interface too (its browsers are on this machine), unless public
// addresses are configured.
func (c Config) mediaSettings() media.Settings {
	s := media.Settings{
		LoopbackOnly: c.Media.LoopbackOnly,
		PortMin:      uint16(c.Media.PortMin), PortMax: uint16(c.Media.PortMax),
		NAT1To1IPs: c.Media.NAT1To1IPs,
	}
	if LoopbackAddr(c.HTTP) && len(s.NAT1To1IPs) == 0 {
		s.LoopbackOnly = true
	}
	return s
}

// originPatterns turns the configured origins (scheme://host[:port], or
// "*") into the host patterns the WebSocket handler matches.
func originPatterns(origins []string) []string {
	var out []string
	for _, o := range origins {
		if o == "*" {
			out = append(out, "*")
			continue
		}
		if u, err := url.Parse(o); err == nil && u.Host != "" {
			out = append(out, u.Host)
		} else {
			out = append(out, strings.TrimSuffix(o, "/"))
		}
	}
	return out
}

// buildEdge makes the relay and the WebSocket handler for e, and hooks
// them to the metrics, the drain and the echo client.
func (s *Server) buildEdge(ctx context.Context, e *engine.Engine) (*edge, error) {
	ms := s.Config.mediaSettings()
	if p := s.Config.Media.HoldMusic; p != "" {
		music, err := media.LoadHoldMusic(p)
		if err != nil {
			return nil, err
		}
		ms.HoldMusic = music
	}
	relay, err := media.NewRelay(ms)
	if err != nil {
		return nil, err
	}
	m := s.metrics
	h := ws.NewHandler(e, relay, ws.Settings{
		AllowedOrigins: originPatterns(s.Config.AllowedOrigins),
		PreferG711:     s.Config.Media.PreferG711,
		Logger:         s.log,
		Draining:       s.Draining,
		Hooks: ws.Hooks{
			Connected:    func(string) { m.IncWebSocket() },
			Disconnected: func(string, int) { m.DecWebSocket() },
			Request:      m.observeRequest,
		},
	})
	if s.MediaStats == nil {
		s.MediaStats = func() MediaStats {
			st := relay.Stats()
			return MediaStats{PacketsIn: st.PacketsIn, PacketsOut: st.PacketsOut, Dropped: st.PacketsDropped, Lost: st.Lost}
		}
	}
	if s.OnEchoCall == nil {
		// The echo client's side of the call is a leg that plays back
		// what it hears; the caller's connection connects its leg to it
		// as to any party that is not a browser.
		s.OnEchoCall = func(callID string, live bool) {
			leg := callID + "/callee"
			if !live {
				_ = relay.CloseLeg(leg)
			} else if err := relay.AddEchoLeg(leg); err != nil && !errors.Is(err, media.ErrLegExists) {
				s.log.Warn("echo: no echo leg", "call", callID, "err", err)
			}
		}
	}
	s.WebSocket = h
	g := &edge{relay: relay, handler: h, sip: s.buildSIP(ctx, e, relay)}
	dir := s.Config.WithDefaults().Recordings
	if g.recorder, err = startRecorder(ctx, e, relay, dir, s.log); err != nil {
		s.log.Error("recording: no audio will be recorded", "err", err)
	}
	return g, nil
}

// buildSIP starts the SIP adapter on the sip: addresses, unless
// sip.disabled. Its phones' calls with a browser or the echo test have
// their RTP anchored on the relay. An address it cannot listen on (taken) is logged as an
// error and serve goes on without SIP: the WebSocket edge still works.
func (s *Server) buildSIP(ctx context.Context, e *engine.Engine, relay *media.Relay) *sipadapter.Adapter {
	c := s.Config.WithDefaults().SIP
	if c.Disabled {
		return nil
	}
	serverTLS, clientTLS, err := c.TLSConfigs() // checked with the configuration
	if err != nil {
		s.log.Error("sip: not started", "err", err)
		return nil
	}
	srtp, _ := sipadapter.ParseSRTPMode(c.SRTP) // checked with the configuration
	a, err := sipadapter.New(e, sipadapter.Settings{UDP: c.UDP, TCP: c.TCP, WS: c.WS, TLS: c.TLS, WSS: c.WSS, TLSConfig: serverTLS, TLSClientConfig: clientTLS,
		UDPReadBuffer: c.UDPReadBuffer, MaxPendingCalls: c.MaxPendingCalls, MediaTimeout: c.MediaTimeout, MaxConnsPerAddress: c.MaxConnsPerAddress, Logger: s.log, Draining: s.Draining, Media: relay, RelayPhones: c.Relayed(), SRTP: srtp, QualifyPhones: c.QualifyPhones, RecordCode: c.RecordCode, TransferCode: c.TransferCode, ParkPrefix: c.ParkPrefix,
		WSOrigins: s.Config.AllowedOrigins})
	if err == nil && s.trunks != nil {
		a.SetTrunks(s.trunks) // the engine's far end (server.go, farEnd)
	}
	if err == nil {
		err = a.Start(ctx)
	}
	if err != nil {
		s.log.Error("sip: not started", "udp", c.UDP, "tcp", c.TCP, "ws", c.WS, "err", err)
		return nil
	}
	s.log.Info("sip: listening", "udp", a.Addr("udp"), "tcp", a.Addr("tcp"), "ws", a.Addr("ws"), "tls", a.Addr("tls"), "wss", a.Addr("wss"))
	s.metrics.observeSIP(a)
	return a
}

// close stops the SIP adapter, ends the WebSocket connections (status
// 1001) and the media legs.
func (g *edge) close() {
	if g == nil {
		return
	}
	if g.sip != nil {
		g.sip.Close()
	}
	g.recorder.close()
	g.handler.Close()
	g.relay.Close()
}
