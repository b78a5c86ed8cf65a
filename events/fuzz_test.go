package events

import (
	"bytes"
	"encoding/json"
	"flag"
	"maps"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/callengine/callengine/errcode"
)

// The fuzz targets hold the codecs to their contract: bytes that are not an
// event give a malformed error and never a panic, and whatever decodes
// re-encodes to the same envelope. `go test` runs the seeds below and the
// corpus in testdata/fuzz; `go test -fuzz=FuzzX` searches for more.

// While fuzzing (go test -fuzz), inputs longer than maxFuzzBinary bytes
// (maxFuzzJSON for JSON) are skipped. The seeds hold a 4 KiB CallLegRecorded
// (a SIP dialog record at its limits); the fuzzer's mutations of it, and of
// the longer inputs it kept, cost the minimiser — quadratic in the input's
// length — most of a one-minute run: FuzzDecodeBody made no exec in its
// last 18 s (580k in all). Every other sample is under 256 bytes, and the
// decoders' branches do not depend on length beyond that. A plain go test
// still runs every seed and corpus entry, whatever its length.
const (
	maxFuzzBinary = 512
	maxFuzzJSON   = 1024
)

// fuzzing reports whether go test -fuzz runs (read once the flags are parsed).
var fuzzing = sync.OnceValue(func() bool {
	f := flag.Lookup("test.fuzz")
	return f != nil && f.Value.String() != ""
})

