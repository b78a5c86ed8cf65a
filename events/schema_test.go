package events

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// Schema compatibility: bodies an older schema wrote stay readable, with the
// fields the newer schemas added empty, and re-encode as the current schema;
// what an older schema could not write (a newer type, direction or end
// reason, a newer trailing field) is refused. The tests named Schema1 hold
// the step from schema 1 to 2, those named Schema2 the step from 2 to 3.

// str is a string as the binary codec writes it: uvarint length, then bytes.
func str(s string) []byte { return append(uv(uint64(len(s))), s...) }

// vi is a zig-zag varint.
func vi(v int64) []byte { return binary.AppendVarint(nil, v) }

// v1At is 2026-01-05T09:00:00Z, the time of the examples in docs/events.md.
var v1At = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC).UnixNano()

// v1Head is the head of a body as schema 1 wrote it: magic, schema, type, time.
func v1Head(schema uint64, typ Type) []byte {
	return cat([]byte{bodyMagic}, uv(schema), uv(uint64(typ)), vi(v1At))
}

// v1CallDialedPayload is the payload of CallDialed as schema 1 wrote it:
// caller party, callee party, caller device, caller id, destination,
// direction — and nothing after.
func v1CallDialedPayload(dir Direction) []byte {
	return cat(
		str("alice"), str("101"), str("Alice"), // caller
		str("bob"), str("102"), str("Bob"), // callee
		str("alice-desk"), str("101"), str("102"),
		[]byte{byte(dir)},
	)
}

var v1CallDialed = CallDialed{
	Caller:       Party{Client: "alice", Number: "101", Name: "Alice"},
	Callee:       Party{Client: "bob", Number: "102", Name: "Bob"},
	CallerDevice: "alice-desk",
	CallerID:     "101",
	Destination:  "102",
	Direction:    Internal,
}

// v1ClientRegisteredPayload is the payload of ClientRegistered as schema 1
// wrote it: name, numbers, extensions, devices, accept-inbound.
func v1ClientRegisteredPayload() []byte {
	return cat(
		str("Bob"),
		uv(1), str("+14155550102"),
		uv(1), str("102"),
		uv(2), str("bob-desk"), str("sip"), str("sip:bob@10.0.0.2"), str("bob-web"), str("webrtc"), str(""),
		[]byte{1},
	)
}

var v1ClientRegistered = ClientRegistered{
	Name:       "Bob",
	Numbers:    []string{"+14155550102"},
	Extensions: []string{"102"},
	Devices: []Device{
		{ID: "bob-desk", Kind: "sip", Contact: "sip:bob@10.0.0.2"},
		{ID: "bob-web", Kind: "webrtc"},
	},
	AcceptInbound: true,
}

// v2Trailing is what schema 2 added after a schema 1 payload, for the events
// whose layout grew; empty for the others.
func v2Trailing(t Type) int {
	switch t {
	case TypeCallDialed:
		return 5 // group, transfer, caller leg, callee leg, origin
	case TypeClientRegistered:
		return 1 // permissions
	}
	return 0
}

// v3Trailing is what schema 3 added after a schema 2 payload, for the events
// whose layout grew, in bytes when the new fields are empty; 0 for the
// others.
func v3Trailing(t Type) int {
	if t == TypeCallDialed {
		return 1 // voicemail limit, a varint: 0 is one byte
	}
	return 0
}

// trailingSince is what the schemas after schema added to t's payload, in
// bytes when the new fields are empty.
func trailingSince(schema uint64, t Type) int {
	n := 0
	if schema < 2 {
		n += v2Trailing(t)
	}
	if schema < 3 {
		n += v3Trailing(t)
	}
	return n
}

