package server

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	sipadapter "github.com/callengine/callengine/adapters/sip"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/media"
)

// Config is the whole configuration of callengine serve. The zero value is
// usable: WithDefaults gives every empty field its default (Default lists
// them). Load builds one from its layers: the defaults, a YAML file, the
// environment, then flags — a later layer wins. docs/serve.md lists every
// setting with its YAML key, environment variable and flag.
type Config struct {
	// Data is the engine's data directory (journal, history). Default
	// "callengine-data".
	Data string `yaml:"data"`
	// Recordings is the directory of call recordings (C11): the audio of a
	// recorded call, a WAV file per recording (server/recording.go).
	// Default Data/recordings.
	Recordings string `yaml:"recordings"`
	// HTTP is the address the HTTP server listens on, host:port; port 0
	// picks a free one. Default "127.0.0.1:8080".
	HTTP string `yaml:"http"`
	// AllowedOrigins are the origins (scheme://host[:port]) whose pages may
	// open the WebSocket, or "*" for any. Empty: only the page's own origin.
	// The WebSocket adapter enforces them.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// TokenSecret signs access and refresh tokens; at least 32 bytes. Empty:
	// a random secret kept in Data/token-secret (made on the first start).
	TokenSecret string `yaml:"token_secret"`
	// AccessTokenTTL and RefreshTokenTTL are the tokens' lifetimes (engine
	// defaults 1 h and 30 days when 0).
	AccessTokenTTL  time.Duration `yaml:"access_token_ttl"`
	RefreshTokenTTL time.Duration `yaml:"refresh_token_ttl"`
	// Domain is the SIP domain of the engine's clients: sip:alice@DOMAIN
	// reaches client alice, and it is the realm of SIP digest
	// authentication. Default "callengine". Passwords set under another
	// domain are hashed again at the next start.
	Domain string `yaml:"domain"`
	// RingTimeout is how long a call rings before it ends no-answer (engine
	// default 60 s when 0).
	RingTimeout time.Duration `yaml:"ring_timeout"`
	// JournalCommitInterval is the journal's group commit interval
	// (engine.Config.CommitInterval): while commands come from several
	// callers, a commit waits until this long after the last one began.
	// Default 2 ms; 0 commits as soon as the journal's writer is free.
	JournalCommitInterval time.Duration `yaml:"journal_commit_interval"`
	// DrainTimeout bounds the HTTP server's shutdown on SIGTERM. Default 10 s.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// LogLevel is one of none, error, warn, info, debug (logs go to
	// stderr). Default "info". LogJSON writes them as JSON lines.
	LogLevel string `yaml:"log_level"`
	LogJSON  bool   `yaml:"log_json"`
	// PProf, when set, is a loopback address (host:port) where Go's
	// profiler answers (/debug/pprof/): CPU and heap profiles of the
	// running server. Default "": off. Only loopback addresses are taken.
	PProf string `yaml:"pprof"`
	// Outside is how the loopback far end plays numbers outside the engine.
	Outside Outside `yaml:"outside"`
	// Media are the media relay's settings, carried for package media.
	Media Media `yaml:"media"`
	// SIP is the SIP adapter (package adapters/sip): registrar and calls
	// of SIP phones.
	SIP SIP `yaml:"sip"`
	// Echo is the echo-test client, provisioned at start.
	Echo Echo `yaml:"echo"`
	// Clients and Groups are provisioned at start (see Provision).
	Clients []Client `yaml:"clients"`
	Groups  []Group  `yaml:"groups"`
}

// Outside scripts the loopback far end for every number outside the engine
// (package adapters/loopback): Outcome is answer, busy, no-answer, reject or
// fail. Answer answers AnswerAfter after ringing; the others end the call
// after RingFor (no-answer with RingFor 0 rings until the ring timeout).
// RingAfter delays the ringing; HangupAfter, when set, hangs up an answered
// call.
type Outside struct {
	Outcome     string        `yaml:"outcome"`
	RingAfter   time.Duration `yaml:"ring_after"`
	AnswerAfter time.Duration `yaml:"answer_after"`
	RingFor     time.Duration `yaml:"ring_for"`
	HangupAfter time.Duration `yaml:"hangup_after"`
}

