package events

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// sample is one event of the round-trip table. Every event type has at least
// one sample (TestEveryTypeHasSample), with every field set where the type has
// fields.
type sample struct {
	name string
	at   int64 // engine-clock Unix nanoseconds
	ev   Event
}

var samples = []sample{
	{"ClientRegistered/full", 1_700_000_000_123_456_789, ClientRegistered{
		Name:       "Zoë 山田 🚀",
		Numbers:    []string{"+4915112345678", "+81-3-1234-5678", "sip:ålesund@example.org"},
		Extensions: []string{"101", "٢٠٢"},
		Devices: []Device{
			{ID: "dev-1", Kind: "sip", Contact: "sip:zoë@10.0.0.1:5060"},
			{ID: "tab-🚀", Kind: "webrtc", Contact: "wss://edge/ü?x=<1>&y=\"2\""},
			{ID: "loop", Kind: "loopback", Contact: "\u2028line\tsep\\"},
		},
		AcceptInbound: true,
	}},
	{"ClientRegistered/one-each", -1, ClientRegistered{
		Name:       "Ελένη",
		Numbers:    []string{"1"},
		Extensions: []string{"x"},
		Devices:    []Device{{ID: "d"}},
	}},
	{"ClientUnregistered", -1_234_567_890_123_456_789, ClientUnregistered{}},
	{"DeviceAdded", 86_400_000_000_001, DeviceAdded{Device: Device{ID: "端末-2", Kind: "webrtc", Contact: "peer://Ω"}}},
	{"DeviceRemoved", -999_999_999, DeviceRemoved{ID: "dev-ß"}},
	{"ClientUpdated", math.MaxInt64, ClientUpdated{Name: "Ærøskøbing ☎", AcceptInbound: true}},
	{"CallDialed/outbound", math.MinInt64, CallDialed{
		Caller:       Party{Client: "cl-Алиса", Number: "+15550100", Name: "Алиса"},
		Callee:       Party{Number: "+442079460000", Name: "Bob 🎧"},
		CallerDevice: "dev-1",
		CallerID:     "+15550100",
		Destination:  "0044 20 7946 0000 …",
		Direction:    Outbound,
	}},
	{"CallDialed/inbound", 1, CallDialed{
		Caller:       Party{Number: "+4930123456", Name: "Extern"},
		Callee:       Party{Client: "cl-2", Number: "200", Name: "Zweiter"},
		CallerDevice: "trunk-ä",
		CallerID:     "anonymous",
		Destination:  "200",
		Direction:    Inbound,
	}},
	{"CallDialed/internal", -1_000_000_000_000_000_001, CallDialed{
		Caller:       Party{Client: "a", Number: "101", Name: "A"},
		Callee:       Party{Client: "b", Number: "102", Name: "B"},
		CallerDevice: "d",
		CallerID:     "101",
		Destination:  "102",
		Direction:    Internal,
	}},
	{"CallRinging/deadline-negative", -42, CallRinging{Devices: []string{"dev-1", "dev-2", "端末"}, Deadline: -1_234_567_890_123}},
	{"CallRinging/deadline-max", 123_456_789, CallRinging{Devices: []string{"only"}, Deadline: math.MaxInt64}},
	{"CallAnswered", 1_600_000_000_000_000_007, CallAnswered{Device: "dev-2 ✓"}},
	{"CallHeld/caller", -7, CallHeld{By: Caller}},
	{"CallHeld/callee", 7, CallHeld{By: Callee}},
	{"CallResumed", -8, CallResumed{By: Callee}},
	{"CallMuted", -9, CallMuted{Side: Caller}},
	{"CallUnmuted", -10, CallUnmuted{Side: Callee}},
	{"CallIgnored", -11, CallIgnored{}},
	{"CallEnded/hangup", -12, CallEnded{Reason: Hangup, By: Caller}},
	{"CallEnded/busy", -13, CallEnded{Reason: Busy, By: Callee}},
	{"CallEnded/no-answer", -14, CallEnded{Reason: NoAnswer, Missed: true}},
	{"CallEnded/failed", -15, CallEnded{Reason: Failed}},
	{"CallEnded/transferred", -16, CallEnded{Reason: Transferred, By: Callee}},
	{"CallEnded/rejected", -17, CallEnded{Reason: Rejected, By: Callee, Missed: true}},
	{"CallEnded/canceled", -18, CallEnded{Reason: Canceled, By: Caller, Missed: true}},
	{"CallEnded/missed", -19, CallEnded{Reason: Missed, By: Callee, Missed: true}},

	// Schema 2: the trailing fields of ClientRegistered and CallDialed.
	{"ClientRegistered/permissions", 1_767_603_600_000_000_001, ClientRegistered{
		Name:          "Supervisor Søren",
		Numbers:       []string{"+4535550100"},
		Extensions:    []string{"900"},
		Devices:       []Device{{ID: "soren-desk", Kind: "sip", Contact: "sip:soren@10.0.0.9:5060"}},
		AcceptInbound: true,
		Permissions:   []string{PermissionRecord, "barge", "monitor-ü"},
	}},
	{"CallDialed/transit", 1_767_603_601_000_000_002, CallDialed{
		Caller:      Party{Number: "+4930123456", Name: "Extern"},
		Callee:      Party{Number: "+14155550199", Name: "Outside 🌉"},
		CallerID:    "+4930123456",
		Destination: "+14155550199",
		Direction:   Transit,
		Transfer:    "xfer-01HZX",
		CallerLeg:   "call-01HZA",
	}},
	{"CallDialed/group", 1_767_603_602_000_000_003, CallDialed{
		Caller:       Party{Number: "+4930123456", Name: "Kundin"},
		Callee:       Party{Client: "agent-7", Number: "207", Name: "Agent Sieben"},
		CallerDevice: "trunk-1",
		CallerID:     "+4930123456",
		Destination:  "500",
		Direction:    Inbound,
		Group:        "grp-support",
		Transfer:     "xfer-2",
		CallerLeg:    "call-orig",
		CalleeLeg:    "call-consult",
	}},
	{"CallDialed/click-to-call", 1_767_603_603_000_000_004, CallDialed{
		Caller:      Party{Client: "alice", Number: "101", Name: "Alice"},
		Callee:      Party{Number: "+442079460000", Name: "Bob"},
		CallerID:    "+15550100",
		Destination: "+442079460000",
		Direction:   Outbound,
		Transfer:    "xfer-c2c-1",
		Origin:      OriginClickToCall,
	}},

	// Schema 2: call control.
	{"CallDigits/caller", 1_767_603_604_000_000_005, CallDigits{Side: Caller, Digits: "0123456789*#ABCD,", Duration: 100_000_000, Gap: 50_000_000}},
	{"CallDigits/callee-max", -20, CallDigits{Side: Callee, Digits: "#", Duration: math.MaxInt64, Gap: 1}},
	{"CallRecordingStarted", 1_767_603_605_000_000_006, CallRecordingStarted{By: Caller, Ref: "s3://recordings/2026/01/05/call-01HZX.opus"}},
	{"CallRecordingStopped", 1_767_603_606_000_000_007, CallRecordingStopped{By: Callee}},
	{"CallParked", 1_767_603_607_000_000_008, CallParked{Side: Callee, By: Caller, Slot: "701"}},
	{"CallUnparked", 1_767_603_608_000_000_009, CallUnparked{Party: Party{Client: "carol", Number: "103", Name: "Carol Ü"}, Device: "carol-web"}},
	{"CallJoined", 1_767_603_609_000_000_010, CallJoined{Conference: "conf-01HZY", Peer: "call-01HZB"}},
	{"CallHoldNotAvailable", 1_767_603_610_000_000_011, CallHoldNotAvailable{By: Callee, Reason: "the call is not connected"}},

	// Schema 2: transfers.
	{"TransferInitiated/blind", 1_767_603_611_000_000_012, TransferInitiated{
		Kind:        Blind,
		Call:        "call-01HZA",
		Kept:        Caller,
		Target:      Party{Client: "dave", Number: "104", Name: "Dave"},
		Destination: "104",
		NewCall:     "call-01HZC",
	}},
	{"TransferInitiated/attended", 1_767_603_612_000_000_013, TransferInitiated{
		Kind:        Attended,
		Call:        "call-01HZA",
		Kept:        Callee,
		Target:      Party{Number: "+14155550123", Name: "Erin ☎"},
		Destination: "0014155550123",
		Consult:     "call-01HZD",
		NewCall:     "call-01HZE",
	}},
	{"TransferInitiated/supervised-group", 1_767_603_613_000_000_014, TransferInitiated{
		Kind:        Supervised,
		Call:        "call-01HZA",
		Kept:        Caller,
		Target:      Party{Number: "500", Name: "Support"},
		Group:       "grp-support",
		Destination: "500",
		Consult:     "call-01HZF",
		NewCall:     "call-01HZG",
		Deadline:    1_767_603_643_000_000_014,
	}},
	{"TransferInitiated/click-to-call", 1_767_603_614_000_000_015, TransferInitiated{
		Kind:        ClickToCall,
		First:       Party{Client: "alice", Number: "101", Name: "Alice"},
		FirstDevice: "alice-desk",
		Target:      Party{Number: "+442079460000", Name: "Bob"},
		Destination: "+442079460000",
		Consult:     "call-01HZH",
		NewCall:     "call-01HZI",
		Deadline:    -1,
	}},
	{"TransferAnswered", 1_767_603_615_000_000_016, TransferAnswered{}},
	{"TransferNotAnswered", 1_767_603_616_000_000_017, TransferNotAnswered{Reason: "no-answer"}},
	{"TransferCompleted", 1_767_603_617_000_000_018, TransferCompleted{}},
	{"TransferNotCompleted", 1_767_603_618_000_000_019, TransferNotCompleted{Reason: "the target hung up"}},
	{"TransferCanceled", 1_767_603_619_000_000_020, TransferCanceled{}},
	{"TransferFailed", 1_767_603_620_000_000_021, TransferFailed{Reason: "the original call ended"}},

	// Schema 2: groups.
	{"GroupDefined/ring-all", 1_767_603_621_000_000_022, GroupDefined{
		Name:       "Support 🛟",
		Extensions: []string{"500", "501"},
		Numbers:    []string{"+4930500500"},
		Members:    []string{"agent-7", "agent-8", "agent-9"},
		Strategy:   RingAll,
	}},
	{"GroupDefined/round-robin", 1_767_603_622_000_000_023, GroupDefined{
		Name:       "Sales",
		Extensions: []string{"600"},
		Numbers:    []string{"+4930600600", "+4930600601"},
		Members:    []string{"bob"},
		Strategy:   RoundRobin,
	}},
	{"GroupRemoved", 1_767_603_623_000_000_024, GroupRemoved{}},
	{"GroupMemberPicked", 1_767_603_624_000_000_025, GroupMemberPicked{Member: "agent-8", Call: "call-01HZJ"}},

	// Schema 2: text messages.
	{"MessageSent", 1_767_603_625_000_000_026, MessageSent{
		From: Party{Client: "alice", Number: "+15550100", Name: "Alice"},
		To:   "+442079460000",
		Text: "Running 5' late — sorry! 🚗\nSee you at \"Café Ø\".",
	}},
	{"MessageDelivered", 1_767_603_626_000_000_027, MessageDelivered{}},
	{"MessageFailed", 1_767_603_627_000_000_028, MessageFailed{Reason: "the number cannot receive messages"}},

	// Schema 3: presence, voicemail, history, sessions.
	{"ClientPresenceSet", 1_767_603_628_000_000_029, ClientPresenceSet{Presence: PresenceAway, Activity: "lunch — back at 2"}},
	{"ClientVoicemailSet", 1_767_603_629_000_000_030, ClientVoicemailSet{Enabled: true, MaxLength: 120_000_000_000}},
	{"HistoryDeleted", 1_767_603_630_000_000_031, HistoryDeleted{Calls: []string{"call-01", "call-02"}}},
	{"VoicemailHeard", 1_767_603_631_000_000_032, VoicemailHeard{Calls: []string{"call-03"}}},
	{"VoicemailDeleted", 1_767_603_632_000_000_033, VoicemailDeleted{Calls: []string{"call-03", "call-04"}}},
	{"PresenceChanged", 1_767_603_633_000_000_034, PresenceChanged{Presence: PresenceBusy, Activity: "on a call"}},
	{"CallToVoicemail", 1_767_603_634_000_000_035, CallToVoicemail{Reason: NoAnswer, Deadline: 1_767_603_754_000_000_035}},
	{"VoicemailLeft", 1_767_603_635_000_000_036, VoicemailLeft{Client: "bob", From: Party{Number: "+4930123456", Name: "Zoë"}, Duration: 17_500_000_000}},
	{"SessionCreated", 1_767_603_636_000_000_037, SessionCreated{Client: "alice", AutoAnswer: true}},
	{"SessionRestored", 1_767_603_637_000_000_038, SessionRestored{}},
	{"SessionConnectionClosed", 1_767_603_638_000_000_039, SessionConnectionClosed{Deadline: 1_767_603_938_000_000_039}},
	{"SessionDestroyed", 1_767_603_639_000_000_040, SessionDestroyed{Expired: true}},
	{"ClientPasswordSet", 1_767_603_639_500_000_040, ClientPasswordSet{Hash: "pbkdf2-sha256$100000$c2FsdA$a2V5", Realm: "example.com", DigestHA1: "939e7578ed9e3c518a452acee763bce9"}},
	{"SessionSubscribed", 1_767_603_640_000_000_041, SessionSubscribed{Line: "+4930600600"}},
	{"SessionUnsubscribed", 1_767_603_641_000_000_042, SessionUnsubscribed{Line: "callpark"}},
	{"SessionAutoAnswerSet", 1_767_603_642_000_000_043, SessionAutoAnswerSet{On: false}},
	{"CallEndedVoicemail", 1_767_603_643_000_000_044, CallEnded{Reason: Voicemail, By: Caller}},
	{"CallDialedVoicemail", 1_767_603_644_000_000_045, CallDialed{
		Caller: Party{Number: "+4930123456"}, Callee: Party{Client: "bob", Number: "201"},
		Direction: Inbound, VoicemailLimit: 120_000_000_000,
	}},
	{"ClientPresenceSet/available", 1_767_603_645_000_000_046, ClientPresenceSet{Presence: PresenceAvailable}},
	{"ClientPresenceSet/busy", 1_767_603_646_000_000_047, ClientPresenceSet{Presence: PresenceBusy, Activity: "in a meeting 📅"}},
	{"ClientPresenceSet/offline", -21, ClientPresenceSet{Presence: PresenceOffline, Activity: "\u2028\t\"quoted\""}},
	{"ClientVoicemailSet/off", 1_767_603_647_000_000_048, ClientVoicemailSet{}},
	{"ClientVoicemailSet/max", -22, ClientVoicemailSet{Enabled: true, MaxLength: math.MaxInt64}},
	{"HistoryDeleted/empty-id", -23, HistoryDeleted{Calls: []string{""}}},
	{"PresenceChanged/offline", 1_767_603_648_000_000_049, PresenceChanged{Presence: PresenceOffline}},
	{"CallToVoicemail/rejected", 1_767_603_649_000_000_050, CallToVoicemail{Reason: Rejected, Deadline: -1}},
	{"VoicemailLeft/client", 1_767_603_650_000_000_051, VoicemailLeft{Client: "carol", From: Party{Client: "alice", Number: "101", Name: "Alice"}, Duration: math.MaxInt64}},
	{"VoicemailLeft/empty", -24, VoicemailLeft{Client: "c"}},
	{"CallLegRecorded", 1_767_603_656_000_000_057, CallLegRecorded{Side: Callee, Adapter: "sip", Data: []byte(`{"call_id":"a84b4c76e66710@pc33","local_cseq":120}`)}},
	{"CallLegRecorded/binary-max", -27, CallLegRecorded{Side: Caller, Adapter: "sip", Data: bytes.Repeat([]byte{0, 0xFF, '"'}, MaxLegData/3)}},
	{"CallLegRecorded/cleared", 1_767_603_657_000_000_058, CallLegRecorded{Side: Caller, Adapter: "x"}},
	{"CallLeftConference", 1_767_603_658_000_000_059, CallLeftConference{Conference: "conf-1", Peer: "c-2"}},
	{"SessionCreated/no-auto-answer", -25, SessionCreated{Client: "クライアント"}},
	{"SessionConnectionClosed/more-left", 1_767_603_651_000_000_052, SessionConnectionClosed{}},
	{"SessionConnectionClosed/max", -26, SessionConnectionClosed{Deadline: math.MaxInt64}},
	{"SessionDestroyed/closed", 1_767_603_652_000_000_053, SessionDestroyed{}},
	{"SessionAutoAnswerSet/on", 1_767_603_653_000_000_054, SessionAutoAnswerSet{On: true}},
	{"CallEnded/voicemail-callee", 1_767_603_654_000_000_055, CallEnded{Reason: Voicemail, By: Callee, Missed: true}},
	{"CallDialed/voicemail-group", 1_767_603_655_000_000_056, CallDialed{
		Caller:         Party{Client: "alice", Number: "101", Name: "Alice"},
		Callee:         Party{Client: "agent-7", Number: "207"},
		CallerID:       "101",
		Destination:    "500",
		Direction:      Internal,
		Group:          "grp-support",
		Origin:         OriginClickToCall,
		VoicemailLimit: math.MaxInt64,
	}},
}