// schema3Types are the types schema 3 added.
var schema3Types = map[Type]bool{
	TypeClientPresenceSet:       true,
	TypeClientVoicemailSet:      true,
	TypeHistoryDeleted:          true,
	TypeVoicemailHeard:          true,
	TypeVoicemailDeleted:        true,
	TypePresenceChanged:         true,
	TypeClientPasswordSet:       true,
	TypeCallToVoicemail:         true,
	TypeVoicemailLeft:           true,
	TypeCallLegRecorded:         true,
	TypeCallLeftConference:      true,
	TypeSessionCreated:          true,
	TypeSessionRestored:         true,
	TypeSessionConnectionClosed: true,
	TypeSessionDestroyed:        true,
	TypeSessionSubscribed:       true,
	TypeSessionUnsubscribed:     true,
	TypeSessionAutoAnswerSet:    true,
}

// typeSchema is the schema that added type t: schema 2 added the types from
// CallDigits on, but for those schema 3 added.
func typeSchema(t Type) uint64 {
	switch {
	case schema3Types[t]:
		return 3
	case t >= TypeCallDigits:
		return 2
	}
	return 1
}

// olderBody is the body of s as schema would have written it: the schema
// byte set, and the trailing fields the later schemas added cut off. ok is
// false when that schema could not write s: its type, its direction or its
// end reason came later, or a later trailing field is set.
func olderBody(s sample, schema uint64) (body []byte, ok bool) {
	typ := s.ev.Type()
	if typeSchema(typ) > schema {
		return nil, false
	}
	switch e := s.ev.(type) {
	case CallDialed:
		if e.Direction == Transit && schema < 2 {
			return nil, false
		}
	case CallEnded:
		if e.Reason == Voicemail && schema < 3 {
			return nil, false
		}
	}
	body = EncodeBody(nil, s.at, s.ev)
	if body[1] != SchemaVersion {
		panic(fmt.Sprintf("%s: schema byte %#x", s.name, body[1]))
	}
	body[1] = byte(schema)
	n := trailingSince(schema, typ)
	if !bytes.Equal(body[len(body)-n:], make([]byte, n)) {
		return nil, false // a newer field is set
	}
	return body[:len(body)-n], true
}