// Media are the settings of the media relay (package media reads them):
// LoopbackOnly keeps ICE candidates on the loopback interface; PortMin and
// PortMax bound the UDP ports (0: any); NAT1To1IPs are the public addresses
// announced instead of the host's own.
type Media struct {
	// PreferG711 answers every browser's call with G.711 (ws.Settings.
	// PreferG711): calls between browsers can then be recorded and mixed
	// with phones, at narrowband quality.
	PreferG711   bool     `yaml:"prefer_g711"`
	LoopbackOnly bool     `yaml:"loopback_only"`
	PortMin      int      `yaml:"port_min"`
	PortMax      int      `yaml:"port_max"`
	NAT1To1IPs   []string `yaml:"nat_1to1_ips"`
	// HoldMusic is a WAV file (8 kHz, mono, 16-bit PCM, at most ten
	// minutes) the relay plays in a loop to a party on hold
	// (media.Settings.HoldMusic); empty: a held party hears silence.
	HoldMusic string `yaml:"hold_music"`
}

// SIP are the SIP adapter's settings (docs/sip.md): the UDP and TCP
// addresses it listens on (default 127.0.0.1:5060 both; "" turns one
// off), or Disabled for none; WS, the address of SIP over WebSocket for
// browser SIP stacks (default none: a WebSocket port on loopback is
// reachable from any page the machine's browser opens, so it is turned on
// deliberately); Trunks, when set, carry the calls to and from numbers
// outside in place of the loopback far end.
type SIP struct {
	Disabled bool    `yaml:"disabled"`
	UDP      string  `yaml:"udp"`
	TCP      string  `yaml:"tcp"`
	WS       string  `yaml:"ws"`
	Trunks   []Trunk `yaml:"trunks"`
	// TLS and WSS are the addresses of SIP over TLS and over secure
	// WebSocket (sip.Settings.TLS, WSS; default none). They need TLSCert
	// and TLSKey, PEM files of the certificate (its chain) and its key.
	// TLSCA, a PEM file of root certificates, verifies trunks reached over
	// TLS (transport: tls); empty: the system's roots.
	TLS     string `yaml:"tls"`
	WSS     string `yaml:"wss"`
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	TLSCA   string `yaml:"tls_ca"`
	// RelayPhones routes calls between two SIP phones through the media
	// relay too (sip.Settings.RelayPhones): each phone's RTP ends on a
	// relay leg that stays across transfers and restarts, and mute, hold
	// and RFC 4733 digits are enforced and seen there. Nil (unset) is
	// true, the default; false passes their SDP through (RTP phone to
	// phone).
	RelayPhones *bool `yaml:"relay_phones"`
	// UDPReadBuffer is the UDP socket's receive buffer in bytes
	// (sip.Settings.UDPReadBuffer); 0: the adapter's default, 4 MiB.
	UDPReadBuffer int `yaml:"udp_read_buffer"`
	// MaxPendingCalls: new INVITEs get 503 while this many new calls wait
	// for the engine (sip.Settings.MaxPendingCalls); 0: the adapter's
	// default, 5,000; negative: no limit.
	MaxPendingCalls int `yaml:"max_pending_calls"`
	// MediaTimeout hangs a relayed call up on the side of a SIP leg that
	// sent no RTP for this long while connected (sip.Settings.MediaTimeout);
	// 0: never.
	MediaTimeout time.Duration `yaml:"media_timeout"`
	// MaxConnsPerAddress bounds the TCP and WebSocket connections one
	// source IP holds open (sip.Settings.MaxConnsPerAddress); 0: the
	// adapter's default, 64.
	MaxConnsPerAddress int `yaml:"max_conns_per_address"`
	// SRTP says when the relay's offers to phones are SRTP, keyed in the
	// SDP (sip.Settings.SRTP: SDES, RFC 4568): "off" (default), "tls" (to
	// phones registered over TLS or wss) or "always"; a phone's offer of
	// SRTP is answered with SRTP whatever it says. Trunks have their own
	// (srtp, a bool).
	SRTP string `yaml:"srtp"`
	// QualifyPhones sends every registered SIP phone an OPTIONS this often
	// (sip.Settings.QualifyPhones); three unanswered in a row remove its
	// binding. 0: no probes.
	QualifyPhones time.Duration `yaml:"qualify_phones"`
	// RecordCode is the DTMF feature code ("*1", say) a SIP phone keys in
	// a call to start or stop its recording (sip.Settings.RecordCode);
	// empty: none.
	RecordCode string `yaml:"record_code"`
	// TransferCode, then a number and '#', keyed in a call transfers the
	// other party there (sip.Settings.TransferCode); empty: none.
	TransferCode string `yaml:"transfer_code"`
	// ParkPrefix, then a slot, is where a SIP phone transfers a call to
	// park it and what it calls to take the call parked there
	// (sip.Settings.ParkPrefix, "*8" say); empty: phones neither park nor
	// retrieve.
	ParkPrefix string `yaml:"park_prefix"`
}

