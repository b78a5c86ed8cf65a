package simulator

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/callengine/callengine/errcode"
)

// Scenario is one simulation: who exists, how the far end behaves, and what
// happens when. The zero value is an empty scenario that runs and checks
// nothing.
type Scenario struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description,omitempty"`
	// Seed seeds the ids; Options.Seed overrides it. 0 means 1.
	Seed uint64 `yaml:"seed,omitempty"`
	// Start is when the virtual clock starts (RFC 3339); default
	// 2026-01-05T09:00:00Z.
	Start string `yaml:"start,omitempty"`
	// RingTimeout is the engine's ring timeout; default 30s.
	RingTimeout string `yaml:"ring-timeout,omitempty"`
	// Numbers are the organisation's outside numbers (caller ids).
	Numbers []string `yaml:"numbers,omitempty"`
	// Tokens turns access tokens on (CL3): every client command then runs
	// under the client's access token, which `<client> login` issues and
	// `<client> refresh` renews; without a valid one it is invalid_token.
	Tokens *TokenSpec `yaml:"tokens,omitempty"`
	// AllowErrors lets commands fail without an `error:` on their step (a
	// generated scenario cannot know which of its commands are valid). The
	// invariants still hold: a refused command writes nothing and its error
	// has a stable code.
	AllowErrors bool `yaml:"allow-errors,omitempty"`
	// Clients are registered, in order, before the first step.
	Clients Clients `yaml:"clients,omitempty"`
	// Groups are defined, in order, after the clients and before the
	// first step (T6).
	Groups Groups `yaml:"groups,omitempty"`
	// FarEnd scripts outside numbers: number → behavior ("answer after 2s",
	// "busy", "no-answer", "ring after 1s, answer after 3s, hang up after
	// 20s", "manual", …). The key "default" scripts every other number.
	FarEnd map[string]string `yaml:"far-end,omitempty"`
	Steps  []Step            `yaml:"steps"`
}

// TokenSpec sets the lifetimes of access and refresh tokens ("1h",
// "24h"); empty fields take the engine's defaults.
type TokenSpec struct {
	Access  string `yaml:"access,omitempty"`
	Refresh string `yaml:"refresh,omitempty"`
}

// ClientSpec is a client of a scenario.
type ClientSpec struct {
	ID            string   `yaml:"-"`
	Name          string   `yaml:"name,omitempty"`
	Extensions    []string `yaml:"extensions,omitempty"`
	Numbers       []string `yaml:"numbers,omitempty"`
	Devices       []string `yaml:"devices,omitempty"`
	RejectInbound bool     `yaml:"reject-inbound,omitempty"`
	// Permissions the client holds: "record" lets it start and stop
	// recordings (C11).
	Permissions []string `yaml:"permissions,omitempty"`
}

// Clients keeps the clients in the order the file lists them: they register
// in that order.
type Clients []ClientSpec

// UnmarshalYAML reads a mapping of client id to ClientSpec, in order.
func (cs *Clients) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: clients must be a mapping of client id to its numbers and devices", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		var c ClientSpec
		if err := knownKeys(n.Content[i+1], "name", "extensions", "numbers", "devices", "reject-inbound", "permissions"); err != nil {
			return err
		}
		if err := n.Content[i+1].Decode(&c); err != nil {
			return err
		}
		c.ID = n.Content[i].Value
		*cs = append(*cs, c)
	}
	return nil
}

// MarshalYAML writes the clients as an ordered mapping.
func (cs Clients) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for _, c := range cs {
		var v yaml.Node
		if err := v.Encode(c); err != nil {
			return nil, err
		}
		v.Style = yaml.FlowStyle
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: c.ID}, &v)
	}
	return n, nil
}

// GroupSpec is a group of clients that calls and transfers can reach by its
// id, its extensions or its numbers (T6).
type GroupSpec struct {
	ID         string   `yaml:"-"`
	Name       string   `yaml:"name,omitempty"`
	Extensions []string `yaml:"extensions,omitempty"`
	Numbers    []string `yaml:"numbers,omitempty"`
	Members    []string `yaml:"members"`
	// Strategy is ring-all (the default: every available member rings) or
	// round-robin (the next available member after the last one picked).
	Strategy string `yaml:"strategy,omitempty"`

	Line int `yaml:"-"` // where the group starts in its file
}

// Groups keeps the groups in the order the file lists them.
type Groups []GroupSpec

// UnmarshalYAML reads a mapping of group id to GroupSpec, in order.
func (gs *Groups) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: groups must be a mapping of group id to its extensions, numbers and members", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		var g GroupSpec
		v := n.Content[i+1]
		if v.Kind != yaml.MappingNode {
			return fmt.Errorf("line %d: group %s must be a mapping {name, extensions, numbers, members, strategy}", v.Line, n.Content[i].Value)
		}
		if err := knownKeys(v, "name", "extensions", "numbers", "members", "strategy"); err != nil {
			return err
		}
		if err := v.Decode(&g); err != nil {
			return err
		}
		g.ID, g.Line = n.Content[i].Value, n.Content[i].Line
		*gs = append(*gs, g)
	}
	return nil
}