// binarySeeds are bodies that are almost valid: each stops the decoder at a
// different check.
func binarySeeds() [][]byte {
	seeds := [][]byte{
		nil,
		{bodyMagic},
		{envelopeMagic},
		{bodyMagic, 0},
		{bodyMagic, SchemaVersion},
		{bodyMagic, SchemaVersion, byte(TypeCallIgnored)},
		{bodyMagic, SchemaVersion + 1, byte(TypeCallIgnored), 0},
		{bodyMagic, SchemaVersion, 0x80, 0x80, 0x04, 0},
		{bodyMagic, 0x80, 0x01, byte(TypeCallIgnored), 0},
		{bodyMagic, SchemaVersion, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0},
		{bodyMagic, SchemaVersion, byte(TypeCallIgnored), 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01},
		rawBody(SchemaVersion, uint64(TypeCallEnded), 0, 0, 0, 0),
		rawBody(SchemaVersion, uint64(TypeCallEnded), 0, byte(Missed)+1, 0, 0),
		rawBody(SchemaVersion, uint64(TypeCallEnded), 0, byte(Hangup), 3, 0),
		rawBody(SchemaVersion, uint64(TypeCallEnded), 0, byte(Hangup), 0, 2),
		rawBody(SchemaVersion, uint64(TypeCallHeld), 0, 0),
		rawBody(SchemaVersion, uint64(TypeCallDialed), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3),
		rawBody(SchemaVersion, uint64(TypeClientRegistered), 0, 0, 0, 0, 2, 0, 0, 0, 0),
		rawBody(SchemaVersion, uint64(TypeClientUpdated), -1, 3, 'a', 'b'),
		[]byte("\x00\xff\xfe junk"),

		// Schema 1 bodies and what schema 1 could not write.
		cat(v1Head(1, TypeCallDialed), v1CallDialedPayload(Outbound)),
		cat(v1Head(1, TypeCallDialed), v1CallDialedPayload(Transit)),
		cat(v1Head(2, TypeCallDialed), v1CallDialedPayload(Transit)),
		cat(v1Head(2, TypeCallDialed), v1CallDialedPayload(Inbound), []byte{0, 0, 0, 0}),
		cat(v1Head(1, TypeCallDialed), v1CallDialedPayload(Internal), []byte{0, 0, 0, 0, 0}),
		cat(v1Head(1, TypeClientRegistered), v1ClientRegisteredPayload()),
		cat(v1Head(2, TypeClientRegistered), v1ClientRegisteredPayload()),
		cat(v1Head(2, TypeClientRegistered), v1ClientRegisteredPayload(), uv(1), str(PermissionRecord)),
		cat(v1Head(1, TypeCallDigits), []byte{byte(Caller), 1, '1', 0, 0}),
		rawBody(1, uint64(TypeTransferInitiated), 0),
		rawBody(1, uint64(TypeMessageDelivered), 0),

		// Schema 2 decoders, each stopped at one of its checks.
		rawBody(SchemaVersion, uint64(TypeCallDigits), 0, byte(NoSide), 1, '1', 0, 0),
		rawBody(SchemaVersion, uint64(TypeCallDigits), 0, byte(Caller), 1, '1', 1, 0),        // duration -1
		rawBody(SchemaVersion, uint64(TypeCallDigits), 0, byte(Callee), 1, '#', 0, 1),        // gap -1
		rawBody(SchemaVersion, uint64(TypeCallDigits), 0, byte(Callee), 0, 0xC8, 0x01, 0x64), // 100, 50
		rawBody(SchemaVersion, uint64(TypeCallRecordingStarted), 0, 3, 0),
		rawBody(SchemaVersion, uint64(TypeCallRecordingStopped), 0, 0),
		rawBody(SchemaVersion, uint64(TypeCallParked), 0, byte(Callee), byte(NoSide), 3, '7', '0', '1'),
		rawBody(SchemaVersion, uint64(TypeCallParked), 0, byte(NoSide), byte(Caller), 0),
		rawBody(SchemaVersion, uint64(TypeCallHoldNotAvailable), 0, 0xFF, 0),
		rawBody(SchemaVersion, uint64(TypeCallUnparked), 0, 0, 0, 0, 0),
		rawBody(SchemaVersion, uint64(TypeCallJoined), 0, 1, 'c', 1, 'p'),
		transferBody(0, byte(Caller)),
		transferBody(byte(ClickToCall)+1, byte(Caller)),
		transferBody(byte(ClickToCall), byte(NoSide)),
		transferBody(byte(Blind), byte(Callee)+1),
		rawBody(SchemaVersion, uint64(TypeTransferNotAnswered), 0, 4, 'b', 'u', 's', 'y'),
		rawBody(SchemaVersion, uint64(TypeGroupDefined), 0, 0, 0, 0, 1, 1, 'a', 0),
		rawBody(SchemaVersion, uint64(TypeGroupDefined), 0, 0, 0, 0, 1, 1, 'a', byte(RoundRobin)+1),
		rawBody(SchemaVersion, uint64(TypeGroupDefined), 0, 0, 0, 0, 1, 1, 'a', byte(RoundRobin)),
		rawBody(SchemaVersion, uint64(TypeGroupMemberPicked), 0, 1, 'a', 1, 'c'),
		rawBody(SchemaVersion, uint64(TypeMessageSent), 0, 0, 0, 0, 4, '+', '1', '5', '5', 2, 'h', 'i'),
		rawBody(SchemaVersion, uint64(TypeMessageFailed), 0, 1),

		// Schema 2 bodies and what schema 2 could not write.
		cat(v1Head(2, TypeCallDialed), v1CallDialedPayload(Inbound), v2CallDialedTrailing()),
		cat(v1Head(3, TypeCallDialed), v1CallDialedPayload(Inbound), v2CallDialedTrailing()),
		cat(v1Head(3, TypeCallDialed), v1CallDialedPayload(Inbound), v2CallDialedTrailing(), vi(0)),
		cat(v1Head(2, TypeCallDialed), v1CallDialedPayload(Inbound), v2CallDialedTrailing(), vi(0)),
		cat(v1Head(3, TypeCallDialed), v1CallDialedPayload(Internal), make([]byte, 5), vi(-1)),
		cat(v1Head(3, TypeCallDialed), v1CallDialedPayload(Internal), make([]byte, 5), vi(120_000_000_000)),
		cat(v1Head(2, TypeCallEnded), []byte{byte(Voicemail), byte(Caller), 0}),
		cat(v1Head(3, TypeCallEnded), []byte{byte(Voicemail), byte(Caller), 0}),
		cat(v1Head(3, TypeCallEnded), []byte{byte(Voicemail) + 1, byte(Caller), 0}),
		cat(v1Head(2, TypeClientPresenceSet), []byte{byte(PresenceAway), 0}),
		cat(v1Head(2, TypeSessionCreated), str("alice"), []byte{1}),
		rawBody(2, uint64(TypeCallToVoicemail), 0, byte(NoAnswer), 0),
		rawBody(1, uint64(TypeSessionRestored), 0),

		// Schema 3 decoders, each stopped at one of its checks.
		rawBody(SchemaVersion, uint64(TypeClientPresenceSet), 0, byte(NoPresence), 0),
		rawBody(SchemaVersion, uint64(TypeClientPresenceSet), 0, byte(PresenceOffline)+1, 0),
		rawBody(SchemaVersion, uint64(TypeClientPresenceSet), 0, byte(PresenceOffline), 3, 'o', 'o', 'o'),
		rawBody(SchemaVersion, uint64(TypePresenceChanged), 0, 0xFF, 0),
		rawBody(SchemaVersion, uint64(TypePresenceChanged), 0, byte(PresenceBusy)),
		rawBody(SchemaVersion, uint64(TypeClientVoicemailSet), 0, 2, 0),
		rawBody(SchemaVersion, uint64(TypeClientVoicemailSet), 0, 1, 1),    // max length -1
		rawBody(SchemaVersion, uint64(TypeClientVoicemailSet), 0, 0, 0xF0), // max length, cut off
		rawBody(SchemaVersion, uint64(TypeHistoryDeleted), 0, 0),
		rawBody(SchemaVersion, uint64(TypeHistoryDeleted), 0, 2, 1, 'a'),
		rawBody(SchemaVersion, uint64(TypeVoicemailHeard), 0, 0),
		rawBody(SchemaVersion, uint64(TypeVoicemailHeard), 0, 1, 0),
		rawBody(SchemaVersion, uint64(TypeVoicemailDeleted), 0, 0),
		rawBody(SchemaVersion, uint64(TypeVoicemailDeleted), 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0),
		rawBody(SchemaVersion, uint64(TypeCallToVoicemail), 0, byte(Hangup), 0),
		rawBody(SchemaVersion, uint64(TypeCallToVoicemail), 0, byte(Voicemail), 0),
		rawBody(SchemaVersion, uint64(TypeCallToVoicemail), 0, byte(Rejected), 1), // deadline -1
		rawBody(SchemaVersion, uint64(TypeCallToVoicemail), 0, byte(Rejected)),
		rawBody(SchemaVersion, uint64(TypeVoicemailLeft), 0, 0, 0, 0, 0, 2),
		rawBody(SchemaVersion, uint64(TypeVoicemailLeft), 0, 1, 'b', 0, 0, 0, 1), // duration -1
		rawBody(SchemaVersion, uint64(TypeVoicemailLeft), 0, 1, 'b', 0, 0, 0),
		rawBody(SchemaVersion, uint64(TypeSessionCreated), 0, 0, 1),
		rawBody(SchemaVersion, uint64(TypeSessionCreated), 0, 1, 'a', 2),
		rawBody(SchemaVersion, uint64(TypeSessionRestored), 0, 0),
		rawBody(SchemaVersion, uint64(TypeSessionConnectionClosed), 0, 1), // deadline -1
		rawBody(SchemaVersion, uint64(TypeSessionConnectionClosed), 0, 0),
		rawBody(SchemaVersion, uint64(TypeSessionDestroyed), 0, 3),
		rawBody(SchemaVersion, uint64(TypeSessionSubscribed), 0, 0),
		rawBody(SchemaVersion, uint64(TypeSessionSubscribed), 0, 8, 'c', 'a', 'l', 'l', 'p', 'a', 'r', 'k'),
		rawBody(SchemaVersion, uint64(TypeSessionUnsubscribed), 0, 0),
		rawBody(SchemaVersion, uint64(TypeSessionAutoAnswerSet), 0, 0xFF),
	}
	// Every sample as if schema 1, then schema 2, had written it: the old
	// types decode (but CallDialed and ClientRegistered, whose newer fields
	// are then trailing bytes), the new ones are unknown.
	for _, schema := range []byte{1, 2} {
		for _, s := range samples {
			b := EncodeBody(nil, s.at, s.ev)
			b[1] = schema
			seeds = append(seeds, b)
		}
	}
	// And as the older schema would have written them, where it could.
	for _, schema := range []uint64{1, 2} {
		for _, s := range samples {
			if b, ok := olderBody(s, schema); ok {
				seeds = append(seeds, b)
			}
		}
	}
	huge := hugeCounts()
	for _, name := range slices.Sorted(maps.Keys(huge)) {
		seeds = append(seeds, huge[name])
	}
	return seeds
}