// TLSConfigs are the server and client TLS configurations of the SIP
// adapter from sip.tls_cert, tls_key and tls_ca (nil when not set). A
// TLS or WSS address without a certificate and key, or a trunk over TLS
// without a TLS address, is an error, as is a file that cannot be read.
func (s SIP) TLSConfigs() (server, client *tls.Config, err error) {
	if (s.TLS != "" || s.WSS != "") && (s.TLSCert == "" || s.TLSKey == "") {
		return nil, nil, errors.New("sip.tls and sip.wss need sip.tls_cert and sip.tls_key")
	}
	if (s.TLSCert == "") != (s.TLSKey == "") {
		return nil, nil, errors.New("sip.tls_cert and sip.tls_key go together")
	}
	for _, t := range s.Trunks {
		if strings.EqualFold(t.Transport, "tls") && s.TLS == "" {
			return nil, nil, fmt.Errorf("trunk %q is reached over TLS: sip.tls must be set (our Contact on TLS)", t.Name)
		}
	}
	if s.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(s.TLSCert, s.TLSKey)
		if err != nil {
			return nil, nil, fmt.Errorf("cannot load the certificate: %w", err)
		}
		server = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if s.TLSCA != "" {
		pem, err := os.ReadFile(s.TLSCA)
		if err != nil {
			return nil, nil, fmt.Errorf("cannot read sip.tls_ca: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, nil, fmt.Errorf("sip.tls_ca %s holds no PEM certificate", s.TLSCA)
		}
		client = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	return server, client, nil
}

// Relayed reports whether calls between two SIP phones go through the
// media relay: sip.relay_phones, true unless set false.
func (s SIP) Relayed() bool { return s.RelayPhones == nil || *s.RelayPhones }

// Trunk is an upstream SIP trunk (sip.Trunk): its address host:port,
// transport udp or tcp, the credentials that answer its challenges, the
// host of our From, the addresses (IPs or CIDRs) its calls come from, and
// the number prefixes it carries out (none: every number).
type Trunk struct {
	Name             string   `yaml:"name"`
	Address          string   `yaml:"address"`
	Transport        string   `yaml:"transport"`
	Username         string   `yaml:"username"`
	Password         string   `yaml:"password"`
	FromDomain       string   `yaml:"from_domain"`
	InboundAddresses []string `yaml:"inbound_addresses"`
	Prefixes         []string `yaml:"prefixes"`
	// Register: register to the trunk with the credentials, asking for
	// RegisterExpires (default 300 s).
	Register        bool          `yaml:"register"`
	RegisterExpires time.Duration `yaml:"register_expires"`
	// Qualify: OPTIONS probes to the trunk at this interval; a trunk that
	// leaves one unanswered is tried after the others (0: no probes).
	Qualify time.Duration `yaml:"qualify"`
	// SRTP: the relay's offers to the trunk are SRTP (SDES).
	SRTP bool `yaml:"srtp"`
}

// sipTrunk is the adapter's form of t.
func (t Trunk) sipTrunk() sipadapter.Trunk {
	return sipadapter.Trunk{
		Name: t.Name, Address: t.Address, Transport: t.Transport, Username: t.Username, Password: t.Password,
		FromDomain: t.FromDomain, InboundAddresses: t.InboundAddresses, Prefixes: t.Prefixes,
		Register: t.Register, RegisterExpires: t.RegisterExpires, Qualify: t.Qualify, SRTP: t.SRTP,
	}
}

// Echo is the echo-test destination: a client that answers every call at
// once (the media relay plays the caller's audio back). Default client
// "echo", extension "600".
type Echo struct {
	Disabled  bool   `yaml:"disabled"`
	Client    string `yaml:"client"`
	Extension string `yaml:"extension"`
}

// Client is a client provisioned at start.
type Client struct {
	ID          string   `yaml:"id"`
	Name        string   `yaml:"name"`
	Password    string   `yaml:"password"`
	Numbers     []string `yaml:"numbers"`
	Extensions  []string `yaml:"extensions"`
	Permissions []string `yaml:"permissions"`
}

// Group is a group provisioned at start (engine.GroupSpec); Strategy is
// ring-all (default) or round-robin.
type Group struct {
	ID         string   `yaml:"id"`
	Name       string   `yaml:"name"`
	Extensions []string `yaml:"extensions"`
	Numbers    []string `yaml:"numbers"`
	Members    []string `yaml:"members"`
	Strategy   string   `yaml:"strategy"`
}

// Default is the configuration with every default set: the first layer of
// Load.
func Default() Config {
	return Config{
		Data:            "callengine-data",
		Domain:          "callengine",
		HTTP:            "127.0.0.1:8080",
		AccessTokenTTL:  time.Hour,
		RefreshTokenTTL: 30 * 24 * time.Hour,
		RingTimeout:     60 * time.Second,
		DrainTimeout:    10 * time.Second,

		JournalCommitInterval: 2 * time.Millisecond,
		LogLevel:              "info",
		Outside:               Outside{Outcome: "answer", AnswerAfter: time.Second},
		Echo:                  Echo{Client: "echo", Extension: "600"},
		SIP:                   SIP{UDP: defaultSIP, TCP: defaultSIP, RelayPhones: new(true), UDPReadBuffer: 4 << 20},
	}
}

// defaultSIP is where the SIP adapter listens unless told otherwise.
const defaultSIP = "127.0.0.1:5060"

// WithDefaults returns c with its empty fields given their default. Zero
// durations of Outside stay zero (answer at once).
func (c Config) WithDefaults() Config {
	d := Default()
	set := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	set(&c.Data, d.Data)
	set(&c.Recordings, filepath.Join(c.Data, "recordings"))
	set(&c.HTTP, d.HTTP)
	set(&c.LogLevel, d.LogLevel)
	set(&c.Outside.Outcome, d.Outside.Outcome)
	set(&c.Echo.Client, d.Echo.Client)
	set(&c.Echo.Extension, d.Echo.Extension)
	if c.SIP.UDP == "" && c.SIP.TCP == "" {
		c.SIP.UDP, c.SIP.TCP = d.SIP.UDP, d.SIP.TCP
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = d.DrainTimeout
	}
	if c.SIP.RelayPhones == nil {
		c.SIP.RelayPhones = new(true)
	}
	return c
}

// EnvPrefix starts the name of every environment variable: a setting's
// variable is EnvPrefix + its YAML key in capitals, dots as underscores
// (media.port_min is CALLENGINE_MEDIA_PORT_MIN).
const EnvPrefix = "CALLENGINE_"

// Sources are the layers Load reads after the defaults.
type Sources struct {
	// File is the YAML file; "" for none.
	File string
	// Env looks up an environment variable (os.LookupEnv); nil for none.
	Env func(string) (string, bool)
	// Flags are settings given on the command line, by YAML key
	// ("data", "http", "log_level"), with their flag's name for messages
	// (FlagNames).
	Flags map[string]string
	// FlagNames names the flag of a key in Flags, e.g. "log_level" →
	// "--log-level". Missing: "--" + key.
	FlagNames map[string]string
}

// Problem is one thing wrong with a configuration: where it was set (a
// file and line, an environment variable, a flag, or "default"), the
// setting's key, and what is wrong.
type Problem struct {
	Where string // "serve.yaml:12", "environment CALLENGINE_HTTP", "flag --http"
	Key   string // "clients[1].id"
	Msg   string
}

func (p Problem) Error() string {
	if p.Key == "" {
		return p.Where + ": " + p.Msg
	}
	return p.Where + ": " + p.Key + ": " + p.Msg
}

// ConfigError lists every Problem found; it is what Load returns for an
// invalid configuration (callengine serve exits 2).
type ConfigError struct{ Problems []Problem }

func (e *ConfigError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.Error())
	}
	return b.String()
}