// MarshalYAML writes the groups as an ordered mapping.
func (gs Groups) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for _, g := range gs {
		var v yaml.Node
		if err := v.Encode(g); err != nil {
			return nil, err
		}
		v.Style = yaml.FlowStyle
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: g.ID}, &v)
	}
	return n, nil
}

// Step is one moment of a scenario. At moves the clock first; then the
// step does one thing: commands (Do), faults (Fault), or a check (Expect,
// Events, Received, Timeline). Note is printed in the timeline.
type Step struct {
	// At is when the step happens: an offset from the start ("90s",
	// "1m30s") or from the previous step ("+2s"). Empty: now. Every timer
	// due on the way fires, in order.
	At string `yaml:"at,omitempty"`
	// Do lists commands, issued in order: "alice dial 102 as c1",
	// "bob answer c1 on bob-mobile", "far answer c2", "crash", …
	Do Lines `yaml:"do,omitempty"`
	// Error is the error code the last command of Do must fail with
	// ("invalid_state"); "any" accepts any typed error.
	Error string `yaml:"error,omitempty"`
	// Fault injects faults on the adapter's messages: "drop far-answered
	// c1", "delay ringing 3s", "clear".
	Fault Lines `yaml:"fault,omitempty"`
	// Expect checks the state of calls (by label) and clients (by id):
	// "connected answered=bob-mobile", "ended reason=busy".
	Expect map[string]string `yaml:"expect,omitempty"`
	// Events checks the events journaled since the previous Events check,
	// in order: "c1 answered device=bob-mobile". An empty list says that
	// nothing was journaled since.
	Events Lines `yaml:"events,omitempty"`
	// Received checks, for each session (by label), the events it was
	// delivered (SessionEvents) since the previous check of that session,
	// in order, as Events reads them; PresenceChanged notices, never
	// journaled, show here only. An empty list says nothing was delivered.
	Received map[string]Lines `yaml:"received,omitempty"`
	// Timeline checks every event line so far, times included.
	Timeline string `yaml:"timeline,omitempty"`
	Note     string `yaml:"note,omitempty"`

	Line int `yaml:"-"` // where the step starts in its file

	checkEvents bool // the step has an events key, even an empty list: "no events since"
}

// UnmarshalYAML decodes a step and remembers its line.
func (s *Step) UnmarshalYAML(n *yaml.Node) error {
	if err := knownKeys(n, "at", "do", "error", "fault", "expect", "events", "received", "timeline", "note"); err != nil {
		return err
	}
	type plain Step
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*s = Step(p)
	s.Line = n.Line
	for i := 0; i < len(n.Content); i += 2 {
		s.checkEvents = s.checkEvents || n.Content[i].Value == "events"
	}
	return nil
}

// knownKeys refuses a mapping with a key it does not list (a typo would
// otherwise be a step that silently does nothing).
func knownKeys(n *yaml.Node, keys ...string) error {
	if n.Kind != yaml.MappingNode {
		return nil // Decode reports the type error
	}
	for i := 0; i < len(n.Content); i += 2 {
		k := n.Content[i]
		found := false
		for _, want := range keys {
			found = found || k.Value == want
		}
		if !found {
			return fmt.Errorf("line %d: unknown key %q (known: %s)", k.Line, k.Value, strings.Join(keys, ", "))
		}
	}
	return nil
}

// Lines is one string or a list of them; a string with several lines is
// split into its non-empty lines.
type Lines []string

// UnmarshalYAML accepts a scalar or a sequence of scalars.
func (l *Lines) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*l = splitLines(n.Value)
		return nil
	case yaml.SequenceNode:
		var out []string
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: expected a string", c.Line)
			}
			out = append(out, splitLines(c.Value)...)
		}
		*l = out
		return nil
	}
	return fmt.Errorf("line %d: expected a string or a list of strings", n.Line)
}

// MarshalYAML writes one line as a string and several as a list.
func (l Lines) MarshalYAML() (any, error) {
	if len(l) == 1 {
		return l[0], nil
	}
	return []string(l), nil
}

func splitLines(s string) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}

// Parse reads a scenario from YAML and checks it: every command, fault,
// behavior and duration must parse. Errors have code malformed and name the
// line.
func Parse(data []byte) (*Scenario, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var sc Scenario
	if err := dec.Decode(&sc); err != nil {
		return nil, errcode.New(errcode.Malformed, "scenario: "+strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if _, err := compile(&sc); err != nil {
		return nil, err
	}
	return &sc, nil
}

// Load reads and parses a scenario file.
func Load(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, errcode.Wrap(errcode.NotFound, err, "cannot read scenario "+path)
	}
	sc, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if sc.Name == "" {
		sc.Name = path
	}
	return sc, nil
}

// Marshal writes the scenario as YAML that Parse reads back.
func (sc *Scenario) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(sc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// defaultStart is when the virtual clock starts unless the scenario says.
var defaultStart = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

func malformed(line int, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if line > 0 {
		msg = fmt.Sprintf("line %d: %s", line, msg)
	}
	return errcode.New(errcode.Malformed, "scenario: "+msg)
}