func TestSchema1Bodies(t *testing.T) {
	for _, c := range []struct {
		name    string
		typ     Type
		payload []byte
		want    Event
	}{
		{"CallDialed", TypeCallDialed, v1CallDialedPayload(Internal), v1CallDialed},
		{"ClientRegistered", TypeClientRegistered, v1ClientRegisteredPayload(), v1ClientRegistered},
	} {
		t.Run(c.name, func(t *testing.T) {
			v1 := cat(v1Head(1, c.typ), c.payload)

			// Schema 1 decodes, the new fields empty.
			env := Envelope{Seq: 9, Stream: "s/1", Version: 2}
			if err := DecodeBody(v1, &env); err != nil {
				t.Fatalf("schema 1 body % x: %v", v1, err)
			}
			want := Envelope{Seq: 9, Stream: "s/1", Version: 2, Type: c.typ, Time: v1At, Schema: 1, Event: c.want}
			if !reflect.DeepEqual(env, want) {
				t.Fatalf("schema 1 body:\n got %#v\nwant %#v", env, want)
			}

			// In an envelope too.
			envelope := cat([]byte{envelopeMagic}, uv(9), str("s/1"), uv(2), v1)
			if got, err := Unmarshal(envelope); err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("schema 1 envelope:\n got %#v, %v\nwant %#v", got, err, want)
			}

			// The same bytes claiming schema 2 lack the trailing fields.
			v2 := cat(v1Head(2, c.typ), c.payload)
			_, err := decodeBodySafe(v2)
			wantMalformed(t, "schema 2 body without the schema 2 fields", err)
			// The body ends where a length (a uvarint) should be: the
			// decoder says "bad varint" for a varint cut off, "truncated"
			// for a byte or a string cut off.
			if err != nil && !strings.Contains(err.Error(), "truncated") && !strings.Contains(err.Error(), "bad varint") {
				t.Errorf("schema 2 body without the schema 2 fields: error %q, want truncated", err)
			}
			n := v2Trailing(c.typ)
			for k := 1; k < n; k++ {
				_, err := decodeBodySafe(cat(v2, make([]byte, k)))
				wantMalformed(t, fmt.Sprintf("schema 2 body with %d of %d trailing fields", k, n), err)
			}

			// With them empty it is the same event, of schema 2.
			env2, err := decodeBodySafe(cat(v2, make([]byte, n)))
			want.Schema = 2
			if err != nil || !reflect.DeepEqual(env2.Event, want.Event) || env2.Schema != 2 {
				t.Fatalf("schema 2 body with empty trailing fields: %#v, %v", env2, err)
			}

			// Schema 1 never had the trailing fields: after a schema 1
			// payload they are trailing bytes.
			_, err = decodeBodySafe(cat(v1, make([]byte, n)))
			wantMalformed(t, "schema 1 body with the schema 2 fields", err)
			n3 := v3Trailing(c.typ)
			_, err = decodeBodySafe(cat(v1, make([]byte, n+n3)))
			wantMalformed(t, "schema 1 body with the schema 2 and 3 fields", err)

			// The same bytes claiming schema 3 lack the trailing fields
			// of schema 2 and 3; with them empty it is the same event, of
			// schema 3.
			v3 := cat(v1Head(3, c.typ), c.payload)
			_, err = decodeBodySafe(v3)
			wantMalformed(t, "schema 3 body without the schema 2 and 3 fields", err)
			if n3 > 0 {
				_, err = decodeBodySafe(cat(v3, make([]byte, n)))
				wantMalformed(t, "schema 3 body without the schema 3 fields", err)
			}
			env3, err := decodeBodySafe(cat(v3, make([]byte, n+n3)))
			if err != nil || !reflect.DeepEqual(env3.Event, want.Event) || env3.Schema != 3 {
				t.Fatalf("schema 3 body with empty trailing fields: %#v, %v", env3, err)
			}

			// Re-encoding upgrades: EncodeBody writes the current schema
			// with the trailing fields of schema 2 and 3 empty.
			if SchemaVersion != 3 {
				t.Fatalf("SchemaVersion %d: extend this test", SchemaVersion)
			}
			if re := EncodeBody(nil, env.Time, env.Event); !bytes.Equal(re, cat(v3, make([]byte, n+n3))) {
				t.Errorf("re-encoded schema 1 body:\n got % x\nwant % x", re, cat(v3, make([]byte, n+n3)))
			}

			// JSON leaves the empty new fields out.
			b, err := json.Marshal(env)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"group", "transfer", "caller_leg", "callee_leg", "origin", "permissions", "voicemail_limit_ns"} {
				if bytes.Contains(b, []byte(`"`+k+`"`)) {
					t.Errorf("JSON of a schema 1 event %s has %q", b, k)
				}
			}
			if !bytes.Contains(b, []byte(`"schema":1`)) {
				t.Errorf("JSON of a schema 1 event %s does not say schema 1", b)
			}
		})
	}
}

// TestSchema1DocExample decodes the CallEnded body of docs/events.md as
// schema 1 wrote it, and checks that the current schema writes the same event
// alike but for the schema number: CallEnded kept its layout.
func TestSchema1DocExample(t *testing.T) {
	v1 := []byte{
		0xce,                                                 // body magic
		0x01,                                                 // schema 1
		0x1c,                                                 // type 28, CallEnded
		0x80, 0x80, 0x9d, 0x9b, 0xfd, 0x86, 0xe5, 0x87, 0x31, // time
		0x07, // reason 7, canceled
		0x01, // by 1, caller
		0x01, // missed: true
	}
	var env Envelope
	if err := DecodeBody(v1, &env); err != nil {
		t.Fatal(err)
	}
	want := Envelope{Type: TypeCallEnded, Time: v1At, Schema: 1, Event: CallEnded{Reason: Canceled, By: Caller, Missed: true}}
	if !reflect.DeepEqual(env, want) {
		t.Fatalf("got %#v\nwant %#v", env, want)
	}
	v2 := slices.Clone(v1)
	v2[1] = SchemaVersion
	if got := EncodeBody(nil, env.Time, env.Event); !bytes.Equal(got, v2) {
		t.Errorf("EncodeBody = % x, want % x", got, v2)
	}
}