// Load builds a configuration from Default, then src.File, then the
// environment, then src.Flags, and checks it. An invalid one is a
// *ConfigError naming the file and line (or variable, or flag) and the key
// of each problem.
func Load(src Sources) (Config, error) {
	c := Default()
	where := map[string]string{}
	if src.File != "" {
		if err := c.loadFile(src.File, where); err != nil {
			return Config{}, err
		}
	}
	var probs []Problem
	if src.Env != nil {
		for _, s := range scalarSettings() {
			v, ok := src.Env(s.Env)
			if !ok {
				continue
			}
			w := "environment " + s.Env
			if err := s.set(&c, v); err != nil {
				probs = append(probs, Problem{w, s.Key, err.Error()})
			}
			where[s.Key] = w
		}
	}
	if len(src.Flags) > 0 {
		byKey := map[string]setting{}
		for _, s := range scalarSettings() {
			byKey[s.Key] = s
		}
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range src.Flags {
				if !yield(k) {
					return
				}
			}
		}) {
			name := src.FlagNames[k]
			if name == "" {
				name = "--" + k
			}
			w := "flag " + name
			s, ok := byKey[k]
			if !ok {
				probs = append(probs, Problem{w, k, "not a setting"})
				continue
			}
			if err := s.set(&c, src.Flags[k]); err != nil {
				probs = append(probs, Problem{w, k, err.Error()})
			}
			where[k] = w
		}
	}
	if len(probs) > 0 {
		return Config{}, &ConfigError{probs}
	}
	if err := c.check(where); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Check reports what is wrong with c, as Load does (without locations).
