package server

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestDefaults(t *testing.T) {
	c, err := Load(Sources{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Data != "callengine-data" || c.HTTP != "127.0.0.1:8080" || c.Echo.Client != "echo" || c.Echo.Extension != "600" {
		t.Errorf("defaults: %+v", c)
	}
	// The zero value is usable: WithDefaults gives it the same defaults.
	z := Config{}.WithDefaults()
	if z.Data != c.Data || z.HTTP != c.HTTP || z.Echo != c.Echo || z.DrainTimeout != c.DrainTimeout || z.Check() != nil {
		t.Errorf("zero value with defaults: %+v (check %v)", z, z.Check())
	}
}

// Later layers win: defaults < file < environment < flags.
func TestLayersLaterWins(t *testing.T) {
	file := writeFile(t, "serve.yaml", "data: /from/file\nhttp: 127.0.0.1:9000\nring_timeout: 30s\nmedia:\n  port_min: 1000\n  port_max: 2000\n")
	c, err := Load(Sources{
		File:  file,
		Env:   env(map[string]string{"CALLENGINE_HTTP": "127.0.0.1:9001", "CALLENGINE_RING_TIMEOUT": "45s", "CALLENGINE_MEDIA_NAT_1TO1_IPS": "192.0.2.1, 192.0.2.2"}),
		Flags: map[string]string{"http": "127.0.0.1:9002"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Data != "/from/file" || c.HTTP != "127.0.0.1:9002" || c.RingTimeout != 45*time.Second ||
		c.Media.PortMin != 1000 || c.Media.PortMax != 2000 || len(c.Media.NAT1To1IPs) != 2 || c.Media.NAT1To1IPs[1] != "192.0.2.2" {
		t.Errorf("merged: %+v", c)
	}
	if c.Echo.Extension != "600" {
		t.Errorf("a default the file did not touch changed: %+v", c.Echo)
	}
}

// Every scalar setting has an environment variable named after its key.
func TestEverySettingHasAnEnvironmentVariable(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range Settings() {
		want := "CALLENGINE_" + strings.ToUpper(strings.ReplaceAll(s.Key, ".", "_"))
		if s.Env != want || seen[s.Env] {
			t.Errorf("%s: env %s, want %s once", s.Key, s.Env, want)
		}
		seen[s.Env] = true
	}
	for _, k := range []string{"CALLENGINE_DATA", "CALLENGINE_HTTP", "CALLENGINE_ALLOWED_ORIGINS", "CALLENGINE_RING_TIMEOUT",
		"CALLENGINE_MEDIA_PORT_MIN", "CALLENGINE_ECHO_EXTENSION", "CALLENGINE_OUTSIDE_OUTCOME", "CALLENGINE_TOKEN_SECRET"} {
		if !seen[k] {
			t.Errorf("no setting reads %s", k)
		}
	}
}

// Each bad configuration is refused with the file, the line and the key.
func TestInvalidConfigNamesFileLineAndKey(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"unknown key", "http: 127.0.0.1:8080\nclients:\n  - id: alice\n    pasword: x\n",
			[]string{"serve.yaml:4: clients[0].pasword: unknown key", "password"}},
		{"unknown top-level key", "htp: 1\n", []string{"serve.yaml:1: htp: unknown key"}},
		{"bad yaml", "http: [1, 2\n", []string{"serve.yaml:"}},
		{"bad duration", "\nring_timeout: soon\n", []string{"serve.yaml:2: ring_timeout:", `"soon" is not a duration`}},
		{"bad address", "data: d\nhttp: localhost\n", []string{"serve.yaml:2: http:", "not host:port"}},
		{"duplicate client", "clients:\n  - id: alice\n  - id: bob\n  - id: alice\n",
			[]string{"serve.yaml:4: clients[2].id: client id \"alice\" is given twice (first at serve.yaml:2)"}},
		{"client without id", "clients:\n  - name: Nobody\n", []string{"serve.yaml:2: clients[0].id: an id must not be empty"}},
		{"extension taken", "clients:\n  - id: a\n    extensions: [\"600\"]\n", []string{"serve.yaml:3: clients[0].extensions[0]: 600 already belongs to the echo client"}},
		{"bad number", "clients:\n  - id: a\n    numbers: [\"12\"]\n", []string{"serve.yaml:3: clients[0].numbers[0]:", "E.164"}},
		{"bad permission", "clients:\n  - id: a\n    permissions: [fly]\n", []string{"clients[0].permissions[0]: unknown permission"}},
		{"bad strategy", "groups:\n  - id: g\n    extensions: [\"700\"]\n    strategy: random\n", []string{"serve.yaml:4: groups[0].strategy"}},
		{"ports", "media:\n  port_min: 5000\n  port_max: 4000\n", []string{"serve.yaml:3: media.port_max: 4000 is below"}},
		{"origin", "allowed_origins: [\"example.com\"]\n", []string{"serve.yaml:1: allowed_origins[0]:", "not an origin"}},
		{"outcome", "outside:\n  outcome: maybe\n", []string{"serve.yaml:2: outside.outcome"}},
		{"trunk transport", "sip:\n  trunks:\n    - name: up\n      address: 192.0.2.1:5060\n      transport: sctp\n",
			[]string{"sip.trunks[0]:", "not udp, tcp or tls"}},
		{"trunk over TLS without sip.tls", "sip:\n  trunks:\n    - name: up\n      address: 192.0.2.1:5061\n      transport: tls\n",
			[]string{"sip.tls_cert:", `trunk "up" is reached over TLS: sip.tls must be set`}},
		{"tls without a certificate", "sip:\n  tls: 127.0.0.1:5061\n",
			[]string{"sip.tls_cert:", "need sip.tls_cert and sip.tls_key"}},
		{"tls certificate unreadable", "sip:\n  tls: 127.0.0.1:5061\n  tls_cert: /nonexistent/cert.pem\n  tls_key: /nonexistent/key.pem\n",
			[]string{"sip.tls_cert:", "cannot load the certificate"}},
		{"tls address", "sip:\n  wss: localhost\n  tls_cert: c\n  tls_key: k\n",
			[]string{"sip.wss:", "not host:port"}},
		{"trunk inbound address", "sip:\n  trunks:\n    - name: up\n      address: 192.0.2.1:5060\n      inbound_addresses: [\"nowhere\"]\n",
			[]string{"sip.trunks[0]:", "not an IP or CIDR"}},
		{"trunk twice", "sip:\n  trunks:\n    - name: up\n      address: 192.0.2.1:5060\n    - name: up\n      address: 192.0.2.2:5060\n",
			[]string{"sip.trunks[1].name:", "given twice"}},
		{"trunk without SIP", "sip:\n  disabled: true\n  trunks:\n    - name: up\n      address: 192.0.2.1:5060\n",
			[]string{"sip.trunks:", "need the SIP adapter"}},
		{"trunk unknown key", "sip:\n  trunks:\n    - name: up\n      adress: 192.0.2.1:5060\n",
			[]string{"serve.yaml:4: sip.trunks[0].adress: unknown key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "serve.yaml", tc.yaml)
			_, err := Load(Sources{File: path})
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("err %v (%T), want *ConfigError", err, err)
			}
			msg := strings.ReplaceAll(err.Error(), path, "serve.yaml")
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q:\n%s", w, msg)
				}
			}
		})
	}
}