// TestSchema1OldTypes: every event of schema 1 other than CallDialed and
// ClientRegistered kept its layout, so its current body with the schema byte
// set to 1 (and the empty trailing fields of the later schemas cut off) is
// its schema 1 body.
func TestSchema1OldTypes(t *testing.T) { testOldTypes(t, 1) }

// TestSchema2OldTypes: every event of schema 2 other than CallDialed kept its
// layout in schema 3, so its current body with the schema byte set to 2 (and
// CallDialed's empty voicemail limit cut off) is its schema 2 body.
func TestSchema2OldTypes(t *testing.T) { testOldTypes(t, 2) }

func testOldTypes(t *testing.T, schema uint64) {
	t.Helper()
	decoded := map[Type]bool{}
	for _, s := range samples {
		typ := s.ev.Type()
		// Only samples the old schema could write: of its types, with
		// the fields of the later schemas empty.
		old, ok := olderBody(s, schema)
		if !ok {
			continue
		}
		env, err := decodeBodySafe(old)
		if err != nil {
			t.Errorf("%s: schema %d body % x: %v", s.name, schema, old, err)
			continue
		}
		if env.Schema != uint16(schema) || env.Type != typ || env.Time != s.at || !reflect.DeepEqual(env.Event, s.ev) {
			t.Errorf("%s: schema %d body decodes as %#v", s.name, schema, env)
		}
		// Re-encoding upgrades to the current body.
		if re := EncodeBody(nil, env.Time, env.Event); !bytes.Equal(re, EncodeBody(nil, s.at, s.ev)) {
			t.Errorf("%s: schema %d body re-encodes as % x", s.name, schema, re)
		}
		decoded[typ] = true
	}
	// Every type of the old schema was tried.
	for typ := range typeNames {
		if typeSchema(typ) <= schema && !decoded[typ] {
			t.Errorf("no sample of %s writable by schema %d", typ, schema)
		}
	}
}

// TestSchema1NewTypes: the types schema 2 and 3 added do not exist in schema 1.
func TestSchema1NewTypes(t *testing.T) {
	covered := map[Type]bool{}
	for _, s := range samples {
		typ := s.ev.Type()
		if typeSchema(typ) < 2 {
			continue
		}
		covered[typ] = true
		body := EncodeBody(nil, s.at, s.ev)
		v1 := slices.Clone(body)
		v1[1] = 1
		_, err := decodeBodySafe(v1)
		wantMalformed(t, fmt.Sprintf("%s in schema 1", s.name), err)
		if err != nil && !strings.Contains(err.Error(), "unknown event type") {
			t.Errorf("%s in schema 1: error %q, want unknown event type", s.name, err)
		}
		// The same body in the schema that added the type decodes.
		added := slices.Clone(body)
		added[1] = byte(typeSchema(typ))
		if _, err := decodeBodySafe(added); err != nil {
			t.Errorf("%s in schema %d: %v", s.name, typeSchema(typ), err)
		}
		// And without a payload.
		_, err = decodeBodySafe(rawBody(1, uint64(typ), 0))
		wantMalformed(t, fmt.Sprintf("%s in schema 1 without payload", s.name), err)
	}
	for typ := range typeNames {
		if typeSchema(typ) == 2 && !covered[typ] {
			t.Errorf("no sample of %s, a schema 2 type", typ)
		}
	}
	// Type 29 by hand: CallDigits{Caller, "1", 0, 0}.
	for _, payload := range [][]byte{nil, {byte(Caller), 1, '1', 0, 0}} {
		_, err := decodeBodySafe(cat(v1Head(1, 29), payload))
		wantMalformed(t, fmt.Sprintf("type 29 in schema 1 with payload % x", payload), err)
		env, err := decodeBodySafe(cat(v1Head(2, 29), payload))
		if len(payload) > 0 && (err != nil || env.Event != (CallDigits{Side: Caller, Digits: "1"})) {
			t.Errorf("type 29 in schema 2: %#v, %v", env.Event, err)
		}
	}
}