func FuzzDecodeBody(f *testing.F) {
	for _, s := range samples {
		f.Add(EncodeBody(nil, s.at, s.ev))
	}
	for i, s := range samples {
		env := envelopeOf(i, s)
		f.Add(Marshal(nil, &env)) // an envelope is not a body
	}
	for _, b := range binarySeeds() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzBinary && fuzzing() {
			return
		}
		env := Envelope{Seq: 7, Stream: "call/fuzz", Version: 3}
		if err := DecodeBody(data, &env); err != nil {
			if c := errcode.CodeOf(err); c != errcode.Malformed {
				t.Fatalf("DecodeBody(% x): error %q with code %q", data, err, c)
			}
			return
		}
		checkDecoded(t, env)
		re := EncodeBody(nil, env.Time, env.Event)
		if len(re) > len(data)+upgradeGrowth(env) {
			t.Fatalf("re-encoding of % x is longer: % x", data, re)
		}
		again := Envelope{Seq: 7, Stream: "call/fuzz", Version: 3}
		if err := DecodeBody(re, &again); err != nil {
			t.Fatalf("re-encoded % x (from % x) does not decode: %v", re, data, err)
		}
		if want := upgraded(env); !reflect.DeepEqual(again, want) {
			t.Fatalf("DecodeBody(EncodeBody(x)) != x:\n got %#v\nwant %#v", again, want)
		}
		if re2 := EncodeBody(nil, again.Time, again.Event); !bytes.Equal(re2, re) {
			t.Fatalf("encoding is not stable: % x then % x", re, re2)
		}
		checkJSONOfDecoded(t, env)
	})
}

