package main

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/replay"
)

var demoCallID = regexp.MustCompile(`\bcall ([0-9A-Z]{26})\b`)

// The demo prints whole call ids (it used to print "…" and the last 8
// characters) that replay --call accepts, and one line format: no Go slices
// ("[a b]"), no raw JSON, fields as key=value.
func TestDemoPrintsIDsReplayAccepts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	code, out, errs := runCLI("demo", "--data", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if strings.Contains(out, "…") || strings.ContainsAny(out, "[]{}") {
		t.Errorf("the demo prints a shortened id, a Go slice or JSON:\n%s", out)
	}
	ids := map[string]bool{}
	for _, m := range demoCallID.FindAllStringSubmatch(out, -1) {
		ids[m[1]] = true
	}
	if len(ids) != 4 {
		t.Fatalf("%d call ids in the demo's output, want 4:\n%s", len(ids), out)
	}
	for id := range ids {
		code, tl, errs := runCLI("replay", dir, "--call", id)
		if code != 0 || !strings.HasPrefix(tl, "call "+id+":") {
			t.Errorf("replay --call %s: exit %d, %s%s", id, code, tl, errs)
		}
	}
	// Event lines: time, #seq, type, stream, then key=value fields.
	eventLine := regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{3} #\d+ +[A-Za-z]+ +(call [0-9A-Z]{26}  \S+ → \S+|client \S+|session \S+)(  ([a-z-]+(=("[^"]*"|\S+))?)( [a-z-]+(=("[^"]*"|\S+))?)*)?$`)
	n := 0
	for _, line := range strings.Split(out, "\n") {
		if len(line) > 2 && line[2] == ':' {
			n++
			if !eventLine.MatchString(line) {
				t.Errorf("event line not in the format: %q", line)
			}
		}
	}
	if n < 20 {
		t.Errorf("%d event lines", n)
	}
}