func TestInvalidEnvironmentAndFlags(t *testing.T) {
	_, err := Load(Sources{Env: env(map[string]string{"CALLENGINE_MEDIA_PORT_MIN": "low"})})
	if err == nil || !strings.Contains(err.Error(), "environment CALLENGINE_MEDIA_PORT_MIN: media.port_min:") {
		t.Errorf("env: %v", err)
	}
	_, err = Load(Sources{Flags: map[string]string{"http": "nowhere"}, FlagNames: map[string]string{"http": "--http"}})
	if err == nil || !strings.Contains(err.Error(), "flag --http: http:") {
		t.Errorf("flag: %v", err)
	}
	if _, err := Load(Sources{File: filepath.Join(t.TempDir(), "missing.yaml")}); err == nil || !strings.Contains(err.Error(), "missing.yaml: cannot read") {
		t.Errorf("missing file: %v", err)
	}
}

// examples/serve.yaml stays valid.
func TestExampleConfigLoads(t *testing.T) {
	c, err := Load(Sources{File: filepath.Join("..", "examples", "serve.yaml")})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Clients) != 2 || c.Clients[0].Password == "" || len(c.Groups) != 1 || c.Media.PortMax != 40100 || !c.Media.LoopbackOnly {
		t.Errorf("example: %+v", c)
	}
}

// docs/serve.md names every setting's key and environment variable.
func TestDocsListEverySetting(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "serve.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, s := range Settings() {
		if !strings.Contains(doc, "`"+s.Key+"`") || !strings.Contains(doc, "`"+s.Env+"`") {
			t.Errorf("docs/serve.md lacks `%s` or `%s`", s.Key, s.Env)
		}
	}
	for _, m := range metricNames {
		if !strings.Contains(doc, m) {
			t.Errorf("docs/serve.md lacks the metric %s", m)
		}
	}
}

// media.hold_music must name an 8 kHz mono 16-bit PCM WAV: one is taken,
// a missing file or another format is a configuration error naming the key.
func TestHoldMusicConfig(t *testing.T) {
	dir := t.TempDir()
	good, stereo := filepath.Join(dir, "moh.wav"), filepath.Join(dir, "stereo.wav")
	wav := func(channels uint16) []byte {
		b := []byte("RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00")
		b = append(b, byte(channels), 0, 0x40, 0x1f, 0, 0, 0x80, 0x3e, 0, 0, byte(2*channels), 0, 16, 0)
		return append(b, "data\x04\x00\x00\x00\x01\x00\x02\x00"...)
	}
	if err := os.WriteFile(good, wav(1), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stereo, wav(2), 0o600); err != nil {
		t.Fatal(err)
	}
	for path, ok := range map[string]bool{good: true, stereo: false, filepath.Join(dir, "none.wav"): false} {
		c := Config{Media: Media{HoldMusic: path}}.WithDefaults()
		c.Data = t.TempDir()
		err := c.Check()
		if (err == nil) != ok || !ok && !strings.Contains(err.Error(), "media.hold_music") {
			t.Errorf("%s: %v", filepath.Base(path), err)
		}
	}
}
