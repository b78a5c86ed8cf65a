package sip

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"

	"github.com/callengine/callengine/clock"
)

// Settings are the options of an Adapter. The zero value is usable: every
// field has a default.
type Settings struct {
	// UDP and TCP are the addresses (host:port) the adapter listens on; port
	// 0 picks a free one (Adapter.Addr tells which). Both empty: UDP and TCP
	// on DefaultListen. One empty and the other set: only the set one.
	UDP, TCP string
	// UDPReadBuffer is the receive buffer of the UDP socket, in bytes
	// (default 4 MiB). Every request and response of every call arrives
	// through this one socket; while the process is busy (a garbage
	// collection, a burst of calls) datagrams queue in the kernel, and
	// what does not fit is dropped: the peer retransmits 500 ms later,
	// which is setup time and more load. Linux's default (208 KiB) holds
	// about a hundred datagrams. The adapter forces the size when it may
	// (CAP_NET_ADMIN), else the kernel caps it at net.core.rmem_max.
	UDPReadBuffer int
	// WS is the address (host:port) of SIP over WebSocket (RFC 7118,
	// subprotocol "sip"), for browser SIP stacks; empty: none. It is a
	// listener of its own (sipgo upgrades its connections itself). Its
	// messages are bounded by MaxMessageBytes and by sipgo's 32 KiB read
	// buffer; a larger one closes the connection.
	WS string
	// TLS and WSS are the addresses (host:port) of SIP over TLS (RFC 3261
	// §26: Contacts with ;transport=tls or sips: URIs, usually port 5061)
	// and of SIP over secure WebSocket (wss://, for browser SIP stacks on
	// https pages); empty: none. Both need TLSConfig. Like WS, a phone on
	// TLS or WSS is reached back through the connection it registered on
	// (transport_tls.go).
	TLS, WSS string
	// TLSConfig is the server side of TLS and WSS: its Certificates (or
	// GetCertificate). The adapter asks for TLS 1.2 at least.
	TLSConfig *tls.Config
	// TLSClientConfig verifies the trunks reached over TLS (Trunk.Transport
	// "tls"): RootCAs, ServerName. Nil: the system's roots.
	TLSClientConfig *tls.Config
	// WSOrigins are the origins (scheme://host[:port], or "*" for any)
	// whose pages may open SIP over WebSocket. A page whose Origin's host
	// is the host the browser connected to (the upgrade's Host, any port)
	// is always allowed; a handshake without Origin (not a browser) too.
	// Any other Origin gets 403 and never reaches SIP.
	WSOrigins []string
	// MaxConnsPerAddress bounds the TCP and WebSocket connections open at
	// once from one source IP (default 64); past it a new connection is
	// closed at once.
	MaxConnsPerAddress int
	// Realm is the digest realm of the challenges (default "callengine").
	// The engine's credentials name their realm (engine.Config.Domain): use
	// the same.
	Realm string
	// Domain is the SIP domain of the engine's clients
	// (engine.Config.Domain): a Request-URI whose user is not a number is
	// dialed as sip:user@Domain. Default: Realm.
	Domain string
	// MaxMessageBytes bounds one SIP message (default 65535); a larger one
	// is dropped by the parser.
	MaxMessageBytes int
	// MinExpires and MaxExpires bound a registration's lifetime (defaults
	// 60 s and 3600 s). A shorter one is refused with 423 Interval Too
	// Brief; a longer one is cut to MaxExpires. DefaultExpires applies when
	// the REGISTER names none (default 3600 s).
	MinExpires, MaxExpires, DefaultExpires time.Duration
	// NonceTTL is how long a challenge's nonce is accepted (default 5 min);
	// an older one is answered with a new challenge marked stale.
	NonceTTL time.Duration
	// NonceSecret keys the nonces' HMAC. Empty: random at New (nonces then
	// do not survive a restart; clients simply answer a new challenge).
	NonceSecret []byte
	// RegisterRate and RegisterBurst are the token bucket of REGISTER
	// requests per source IP (defaults 20/s, burst 40). Past it, 503 with
	// Retry-After.
	RegisterRate  float64
	RegisterBurst int
	// RingTimeout bounds an INVITE the adapter sends to a device that never
	// answers finally (default 3 min); the engine's ring timeout normally
	// ends the call first.
	RingTimeout time.Duration
	// CommandTimeout bounds one engine command (default 10 s).
	CommandTimeout time.Duration
	// Clock tells the time for nonces, the rate limit and binding expiry
	// (default the wall clock).
	Clock clock.Clock
	// Logger receives the adapter's logs (default slog.Default()). sipgo's
	// own logs go to Logger too, at warn level and above.
	Logger *slog.Logger
	// Draining, when set and true, refuses new calls from phones with 503:
	// the server is shutting down. Calls in progress go on.
	Draining func() bool
	// MediaTimeout hangs a relayed call up on the side of a SIP leg that
	// sent no RTP for this long while the call was up and not held: its
	// phone or trunk is gone (media_timeout.go; Asterisk's rtptimeout).
	// 0: never. Needs Media with LegStats (*media.Relay has it).
	MediaTimeout time.Duration
	// QualifyPhones sends every registration binding an OPTIONS this often
	// (phone_qualify.go; Asterisk's qualify_frequency): a binding that
	// leaves three in a row unanswered is removed, as if it had expired, so
	// that a phone that vanished without unregistering is no longer rung.
	// 0: no probes (a binding lives until it expires or is unregistered).
	QualifyPhones time.Duration
	// RecordCode is the DTMF feature code a phone keys in a call to start
	// or stop its recording ("*1", say; feature_codes.go): its digits go
	// to the engine as StartRecording or StopRecording by the phone's side,
	// not to the other party. "": none (every digit is passed on). Digits
	// 0-9, *, #, A-D.
	RecordCode string
	// TransferCode, then a number ended by '#' or a pause of 3 s, keyed in
	// a call transfers the other party to that number: a blind transfer by
	// the phone's side, as its REFER would ("##", say; for phones and
	// analogue adapters that cannot send REFER). Its digits are not passed
	// on. "": none. It must not begin RecordCode, nor RecordCode it.
	TransferCode string
	// ParkPrefix, followed by a slot, is the number a phone transfers a
	// call to (REFER, or TransferCode) to park the other party in that slot,
	// and the number it calls to take the call parked there ("*8", say:
	// *81 is slot 1; park_sip.go). "": phones neither park nor retrieve.
	ParkPrefix string
	// MaxPendingCalls sheds load: while this many new calls of the
	// adapter wait for the engine to place them (Dial, Inbound: their
	// commits are behind), a new INVITE is refused with 503 and
	// Retry-After: 1 before anything is journaled, so that the journal
	// catches up instead of falling further behind (default
	// DefaultMaxPendingCalls; negative: no limit).
	MaxPendingCalls int
	// UserAgent is the User-Agent and Server header value (default
	// "callengine").
	UserAgent string
	// Media is the RTP relay (package media's *Relay) that anchors the
	// media of a SIP phone whose call has no SIP phone on the other side
	// (a browser, the echo test), and of a browser's call out through a
	// trunk. Nil: such calls are refused (488), as before; calls between
	// two phones pass SDP through unless RelayPhones is set (media.go).
	// A relayed phone keeps its relay leg across transfers and park, and
	// gets it back after a restart (media_anchor.go, media_restore.go).
	Media Media
	// RelayPhones, with Media set, routes calls between two SIP phones,
	// and a phone's calls out through a trunk, through the relay too (a
	// leg for each side, connected when the call is answered; mute, hold
	// and RFC 4733 digits enforced and seen there). False, the zero value:
	// their SDP is passed through and the phones send RTP to each other
	// (media.go). callengine serve turns it on unless sip.relay_phones is
	// false.
	RelayPhones bool
	// SRTP says when the relay's offers to phones are SRTP: RTP/SAVP keyed
	// in the SDP (SDES, RFC 4568; media.OfferOptions.SRTP), for phones set
	// up to encrypt their media (Asterisk's media_encryption=sdes). A phone
	// that does not speak it refuses the call. Whatever it says, a phone's
	// or a trunk's offer of SRTP is answered with SRTP; Trunk.SRTP is the
	// same for a trunk. The keys travel in the SDP, so SRTPOverTLS offers
	// SRTP to the phones whose signalling is encrypted.
	SRTP SRTPMode
}