// demo --json writes each event as one JSON line on stdout, the same events
// the text form prints, and the story on stderr; the journal it leaves reads
// back with the same seqs.
func TestDemoJSON(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	code, out, errs := runCLI("demo", "--data", dir, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(errs, "-- alice dials 102") || !strings.Contains(errs, "closing with 2 live calls") {
		t.Errorf("the story is not on stderr:\n%s", errs)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) < 20 {
		t.Fatalf("%d JSON lines", len(lines))
	}
	for i, line := range lines {
		var ev struct {
			events.Envelope
			Prev  string `json:"prev"`
			State string `json:"state"`
		}
		if err := json.Unmarshal([]byte(line), &ev.Envelope); err != nil {
			t.Fatalf("line %d is not an event: %v\n%s", i+1, err, line)
		}
		if err := json.Unmarshal([]byte(line), &struct {
			Prev  *string `json:"prev"`
			State *string `json:"state"`
		}{&ev.Prev, &ev.State}); err != nil {
			t.Fatal(err)
		}
		if ev.Seq != uint64(i+1) || ev.Event == nil {
			t.Fatalf("line %d: seq %d, event %v", i+1, ev.Seq, ev.Event)
		}
		if strings.HasPrefix(ev.Stream, "call/") && ev.State == "" {
			t.Errorf("call event without its state: %s", line)
		}
	}
}

// Every event type has key=value fields in replay's timeline: none falls
// back to the raw JSON payload (the schema 3 events did).
func TestEveryEventTypeHasFields(t *testing.T) {
	samples := []events.Event{
		events.ClientRegistered{Name: "Alice A", Numbers: []string{"+1", "+2"}, Extensions: []string{"101"},
			Devices: []events.Device{{ID: "d1", Kind: "sip"}}, AcceptInbound: true, Permissions: []string{"record"}},
		events.ClientUnregistered{},
		events.DeviceAdded{Device: events.Device{ID: "d2", Kind: "webrtc", Contact: "wss://x"}},
		events.DeviceRemoved{ID: "d2"},
		events.ClientUpdated{Name: "Alice B"},
		events.ClientPresenceSet{Presence: events.PresenceAway, Activity: "out for lunch"},
		events.ClientVoicemailSet{Enabled: true, MaxLength: int64(60e9)},
		events.ClientPasswordSet{Hash: "pbkdf2-sha256$100000$c2FsdA$a2V5", Realm: "example.com", DigestHA1: "939e"},
		events.HistoryDeleted{Calls: []string{"c1", "c2"}},
		events.VoicemailHeard{Calls: []string{"c1"}},
		events.VoicemailDeleted{Calls: []string{"c1"}},
		events.PresenceChanged{Presence: events.PresenceAvailable},
		events.CallDialed{Caller: events.Party{Client: "alice"}, Callee: events.Party{Number: "+33 1"}, Destination: "+33 1"},
		events.CallRinging{Devices: []string{"a", "b"}},
		events.CallAnswered{Device: "a"},
		events.CallHeld{By: events.Caller},
		events.CallResumed{By: events.Caller},
		events.CallMuted{Side: events.Callee},
		events.CallUnmuted{Side: events.Callee},
		events.CallIgnored{},
		events.CallEnded{Reason: events.Hangup, By: events.Caller},
		events.CallDigits{Side: events.Caller, Digits: "12#"},
		events.CallRecordingStarted{By: events.Caller, Ref: "r1"},
		events.CallRecordingStopped{By: events.Caller},
		events.CallParked{Side: events.Callee, By: events.Caller, Slot: "701"},
		events.CallUnparked{Party: events.Party{Client: "bob"}, Device: "b"},
		events.CallJoined{Conference: "conf", Peer: "c2"},
		events.CallLeftConference{Conference: "conf", Peer: "c2"},
		events.CallHoldNotAvailable{By: events.Caller, Reason: "far end refused"},
		events.CallToVoicemail{Reason: events.NoAnswer, Deadline: 1},
		events.VoicemailLeft{Client: "bob", From: events.Party{Client: "alice"}, Duration: int64(5e9)},
		events.CallLegRecorded{Side: events.Callee, Adapter: "sip", Data: []byte(`{"call_id":"x"}`)},
		events.TransferInitiated{Call: "c1", Target: events.Party{Client: "carol"}},
		events.TransferAnswered{},
		events.TransferNotAnswered{Reason: "timeout"},
		events.TransferCompleted{},
		events.TransferNotCompleted{Reason: "x"},
		events.TransferCanceled{},
		events.TransferFailed{Reason: "y"},
		events.GroupDefined{Name: "Sales", Extensions: []string{"200"}, Members: []string{"alice", "bob"}},
		events.GroupRemoved{},
		events.GroupMemberPicked{Member: "alice", Call: "c1"},
		events.MessageSent{From: events.Party{Client: "alice"}, To: "bob", Text: "hi {there}"},
		events.MessageDelivered{},
		events.MessageFailed{Reason: "z"},
		events.SessionCreated{Client: "bob", AutoAnswer: true},
		events.SessionRestored{},
		events.SessionConnectionClosed{Deadline: 1},
		events.SessionDestroyed{Expired: true},
		events.SessionSubscribed{Line: "101"},
		events.SessionUnsubscribed{Line: "101"},
		events.SessionAutoAnswerSet{On: true},
	}
	covered := map[events.Type]bool{}
	for _, ev := range samples {
		covered[ev.Type()] = true
	}
	for ty := events.Type(1); ty < 256; ty++ {
		if name := ty.String(); !strings.HasPrefix(name, "Type(") && !covered[ty] {
			t.Errorf("no sample of %s: add one", name)
		}
	}
	field := regexp.MustCompile(`^[a-z-]+(=("([^"\\]|\\.)*"|[^\s"{}\[\]]+))?$`)
	for _, ev := range samples {
		f := replay.EventFields(ev)
		rest := f
		for rest != "" {
			m := regexp.MustCompile(`^([a-z-]+(=("([^"\\]|\\.)*"|[^\s"]+))?)( |$)`).FindStringSubmatch(rest)
			if m == nil || !field.MatchString(m[1]) {
				t.Errorf("%s: fields %q are not key=value", ev.Type(), f)
				break
			}
			rest = rest[len(m[0]):]
		}
		if strings.Contains(f, `":`) {
			t.Errorf("%s: raw JSON %q", ev.Type(), f)
		}
	}
}