func FuzzUnmarshal(f *testing.F) {
	for i, s := range samples {
		env := envelopeOf(i, s)
		f.Add(Marshal(nil, &env))
		f.Add(EncodeBody(nil, s.at, s.ev)) // a body is not an envelope
	}
	for _, b := range binarySeeds() {
		f.Add(b)
		f.Add(append([]byte{envelopeMagic, 1, 3, 'a', '/', 'b', 2}, b...))
	}
	f.Add([]byte{envelopeMagic, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01})
	f.Add([]byte{envelopeMagic, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 'x'})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzBinary && fuzzing() {
			return
		}
		env, err := Unmarshal(data)
		if err != nil {
			if c := errcode.CodeOf(err); c != errcode.Malformed {
				t.Fatalf("Unmarshal(% x): error %q with code %q", data, err, c)
			}
			return
		}
		checkDecoded(t, env)
		re := Marshal(nil, &env)
		if len(re) > len(data)+upgradeGrowth(env) {
			t.Fatalf("re-encoding of % x is longer: % x", data, re)
		}
		again, err := Unmarshal(re)
		if err != nil {
			t.Fatalf("re-encoded % x (from % x) does not decode: %v", re, data, err)
		}
		if want := upgraded(env); !reflect.DeepEqual(again, want) {
			t.Fatalf("Unmarshal(Marshal(x)) != x:\n got %#v\nwant %#v", again, want)
		}
		if re2 := Marshal(nil, &again); !bytes.Equal(re2, re) {
			t.Fatalf("encoding is not stable: % x then % x", re, re2)
		}
		// The envelope's body is a body.
		body := Envelope{Seq: env.Seq, Stream: env.Stream, Version: env.Version}
		if err := DecodeBody(EncodeBody(nil, env.Time, env.Event), &body); err != nil || !reflect.DeepEqual(body, upgraded(env)) {
			t.Fatalf("body of %#v reads back as %#v, %v", env, body, err)
		}
		checkJSONOfDecoded(t, env)
	})
}

