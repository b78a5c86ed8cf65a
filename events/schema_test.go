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

// Schema 1 compatibility: bodies the first schema wrote stay readable, with the
// fields schema 2 added empty; what schema 1 could not write is refused.

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

			// Re-encoding upgrades: EncodeBody writes schema 2 with the
			// trailing fields empty.
			if re := EncodeBody(nil, env.Time, env.Event); !bytes.Equal(re, cat(v2, make([]byte, n))) {
				t.Errorf("re-encoded schema 1 body:\n got % x\nwant % x", re, cat(v2, make([]byte, n)))
			}

			// JSON leaves the empty new fields out.
			b, err := json.Marshal(env)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"group", "transfer", "caller_leg", "callee_leg", "origin", "permissions"} {
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

// TestSchema1DocExample decodes the body docs/events.md shows, written by
// schema 1, and checks that schema 2 writes the same event alike but for the
// schema number.
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
// ClientRegistered kept its layout, so its schema 2 body with the schema byte
// set to 1 is its schema 1 body.
func TestSchema1OldTypes(t *testing.T) {
	for _, s := range samples {
		typ := s.ev.Type()
		if typ >= TypeCallDigits {
			continue
		}
		body := EncodeBody(nil, s.at, s.ev)
		if body[1] != SchemaVersion {
			t.Fatalf("%s: schema byte %#x", s.name, body[1])
		}
		v1 := slices.Clone(body)
		v1[1] = 1
		n := v2Trailing(typ)
		if n > 0 {
			// Only samples whose schema 2 fields are empty were
			// writable by schema 1.
			if !bytes.Equal(v1[len(v1)-n:], make([]byte, n)) {
				continue
			}
			v1 = v1[:len(v1)-n]
		}
		env, err := decodeBodySafe(v1)
		if err != nil {
			t.Errorf("%s: schema 1 body % x: %v", s.name, v1, err)
			continue
		}
		if env.Schema != 1 || env.Type != typ || env.Time != s.at || !reflect.DeepEqual(env.Event, s.ev) {
			t.Errorf("%s: schema 1 body decodes as %#v", s.name, env)
		}
	}
}

// TestSchema1NewTypes: the types schema 2 added do not exist in schema 1.
func TestSchema1NewTypes(t *testing.T) {
	covered := map[Type]bool{}
	for _, s := range samples {
		typ := s.ev.Type()
		if typ < TypeCallDigits {
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
		// The same body in schema 2 decodes.
		if _, err := decodeBodySafe(body); err != nil {
			t.Errorf("%s in schema 2: %v", s.name, err)
		}
		// And without a payload.
		_, err = decodeBodySafe(rawBody(1, uint64(typ), 0))
		wantMalformed(t, fmt.Sprintf("%s in schema 1 without payload", s.name), err)
	}
	for typ := range typeNames {
		if typ >= TypeCallDigits && !covered[typ] {
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