func (c Config) Check() error { return c.check(nil) }

// loadFile decodes the YAML file at path over c, refusing unknown keys, and
// records the line of every key it sets in where.
func (c *Config) loadFile(path string, where map[string]string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return &ConfigError{[]Problem{{Where: path, Msg: "cannot read the configuration file: " + unwrapPath(err)}}}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return yamlError(path, err, nil)
	}
	lines := map[string]int{}
	indexLines(&root, "", lines)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return yamlError(path, err, lines)
	}
	for k, l := range lines {
		where[k] = fmt.Sprintf("%s:%d", path, l)
	}
	return nil
}

// unwrapPath drops the *PathError's path, which the message names already.
func unwrapPath(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// indexLines records the line of every key and list item under n, by path
// ("media.port_min", "clients[1].id", "clients[1]").
func indexLines(n *yaml.Node, prefix string, lines map[string]int) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			indexLines(c, prefix, lines)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := n.Content[i].Value
			if prefix != "" {
				p = prefix + "." + p
			}
			lines[p] = n.Content[i].Line
			indexLines(n.Content[i+1], p, lines)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", prefix, i)
			lines[p] = c.Line
			indexLines(c, p, lines)
		}
	}
}

var (
	yamlLine     = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	yamlUnknown  = regexp.MustCompile(`^field (\S+) not found in type (\S+)$`)
	yamlBadValue = regexp.MustCompile("^cannot unmarshal !!(\\w+) `(.*)` into (\\S+)$")
)

// yamlError turns a yaml.v3 error into problems that name the file, the
// line and the key.
func yamlError(path string, err error, lines map[string]int) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	var probs []Problem
	for _, m := range msgs {
		p := Problem{Where: path, Msg: strings.TrimPrefix(m, "yaml: ")}
		if sm := yamlLine.FindStringSubmatch(m); sm != nil {
			line, _ := strconv.Atoi(sm[1])
			p.Where = fmt.Sprintf("%s:%d", path, line)
			p.Msg = sm[2]
			if um := yamlUnknown.FindStringSubmatch(sm[2]); um != nil {
				p.Key = keyAt(lines, line, um[1])
				if p.Key == "" {
					p.Key = um[1]
				}
				p.Msg = "unknown key"
				if known := knownKeys(p.Key); len(known) > 0 {
					p.Msg += " (known here: " + strings.Join(known, ", ") + ")"
				}
			} else if bm := yamlBadValue.FindStringSubmatch(sm[2]); bm != nil {
				p.Key = keyAt(lines, line, "")
				p.Msg = fmt.Sprintf("%q is not %s", bm[2], typeWord(bm[3]))
			}
		}
		probs = append(probs, p)
	}
	return &ConfigError{probs}
}

// keyAt returns the path of the key named name (any name when "") on line.
func keyAt(lines map[string]int, line int, name string) string {
	best := ""
	for p, l := range lines {
		if l != line || strings.HasSuffix(p, "]") {
			continue
		}
		if name != "" && !strings.HasSuffix("."+p, "."+name) {
			continue
		}
		if len(p) > len(best) || len(p) == len(best) && p < best {
			best = p
		}
	}
	return best
}

func typeWord(goType string) string {
	switch goType {
	case "time.Duration":
		return "a duration (like 500ms, 30s, 2m)"
	case "int":
		return "a whole number"
	case "bool":
		return "true or false"
	case "string":
		return "a string"
	case "[]string":
		return "a list of strings"
	}
	if strings.HasPrefix(goType, "[]") {
		return "a list"
	}
	return "a " + goType
}

// knownKeys lists the keys allowed beside the key at path.
func knownKeys(path string) []string {
	t := reflect.TypeFor[Config]()
	parts := strings.Split(path, ".")
	for _, part := range parts[:len(parts)-1] {
		part, _, _ = strings.Cut(part, "[")
		f, ok := fieldByKey(t, part)
		if !ok {
			return nil
		}
		t = f.Type
		if t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return nil
		}
	}
	var keys []string
	for i := range t.NumField() {
		keys = append(keys, yamlKey(t.Field(i)))
	}
	return keys
}

func yamlKey(f reflect.StructField) string {
	k, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return k
}