// envelopeOf places sample i in an envelope with every field set.
func envelopeOf(i int, s sample) Envelope {
	seq := uint64(i)*1_000_003 + 1
	if i == 0 {
		seq = math.MaxUint64
	}
	return Envelope{
		Seq:     seq,
		Stream:  "call/01HZX…-" + s.name + `-"q"\<&>`,
		Version: uint64(i)*300 + 1,
		Type:    s.ev.Type(),
		Time:    s.at,
		Schema:  SchemaVersion,
		Event:   s.ev,
	}
}

func TestEveryTypeHasSample(t *testing.T) {
	covered := map[Type]bool{}
	for _, s := range samples {
		covered[s.ev.Type()] = true
	}
	known := 0
	for i := 0; i <= math.MaxUint16; i++ {
		typ := Type(i)
		name := typ.String()
		parsed, ok := ParseType(name)
		if ok && parsed != typ {
			t.Errorf("ParseType(%q) = %v, %v for type %d", name, parsed, ok, i)
		}
		if !ok {
			if want := "Type(" + itoa(i) + ")"; name != want {
				t.Errorf("Type(%d).String() = %q, want %q", i, name, want)
			}
			if covered[typ] {
				t.Errorf("sample of type %d, which has no name", i)
			}
			continue
		}
		known++
		if !covered[typ] {
			t.Errorf("type %d (%s) has no sample in the round-trip table", i, name)
		}
	}
	if known != len(typeNames) {
		t.Errorf("found %d named types, typeNames has %d", known, len(typeNames))
	}
}