// TestSchema2NewTypes: the types schema 3 added do not exist in schema 1 or 2.
func TestSchema2NewTypes(t *testing.T) {
	covered := map[Type]bool{}
	for _, s := range samples {
		typ := s.ev.Type()
		if typeSchema(typ) < 3 {
			continue
		}
		covered[typ] = true
		body := EncodeBody(nil, s.at, s.ev)
		for _, schema := range []byte{1, 2} {
			old := slices.Clone(body)
			old[1] = schema
			_, err := decodeBodySafe(old)
			wantMalformed(t, fmt.Sprintf("%s in schema %d", s.name, schema), err)
			if err != nil && !strings.Contains(err.Error(), "unknown event type") {
				t.Errorf("%s in schema %d: error %q, want unknown event type", s.name, schema, err)
			}
			// And without a payload.
			_, err = decodeBodySafe(rawBody(uint64(schema), uint64(typ), 0))
			wantMalformed(t, fmt.Sprintf("%s in schema %d without payload", s.name, schema), err)
		}
		// The same body in schema 3 decodes.
		env, err := decodeBodySafe(body)
		if err != nil || env.Schema != 3 || !reflect.DeepEqual(env.Event, s.ev) {
			t.Errorf("%s in schema 3: %#v, %v", s.name, env, err)
		}
	}
	for typ := range typeNames {
		if typeSchema(typ) == 3 && !covered[typ] {
			t.Errorf("no sample of %s, a schema 3 type", typ)
		}
	}
	// By hand: type 6, ClientPresenceSet{available, ""}; type 36,
	// CallToVoicemail{rejected, 0}; type 80, SessionCreated{"a", false};
	// type 81, SessionRestored, without payload.
	for _, c := range []struct {
		typ     Type
		payload []byte
		want    Event
	}{
		{6, []byte{byte(PresenceAvailable), 0}, ClientPresenceSet{Presence: PresenceAvailable}},
		{36, []byte{byte(Rejected), 0}, CallToVoicemail{Reason: Rejected}},
		{80, []byte{1, 'a', 0}, SessionCreated{Client: "a"}},
		{81, nil, SessionRestored{}},
	} {
		for _, schema := range []uint64{1, 2} {
			_, err := decodeBodySafe(cat(v1Head(schema, c.typ), c.payload))
			wantMalformed(t, fmt.Sprintf("type %d in schema %d with payload % x", c.typ, schema, c.payload), err)
		}
		env, err := decodeBodySafe(cat(v1Head(3, c.typ), c.payload))
		if err != nil || !reflect.DeepEqual(env.Event, c.want) {
			t.Errorf("type %d in schema 3: %#v, %v", c.typ, env.Event, err)
		}
	}
}