func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if yamlKey(t.Field(i)) == key {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

// setting is a scalar setting: a field that the environment and flags can
// set (clients and groups come only from the file).
type setting struct {
	Key   string // YAML key, "media.port_min"
	Env   string // CALLENGINE_MEDIA_PORT_MIN
	index []int  // field index path in Config
	typ   reflect.Type
}

// Setting describes a scalar setting for documentation: its YAML key, its
// environment variable and its default as YAML spells it.
type Setting struct {
	Key, Env, Default string
}

// Settings lists every scalar setting, in the order of Config's fields.
func Settings() []Setting {
	d := reflect.ValueOf(Default())
	var out []Setting
	for _, s := range scalarSettings() {
		out = append(out, Setting{Key: s.Key, Env: s.Env, Default: formatValue(d.FieldByIndex(s.index))})
	}
	return out
}

func formatValue(v reflect.Value) string {
	switch x := v.Interface().(type) {
	case time.Duration:
		return x.String()
	case []string:
		return strings.Join(x, ",")
	}
	return fmt.Sprint(v.Interface())
}

func scalarSettings() []setting {
	var out []setting
	var walk func(t reflect.Type, prefix string, index []int)
	walk = func(t reflect.Type, prefix string, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			key := prefix + yamlKey(f)
			idx := append(slices.Clone(index), i)
			switch {
			case f.Type.Kind() == reflect.Struct:
				walk(f.Type, key+".", idx)
			case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
				// clients, groups: from the file only
			default:
				env := EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
				out = append(out, setting{Key: key, Env: env, index: idx, typ: f.Type})
			}
		}
	}
	walk(reflect.TypeFor[Config](), "", nil)
	return out
}

// set parses v (as an environment variable or flag gives it) into c.
func (s setting) set(c *Config, v string) error {
	f := reflect.ValueOf(c).Elem().FieldByIndex(s.index)
	v = strings.TrimSpace(v)
	switch f.Interface().(type) {
	case time.Duration:
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%q is not a duration (like 500ms, 30s, 2m)", v)
		}
		f.SetInt(int64(d))
	case string:
		f.SetString(v)
	case bool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		f.SetBool(b)
	case *bool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		f.Set(reflect.ValueOf(&b))
	case int:
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", v)
		}
		f.SetInt(int64(n))
	case []string:
		var l []string
		for _, x := range strings.Split(v, ",") {
			if x = strings.TrimSpace(x); x != "" {
				l = append(l, x)
			}
		}
		f.Set(reflect.ValueOf(l))
	default:
		return fmt.Errorf("cannot be set here (type %s)", s.typ)
	}
	return nil
}

// Outcomes are the values of outside.outcome.
var Outcomes = []string{"answer", "busy", "no-answer", "reject", "fail"}