// TestEveryPayloadStructHasSample reads the package source: every type with a
// Type() method is an event and must be in the table, even when it was
// forgotten in typeNames.
func TestEveryPayloadStructHasSample(t *testing.T) {
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	have := map[string]bool{}
	for _, s := range samples {
		have[reflect.TypeOf(s.ev).Name()] = true
	}
	found := 0
	for _, f := range files {
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || fn.Name.Name != "Type" || len(fn.Recv.List) != 1 {
				continue
			}
			id, ok := fn.Recv.List[0].Type.(*ast.Ident)
			if !ok {
				continue
			}
			found++
			if !have[id.Name] {
				t.Errorf("event %s has no sample in the round-trip table", id.Name)
			}
		}
	}
	if found != len(typeNames) {
		t.Errorf("%d types with a Type method, %d named types", found, len(typeNames))
	}
}

func TestSamplesAreValid(t *testing.T) {
	for _, s := range samples {
		if !strings.HasPrefix(s.name, s.ev.Type().String()) {
			t.Errorf("sample %q holds a %s", s.name, s.ev.Type())
		}
	}
}

func TestBodyRoundTrip(t *testing.T) {
	for i, s := range samples {
		t.Run(s.name, func(t *testing.T) {
			want := envelopeOf(i, s)
			b := EncodeBody(nil, s.at, s.ev)
			got := Envelope{Seq: want.Seq, Stream: want.Stream, Version: want.Version}
			if err := DecodeBody(b, &got); err != nil {
				t.Fatalf("DecodeBody(% x): %v", b, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip:\n got %#v\nwant %#v", got, want)
			}
			// EncodeBody appends.
			prefix := []byte("prefix")
			b2 := EncodeBody(prefix, s.at, s.ev)
			if !bytes.HasPrefix(b2, prefix) || !bytes.Equal(b2[len(prefix):], b) {
				t.Fatalf("EncodeBody with a prefix = % x, want prefix + % x", b2, b)
			}
		})
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	for i, s := range samples {
		t.Run(s.name, func(t *testing.T) {
			want := envelopeOf(i, s)
			b := Marshal(nil, &want)
			got, err := Unmarshal(b)
			if err != nil {
				t.Fatalf("Unmarshal(% x): %v", b, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip:\n got %#v\nwant %#v", got, want)
			}
			// The envelope ends with the body EncodeBody writes.
			if body := EncodeBody(nil, s.at, s.ev); !bytes.HasSuffix(b, body) {
				t.Fatalf("Marshal = % x, does not end with body % x", b, body)
			}
			prefix := []byte{1, 2, 3}
			if b2 := Marshal(prefix, &want); !bytes.Equal(b2[3:], b) || !bytes.Equal(b2[:3], prefix) {
				t.Fatalf("Marshal with a prefix = % x", b2)
			}
		})
	}
}

func TestJSONRoundTrip(t *testing.T) {
	for i, s := range samples {
		t.Run(s.name, func(t *testing.T) {
			want := envelopeOf(i, s)
			b, err := json.Marshal(want)
			if err != nil {
				t.Fatal(err)
			}
			var got Envelope
			if err := got.UnmarshalJSON(b); err != nil {
				t.Fatalf("UnmarshalJSON(%s): %v", b, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip of %s:\n got %#v\nwant %#v", b, got, want)
			}
			var viaPkg Envelope
			if err := json.Unmarshal(b, &viaPkg); err != nil {
				t.Fatalf("json.Unmarshal(%s): %v", b, err)
			}
			if !reflect.DeepEqual(viaPkg, want) {
				t.Fatalf("json.Unmarshal round trip:\n got %#v\nwant %#v", viaPkg, want)
			}
			// Pointer and value marshal alike.
			bp, err := json.Marshal(&want)
			if err != nil || !bytes.Equal(bp, b) {
				t.Fatalf("json.Marshal(&env) = %s, %v; want %s", bp, err, b)
			}

			// The JSON is for people: type by name, time in RFC 3339 with
			// nanoseconds, payload under "data".
			var raw map[string]json.RawMessage
			if err := json.Unmarshal(b, &raw); err != nil {
				t.Fatal(err)
			}
			var typ, at string
			_ = json.Unmarshal(raw["type"], &typ)
			_ = json.Unmarshal(raw["time"], &at)
			if typ != s.ev.Type().String() {
				t.Errorf("type = %q, want %q", typ, s.ev.Type())
			}
			if wantAt := time.Unix(0, s.at).UTC().Format(time.RFC3339Nano); at != wantAt {
				t.Errorf("time = %q, want %q", at, wantAt)
			}
			for _, k := range []string{"seq", "stream", "version", "type", "time", "schema", "data"} {
				if _, ok := raw[k]; !ok {
					t.Errorf("JSON %s has no %q", b, k)
				}
			}
		})
	}
}

// TestJSONTimes checks that every nanosecond survives the RFC 3339 text, at
// both ends of the int64 range and around the epoch.
func TestJSONTimes(t *testing.T) {
	times := []int64{
		0, 1, -1, 999_999_999, -999_999_999, 1_000_000_000, -1_000_000_000, -1_000_000_001,
		1_700_000_000_000_000_000, 1_700_000_000_000_000_001, 1_700_000_000_100_000_000,
		-1_234_567_890_123_456_789, math.MaxInt64, math.MaxInt64 - 1, math.MinInt64, math.MinInt64 + 1,
		951_782_400_000_000_000, // 2000-02-29
	}
	for _, at := range times {
		want := Envelope{Seq: 1, Stream: "s", Version: 1, Type: TypeCallIgnored, Time: at, Schema: SchemaVersion, Event: CallIgnored{}}
		b, err := json.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		var got Envelope
		if err := got.UnmarshalJSON(b); err != nil {
			t.Fatalf("time %d: UnmarshalJSON(%s): %v", at, b, err)
		}
		if got.Time != at {
			t.Errorf("time %d: JSON %s reads back as %d", at, b, got.Time)
		}
		if !got.At().Equal(time.Unix(0, at)) || got.At().Location() != time.UTC {
			t.Errorf("time %d: At() = %v", at, got.At())
		}
	}
}

// TestJSONTimeZones reads times written with an offset: the instant counts,
// not the zone.
func TestJSONTimeZones(t *testing.T) {
	for _, tc := range []struct {
		text string
		want int64
	}{
		{"2023-11-14T22:13:20.123456789Z", 1_700_000_000_123_456_789},
		{"2023-11-15T00:13:20.123456789+02:00", 1_700_000_000_123_456_789},
		{"2023-11-14T17:13:20.123456789-05:00", 1_700_000_000_123_456_789},
		{"1969-12-31T23:59:59.999999999Z", -1},
		{"1970-01-01T00:00:00Z", 0},
		{"1677-09-21T00:12:43.145224192Z", math.MinInt64},
		{"2262-04-11T23:47:16.854775807Z", math.MaxInt64},
	} {
		var env Envelope
		in := `{"seq":1,"stream":"s","version":1,"type":"CallIgnored","time":"` + tc.text + `","schema":1,"data":{}}`
		if err := env.UnmarshalJSON([]byte(in)); err != nil {
			t.Errorf("%s: %v", tc.text, err)
			continue
		}
		if env.Time != tc.want {
			t.Errorf("%s: Time = %d, want %d", tc.text, env.Time, tc.want)
		}
	}
}

// TestJSONPayloadOptional: events without fields need no "data".
func TestJSONPayloadOptional(t *testing.T) {
	for _, in := range []string{
		`{"type":"CallIgnored","time":"2020-01-01T00:00:00Z"}`,
		`{"type":"CallIgnored","time":"2020-01-01T00:00:00Z","data":null}`,
		`{"type":"ClientUnregistered","time":"2020-01-01T00:00:00Z","data":{}}`,
	} {
		var env Envelope
		if err := env.UnmarshalJSON([]byte(in)); err != nil {
			t.Errorf("%s: %v", in, err)
		} else if env.Event == nil || env.Event.Type() != env.Type {
			t.Errorf("%s: event %#v for type %v", in, env.Event, env.Type)
		}
	}
}

func TestEnvelopeString(t *testing.T) {
	env := Envelope{Seq: 42, Stream: "call/c-1", Version: 3, Type: TypeCallHeld, Time: -1, Event: CallHeld{By: Caller}}
	if got, want := env.String(), "#42 call/c-1@3 1969-12-31T23:59:59.999999999Z CallHeld"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestEnds(t *testing.T) {
	ends := map[Type]bool{
		TypeCallEnded:            true,
		TypeClientUnregistered:   true,
		TypeGroupRemoved:         true,
		TypeMessageDelivered:     true,
		TypeMessageFailed:        true,
		TypeTransferNotAnswered:  true,
		TypeTransferCompleted:    true,
		TypeTransferNotCompleted: true,
		TypeTransferCanceled:     true,
		TypeTransferFailed:       true,
		TypeSessionDestroyed:     true,
	}
	for _, s := range samples {
		if got, want := Ends(s.ev), ends[s.ev.Type()]; got != want {
			t.Errorf("Ends(%s) = %v, want %v", s.name, got, want)
		}
	}
}

// TestSDKName: the transfer events, the recording events and the hold notice
// have the names the client SDKs give them; no other event has one.
func TestSDKName(t *testing.T) {
	want := map[string]string{
		"TransferInitiated/blind":            "TRANSFER_BLIND_INIT",
		"TransferInitiated/attended":         "WARM_INIT",
		"TransferInitiated/supervised-group": "WARM_INIT",
		"TransferInitiated/click-to-call":    "WARM_INIT",
		"TransferAnswered":                   "WARM_ANSWERED",
		"TransferNotAnswered":                "WARM_NOT_ANSWERED",
		"TransferCompleted":                  "WARM_COMPLETED",
		"TransferNotCompleted":               "WARM_NOT_COMPLETED",
		"TransferCanceled":                   "WARM_CANCELED",
		"TransferFailed":                     "TRANSFER_FAILED",
		"CallHoldNotAvailable":               "HOLD_NOT_AVAILABLE",
		"CallRecordingStarted":               "RECORDING",
		"CallRecordingStopped":               "NOT_RECORDING",
	}
	seen := map[string]bool{}
	for _, s := range samples {
		if got := SDKName(s.ev); got != want[s.name] {
			t.Errorf("SDKName(%s) = %q, want %q", s.name, got, want[s.name])
		}
		seen[s.name] = true
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("no sample %q", name)
		}
	}
	if got := SDKName(nil); got != "" {
		t.Errorf("SDKName(nil) = %q", got)
	}
}

func TestEnumText(t *testing.T) {
	for _, s := range []Side{Caller, Callee} {
		b, _ := s.MarshalText()
		var back Side
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Errorf("side %d: %q reads back as %d, %v", s, b, back, err)
		}
		if p, ok := ParseSide(s.String()); !ok || p != s {
			t.Errorf("ParseSide(%q) = %v, %v", s, p, ok)
		}
		if s.Other().Other() != s || s.Other() == s || !s.Valid() {
			t.Errorf("side %d: Other/Valid wrong", s)
		}
	}
	if NoSide.Valid() || NoSide.Other() != NoSide || NoSide.String() != "" || Side(3).Valid() {
		t.Error("NoSide / Side(3) misbehave")
	}
	for r := Hangup; r <= Voicemail; r++ {
		b, _ := r.MarshalText()
		var back Reason
		if err := back.UnmarshalText(b); err != nil || back != r {
			t.Errorf("reason %d: %q reads back as %d, %v", r, b, back, err)
		}
	}
	if _, ok := ParseReason(""); ok {
		t.Error(`ParseReason("") succeeded`)
	}
	if got := Voicemail.String(); got != "voicemail" {
		t.Errorf("Voicemail = %q", got)
	}
	if r, ok := ParseReason("voicemail"); !ok || r != 9 {
		t.Errorf(`ParseReason("voicemail") = %d, %v`, r, ok)
	}
	if got := Reason(10).String(); got != "reason(10)" {
		t.Errorf("Reason(10) = %q", got)
	}
	for _, s := range []string{"reason(9)", "reason(10)", "Voicemail", "voice-mail", "9"} {
		var back Reason
		wantMalformed(t, "Reason.UnmarshalText("+s+")", back.UnmarshalText([]byte(s)))
	}

	for p, name := range map[Presence]string{PresenceAvailable: "available", PresenceBusy: "busy", PresenceAway: "away", PresenceOffline: "offline"} {
		b, _ := p.MarshalText()
		var back Presence
		if err := back.UnmarshalText(b); err != nil || back != p || string(b) != name || !p.Valid() {
			t.Errorf("presence %d: %q reads back as %d, %v; want %q", p, b, back, err, name)
		}
		if q, ok := ParsePresence(name); !ok || q != p {
			t.Errorf("ParsePresence(%q) = %v, %v", name, q, ok)
		}
	}
	for _, p := range []Presence{NoPresence, PresenceOffline + 1, 0xFF} {
		want := "presence(" + itoa(int(p)) + ")"
		if got := p.String(); got != want {
			t.Errorf("Presence(%d) = %q, want %q", p, got, want)
		}
		if p.Valid() {
			t.Errorf("Presence(%d) is valid", p)
		}
		var back Presence
		wantMalformed(t, "Presence.UnmarshalText("+want+")", back.UnmarshalText([]byte(want)))
	}
	for _, s := range []string{"", "Available", "dnd", "1"} {
		var back Presence
		wantMalformed(t, "Presence.UnmarshalText("+s+")", back.UnmarshalText([]byte(s)))
	}
	for d := Internal; d <= Transit; d++ {
		b, _ := d.MarshalText()
		var back Direction
		if err := back.UnmarshalText(b); err != nil || back != d {
			t.Errorf("direction %d: %q reads back as %d, %v", d, b, back, err)
		}
	}
	if got := Transit.String(); got != "transit" {
		t.Errorf("Transit = %q", got)
	}
	if got := Direction(4).String(); got != "direction(4)" {
		t.Errorf("Direction(4) = %q", got)
	}
	var d Direction
	wantMalformed(t, "Direction.UnmarshalText(direction(4))", d.UnmarshalText([]byte("direction(4)")))

	for k, name := range map[TransferKind]string{Blind: "blind", Attended: "attended", Supervised: "supervised", ClickToCall: "click-to-call"} {
		b, _ := k.MarshalText()
		var back TransferKind
		if err := back.UnmarshalText(b); err != nil || back != k || string(b) != name {
			t.Errorf("transfer kind %d: %q reads back as %d, %v; want %q", k, b, back, err, name)
		}
		if p, ok := ParseTransferKind(name); !ok || p != k {
			t.Errorf("ParseTransferKind(%q) = %v, %v", name, p, ok)
		}
	}
	for _, k := range []TransferKind{0, ClickToCall + 1, 0xFF} {
		want := "kind(" + itoa(int(k)) + ")"
		if got := k.String(); got != want {
			t.Errorf("TransferKind(%d) = %q, want %q", k, got, want)
		}
		var back TransferKind
		wantMalformed(t, "TransferKind.UnmarshalText("+want+")", back.UnmarshalText([]byte(want)))
	}
	for _, s := range []string{"", "Blind", "kind(1)", "1"} {
		var back TransferKind
		wantMalformed(t, "TransferKind.UnmarshalText("+s+")", back.UnmarshalText([]byte(s)))
	}

	for st, name := range map[Strategy]string{RingAll: "ring-all", RoundRobin: "round-robin"} {
		b, _ := st.MarshalText()
		var back Strategy
		if err := back.UnmarshalText(b); err != nil || back != st || string(b) != name {
			t.Errorf("strategy %d: %q reads back as %d, %v; want %q", st, b, back, err, name)
		}
		if p, ok := ParseStrategy(name); !ok || p != st {
			t.Errorf("ParseStrategy(%q) = %v, %v", name, p, ok)
		}
	}
	for _, st := range []Strategy{0, RoundRobin + 1, 0xFF} {
		want := "strategy(" + itoa(int(st)) + ")"
		if got := st.String(); got != want {
			t.Errorf("Strategy(%d) = %q, want %q", st, got, want)
		}
		var back Strategy
		wantMalformed(t, "Strategy.UnmarshalText("+want+")", back.UnmarshalText([]byte(want)))
	}
	for _, s := range []string{"", "RingAll", "ring all", "1"} {
		var back Strategy
		wantMalformed(t, "Strategy.UnmarshalText("+s+")", back.UnmarshalText([]byte(s)))
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