func FuzzUnmarshalJSON(f *testing.F) {
	for i, s := range samples {
		env := envelopeOf(i, s)
		b, err := json.Marshal(env)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		``, `{`, `null`, `[]`, `{}`, `"x"`, `0`,
		`{"type":"CallIgnored","time":"2020-01-02T03:04:05Z"}`,
		`{"type":"CallIgnored","time":"2020-01-02T03:04:05+01:00","data":null}`,
		`{"Type":"CallHeld","TIME":"2020-01-02T03:04:05Z","Data":{"BY":"callee"}}`,
		`{"type":"CallRinging","time":"2020-01-02T03:04:05Z","data":{"devices":[],"deadline":-1}}`,
		`{"type":"ClientRegistered","time":"2020-01-02T03:04:05Z","data":{"numbers":[],"extensions":null,"devices":[{}]}}`,
		`{"type":"CallDialed","time":"2020-01-02T03:04:05Z","data":{"caller":{},"direction":"inbound"},"extra":1}`,
		`{"type":"CallDialed","type":"CallEnded","time":"2020-01-02T03:04:05Z","data":{"reason":"busy"}}`,
		`{"seq":18446744073709551615,"stream":"\ud800","version":1,"type":"DeviceRemoved","time":"2020-01-02T03:04:05.1Z","schema":65535,"data":{"id":"\u0000"}}`,
		"{\"type\":\"DeviceRemoved\",\"time\":\"2020-01-02T03:04:05Z\",\"data\":{\"id\":\"\xff\xfe\"}}",

		// schema 2
		`{"type":"CallDialed","time":"2026-01-05T09:00:00Z","schema":2,"data":{"caller":{"number":"+4930"},"callee":{"number":"+1415"},"direction":"transit","transfer":"x-1","caller_leg":"c-1"}}`,
		`{"type":"CallDialed","time":"2026-01-05T09:00:00Z","schema":1,"data":{"caller":{"client":"a"},"direction":"outbound","origin":"click-to-call"}}`,
		`{"type":"ClientRegistered","time":"2026-01-05T09:00:00Z","data":{"name":"S","permissions":["record",""],"accept_inbound":false}}`,
		`{"type":"CallDigits","time":"2026-01-05T09:00:00Z","data":{"side":"caller","digits":"12#","duration_ns":100000000,"gap_ns":0}}`,
		`{"type":"CallDigits","time":"2026-01-05T09:00:00Z","data":{"side":"callee","digits":"","duration_ns":-0,"gap_ns":9223372036854775807}}`,
		`{"type":"CallParked","time":"2026-01-05T09:00:00Z","data":{"side":"callee","by":"caller","slot":"701"}}`,
		`{"type":"CallParked","time":"2026-01-05T09:00:00Z","data":{"side":"callee","by":"callee"}}`,
		`{"type":"CallUnparked","time":"2026-01-05T09:00:00Z","data":{"party":{"client":"c"}}}`,
		`{"type":"CallRecordingStarted","time":"2026-01-05T09:00:00Z","data":{"by":"callee","ref":""}}`,
		`{"type":"CallHoldNotAvailable","time":"2026-01-05T09:00:00Z","data":{"by":"caller","reason":"not connected"}}`,
		`{"type":"TransferInitiated","time":"2026-01-05T09:00:00Z","data":{"kind":"click-to-call","first":{"client":"a"},"first_device":"a-desk","target":{"number":"+44"},"new_call":"c-2","deadline":-5}}`,
		`{"type":"TransferInitiated","time":"2026-01-05T09:00:00Z","data":{"kind":"blind","kept":"","target":{},"new_call":""}}`,
		`{"type":"TransferInitiated","time":"2026-01-05T09:00:00Z","data":{"kind":"supervised","kept":"callee","first":null,"target":{"number":"500"},"group":"g","new_call":"c"}}`,
		`{"type":"TransferFailed","time":"2026-01-05T09:00:00Z","data":{"reason":""}}`,
		`{"type":"GroupDefined","time":"2026-01-05T09:00:00Z","data":{"members":[],"strategy":"round-robin"}}`,
		`{"type":"GroupDefined","time":"2026-01-05T09:00:00Z","data":{"name":"G","extensions":["5"],"numbers":null,"members":["a","a"],"strategy":"ring-all"}}`,
		`{"type":"GroupRemoved","time":"2026-01-05T09:00:00Z","data":null}`,
		`{"type":"MessageSent","time":"2026-01-05T09:00:00Z","data":{"from":{"client":"a"},"to":"+1","text":"\u00e9\n"}}`,
		`{"type":"MessageDelivered","time":"2026-01-05T09:00:00Z"}`,

		// schema 3
		`{"type":"CallDialed","time":"2026-01-05T09:00:00Z","schema":3,"data":{"caller":{"number":"+4930"},"callee":{"client":"bob"},"direction":"inbound","voicemail_limit_ns":120000000000}}`,
		`{"type":"CallDialed","time":"2026-01-05T09:00:00Z","schema":2,"data":{"caller":{},"direction":"internal","voicemail_limit_ns":0}}`,
		`{"type":"CallEnded","time":"2026-01-05T09:00:00Z","schema":3,"data":{"reason":"voicemail","by":"caller"}}`,
		`{"type":"ClientPresenceSet","time":"2026-01-05T09:00:00Z","data":{"presence":"away","activity":"lunch"}}`,
		`{"type":"ClientPresenceSet","time":"2026-01-05T09:00:00Z","data":{"presence":"offline"}}`,
		`{"type":"PresenceChanged","time":"2026-01-05T09:00:00Z","data":{"presence":"busy","activity":""}}`,
		`{"type":"ClientVoicemailSet","time":"2026-01-05T09:00:00Z","data":{"enabled":true,"max_length_ns":120000000000}}`,
		`{"type":"ClientVoicemailSet","time":"2026-01-05T09:00:00Z","data":{"enabled":false}}`,
		`{"type":"HistoryDeleted","time":"2026-01-05T09:00:00Z","data":{"calls":["call-1",""]}}`,
		`{"type":"VoicemailHeard","time":"2026-01-05T09:00:00Z","data":{"calls":["call-1"]}}`,
		`{"type":"VoicemailDeleted","time":"2026-01-05T09:00:00Z","data":{"calls":["call-1","call-1"]}}`,
		`{"type":"CallToVoicemail","time":"2026-01-05T09:00:00Z","data":{"reason":"rejected","deadline":-1}}`,
		`{"type":"CallToVoicemail","time":"2026-01-05T09:00:00Z","data":{"reason":"no-answer","deadline":1767603720000000000}}`,
		`{"type":"VoicemailLeft","time":"2026-01-05T09:00:00Z","data":{"client":"bob","from":{"number":"+4930"},"duration_ns":0}}`,
		`{"type":"SessionCreated","time":"2026-01-05T09:00:00Z","data":{"client":"alice","auto_answer":true}}`,
		`{"type":"SessionRestored","time":"2026-01-05T09:00:00Z"}`,
		`{"type":"SessionConnectionClosed","time":"2026-01-05T09:00:00Z","data":{"deadline":1767603900000000000}}`,
		`{"type":"SessionConnectionClosed","time":"2026-01-05T09:00:00Z","data":{}}`,
		`{"type":"SessionDestroyed","time":"2026-01-05T09:00:00Z","data":{"expired":true}}`,
		`{"type":"SessionSubscribed","time":"2026-01-05T09:00:00Z","data":{"line":"callpark"}}`,
		`{"type":"SessionUnsubscribed","time":"2026-01-05T09:00:00Z","data":{"line":"+4930600600"}}`,
		`{"type":"SessionAutoAnswerSet","time":"2026-01-05T09:00:00Z","data":{"on":true}}`,
	} {
		f.Add([]byte(s))
	}
	bad := badJSONCases()
	for _, name := range slices.Sorted(maps.Keys(bad)) {
		f.Add([]byte(bad[name]))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzJSON && fuzzing() {
			return
		}
		var env Envelope
		if err := env.UnmarshalJSON(data); err != nil {
			if c := errcode.CodeOf(err); c != errcode.Malformed {
				t.Fatalf("UnmarshalJSON(%q): error %q with code %q", data, err, c)
			}
			return
		}
		if env.Event == nil || env.Event.Type() != env.Type {
			t.Fatalf("UnmarshalJSON(%q): event %#v for type %v", data, env.Event, env.Type)
		}
		// The time read is the instant written, not a wrapped-around one.
		var j struct {
			Time string `json:"time"`
		}
		if err := json.Unmarshal(data, &j); err != nil {
			t.Fatalf("accepted %q, but it is not JSON: %v", data, err)
		}
		if at, err := time.Parse(time.RFC3339Nano, j.Time); err != nil || !env.At().Equal(at) {
			t.Fatalf("time %q read as %v (%d)", j.Time, env.At(), env.Time)
		}

		b, err := json.Marshal(env)
		if err != nil {
			t.Fatalf("json.Marshal(%#v): %v", env, err)
		}
		var again Envelope
		if err := again.UnmarshalJSON(b); err != nil {
			t.Fatalf("%q read as %#v, which writes %s, which does not read: %v", data, env, b, err)
		}
		if got, want := normalize(again), normalize(env); !reflect.DeepEqual(got, want) {
			t.Fatalf("JSON round trip of %q through %s:\n got %#v\nwant %#v", data, b, got, want)
		}
		if b2, err := json.Marshal(again); err != nil || !bytes.Equal(b2, b) {
			t.Fatalf("JSON is not stable: %s then %s, %v", b, b2, err)
		}

		// Every event read from JSON can be journaled and read back.
		bin := Marshal(nil, &again)
		back, err := Unmarshal(bin)
		if err != nil {
			t.Fatalf("%q read as %#v, whose binary % x does not decode: %v", data, again, bin, err)
		}
		want := normalize(again)
		want.Schema = SchemaVersion
		if !reflect.DeepEqual(back, want) {
			t.Fatalf("binary round trip of %s:\n got %#v\nwant %#v", b, back, want)
		}
	})
}