// check validates c; where locates the keys for the messages.
func (c Config) check(where map[string]string) error {
	var probs []Problem
	bad := func(key, format string, args ...any) {
		// where the key was set; a key the file left out is located at its
		// list item or section
		w := where[key]
		for k := key; w == ""; {
			i := strings.LastIndexAny(k, ".[")
			if i < 0 {
				w = "default"
				break
			}
			k = k[:i]
			w = where[k]
		}
		probs = append(probs, Problem{Where: w, Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	if strings.TrimSpace(c.Data) == "" {
		bad("data", "the data directory must not be empty")
	}
	if msg := addrProblem(c.HTTP); msg != "" {
		bad("http", "%s", msg)
	}
	for i, o := range c.AllowedOrigins {
		if msg := originProblem(o); msg != "" {
			bad(fmt.Sprintf("allowed_origins[%d]", i), "%s", msg)
		}
	}
	if c.TokenSecret != "" && len(c.TokenSecret) < 32 {
		bad("token_secret", "must be at least 32 bytes (it is %d)", len(c.TokenSecret))
	}
	for key, d := range map[string]time.Duration{
		"access_token_ttl": c.AccessTokenTTL, "refresh_token_ttl": c.RefreshTokenTTL, "ring_timeout": c.RingTimeout,
		"drain_timeout": c.DrainTimeout, "journal_commit_interval": c.JournalCommitInterval, "outside.ring_after": c.Outside.RingAfter, "outside.answer_after": c.Outside.AnswerAfter,
		"outside.ring_for": c.Outside.RingFor, "outside.hangup_after": c.Outside.HangupAfter,
	} {
		if d < 0 {
			bad(key, "must not be negative")
		}
	}
	if c.SIP.UDPReadBuffer < 0 {
		bad("sip.udp_read_buffer", "must not be negative")
	}
	if c.SIP.MaxConnsPerAddress < 0 {
		bad("sip.max_conns_per_address", "must not be negative")
	}
	if c.SIP.MediaTimeout < 0 {
		bad("sip.media_timeout", "must not be negative")
	}
	if _, err := sipadapter.ParseSRTPMode(c.SIP.SRTP); err != nil {
		bad("sip.srtp", "must be off, tls or always")
	}
	if err := sipadapter.CheckFeatureCodes(c.SIP.RecordCode, c.SIP.TransferCode); err != nil {
		bad("sip.record_code and sip.transfer_code", "must be up to 8 DTMF digits (0-9, *, #, A-D) each, neither the start of the other")
	}
	if err := sipadapter.CheckParkPrefix(c.SIP.ParkPrefix); err != nil {
		bad("sip.park_prefix", "must be up to 16 digits, letters, *, # or +")
	}
	if c.SIP.QualifyPhones < 0 || c.SIP.QualifyPhones > 0 && c.SIP.QualifyPhones < time.Second {
		bad("sip.qualify_phones", "must be 0 (off) or at least 1s")
	}
	if c.SIP.Disabled && len(c.SIP.Trunks) > 0 {
		bad("sip.trunks", "trunks need the SIP adapter (sip.disabled is true)")
	}
	trunkNames := map[string]bool{}
	for i, t := range c.SIP.Trunks {
		k := fmt.Sprintf("sip.trunks[%d]", i)
		st := t.sipTrunk()
		if st.Name == "" {
			bad(k+".name", "a trunk needs a name")
		} else if trunkNames[st.Name] {
			bad(k+".name", "trunk %q is given twice", st.Name)
		}
		trunkNames[st.Name] = true
		if err := st.Check(); err != nil {
			bad(k, "%s", err)
		}
	}
	if !c.SIP.Disabled {
		if _, _, err := c.SIP.TLSConfigs(); err != nil {
			bad("sip.tls_cert", "%s", err)
		}
		for key, a := range map[string]string{"sip.udp": c.SIP.UDP, "sip.tcp": c.SIP.TCP, "sip.ws": c.SIP.WS, "sip.tls": c.SIP.TLS, "sip.wss": c.SIP.WSS} {
			if a == "" {
				continue
			}
			if msg := addrProblem(a); msg != "" {
				bad(key, "%s", msg)
			}
		}
	}
	if c.PProf != "" {
		if msg := addrProblem(c.PProf); msg != "" {
			bad("pprof", "%s", msg)
		} else if !LoopbackAddr(c.PProf) {
			bad("pprof", "%q is not a loopback address: the profiler is served on loopback only (127.0.0.1:PORT)", c.PProf)
		}
	}
	if c.LogLevel != "" && !slices.Contains(engine.LogLevels, c.LogLevel) {
		bad("log_level", "%q is not one of %s", c.LogLevel, strings.Join(engine.LogLevels, ", "))
	}
	if c.Outside.Outcome != "" && !slices.Contains(Outcomes, c.Outside.Outcome) {
		bad("outside.outcome", "%q is not one of %s", c.Outside.Outcome, strings.Join(Outcomes, ", "))
	}
	m := c.Media
	for key, p := range map[string]int{"media.port_min": m.PortMin, "media.port_max": m.PortMax} {
		if p < 0 || p > 65535 {
			bad(key, "%d is not a port (1–65535, or 0 for any)", p)
		}
	}
	if m.PortMin > 0 && m.PortMax > 0 && m.PortMin > m.PortMax {
		bad("media.port_max", "%d is below media.port_min %d", m.PortMax, m.PortMin)
	}
	if m.HoldMusic != "" {
		if _, err := media.LoadHoldMusic(m.HoldMusic); err != nil {
			bad("media.hold_music", "%v", err)
		}
	}
	for i, ip := range m.NAT1To1IPs {
		if net.ParseIP(ip) == nil {
			bad(fmt.Sprintf("media.nat_1to1_ips[%d]", i), "%q is not an IP address", ip)
		}
	}

	// Addresses (numbers, extensions) must be unique across the echo
	// client, the clients and the groups; so must ids.
	owner := map[string]string{}
	claim := func(key, addr, who string) {
		norm := addr
		if n, ok := fsm.NormalizeNumber(addr); ok {
			norm = n
		}
		if o, ok := owner[norm]; ok && o != who {
			bad(key, "%s already belongs to %s", addr, o)
			return
		}
		owner[norm] = who
	}
	clientIDs := map[string]string{}
	if !c.Echo.Disabled {
		if msg := idProblem(c.Echo.Client); msg != "" {
			bad("echo.client", "%s", msg)
		}
		if !fsm.ValidExtension(c.Echo.Extension) {
			bad("echo.extension", "%q is not an extension (2 to 6 digits)", c.Echo.Extension)
		} else {
			claim("echo.extension", c.Echo.Extension, "the echo client")
		}
		clientIDs[c.Echo.Client] = "echo.client"
	}
	for i, cl := range c.Clients {
		k := fmt.Sprintf("clients[%d]", i)
		who := "client " + cl.ID
		if msg := idProblem(cl.ID); msg != "" {
			bad(k+".id", "%s", msg)
		} else if first, dup := clientIDs[cl.ID]; dup {
			bad(k+".id", "client id %q is given twice (first at %s)", cl.ID, firstWhere(where, first))
		} else {
			clientIDs[cl.ID] = k + ".id"
		}
		for j, n := range cl.Numbers {
			kk := fmt.Sprintf("%s.numbers[%d]", k, j)
			if _, ok := fsm.NormalizeNumber(n); !ok {
				bad(kk, "%q is not an E.164 number (like +14155550101)", n)
			} else {
				claim(kk, n, who)
			}
		}
		for j, x := range cl.Extensions {
			kk := fmt.Sprintf("%s.extensions[%d]", k, j)
			if !fsm.ValidExtension(x) {
				bad(kk, "%q is not an extension (2 to 6 digits)", x)
			} else {
				claim(kk, x, who)
			}
		}
		for j, p := range cl.Permissions {
			if !slices.Contains(fsm.KnownPermissions, p) {
				bad(fmt.Sprintf("%s.permissions[%d]", k, j), "unknown permission %q (known: %s)", p, strings.Join(fsm.KnownPermissions, ", "))
			}
		}
	}
	groupIDs := map[string]string{}
	for i, g := range c.Groups {
		k := fmt.Sprintf("groups[%d]", i)
		who := "group " + g.ID
		if msg := idProblem(g.ID); msg != "" || strings.Contains(g.ID, " ") {
			if msg == "" {
				msg = "a group id has no spaces"
			}
			bad(k+".id", "%s", msg)
		} else if first, dup := groupIDs[g.ID]; dup {
			bad(k+".id", "group id %q is given twice (first at %s)", g.ID, firstWhere(where, first))
		} else {
			groupIDs[g.ID] = k + ".id"
		}
		if g.Strategy != "" {
			if _, ok := events.ParseStrategy(g.Strategy); !ok {
				bad(k+".strategy", "%q is not ring-all or round-robin", g.Strategy)
			}
		}
		if len(g.Extensions)+len(g.Numbers) == 0 {
			bad(k, "a group needs an extension or a number")
		}
		for j, n := range g.Numbers {
			kk := fmt.Sprintf("%s.numbers[%d]", k, j)
			if _, ok := fsm.NormalizeNumber(n); !ok {
				bad(kk, "%q is not an E.164 number (like +14155550101)", n)
			} else {
				claim(kk, n, who)
			}
		}
		for j, x := range g.Extensions {
			kk := fmt.Sprintf("%s.extensions[%d]", k, j)
			if !fsm.ValidExtension(x) {
				bad(kk, "%q is not an extension (2 to 6 digits)", x)
			} else {
				claim(kk, x, who)
			}
		}
	}
	if len(probs) > 0 {
		return &ConfigError{probs}
	}
	return nil
}

func firstWhere(where map[string]string, key string) string {
	if w := where[key]; w != "" {
		return w
	}
	return key
}

func idProblem(id string) string {
	switch {
	case strings.TrimSpace(id) == "":
		return "an id must not be empty"
	case strings.ContainsAny(id, "/\x00"):
		return fmt.Sprintf("id %q must not contain '/'", id)
	}
	return ""
}

// addrProblem says what is wrong with a listening address, or "".
func addrProblem(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Sprintf("%q is not host:port (like 127.0.0.1:8080, :8080)", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Sprintf("%q: port %q is not 0–65535", addr, port)
	}
	if host != "" && net.ParseIP(host) == nil && strings.ContainsAny(host, " /:@") {
		return fmt.Sprintf("%q: %q is not a host name or IP address", addr, host)
	}
	return ""
}

// originProblem says what is wrong with an allowed origin, or "".
func originProblem(o string) string {
	if o == "*" {
		return ""
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return fmt.Sprintf("%q is not an origin (scheme://host[:port], like https://phone.example.com) or *", o)
	}
	return ""
}

// DemoClients are the clients callengine serve provisions when it runs on
// embedded defaults (no configuration file, no clients) on a loopback
// address: alice (extension 201) and bob (202), each with its id as its
// password — enough to try the softphone page in two tabs.
func DemoClients() []Client {
	return []Client{
		{ID: "alice", Name: "Alice", Extensions: []string{"201"}, Password: "alice"},
		{ID: "bob", Name: "Bob", Extensions: []string{"202"}, Password: "bob"},
	}
}

// LoopbackAddr reports whether addr (host:port) listens on a loopback
// address only.
func LoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}