// TestSchema1Transit: Direction Transit came with schema 2.
func TestSchema1Transit(t *testing.T) {
	_, err := decodeBodySafe(cat(v1Head(1, TypeCallDialed), v1CallDialedPayload(Transit)))
	wantMalformed(t, "Transit in schema 1", err)
	if err != nil && !strings.Contains(err.Error(), "direction 3") {
		t.Errorf("Transit in schema 1: error %q does not name direction 3", err)
	}

	trailing := cat(str("grp-support"), str("xfer-1"), str("call-a"), str(""), str(""))
	env, err := decodeBodySafe(cat(v1Head(2, TypeCallDialed), v1CallDialedPayload(Transit), trailing))
	if err != nil {
		t.Fatalf("Transit in schema 2: %v", err)
	}
	want := v1CallDialed
	want.Direction, want.Group, want.Transfer, want.CallerLeg = Transit, "grp-support", "xfer-1", "call-a"
	if !reflect.DeepEqual(env.Event, want) || env.Schema != 2 {
		t.Errorf("Transit in schema 2: %#v", env)
	}
	for _, dir := range []Direction{Transit + 1, 0xFF} {
		_, err := decodeBodySafe(cat(v1Head(2, TypeCallDialed), v1CallDialedPayload(dir), trailing))
		wantMalformed(t, fmt.Sprintf("direction %d in schema 2", dir), err)
	}
}

// TestSchema2Transit: Transit, which came with schema 2, stays in schema 3,
// whose CallDialed ends with the voicemail limit.
func TestSchema2Transit(t *testing.T) {
	trailing := cat(str("grp-support"), str("xfer-1"), str("call-a"), str(""), str(""))
	want := v1CallDialed
	want.Direction, want.Group, want.Transfer, want.CallerLeg = Transit, "grp-support", "xfer-1", "call-a"
	env, err := decodeBodySafe(cat(v1Head(3, TypeCallDialed), v1CallDialedPayload(Transit), trailing, vi(0)))
	if err != nil || !reflect.DeepEqual(env.Event, want) || env.Schema != 3 {
		t.Errorf("Transit in schema 3: %#v, %v", env, err)
	}
	for _, dir := range []Direction{Transit + 1, 0xFF} {
		_, err := decodeBodySafe(cat(v1Head(3, TypeCallDialed), v1CallDialedPayload(dir), trailing, vi(0)))
		wantMalformed(t, fmt.Sprintf("direction %d in schema 3", dir), err)
	}
}

// v2CallDialedTrailing is what schema 2 wrote after the schema 1 payload of
// v1CallDialed in v2CallDialed: group, transfer, caller leg, callee leg,
// origin.
func v2CallDialedTrailing() []byte {
	return cat(str("grp-support"), str("xfer-1"), str(""), str("call-b"), str(OriginClickToCall))
}

var v2CallDialed = func() CallDialed {
	e := v1CallDialed
	e.Group, e.Transfer, e.CalleeLeg, e.Origin = "grp-support", "xfer-1", "call-b", OriginClickToCall
	return e
}()

var v2ClientRegistered = func() ClientRegistered {
	e := v1ClientRegistered
	e.Permissions = []string{PermissionRecord, "barge"}
	return e
}()

