package media

import (
	"net"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// Settings are the relay's knobs. The zero value is usable: any interface,
// any port, pion's ICE timeouts, RTCP reports on.
type Settings struct {
	// LoopbackOnly keeps ICE on the loopback interface: loopback candidates
	// included, UDP4 only, mDNS off. For tests and embedded use.
	LoopbackOnly bool
	// PortMin and PortMax bound the UDP ports ICE gathers on; 0 = any.
	PortMin, PortMax uint16
	// NAT1To1IPs are public addresses announced as host candidates, optional.
	NAT1To1IPs []string
	// DisconnectedTimeout and FailedTimeout are ICE's; 0 = pion's defaults
	// (5 s and 25 s).
	DisconnectedTimeout, FailedTimeout time.Duration
	// NoRTCPReports turns off the RTCP sender and receiver reports the relay
	// sends on each leg (on by default; browsers use them for their stats).
	NoRTCPReports bool
	// ForwardDTMF forwards a leg's RFC 4733 telephone-events to its peer
	// as they arrive. Off by default: the relay reports each digit
	// (LegEvents.DTMF), the engine journals it (CallDigits), and the
	// adapter plays the engine's event to the other leg (SendDTMF) — one
	// source of digits, so the far end never hears a tone twice.
	ForwardDTMF bool
	// RTPAddress is the IP address the plain RTP legs of SIP phones
	// (AnswerRTP, OfferRTP) bind to and announce in their SDP; their ports
	// come from PortMin-PortMax. Empty: 127.0.0.1 with LoopbackOnly, else
	// every interface, announcing NAT1To1IPs[0] or the host's first IPv4
	// address that is not loopback.
	RTPAddress string
	// DTMFDuration is how long SendDTMF plays each digit; 0 = 100 ms.
	DTMFDuration time.Duration
	// DTMFGap is the silence between two digits of SendDTMF; 0 = 50 ms.
	DTMFGap time.Duration
	// HoldMusic is played in a loop to a leg between SetHoldMusic(leg,
	// true) and SetHoldMusic(leg, false): 8 kHz mono samples
	// (LoadHoldMusic reads a WAV file). Nil: a held party hears silence.
	HoldMusic []int16
}

func (s Settings) dtmfDuration() time.Duration {
	if s.DTMFDuration <= 0 {
		return 100 * time.Millisecond
	}
	return s.DTMFDuration
}

func (s Settings) dtmfGap() time.Duration {
	if s.DTMFGap <= 0 {
		return 50 * time.Millisecond
	}
	return s.DTMFGap
}

// SettingEngine turns Settings into pion's SettingEngine: the relay's, and
// a Go client's that should gather as the relay does (media/mediatest).
func (s Settings) SettingEngine() (webrtc.SettingEngine, error) {
	var se webrtc.SettingEngine
	if s.LoopbackOnly {
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
		se.SetIncludeLoopbackCandidate(true)
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	}
	if s.PortMin != 0 || s.PortMax != 0 {
		if err := se.SetEphemeralUDPPortRange(s.PortMin, s.PortMax); err != nil {
			return se, err
		}
	}
	if len(s.NAT1To1IPs) > 0 {
		se.SetNAT1To1IPs(s.NAT1To1IPs, webrtc.ICECandidateTypeHost) //nolint:staticcheck // the simple form is enough here
	}
	if s.DisconnectedTimeout > 0 || s.FailedTimeout > 0 {
		d, f := s.DisconnectedTimeout, s.FailedTimeout
		if d <= 0 {
			d = 5 * time.Second
		}
		if f <= 0 {
			f = 25 * time.Second
		}
		se.SetICETimeouts(d, f, 2*time.Second)
	}
	return se, nil
}

// The codecs the relay speaks, in the order it offers them.
var (
	codecOpus = webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"},
		PayloadType:        111,
	}
	codecPCMU = webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000, Channels: 1},
		PayloadType:        0,
	}
	codecPCMA = webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000, Channels: 1},
		PayloadType:        8,
	}
	codecTE48 = webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mimeTelephoneEvent, ClockRate: 48000, Channels: 1, SDPFmtpLine: "0-16"},
		PayloadType:        110,
	}
	codecTE8 = webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mimeTelephoneEvent, ClockRate: 8000, Channels: 1, SDPFmtpLine: "0-16"},
		PayloadType:        126,
	}
	audioCodecs = []webrtc.RTPCodecParameters{codecOpus, codecPCMU, codecPCMA}
)

const mimeTelephoneEvent = "audio/telephone-event"

// newAPI builds the pion API of one leg: its own MediaEngine with the given
// audio codecs (all of them when only is nil) and both telephone-events.
func (r *Relay) newAPI(only *webrtc.RTPCodecParameters) (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	codecs := audioCodecs
	if only != nil {
		codecs = []webrtc.RTPCodecParameters{*only}
	}
	for _, c := range append(append([]webrtc.RTPCodecParameters{}, codecs...), codecTE48, codecTE8) {
		if err := me.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, err
		}
	}
	ir := &interceptor.Registry{}
	if !r.settings.NoRTCPReports {
		if err := webrtc.ConfigureRTCPReports(ir); err != nil {
			return nil, err
		}
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(r.se), webrtc.WithInterceptorRegistry(ir)), nil
}