// SRTPMode is when the relay offers SRTP to phones (Settings.SRTP).
type SRTPMode string

const (
	// SRTPOff ("" or "off"): offers are plain RTP.
	SRTPOff SRTPMode = ""
	// SRTPOverTLS ("tls"): offers to phones registered over TLS or secure
	// WebSocket are SRTP — when every phone of the callee that rings is;
	// the others get plain RTP.
	SRTPOverTLS SRTPMode = "tls"
	// SRTPAlways ("always"): every offer to phones is SRTP.
	SRTPAlways SRTPMode = "always"
)

// ParseSRTPMode reads a mode's name ("off", "tls", "always"; "" is off).
func ParseSRTPMode(s string) (SRTPMode, error) {
	switch SRTPMode(s) {
	case SRTPOff, "off":
		return SRTPOff, nil
	case SRTPOverTLS, SRTPAlways:
		return SRTPMode(s), nil
	}
	return SRTPOff, fmt.Errorf("sip: SRTP mode %q: want off, tls or always", s)
}

// offersSRTP reports whether the relay's offer to devices, the phones
// that ring, is SRTP.
func (m SRTPMode) offersSRTP(devices []sipDevice) bool {
	switch m {
	case SRTPAlways:
		return true
	case SRTPOverTLS:
		for _, d := range devices {
			if t := uriTransport(&d.binding.URI); t != "TLS" && t != "WSS" {
				return false
			}
		}
		return len(devices) > 0
	}
	return false
}