// TestSchema2Bodies: bodies schema 2 wrote, with its fields set, stay
// readable, with the field schema 3 added (CallDialed's voicemail limit)
// empty; the same bytes claiming schema 3 lack that field.
func TestSchema2Bodies(t *testing.T) {
	for _, c := range []struct {
		name    string
		typ     Type
		payload []byte
		want    Event
	}{
		{"CallDialed", TypeCallDialed, cat(v1CallDialedPayload(Internal), v2CallDialedTrailing()), v2CallDialed},
		{"ClientRegistered", TypeClientRegistered, cat(v1ClientRegisteredPayload(), uv(2), str(PermissionRecord), str("barge")), v2ClientRegistered},
	} {
		t.Run(c.name, func(t *testing.T) {
			v2 := cat(v1Head(2, c.typ), c.payload)

			// Schema 2 decodes, the schema 3 fields empty.
			env := Envelope{Seq: 9, Stream: "s/1", Version: 2}
			if err := DecodeBody(v2, &env); err != nil {
				t.Fatalf("schema 2 body % x: %v", v2, err)
			}
			want := Envelope{Seq: 9, Stream: "s/1", Version: 2, Type: c.typ, Time: v1At, Schema: 2, Event: c.want}
			if !reflect.DeepEqual(env, want) {
				t.Fatalf("schema 2 body:\n got %#v\nwant %#v", env, want)
			}

			// In an envelope too.
			envelope := cat([]byte{envelopeMagic}, uv(9), str("s/1"), uv(2), v2)
			if got, err := Unmarshal(envelope); err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("schema 2 envelope:\n got %#v, %v\nwant %#v", got, err, want)
			}

			n := v3Trailing(c.typ)
			v3 := cat(v1Head(3, c.typ), c.payload)
			if n > 0 {
				// The same bytes claiming schema 3 lack the trailing
				// field: the body ends where the voicemail limit, a
				// varint, should be.
				_, err := decodeBodySafe(v3)
				wantMalformed(t, "schema 3 body without the schema 3 field", err)
				if err != nil && !strings.Contains(err.Error(), "truncated") {
					t.Errorf("schema 3 body without the schema 3 field: error %q, want truncated", err)
				}
				// In an envelope too.
				_, err = unmarshalSafe(cat([]byte{envelopeMagic}, uv(9), str("s/1"), uv(2), v3))
				wantMalformed(t, "schema 3 envelope without the schema 3 field", err)

				// Schema 2 never had the trailing field: after a schema
				// 2 payload it is a trailing byte, whatever its value.
				for _, limit := range []int64{0, 1, 120_000_000_000} {
					_, err = decodeBodySafe(cat(v2, vi(limit)))
					wantMalformed(t, fmt.Sprintf("schema 2 body with voicemail limit %d", limit), err)
				}
			}

			// With it empty it is the same event, of schema 3.
			env3, err := decodeBodySafe(cat(v3, make([]byte, n)))
			if err != nil || !reflect.DeepEqual(env3.Event, want.Event) || env3.Schema != 3 {
				t.Fatalf("schema 3 body with empty trailing field: %#v, %v", env3, err)
			}
			// And with it set, the field reads back.
			if c.typ == TypeCallDialed {
				env3, err := decodeBodySafe(cat(v3, vi(120_000_000_000)))
				wantEv := v2CallDialed
				wantEv.VoicemailLimit = 120_000_000_000
				if err != nil || !reflect.DeepEqual(env3.Event, wantEv) {
					t.Fatalf("schema 3 body with a voicemail limit: %#v, %v", env3, err)
				}
			}

			// Re-encoding upgrades: EncodeBody writes schema 3 with the
			// trailing field empty.
			if re := EncodeBody(nil, env.Time, env.Event); !bytes.Equal(re, cat(v3, make([]byte, n))) {
				t.Errorf("re-encoded schema 2 body:\n got % x\nwant % x", re, cat(v3, make([]byte, n)))
			}

			// JSON leaves the empty new field out, and keeps the schema 2
			// ones.
			b, err := json.Marshal(env)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte(`"voicemail_limit_ns"`)) {
				t.Errorf("JSON of a schema 2 event %s has voicemail_limit_ns", b)
			}
			kept := map[Type][]string{TypeCallDialed: {"group", "transfer", "callee_leg", "origin"}, TypeClientRegistered: {"permissions"}}
			for _, k := range kept[c.typ] {
				if !bytes.Contains(b, []byte(`"`+k+`"`)) {
					t.Errorf("JSON of a schema 2 event %s has no %q", b, k)
				}
			}
			if !bytes.Contains(b, []byte(`"schema":2`)) {
				t.Errorf("JSON of a schema 2 event %s does not say schema 2", b)
			}
			var back Envelope
			if err := back.UnmarshalJSON(b); err != nil || !reflect.DeepEqual(back, want) {
				t.Errorf("JSON of a schema 2 event reads back as %#v, %v", back, err)
			}
		})
	}
}

