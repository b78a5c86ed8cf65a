package simulator

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
)

// A scenario names what the engine creates — calls, transfers, conferences,
// text messages — by labels, never by the engine's ids: the timeline reads
// the same whatever the seed. A command gives the thing it creates the
// label of its `as` option, or the next free one of its kind (c1, t1,
// conf1, m1). The calls a transfer places are named after it: t1.consult
// (the consultation of an attended or supervised transfer), t1.first (the
// call to the first party of a click-to-call) and t1.new (the call that
// joins the kept party and the target).

// labels are the names of one kind of thing.
type labels struct {
	prefix string            // of the automatic labels
	byName map[string]string // label → id
	byID   map[string]string // id → label
	next   string            // the label the command under way gives what it creates
}

func newLabels(prefix string) *labels {
	return &labels{prefix: prefix, byName: map[string]string{}, byID: map[string]string{}}
}

func (l *labels) bind(label, id string) {
	l.byName[label], l.byID[id] = id, label
}

// sorted lists the labels in order.
func (l *labels) sorted() []string { return slices.Sorted(maps.Keys(l.byName)) }

// labelOf names a call: its label, or the one it was given before it was
// journaled (a transfer's calls, the call a round-robin group picked a
// member for), or the label the command under way gives the call it
// creates, or the next free "cN". The label is bound to the call when
// collect reads the call's first event.
func (s *sim) labelOf(id string) string {
	if id == "" {
		return ""
	}
	if l, ok := s.names[id]; ok {
		return l
	}
	if l, ok := s.reserved[id]; ok {
		return l
	}
	if !s.collecting && !s.dead {
		// The adapter hears of a call as soon as it is journaled: read the
		// journal first, where the transfer that placed it names it.
		s.collect()
		if l, ok := s.names[id]; ok {
			return l
		}
		if l, ok := s.reserved[id]; ok {
			return l
		}
	}
	l := s.nextLabel
	s.nextLabel = ""
	if l == "" {
		l = s.autoLabel()
	}
	s.reserve(id, l)
	return l
}

// reserve names a call before it is journaled.
func (s *sim) reserve(id, label string) {
	if _, known := s.names[id]; known {
		return
	}
	if _, known := s.reserved[id]; !known {
		s.reserved[id] = label
		s.reservedLabels[label] = id
	}
}

// bindCall binds a label to a call that exists.
func (s *sim) bindCall(label, id string) {
	s.labels[label], s.names[id] = id, label
	if l, ok := s.reserved[id]; ok {
		delete(s.reserved, id)
		delete(s.reservedLabels, l)
	}
}

// autoLabel is the next free "cN": N counts the labels of calls so far
// (those named after a transfer aside).
func (s *sim) autoLabel() string {
	n := 0
	for l := range s.labels {
		if !strings.Contains(l, ".") {
			n++
		}
	}
	for l := range s.reservedLabels {
		if !strings.Contains(l, ".") {
			n++
		}
	}
	for n++; ; n++ {
		if l := fmt.Sprintf("c%d", n); !s.taken(l) {
			return l
		}
	}
}

// taken reports whether a label already names something of the scenario.
func (s *sim) taken(label string) bool {
	if _, ok := s.labels[label]; ok {
		return true
	}
	if _, ok := s.reservedLabels[label]; ok {
		return true
	}
	for _, l := range []*labels{s.transfers, s.confs, s.msgs, s.sessions} {
		if _, ok := l.byName[label]; ok {
			return true
		}
	}
	if _, ok := s.groupIDs[label]; ok {
		return true
	}
	return label == callparkKey || label == directoryKey
}

// nextFree gives the label of a command's `as` option, refused when it
// names something else already, or the next free label of the kind.
func (s *sim) nextFree(l *labels, as string) (string, error) {
	if as != "" {
		if s.taken(as) {
			return "", errcode.Newf(errcode.AlreadyExists, "label %q names something else in this scenario", as)
		}
		return as, nil
	}
	for n := len(l.byName) + 1; ; n++ {
		if c := fmt.Sprintf("%s%d", l.prefix, n); !s.taken(c) {
			return c, nil
		}
	}
}

// nameOf names a transfer, a conference or a message on first sight: with
// the label the command under way gives it, or the next free one.
func (s *sim) nameOf(l *labels, id string) string {
	if id == "" {
		return ""
	}
	if name, ok := l.byID[id]; ok {
		return name
	}
	name := l.next
	l.next = ""
	if name == "" || s.taken(name) {
		name, _ = s.nextFree(l, "")
	}
	l.bind(name, id)
	return name
}

// named gives id the label its command chose, unless reading the journal
// during the command named it already.
func (s *sim) named(l *labels, label, id string) {
	if _, ok := l.byID[id]; !ok {
		l.bind(label, id)
	}
}

// transferSeen names the calls of a transfer when its first event is read.
func (s *sim) transferSeen(label string, ev events.TransferInitiated) {
	if ev.Consult != "" {
		suffix := ".consult"
		if ev.Kind == events.ClickToCall {
			suffix = ".first"
		}
		s.reserve(ev.Consult, label+suffix)
	}
	if ev.NewCall != "" {
		s.reserve(ev.NewCall, label+".new")
	}
}

// callID finds the call a label names.
func (s *sim) callID(label string) (string, error) {
	if id, ok := s.labels[label]; ok {
		return id, nil
	}
	return "", errcode.Newf(errcode.NotFound, "no call is labelled %q in this scenario", label)
}

// idOf finds what a label of another kind names.
func idOf(l *labels, kind, label string) (string, error) {
	if id, ok := l.byName[label]; ok {
		return id, nil
	}
	return "", errcode.Newf(errcode.NotFound, "no %s is labelled %q in this scenario", kind, label)
}

// relabel replaces the engine's ids in a text (an error message, a
// recording reference) with the scenario's labels.
func (s *sim) relabel(text string) string {
	if text == "" {
		return ""
	}
	for id, l := range s.names {
		if strings.Contains(text, id) {
			text = strings.ReplaceAll(text, id, l)
		}
	}
	for id, l := range s.reserved {
		if strings.Contains(text, id) {
			text = strings.ReplaceAll(text, id, l)
		}
	}
	for _, ls := range []*labels{s.transfers, s.confs, s.msgs, s.sessions} {
		for id, l := range ls.byID {
			if strings.Contains(text, id) {
				text = strings.ReplaceAll(text, id, l)
			}
		}
	}
	return text
}

// sortedLabels lists the scenario's call labels in order.
func (s *sim) sortedLabels() []string {
	return slices.Sorted(maps.Keys(s.labels))
}