// Defaults.
const (
	DefaultListen             = "127.0.0.1:5060"
	DefaultRealm              = "callengine"
	DefaultMaxMessage         = 65535
	DefaultMaxConnsPerAddress = 64
	DefaultUDPReadBuffer      = 4 << 20
	DefaultMinExpires         = 60 * time.Second
	DefaultMaxExpires         = 3600 * time.Second
	DefaultRegisterRate       = 20
	DefaultRegisterBurst      = 40
	DefaultNonceTTL           = 5 * time.Minute
	DefaultRingTimeout        = 3 * time.Minute
	DefaultCommandTimeout     = 10 * time.Second
)

// DefaultMaxPendingCalls is Settings.MaxPendingCalls when it is zero:
// about five seconds of new calls at 1,000 a second. A stall shorter than
// that only delays calls (the phones retransmit their INVITEs for 32 s):
// shedding then would fail calls that would have gone through late. It
// is the backlog of a longer stall that the limit bounds.
const DefaultMaxPendingCalls = 5000

func (s Settings) withDefaults() Settings {
	if s.UDP == "" && s.TCP == "" {
		s.UDP, s.TCP = DefaultListen, DefaultListen
	}
	if s.Realm == "" {
		s.Realm = DefaultRealm
	}
	if s.MaxMessageBytes <= 0 {
		s.MaxMessageBytes = DefaultMaxMessage
	}
	if s.MaxConnsPerAddress <= 0 {
		s.MaxConnsPerAddress = DefaultMaxConnsPerAddress
	}
	if s.UDPReadBuffer <= 0 {
		s.UDPReadBuffer = DefaultUDPReadBuffer
	}
	if s.MinExpires <= 0 {
		s.MinExpires = DefaultMinExpires
	}
	if s.MaxExpires <= 0 {
		s.MaxExpires = DefaultMaxExpires
	}
	if s.MaxExpires < s.MinExpires {
		s.MaxExpires = s.MinExpires
	}
	if s.DefaultExpires <= 0 {
		s.DefaultExpires = s.MaxExpires
	}
	s.DefaultExpires = min(max(s.DefaultExpires, s.MinExpires), s.MaxExpires)
	if s.NonceTTL <= 0 {
		s.NonceTTL = DefaultNonceTTL
	}
	if s.RegisterRate <= 0 {
		s.RegisterRate = DefaultRegisterRate
	}
	if s.RegisterBurst <= 0 {
		s.RegisterBurst = DefaultRegisterBurst
	}
	if s.RingTimeout <= 0 {
		s.RingTimeout = DefaultRingTimeout
	}
	if s.CommandTimeout <= 0 {
		s.CommandTimeout = DefaultCommandTimeout
	}
	if s.MaxPendingCalls == 0 {
		s.MaxPendingCalls = DefaultMaxPendingCalls
	}
	if s.Clock == nil {
		s.Clock = clock.Real{}
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.UserAgent == "" {
		s.UserAgent = "callengine"
	}
	return s
}
