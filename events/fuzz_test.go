package events

import (
	"bytes"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/callengine/callengine/errcode"
)

// The fuzz targets hold the codecs to their contract: bytes that are not an
// event give a malformed error and never a panic, and whatever decodes
// re-encodes to the same envelope. `go test` runs the seeds below and the
// corpus in testdata/fuzz; `go test -fuzz=FuzzX` searches for more.

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
		env := Envelope{Seq: 7, Stream: "call/fuzz", Version: 3}
		if err := DecodeBody(data, &env); err != nil {
			if c := errcode.CodeOf(err); c != errcode.Malformed {
				t.Fatalf("DecodeBody(% x): error %q with code %q", data, err, c)
			}
			return
		}
		checkDecoded(t, env)
		re := EncodeBody(nil, env.Time, env.Event)
		if len(re) > len(data) {
			t.Fatalf("re-encoding of % x is longer: % x", data, re)
		}
		again := Envelope{Seq: 7, Stream: "call/fuzz", Version: 3}
		if err := DecodeBody(re, &again); err != nil {
			t.Fatalf("re-encoded % x (from % x) does not decode: %v", re, data, err)
		}
		if !reflect.DeepEqual(again, env) {
			t.Fatalf("DecodeBody(EncodeBody(x)) != x:\n got %#v\nwant %#v", again, env)
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
		env, err := Unmarshal(data)
		if err != nil {
			if c := errcode.CodeOf(err); c != errcode.Malformed {
				t.Fatalf("Unmarshal(% x): error %q with code %q", data, err, c)
			}
			return
		}
		checkDecoded(t, env)
		re := Marshal(nil, &env)
		if len(re) > len(data) {
			t.Fatalf("re-encoding of % x is longer: % x", data, re)
		}
		again, err := Unmarshal(re)
		if err != nil {
			t.Fatalf("re-encoded % x (from % x) does not decode: %v", re, data, err)
		}
		if !reflect.DeepEqual(again, env) {
			t.Fatalf("Unmarshal(Marshal(x)) != x:\n got %#v\nwant %#v", again, env)
		}
		if re2 := Marshal(nil, &again); !bytes.Equal(re2, re) {
			t.Fatalf("encoding is not stable: % x then % x", re, re2)
		}
		// The envelope's body is a body.
		body := Envelope{Seq: env.Seq, Stream: env.Stream, Version: env.Version}
		if err := DecodeBody(EncodeBody(nil, env.Time, env.Event), &body); err != nil || !reflect.DeepEqual(body, env) {
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
	} {
		f.Add([]byte(s))
	}
	bad := badJSONCases()
	for _, name := range slices.Sorted(maps.Keys(bad)) {
		f.Add([]byte(bad[name]))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
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
		if want := normalize(env); !reflect.DeepEqual(again, want) {
			t.Fatalf("JSON round trip of %q through %s:\n got %#v\nwant %#v", data, b, again, want)
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
		want := again
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
// empty lists, so [] and null are the same list.
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