// checkDecoded checks what every successful binary decode gives.
func checkDecoded(t *testing.T, env Envelope) {
	t.Helper()
	if env.Event == nil {
		t.Fatalf("decoded envelope without event: %#v", env)
	}
	if env.Event.Type() != env.Type {
		t.Fatalf("envelope type %v holds a %v", env.Type, env.Event.Type())
	}
	if env.Schema == 0 || env.Schema > SchemaVersion {
		t.Fatalf("decoded schema %d", env.Schema)
	}
	if env.Schema >= 3 {
		return
	}
	// Schemas 1 and 2 had none of the types, fields and reasons schema 3
	// added.
	if typeSchema(env.Type) > uint64(env.Schema) {
		t.Fatalf("schema %d body decoded as %v, a schema %d type", env.Schema, env.Type, typeSchema(env.Type))
	}
	switch e := env.Event.(type) {
	case CallDialed:
		if e.VoicemailLimit != 0 {
			t.Fatalf("schema %d body decoded with schema 3 fields: %#v", env.Schema, e)
		}
	case CallEnded:
		if e.Reason == Voicemail {
			t.Fatalf("schema %d body decoded with reason voicemail: %#v", env.Schema, e)
		}
	}
	if env.Schema >= 2 {
		return
	}
	// Schema 1 had none of the types, fields and directions schema 2 added.
	switch e := env.Event.(type) {
	case CallDialed:
		if e.Direction > Inbound || e.Group != "" || e.Transfer != "" || e.CallerLeg != "" || e.CalleeLeg != "" || e.Origin != "" {
			t.Fatalf("schema 1 body decoded with schema 2 fields: %#v", e)
		}
	case ClientRegistered:
		if e.Permissions != nil {
			t.Fatalf("schema 1 body decoded with schema 2 fields: %#v", e)
		}
	}
}

