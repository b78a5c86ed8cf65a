package events

import "strconv"

// Strategy is how a call to a group picks the members it rings (T6).
type Strategy uint8

const (
	// RingAll rings every available member at once; the first answer wins.
	RingAll Strategy = 1
	// RoundRobin rings one available member, the next after the one picked
	// last.
	RoundRobin Strategy = 2
)

var strategyNames = [...]string{"", "ring-all", "round-robin"}

// String returns "ring-all" or "round-robin".
func (s Strategy) String() string {
	if int(s) < len(strategyNames) && s != 0 {
		return strategyNames[s]
	}
	return "strategy(" + strconv.Itoa(int(s)) + ")"
}

// ParseStrategy parses a strategy as String spells it.
func ParseStrategy(s string) (Strategy, bool) {
	for i, n := range strategyNames {
		if i > 0 && n == s {
			return Strategy(i), true
		}
	}
	return 0, false
}

// MarshalText writes the strategy as String spells it.
func (s Strategy) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a strategy as String spells it.
func (s *Strategy) UnmarshalText(b []byte) error {
	v, ok := ParseStrategy(string(b))
	if !ok {
		return malformedf("bad strategy %q", b)
	}
	*s = v
	return nil
}

// GroupDefined: a group of clients exists, or was redefined, with the
// extensions and numbers that reach it (FEATURES T6).
type GroupDefined struct {
	Name       string   `json:"name,omitempty"`
	Extensions []string `json:"extensions,omitempty"`
	Numbers    []string `json:"numbers,omitempty"`
	Members    []string `json:"members,omitempty"`
	Strategy   Strategy `json:"strategy"`
}

// GroupRemoved: the group is gone; its stream ends.
type GroupRemoved struct{}

// GroupMemberPicked: a round-robin call (Call) went to Member; the next call
// starts after it.
type GroupMemberPicked struct {
	Member string `json:"member"`
	Call   string `json:"call"`
}

func (GroupDefined) Type() Type      { return TypeGroupDefined }
func (GroupRemoved) Type() Type      { return TypeGroupRemoved }
func (GroupMemberPicked) Type() Type { return TypeGroupMemberPicked }

func (e GroupDefined) appendBinary(b []byte) []byte {
	b = appendString(b, e.Name)
	b = appendStrings(b, e.Extensions)
	b = appendStrings(b, e.Numbers)
	b = appendStrings(b, e.Members)
	return append(b, byte(e.Strategy))
}
func (GroupRemoved) appendBinary(b []byte) []byte { return b }
func (e GroupMemberPicked) appendBinary(b []byte) []byte {
	return appendString(appendString(b, e.Member), e.Call)
}

func (d *decoder) groupPayload(t Type) Event {
	switch t {
	case TypeGroupDefined:
		e := GroupDefined{Name: d.string(), Extensions: d.strings(), Numbers: d.strings(), Members: d.strings()}
		e.Strategy = Strategy(d.byte())
		if d.err == nil && (e.Strategy == 0 || e.Strategy > RoundRobin) {
			d.fail("unknown strategy %d", e.Strategy)
		}
		return e
	case TypeGroupRemoved:
		return GroupRemoved{}
	case TypeGroupMemberPicked:
		return GroupMemberPicked{Member: d.string(), Call: d.string()}
	}
	return nil
}