// TestSchema2Voicemail: the end reason voicemail (9) came with schema 3.
func TestSchema2Voicemail(t *testing.T) {
	ended := func(schema uint64, reason Reason) []byte {
		return cat(v1Head(schema, TypeCallEnded), []byte{byte(reason), byte(Caller), 0})
	}
	for _, schema := range []uint64{1, 2} {
		_, err := decodeBodySafe(ended(schema, Voicemail))
		wantMalformed(t, fmt.Sprintf("reason voicemail in schema %d", schema), err)
		if err != nil && !strings.Contains(err.Error(), "reason 9") {
			t.Errorf("reason voicemail in schema %d: error %q does not name reason 9", schema, err)
		}
		// The reasons before it decode.
		for r := Hangup; r <= Missed; r++ {
			env, err := decodeBodySafe(ended(schema, r))
			if err != nil || env.Event != (CallEnded{Reason: r, By: Caller}) {
				t.Errorf("reason %d in schema %d: %#v, %v", r, schema, env.Event, err)
			}
		}
	}
	env, err := decodeBodySafe(ended(3, Voicemail))
	if err != nil || env.Event != (CallEnded{Reason: Voicemail, By: Caller}) || env.Schema != 3 {
		t.Errorf("reason voicemail in schema 3: %#v, %v", env, err)
	}
	for _, r := range []Reason{Voicemail + 1, 0x7F, 0xFF} {
		_, err := decodeBodySafe(ended(3, r))
		wantMalformed(t, fmt.Sprintf("reason %d in schema 3", r), err)
	}
	// CallToVoicemail and VoicemailLeft are schema 3 types: a schema 2
	// call cannot have gone to voicemail.
	for _, ev := range []Event{CallToVoicemail{Reason: Rejected, Deadline: 5}, VoicemailLeft{Client: "bob", Duration: 1}, CallLegRecorded{Side: Caller, Adapter: "sip"}, CallLeftConference{Conference: "k", Peer: "c2"}} {
		b := EncodeBody(nil, v1At, ev)
		b[1] = 2
		_, err := decodeBodySafe(b)
		wantMalformed(t, fmt.Sprintf("%s in schema 2", ev.Type()), err)
	}
}

// TestSchema3DocExamples checks the schema 3 bytes docs/events.md shows.
func TestSchema3DocExamples(t *testing.T) {
	at := []byte{0x80, 0x80, 0x9d, 0x9b, 0xfd, 0x86, 0xe5, 0x87, 0x31}
	for _, c := range []struct {
		body []byte
		want Event
	}{
		{cat([]byte{0xce, 0x03, 0x1c}, at, []byte{0x07, 0x01, 0x01}), CallEnded{Reason: Canceled, By: Caller, Missed: true}},
		{cat([]byte{0xce, 0x03, 0x20}, at, []byte{0x01, 0x02, 0x01, 0x31}), CallParked{Side: Caller, By: Callee, Slot: "1"}},
		{cat([]byte{0xce, 0x03, 0x06}, at, []byte{0x03, 0x05, 'l', 'u', 'n', 'c', 'h'}), ClientPresenceSet{Presence: PresenceAway, Activity: "lunch"}},
	} {
		env, err := decodeBodySafe(c.body)
		if err != nil || env.Time != v1At || env.Schema != 3 || !reflect.DeepEqual(env.Event, c.want) {
			t.Errorf("% x: %#v, %v; want %#v", c.body, env, err, c.want)
		}
		if got := EncodeBody(nil, v1At, c.want); !bytes.Equal(got, c.body) {
			t.Errorf("EncodeBody(%#v) = % x, want % x", c.want, got, c.body)
		}
	}
	// CallDialed ends with its voicemail limit: two minutes, or none.
	for limit, tail := range map[int64][]byte{120_000_000_000: {0x80, 0xc0, 0xf5, 0x88, 0xfe, 0x06}, 0: {0x00}} {
		if got := EncodeBody(nil, v1At, CallDialed{VoicemailLimit: limit}); !bytes.HasSuffix(got, cat(make([]byte, 5), tail)) {
			t.Errorf("CallDialed with voicemail limit %d: % x does not end with % x", limit, got, tail)
		}
	}
}