// upgraded is env as it reads back after EncodeBody, which writes the
// current schema: a body of an older one is upgraded.
func upgraded(env Envelope) Envelope {
	env.Schema = SchemaVersion
	return env
}

// upgradeGrowth is how much longer the current schema writes an event decoded
// from an older one: the empty fields the newer schema added.
func upgradeGrowth(env Envelope) int {
	if env.Schema >= SchemaVersion {
		return 0
	}
	return trailingSince(uint64(env.Schema), env.Type)
}

// checkJSONOfDecoded: an envelope the binary codec accepts survives JSON
// exactly, as long as its strings are UTF-8 (JSON cannot carry other bytes).
func checkJSONOfDecoded(t *testing.T, env Envelope) {
	t.Helper()
	if !validUTF8(reflect.ValueOf(env)) {
		return
	}
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatalf("json.Marshal(%#v): %v", env, err)
	}
	var back Envelope
	if err := back.UnmarshalJSON(b); err != nil {
		t.Fatalf("JSON %s of %#v does not read: %v", b, env, err)
	}
	if !reflect.DeepEqual(back, env) {
		t.Fatalf("JSON round trip through %s:\n got %#v\nwant %#v", b, back, env)
	}
}

// validUTF8 reports whether every string in v is valid UTF-8.
func validUTF8(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.String:
		return utf8.ValidString(v.String())
	case reflect.Interface:
		return v.IsNil() || validUTF8(v.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			if !validUTF8(v.Field(i)) {
				return false
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			if !validUTF8(v.Index(i)) {
				return false
			}
		}
	}
	return true
}

// normalize returns env with empty lists in its event set to nil: JSON omits
// most empty lists, and a list JSON writes even when empty
// (GroupDefined.Members) reads back from [] as an empty list but from the
// binary codec as nil, so [] and null are the same list.
func normalize(env Envelope) Envelope {
	if env.Event == nil {
		return env
	}
	v := reflect.New(reflect.TypeOf(env.Event)).Elem()
	v.Set(reflect.ValueOf(env.Event))
	nilEmpty(v)
	env.Event = v.Interface().(Event)
	return env
}

func nilEmpty(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			nilEmpty(v.Field(i))
		}
	case reflect.Slice:
		if v.Len() == 0 {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		for i := range v.Len() {
			nilEmpty(v.Index(i))
		}
	}
}
