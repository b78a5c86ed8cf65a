package events

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/callengine/callengine/errcode"
)

// rawBody builds a body by hand: magic, schema, type, time, then payload.
func rawBody(schema, typ uint64, at int64, payload ...byte) []byte {
	b := []byte{bodyMagic}
	b = binary.AppendUvarint(b, schema)
	b = binary.AppendUvarint(b, typ)
	b = binary.AppendVarint(b, at)
	return append(b, payload...)
}

func uv(v uint64) []byte { return binary.AppendUvarint(nil, v) }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// decodeBodySafe runs DecodeBody and turns a panic into an error that is not
// malformed, so that the caller's check reports it with the input.
func decodeBodySafe(data []byte) (env Envelope, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	err = DecodeBody(data, &env)
	return env, err
}

func unmarshalSafe(data []byte) (env Envelope, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return Unmarshal(data)
}

func wantMalformed(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", what)
		return
	}
	if c := errcode.CodeOf(err); c != errcode.Malformed {
		t.Errorf("%s: error %q has code %q, want %q", what, err, c, errcode.Malformed)
	}
	if !errors.Is(err, errcode.ErrMalformed) {
		t.Errorf("%s: errors.Is(%q, ErrMalformed) = false", what, err)
	}
}

func TestDecodeBodyTruncated(t *testing.T) {
	for _, s := range samples {
		full := EncodeBody(nil, s.at, s.ev)
		for n := 0; n < len(full); n++ {
			// Cap the prefix so a read past its end cannot see the rest.
			_, err := decodeBodySafe(full[:n:n])
			wantMalformed(t, fmt.Sprintf("%s: DecodeBody of %d of %d bytes % x", s.name, n, len(full), full[:n]), err)
		}
	}
}

func TestUnmarshalTruncated(t *testing.T) {
	for i, s := range samples {
		env := envelopeOf(i, s)
		full := Marshal(nil, &env)
		for n := 0; n < len(full); n++ {
			_, err := unmarshalSafe(full[:n:n])
			wantMalformed(t, fmt.Sprintf("%s: Unmarshal of %d of %d bytes", s.name, n, len(full)), err)
		}
	}
}

func TestTrailingBytes(t *testing.T) {
	for i, s := range samples {
		body := EncodeBody(nil, s.at, s.ev)
		for _, extra := range [][]byte{{0}, {1}, {bodyMagic}, []byte("junk")} {
			_, err := decodeBodySafe(cat(body, extra))
			wantMalformed(t, fmt.Sprintf("%s: DecodeBody with trailing % x", s.name, extra), err)
			env := envelopeOf(i, s)
			_, err = unmarshalSafe(cat(Marshal(nil, &env), extra))
			wantMalformed(t, fmt.Sprintf("%s: Unmarshal with trailing % x", s.name, extra), err)
		}
		// Two bodies back to back are not one body.
		_, err := decodeBodySafe(cat(body, body))
		wantMalformed(t, s.name+": two bodies", err)
	}
}

func TestWrongMagic(t *testing.T) {
	env := envelopeOf(0, samples[0])
	body := EncodeBody(nil, samples[0].at, samples[0].ev)
	envelope := Marshal(nil, &env)

	_, err := decodeBodySafe(envelope)
	wantMalformed(t, "DecodeBody of an envelope", err)
	_, err = unmarshalSafe(body)
	wantMalformed(t, "Unmarshal of a body", err)

	for _, m := range []byte{0, 1, 0xCD, 0xFF} {
		b := append([]byte{m}, body[1:]...)
		_, err := decodeBodySafe(b)
		wantMalformed(t, fmt.Sprintf("body magic %#x", m), err)
		e := append([]byte{m}, envelope[1:]...)
		_, err = unmarshalSafe(e)
		wantMalformed(t, fmt.Sprintf("envelope magic %#x", m), err)
	}
	// An envelope whose inner body has the wrong magic.
	bad := Marshal(nil, &env)
	bad[len(bad)-len(body)] = envelopeMagic
	_, err = unmarshalSafe(bad)
	wantMalformed(t, "envelope with bad body magic", err)
}

func TestUnknownType(t *testing.T) {
	// The gaps between the groups of types, and past each group's end.
	for _, typ := range []uint64{0, 13, 19, 47, 59, 63, 69, 73, 79, 87, 100, 1000, math.MaxUint16, math.MaxUint16 + 1, 1 << 40, math.MaxUint64} {
		if _, ok := typeNames[Type(typ)]; ok && typ <= math.MaxUint16 {
			t.Fatalf("type %d is known now; pick another", typ)
		}
		_, err := decodeBodySafe(rawBody(SchemaVersion, typ, 0))
		wantMalformed(t, fmt.Sprintf("type %d", typ), err)
		_, err = decodeBodySafe(rawBody(SchemaVersion, typ, 0, 0, 0, 0, 0))
		wantMalformed(t, fmt.Sprintf("type %d with a payload", typ), err)
	}
}

func TestSchemaVersion(t *testing.T) {
	for _, schema := range []uint64{0, SchemaVersion + 1, SchemaVersion + 2, math.MaxUint16 + 1, math.MaxUint64} {
		b := rawBody(schema, uint64(TypeCallIgnored), 0)
		_, err := decodeBodySafe(b)
		wantMalformed(t, fmt.Sprintf("schema %d", schema), err)
		if err != nil && !strings.Contains(err.Error(), "schema") {
			t.Errorf("schema %d: error %q does not name the schema", schema, err)
		}
	}
	for schema := uint64(1); schema <= SchemaVersion; schema++ {
		env, err := decodeBodySafe(rawBody(schema, uint64(TypeCallIgnored), 5))
		if err != nil {
			t.Errorf("schema %d: %v", schema, err)
		} else if env.Schema != uint16(schema) {
			t.Errorf("schema %d: Schema = %d", schema, env.Schema)
		}
	}
}

func TestBadVarints(t *testing.T) {
	overflow := []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}
	cases := map[string][]byte{
		"schema overflow":        cat([]byte{bodyMagic}, overflow, uv(uint64(TypeCallIgnored)), []byte{0}),
		"type overflow":          cat([]byte{bodyMagic}, uv(SchemaVersion), overflow, []byte{0}),
		"time overflow":          cat([]byte{bodyMagic}, uv(SchemaVersion), uv(uint64(TypeCallIgnored)), overflow),
		"deadline overflow":      cat(rawBody(SchemaVersion, uint64(TypeCallRinging), 0), uv(0), overflow),
		"string length overflow": cat(rawBody(SchemaVersion, uint64(TypeDeviceRemoved), 0), overflow),
	}
	for name, b := range cases {
		_, err := decodeBodySafe(b)
		wantMalformed(t, name, err)
	}
}

func TestBadBool(t *testing.T) {
	for _, v := range []byte{2, 3, 0x80, 0xFF} {
		cases := map[string][]byte{
			"ClientRegistered.AcceptInbound":          rawBody(SchemaVersion, uint64(TypeClientRegistered), 0, 0, 0, 0, 0, v, 0),
			"ClientRegistered.AcceptInbound schema 1": rawBody(1, uint64(TypeClientRegistered), 0, 0, 0, 0, 0, v),
			"ClientUpdated.AcceptInbound":             rawBody(SchemaVersion, uint64(TypeClientUpdated), 0, 0, v),
			"CallEnded.Missed":                        rawBody(SchemaVersion, uint64(TypeCallEnded), 0, byte(Hangup), byte(Caller), v),
			"ClientVoicemailSet.Enabled":              rawBody(SchemaVersion, uint64(TypeClientVoicemailSet), 0, v, 0),
			"SessionCreated.AutoAnswer":               rawBody(SchemaVersion, uint64(TypeSessionCreated), 0, 1, 'a', v),
			"SessionDestroyed.Expired":                rawBody(SchemaVersion, uint64(TypeSessionDestroyed), 0, v),
			"SessionAutoAnswerSet.On":                 rawBody(SchemaVersion, uint64(TypeSessionAutoAnswerSet), 0, v),
		}
		for name, b := range cases {
			_, err := decodeBodySafe(b)
			wantMalformed(t, fmt.Sprintf("%s = %d", name, v), err)
		}
	}
	// And the good values decode.
	for _, v := range []byte{0, 1} {
		env, err := decodeBodySafe(rawBody(SchemaVersion, uint64(TypeClientUpdated), 0, 0, v))
		if err != nil || env.Event.(ClientUpdated).AcceptInbound != (v == 1) {
			t.Errorf("ClientUpdated with bool %d: %#v, %v", v, env.Event, err)
		}
	}
}

func TestBadSide(t *testing.T) {
	for _, typ := range []Type{TypeCallHeld, TypeCallResumed, TypeCallMuted, TypeCallUnmuted} {
		for _, v := range []byte{byte(NoSide), 3, 4, 0xFF} {
			_, err := decodeBodySafe(rawBody(SchemaVersion, uint64(typ), 0, v))
			wantMalformed(t, fmt.Sprintf("%s side %d", typ, v), err)
		}
		for _, v := range []Side{Caller, Callee} {
			if _, err := decodeBodySafe(rawBody(SchemaVersion, uint64(typ), 0, byte(v))); err != nil {
				t.Errorf("%s side %d: %v", typ, v, err)
			}
		}
	}
	// CallEnded.By may be NoSide (a timeout or a failure), never more than Callee.
	for _, v := range []byte{3, 4, 0xFF} {
		_, err := decodeBodySafe(rawBody(SchemaVersion, uint64(TypeCallEnded), 0, byte(Hangup), v, 0))
		wantMalformed(t, fmt.Sprintf("CallEnded by %d", v), err)
	}
	for _, v := range []Side{NoSide, Caller, Callee} {
		if _, err := decodeBodySafe(rawBody(SchemaVersion, uint64(TypeCallEnded), 0, byte(Hangup), byte(v), 0)); err != nil {
			t.Errorf("CallEnded by %d: %v", v, err)
		}
	}
}

func TestBadReason(t *testing.T) {
	for schema := uint64(1); schema <= SchemaVersion; schema++ {
		bad := []byte{byte(NoReason), byte(Voicemail) + 1, 0x7F, 0x80, 0xFF}
		good := []Reason{Hangup, Busy, NoAnswer, Failed, Transferred, Rejected, Canceled, Missed, Voicemail}
		if schema < 3 {
			// Voicemail came with schema 3.
			bad = append(bad, byte(Voicemail))
			good = good[:len(good)-1]
		}
		for _, v := range bad {
			_, err := decodeBodySafe(rawBody(schema, uint64(TypeCallEnded), 0, v, byte(Caller), 0))
			wantMalformed(t, fmt.Sprintf("schema %d reason %d", schema, v), err)
			if err != nil && !strings.Contains(err.Error(), "reason") {
				t.Errorf("schema %d reason %d: error %q does not name the reason", schema, v, err)
			}
		}
		for _, v := range good {
			env, err := decodeBodySafe(rawBody(schema, uint64(TypeCallEnded), 0, byte(v), byte(Caller), 0))
			if err != nil || env.Event != (CallEnded{Reason: v, By: Caller}) {
				t.Errorf("schema %d reason %d: %#v, %v", schema, v, env.Event, err)
			}
		}
	}
}

func TestBadDirection(t *testing.T) {
	payload := make([]byte, 9)  // two empty parties, three empty strings
	trailing := make([]byte, 5) // schema 2: group, transfer, caller leg, callee leg, origin
	dialed := func(schema uint64, dir byte) []byte {
		b := rawBody(schema, uint64(TypeCallDialed), 0, append(slices.Clone(payload), dir)...)
		if schema >= 2 {
			b = append(b, trailing...)
		}
		if schema >= 3 {
			b = append(b, 0) // voicemail limit 0
		}
		return b
	}
	for schema := uint64(1); schema <= SchemaVersion; schema++ {
		bad := []byte{byte(Transit) + 1, 0x7F, 0x80, 0xFF}
		good := []Direction{Internal, Outbound, Inbound, Transit}
		if schema == 1 {
			// Transit came with schema 2.
			bad = append(bad, byte(Transit))
			good = good[:3]
		}
		for _, v := range bad {
			_, err := decodeBodySafe(dialed(schema, v))
			wantMalformed(t, fmt.Sprintf("schema %d direction %d", schema, v), err)
			if err != nil && !strings.Contains(err.Error(), "direction") {
				t.Errorf("schema %d direction %d: error %q does not name the direction", schema, v, err)
			}
		}
		for _, v := range good {
			env, err := decodeBodySafe(dialed(schema, byte(v)))
			if err != nil {
				t.Errorf("schema %d direction %d: %v", schema, v, err)
			} else if got := env.Event.(CallDialed).Direction; got != v {
				t.Errorf("schema %d direction %d: decoded %d", schema, v, got)
			}
		}
	}
}

// hugeCounts are bodies whose list or string length is far larger than the
// bytes that follow.
func hugeCounts() map[string][]byte {
	cases := map[string][]byte{}
	for _, n := range []uint64{1 << 20, 1 << 31, 1 << 40, 1 << 62, math.MaxUint64} {
		cases[fmt.Sprintf("ClientRegistered.Numbers %d", n)] = cat(rawBody(SchemaVersion, uint64(TypeClientRegistered), 0, 0), uv(n), []byte{0, 0, 0, 0})
		cases[fmt.Sprintf("ClientRegistered.Extensions %d", n)] = cat(rawBody(SchemaVersion, uint64(TypeClientRegistered), 0, 0, 0), uv(n), []byte{0, 0, 0})
		cases[fmt.Sprintf("ClientRegistered.Devices %d", n)] = cat(rawBody(SchemaVersion, uint64(TypeClientRegistered), 0, 0, 0, 0), uv(n), []byte{0, 0, 0, 0})
		cases[fmt.Sprintf("CallRinging.Devices %d", n)] = cat(rawBody(SchemaVersion, uint64(TypeCallRinging), 0), uv(n), []byte{0, 0})
		cases[fmt.Sprintf("DeviceRemoved.ID length %d", n)] = cat(rawBody(SchemaVersion, uint64(TypeDeviceRemoved), 0), uv(n), []byte("abc"))
		cases[fmt.Sprintf("ClientRegistered.Permissions %d", n)] = cat(rawBody(SchemaVersion, uint64(TypeClientRegistered), 0, 0, 0, 0, 0, 1), uv(n), []byte{0, 0})
		cases[fmt.Sprintf("CallDialed.Origin length %d", n)] = cat(rawBody(SchemaVersion, uint64(TypeCallDialed), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, byte(Transit), 0, 0, 0, 0), uv(n), []byte("click"))
		cases[fmt.Sprintf("GroupDefined.Extensions %d", n)] = cat(rawBody(SchemaVersion, uint64(TypeGroupDefined), 0, 0), uv(n), []byte{0, 0, 0, byte(RingAll)})
		cases[fmt.Sprintf("GroupDefined.Members %d", n)] = cat(rawBody(SchemaVersion, uint64(TypeGroupDefined), 0, 0, 0, 0), uv(n), []byte{0, byte(RoundRobin)})
		cases[fmt.Sprintf("CallDigits.Digits length %d", n)] = cat(rawBody(SchemaVersion, uint64(TypeCallDigits), 0, byte(Caller)), uv(n), []byte("12#"))
		cases[fmt.Sprintf("MessageSent.Text length %d", n)] = cat(rawBody(SchemaVersion, uint64(TypeMessageSent), 0, 0, 0, 0, 0), uv(n), []byte("hi"))
		cases[fmt.Sprintf("ClientPresenceSet.Activity length %d", n)] = cat(rawBody(SchemaVersion, uint64(TypeClientPresenceSet), 0, byte(PresenceAway)), uv(n), []byte("lunch"))
		cases[fmt.Sprintf("HistoryDeleted.Calls %d", n)] = cat(rawBody(SchemaVersion, uint64(TypeHistoryDeleted), 0), uv(n), []byte{1, 'c'})
		cases[fmt.Sprintf("VoicemailHeard.Calls %d", n)] = cat(rawBody(SchemaVersion, uint64(TypeVoicemailHeard), 0), uv(n), []byte{0, 0})
		cases[fmt.Sprintf("VoicemailDeleted.Calls %d", n)] = cat(rawBody(SchemaVersion, uint64(TypeVoicemailDeleted), 0), uv(n), []byte{0})
		cases[fmt.Sprintf("VoicemailLeft.Client length %d", n)] = cat(rawBody(SchemaVersion, uint64(TypeVoicemailLeft), 0), uv(n), []byte("bob"))
		cases[fmt.Sprintf("SessionCreated.Client length %d", n)] = cat(rawBody(SchemaVersion, uint64(TypeSessionCreated), 0), uv(n), []byte("alice"))
		cases[fmt.Sprintf("SessionSubscribed.Line length %d", n)] = cat(rawBody(SchemaVersion, uint64(TypeSessionSubscribed), 0), uv(n), []byte("500"))
	}
	return cases
}

func TestHugeCounts(t *testing.T) {
	for name, b := range hugeCounts() {
		_, err := decodeBodySafe(b)
		wantMalformed(t, name, err)
	}
}

// TestHugeCountsDoNotAllocate: a count is checked against the bytes left
// before the list is made, so a few bytes cannot make the decoder allocate
// megabytes.
func TestHugeCountsDoNotAllocate(t *testing.T) {
	for name, b := range hugeCounts() {
		allocs := testing.AllocsPerRun(20, func() {
			var env Envelope
			_ = DecodeBody(b, &env)
		})
		if allocs > 10 {
			t.Errorf("%s: %v allocations per decode", name, allocs)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		const runs = 20
		for range runs {
			var env Envelope
			_ = DecodeBody(b, &env)
		}
		runtime.ReadMemStats(&after)
		if perRun := (after.TotalAlloc - before.TotalAlloc) / runs; perRun > 16<<10 {
			t.Errorf("%s: %d bytes allocated per decode", name, perRun)
		}
	}
}

// TestDeviceCountNeedsThreeBytesEach: a device is at least three bytes, so two
// devices in four bytes are refused before decoding them.
func TestDeviceCountNeedsThreeBytesEach(t *testing.T) {
	head := rawBody(SchemaVersion, uint64(TypeClientRegistered), 0, 0, 0, 0)
	_, err := decodeBodySafe(cat(head, uv(2), []byte{0, 0, 0, 0}))
	wantMalformed(t, "two devices in four bytes", err)
	_, err = decodeBodySafe(cat(head, uv(2), []byte{0, 0, 0, 0, 0}))
	wantMalformed(t, "two devices in five bytes", err)

	// Six empty strings, accept-inbound, no permissions.
	env, err := decodeBodySafe(cat(head, uv(2), []byte{0, 0, 0, 0, 0, 0, 1, 0}))
	if err != nil {
		t.Fatalf("two empty devices: %v", err)
	}
	if got := env.Event.(ClientRegistered); len(got.Devices) != 2 || !got.AcceptInbound {
		t.Errorf("two empty devices: %#v", got)
	}
}

func TestZeroListsDecodeAsNil(t *testing.T) {
	env, err := decodeBodySafe(EncodeBody(nil, 0, ClientRegistered{Numbers: []string{}, Devices: []Device{}}))
	if err != nil {
		t.Fatal(err)
	}
	if got := env.Event.(ClientRegistered); got.Numbers != nil || got.Extensions != nil || got.Devices != nil {
		t.Errorf("empty lists decode as %#v, want nil", got)
	}
}

// badJSONCases are envelopes UnmarshalJSON must refuse, by what is wrong.
func badJSONCases() map[string]string {
	const at = `"2020-01-02T03:04:05.000000006Z"`
	env := func(typ, time, data string) string {
		return `{"seq":1,"stream":"call/x","version":2,"type":` + typ + `,"time":` + time + `,"schema":1,"data":` + data + `}`
	}
	cases := map[string]string{
		// not an envelope
		"empty":         ``,
		"not JSON":      `{`,
		"array":         `[]`,
		"string":        `"CallHeld"`,
		"number":        `42`,
		"null":          `null`,
		"empty object":  `{}`,
		"seq negative":  `{"seq":-1,"type":"CallIgnored","time":` + at + `}`,
		"seq fraction":  `{"seq":1.5,"type":"CallIgnored","time":` + at + `}`,
		"seq string":    `{"seq":"1","type":"CallIgnored","time":` + at + `}`,
		"schema big":    `{"schema":70000,"type":"CallIgnored","time":` + at + `}`,
		"stream number": `{"stream":5,"type":"CallIgnored","time":` + at + `}`,
		"trailing junk": env(`"CallIgnored"`, at, `{}`) + `x`,

		// type
		"unknown type name": env(`"CallExploded"`, at, `{}`),
		"type by number":    env(`20`, at, `{}`),
		"type of number":    env(`"20"`, at, `{}`),
		"type String form":  env(`"Type(99)"`, at, `{}`),
		"type lower case":   env(`"callheld"`, at, `{"by":"caller"}`),
		"type missing":      `{"time":` + at + `,"data":{}}`,
		"type empty":        env(`""`, at, `{}`),

		// time
		"time missing":       `{"type":"CallIgnored"}`,
		"time empty":         env(`"CallIgnored"`, `""`, `{}`),
		"time words":         env(`"CallIgnored"`, `"yesterday"`, `{}`),
		"time date only":     env(`"CallIgnored"`, `"2020-01-02"`, `{}`),
		"time no zone":       env(`"CallIgnored"`, `"2020-01-02T03:04:05"`, `{}`),
		"time number":        env(`"CallIgnored"`, `1577934245000000006`, `{}`),
		"time bad month":     env(`"CallIgnored"`, `"2020-13-02T03:04:05Z"`, `{}`),
		"time bad day":       env(`"CallIgnored"`, `"2021-02-29T03:04:05Z"`, `{}`),
		"time after int64":   env(`"CallIgnored"`, `"3000-01-01T00:00:00Z"`, `{}`),
		"time before int64":  env(`"CallIgnored"`, `"1600-01-01T00:00:00Z"`, `{}`),
		"time 1ns too late":  env(`"CallIgnored"`, `"2262-04-11T23:47:16.854775808Z"`, `{}`),
		"time 1ns too early": env(`"CallIgnored"`, `"1677-09-21T00:12:43.145224191Z"`, `{}`),

		// payload that does not fit its type
		"data string":             env(`"CallHeld"`, at, `"caller"`),
		"data array":              env(`"CallHeld"`, at, `[]`),
		"data number":             env(`"ClientUnregistered"`, at, `1`),
		"side unknown":            env(`"CallHeld"`, at, `{"by":"sideways"}`),
		"side number":             env(`"CallMuted"`, at, `{"side":1}`),
		"side missing":            env(`"CallHeld"`, at, `{}`),
		"side empty":              env(`"CallResumed"`, at, `{"by":""}`),
		"side missing muted":      env(`"CallMuted"`, at, `{}`),
		"side missing unmuted":    env(`"CallUnmuted"`, at, `{"side":""}`),
		"reason unknown":          env(`"CallEnded"`, at, `{"reason":"exploded"}`),
		"reason number":           env(`"CallEnded"`, at, `{"reason":1}`),
		"reason missing":          env(`"CallEnded"`, at, `{}`),
		"reason empty":            env(`"CallEnded"`, at, `{"reason":""}`),
		"reason String form":      env(`"CallEnded"`, at, `{"reason":"reason(10)"}`),
		"reason String form 9":    env(`"CallEnded"`, at, `{"reason":"reason(9)"}`),
		"ended by unknown":        env(`"CallEnded"`, at, `{"reason":"hangup","by":"nobody"}`),
		"missed not bool":         env(`"CallEnded"`, at, `{"reason":"hangup","missed":"yes"}`),
		"direction unknown":       env(`"CallDialed"`, at, `{"direction":"sideways"}`),
		"direction number":        env(`"CallDialed"`, at, `{"direction":1}`),
		"party not object":        env(`"CallDialed"`, at, `{"caller":"alice","direction":"internal"}`),
		"numbers not list":        env(`"ClientRegistered"`, at, `{"numbers":"+1555"}`),
		"numbers of numbers":      env(`"ClientRegistered"`, at, `{"numbers":[1,2]}`),
		"devices of strings":      env(`"ClientRegistered"`, at, `{"devices":["d1"]}`),
		"accept_inbound not bool": env(`"ClientUpdated"`, at, `{"accept_inbound":1}`),
		"deadline string":         env(`"CallRinging"`, at, `{"deadline":"soon"}`),
		"deadline fraction":       env(`"CallRinging"`, at, `{"deadline":1.5}`),
		"deadline too big":        env(`"CallRinging"`, at, `{"deadline":9223372036854775808}`),
		"device id number":        env(`"DeviceRemoved"`, at, `{"id":7}`),
		"device not object":       env(`"DeviceAdded"`, at, `{"device":"d1"}`),
		"answered device list":    env(`"CallAnswered"`, at, `{"device":["d1"]}`),

		// schema 2: trailing fields and Transit
		"direction String form":    env(`"CallDialed"`, at, `{"direction":"direction(4)"}`),
		"direction transit number": env(`"CallDialed"`, at, `{"direction":3}`),
		"direction Transit cased":  env(`"CallDialed"`, at, `{"direction":"Transit"}`),
		"dialed group number":      env(`"CallDialed"`, at, `{"direction":"inbound","group":5}`),
		"dialed origin list":       env(`"CallDialed"`, at, `{"direction":"outbound","origin":["click-to-call"]}`),
		"dialed caller_leg object": env(`"CallDialed"`, at, `{"direction":"transit","caller_leg":{}}`),
		"permissions not list":     env(`"ClientRegistered"`, at, `{"permissions":"record"}`),
		"permissions of numbers":   env(`"ClientRegistered"`, at, `{"permissions":[1]}`),
		"permissions of lists":     env(`"ClientRegistered"`, at, `{"permissions":[["record"]]}`),

		// schema 2: call control
		"digits side missing":        env(`"CallDigits"`, at, `{"digits":"123"}`),
		"digits side empty":          env(`"CallDigits"`, at, `{"side":"","digits":"123"}`),
		"digits side unknown":        env(`"CallDigits"`, at, `{"side":"left","digits":"123"}`),
		"digits duration negative":   env(`"CallDigits"`, at, `{"side":"caller","digits":"1","duration_ns":-1,"gap_ns":0}`),
		"digits gap negative":        env(`"CallDigits"`, at, `{"side":"callee","digits":"1","duration_ns":100,"gap_ns":-50}`),
		"digits both negative":       env(`"CallDigits"`, at, `{"side":"callee","digits":"1","duration_ns":-9223372036854775808,"gap_ns":-1}`),
		"digits duration string":     env(`"CallDigits"`, at, `{"side":"caller","digits":"1","duration_ns":"100ms"}`),
		"digits duration fraction":   env(`"CallDigits"`, at, `{"side":"caller","digits":"1","duration_ns":1.5}`),
		"digits duration too big":    env(`"CallDigits"`, at, `{"side":"caller","digits":"1","duration_ns":9223372036854775808}`),
		"digits not string":          env(`"CallDigits"`, at, `{"side":"caller","digits":123}`),
		"recording started no by":    env(`"CallRecordingStarted"`, at, `{"ref":"s3://r/1"}`),
		"recording started by 1":     env(`"CallRecordingStarted"`, at, `{"by":1,"ref":"s3://r/1"}`),
		"recording started ref list": env(`"CallRecordingStarted"`, at, `{"by":"caller","ref":["s3://r/1"]}`),
		"recording stopped by empty": env(`"CallRecordingStopped"`, at, `{"by":""}`),
		"recording stopped no by":    env(`"CallRecordingStopped"`, at, `{}`),
		"parked no by":               env(`"CallParked"`, at, `{"side":"callee","slot":"701"}`),
		"parked no side":             env(`"CallParked"`, at, `{"by":"caller","slot":"701"}`),
		"parked nothing":             env(`"CallParked"`, at, `{}`),
		"parked by unknown":          env(`"CallParked"`, at, `{"side":"callee","by":"valet","slot":"701"}`),
		"parked slot number":         env(`"CallParked"`, at, `{"side":"callee","by":"caller","slot":701}`),
		"unparked party string":      env(`"CallUnparked"`, at, `{"party":"carol","device":"d"}`),
		"unparked device number":     env(`"CallUnparked"`, at, `{"party":{},"device":1}`),
		"joined peer number":         env(`"CallJoined"`, at, `{"conference":"conf-1","peer":2}`),
		"hold not available no by":   env(`"CallHoldNotAvailable"`, at, `{"reason":"not connected"}`),
		"hold not available by bad":  env(`"CallHoldNotAvailable"`, at, `{"by":"both","reason":"not connected"}`),

		// schema 2: transfers
		"transfer no kind":            env(`"TransferInitiated"`, at, `{"call":"c-1","kept":"caller","target":{"number":"104"},"new_call":"c-2"}`),
		"transfer kind empty":         env(`"TransferInitiated"`, at, `{"kind":"","new_call":"c-2"}`),
		"transfer kind unknown":       env(`"TransferInitiated"`, at, `{"kind":"warm","new_call":"c-2"}`),
		"transfer kind number":        env(`"TransferInitiated"`, at, `{"kind":1,"new_call":"c-2"}`),
		"transfer kind String form 0": env(`"TransferInitiated"`, at, `{"kind":"kind(0)","new_call":"c-2"}`),
		"transfer kind String form 5": env(`"TransferInitiated"`, at, `{"kind":"kind(5)","new_call":"c-2"}`),
		"transfer kind cased":         env(`"TransferInitiated"`, at, `{"kind":"Blind","new_call":"c-2"}`),
		"transfer kept unknown":       env(`"TransferInitiated"`, at, `{"kind":"blind","kept":"both","new_call":"c-2"}`),
		"transfer kept number":        env(`"TransferInitiated"`, at, `{"kind":"blind","kept":1,"new_call":"c-2"}`),
		"transfer target string":      env(`"TransferInitiated"`, at, `{"kind":"blind","target":"104","new_call":"c-2"}`),
		"transfer deadline string":    env(`"TransferInitiated"`, at, `{"kind":"supervised","new_call":"c-2","deadline":"30s"}`),
		"transfer not answered list":  env(`"TransferNotAnswered"`, at, `{"reason":["busy"]}`),
		"transfer failed number":      env(`"TransferFailed"`, at, `{"reason":5}`),
		"transfer answered array":     env(`"TransferAnswered"`, at, `[]`),

		// schema 2: groups
		"group no strategy":            env(`"GroupDefined"`, at, `{"members":["a"]}`),
		"group strategy empty":         env(`"GroupDefined"`, at, `{"members":["a"],"strategy":""}`),
		"group strategy unknown":       env(`"GroupDefined"`, at, `{"members":["a"],"strategy":"random"}`),
		"group strategy number":        env(`"GroupDefined"`, at, `{"members":["a"],"strategy":1}`),
		"group strategy String form 0": env(`"GroupDefined"`, at, `{"members":["a"],"strategy":"strategy(0)"}`),
		"group strategy String form 3": env(`"GroupDefined"`, at, `{"members":["a"],"strategy":"strategy(3)"}`),
		"group members string":         env(`"GroupDefined"`, at, `{"members":"a","strategy":"ring-all"}`),
		"group members of numbers":     env(`"GroupDefined"`, at, `{"members":[7],"strategy":"ring-all"}`),
		"group picked member number":   env(`"GroupMemberPicked"`, at, `{"member":7,"call":"c-1"}`),
		"group removed number":         env(`"GroupRemoved"`, at, `0`),

		// schema 2: text messages
		"message from string":   env(`"MessageSent"`, at, `{"from":"alice","to":"+1555","text":"hi"}`),
		"message text number":   env(`"MessageSent"`, at, `{"from":{},"to":"+1555","text":42}`),
		"message failed list":   env(`"MessageFailed"`, at, `{"reason":["x"]}`),
		"message delivered str": env(`"MessageDelivered"`, at, `"ok"`),

		// schema 3: CallDialed's voicemail limit, reason voicemail
		"dialed voicemail limit negative": env(`"CallDialed"`, at, `{"direction":"inbound","voicemail_limit_ns":-1}`),
		"dialed voicemail limit min":      env(`"CallDialed"`, at, `{"direction":"inbound","voicemail_limit_ns":-9223372036854775808}`),
		"dialed voicemail limit string":   env(`"CallDialed"`, at, `{"direction":"inbound","voicemail_limit_ns":"2m"}`),
		"dialed voicemail limit fraction": env(`"CallDialed"`, at, `{"direction":"inbound","voicemail_limit_ns":1.5}`),
		"dialed voicemail limit too big":  env(`"CallDialed"`, at, `{"direction":"inbound","voicemail_limit_ns":9223372036854775808}`),
		"reason voicemail cased":          env(`"CallEnded"`, at, `{"reason":"Voicemail"}`),
		"reason voice-mail":               env(`"CallEnded"`, at, `{"reason":"voice-mail"}`),
		"reason voicemail number":         env(`"CallEnded"`, at, `{"reason":9}`),
		"ended voicemail missed not bool": env(`"CallEnded"`, at, `{"reason":"voicemail","missed":1}`),
		"ended voicemail by unknown":      env(`"CallEnded"`, at, `{"reason":"voicemail","by":"box"}`),

		// schema 3: presence
		"presence missing":             env(`"ClientPresenceSet"`, at, `{"activity":"lunch"}`),
		"presence empty":               env(`"ClientPresenceSet"`, at, `{"presence":""}`),
		"presence unknown":             env(`"ClientPresenceSet"`, at, `{"presence":"dnd"}`),
		"presence cased":               env(`"ClientPresenceSet"`, at, `{"presence":"Away"}`),
		"presence number":              env(`"ClientPresenceSet"`, at, `{"presence":1}`),
		"presence String form 0":       env(`"ClientPresenceSet"`, at, `{"presence":"presence(0)"}`),
		"presence String form 5":       env(`"ClientPresenceSet"`, at, `{"presence":"presence(5)"}`),
		"presence null":                env(`"ClientPresenceSet"`, at, `{"presence":null}`),
		"presence activity number":     env(`"ClientPresenceSet"`, at, `{"presence":"away","activity":5}`),
		"presence no data":             env(`"ClientPresenceSet"`, at, `null`),
		"presence changed missing":     env(`"PresenceChanged"`, at, `{}`),
		"presence changed unknown":     env(`"PresenceChanged"`, at, `{"presence":"invisible"}`),
		"presence changed number":      env(`"PresenceChanged"`, at, `{"presence":2}`),
		"presence changed String form": env(`"PresenceChanged"`, at, `{"presence":"presence(0)"}`),

		// schema 3: voicemail settings, history, voicemail boxes
		"voicemail set length negative": env(`"ClientVoicemailSet"`, at, `{"enabled":true,"max_length_ns":-1}`),
		"voicemail set length min":      env(`"ClientVoicemailSet"`, at, `{"enabled":false,"max_length_ns":-9223372036854775808}`),
		"voicemail set length string":   env(`"ClientVoicemailSet"`, at, `{"enabled":true,"max_length_ns":"2m"}`),
		"voicemail set enabled string":  env(`"ClientVoicemailSet"`, at, `{"enabled":"yes"}`),
		"voicemail set enabled number":  env(`"ClientVoicemailSet"`, at, `{"enabled":1}`),
		"history calls missing":         env(`"HistoryDeleted"`, at, `{}`),
		"history calls empty":           env(`"HistoryDeleted"`, at, `{"calls":[]}`),
		"history calls null":            env(`"HistoryDeleted"`, at, `{"calls":null}`),
		"history calls string":          env(`"HistoryDeleted"`, at, `{"calls":"call-1"}`),
		"history calls of numbers":      env(`"HistoryDeleted"`, at, `{"calls":[1]}`),
		"history no data":               env(`"HistoryDeleted"`, at, `null`),
		"heard calls missing":           env(`"VoicemailHeard"`, at, `{}`),
		"heard calls empty":             env(`"VoicemailHeard"`, at, `{"calls":[]}`),
		"heard calls null":              env(`"VoicemailHeard"`, at, `{"calls":null}`),
		"heard calls string":            env(`"VoicemailHeard"`, at, `{"calls":"call-1"}`),
		"deleted calls missing":         env(`"VoicemailDeleted"`, at, `{}`),
		"deleted calls empty":           env(`"VoicemailDeleted"`, at, `{"calls":[]}`),
		"deleted calls null":            env(`"VoicemailDeleted"`, at, `{"calls":null}`),
		"deleted calls of lists":        env(`"VoicemailDeleted"`, at, `{"calls":[["call-1"]]}`),

		// schema 3: a call to voicemail
		"to voicemail no reason":        env(`"CallToVoicemail"`, at, `{"deadline":5}`),
		"to voicemail reason empty":     env(`"CallToVoicemail"`, at, `{"reason":"","deadline":5}`),
		"to voicemail reason hangup":    env(`"CallToVoicemail"`, at, `{"reason":"hangup","deadline":5}`),
		"to voicemail reason busy":      env(`"CallToVoicemail"`, at, `{"reason":"busy","deadline":5}`),
		"to voicemail reason failed":    env(`"CallToVoicemail"`, at, `{"reason":"failed","deadline":5}`),
		"to voicemail reason moved":     env(`"CallToVoicemail"`, at, `{"reason":"transferred","deadline":5}`),
		"to voicemail reason canceled":  env(`"CallToVoicemail"`, at, `{"reason":"canceled","deadline":5}`),
		"to voicemail reason missed":    env(`"CallToVoicemail"`, at, `{"reason":"missed","deadline":5}`),
		"to voicemail reason voicemail": env(`"CallToVoicemail"`, at, `{"reason":"voicemail","deadline":5}`),
		"to voicemail reason unknown":   env(`"CallToVoicemail"`, at, `{"reason":"declined","deadline":5}`),
		"to voicemail reason number":    env(`"CallToVoicemail"`, at, `{"reason":6,"deadline":5}`),
		"to voicemail deadline string":  env(`"CallToVoicemail"`, at, `{"reason":"rejected","deadline":"2m"}`),
		"to voicemail no data":          env(`"CallToVoicemail"`, at, `null`),
		"voicemail left no client":      env(`"VoicemailLeft"`, at, `{"from":{"number":"+4930"},"duration_ns":5}`),
		"voicemail left client empty":   env(`"VoicemailLeft"`, at, `{"client":"","from":{},"duration_ns":5}`),
		"voicemail left negative":       env(`"VoicemailLeft"`, at, `{"client":"bob","from":{},"duration_ns":-1}`),
		"voicemail left min":            env(`"VoicemailLeft"`, at, `{"client":"bob","duration_ns":-9223372036854775808}`),
		"voicemail left both":           env(`"VoicemailLeft"`, at, `{"client":"","duration_ns":-1}`),
		"voicemail left client number":  env(`"VoicemailLeft"`, at, `{"client":7,"duration_ns":5}`),
		"voicemail left from string":    env(`"VoicemailLeft"`, at, `{"client":"bob","from":"+4930","duration_ns":5}`),
		"voicemail left duration text":  env(`"VoicemailLeft"`, at, `{"client":"bob","duration_ns":"17s"}`),
		"voicemail left no data":        env(`"VoicemailLeft"`, at, `null`),
		"leg no side":                   env(`"CallLegRecorded"`, at, `{"adapter":"sip","data":"e30="}`),
		"leg bad side":                  env(`"CallLegRecorded"`, at, `{"side":"both","adapter":"sip"}`),
		"leg no adapter":                env(`"CallLegRecorded"`, at, `{"side":"caller","data":"e30="}`),
		"leg data not base64":           env(`"CallLegRecorded"`, at, `{"side":"caller","adapter":"sip","data":"{}"}`),
		"leg no data":                   env(`"CallLegRecorded"`, at, `null`),
		"left conference no peer":       env(`"CallLeftConference"`, at, `{"conference":"k"}`),
		"left conference no conference": env(`"CallLeftConference"`, at, `{"peer":"c2"}`),

		// schema 3: sessions
		"session no client":             env(`"SessionCreated"`, at, `{"auto_answer":true}`),
		"session client empty":          env(`"SessionCreated"`, at, `{"client":"","auto_answer":false}`),
		"session client number":         env(`"SessionCreated"`, at, `{"client":1}`),
		"session auto_answer string":    env(`"SessionCreated"`, at, `{"client":"alice","auto_answer":"on"}`),
		"session no data":               env(`"SessionCreated"`, at, `null`),
		"session restored array":        env(`"SessionRestored"`, at, `[]`),
		"session closed negative":       env(`"SessionConnectionClosed"`, at, `{"deadline":-1}`),
		"session closed min":            env(`"SessionConnectionClosed"`, at, `{"deadline":-9223372036854775808}`),
		"session closed deadline text":  env(`"SessionConnectionClosed"`, at, `{"deadline":"30s"}`),
		"session destroyed expired str": env(`"SessionDestroyed"`, at, `{"expired":"yes"}`),
		"subscribed no line":            env(`"SessionSubscribed"`, at, `{}`),
		"subscribed line empty":         env(`"SessionSubscribed"`, at, `{"line":""}`),
		"subscribed line number":        env(`"SessionSubscribed"`, at, `{"line":500}`),
		"subscribed line list":          env(`"SessionSubscribed"`, at, `{"line":["500"]}`),
		"subscribed no data":            env(`"SessionSubscribed"`, at, `null`),
		"unsubscribed no line":          env(`"SessionUnsubscribed"`, at, `{}`),
		"unsubscribed line empty":       env(`"SessionUnsubscribed"`, at, `{"line":""}`),
		"unsubscribed line null":        env(`"SessionUnsubscribed"`, at, `{"line":null}`),
		"auto answer on string":         env(`"SessionAutoAnswerSet"`, at, `{"on":"true"}`),
		"auto answer on number":         env(`"SessionAutoAnswerSet"`, at, `{"on":1}`),
	}
	return cases
}

func TestBadJSON(t *testing.T) {
	for name, in := range badJSONCases() {
		sentinel := Envelope{Seq: 99, Stream: "untouched", Type: TypeCallIgnored, Event: CallIgnored{}}
		got := sentinel
		err := got.UnmarshalJSON([]byte(in))
		wantMalformed(t, name+": "+in, err)
		if err != nil && fmt.Sprint(got) != fmt.Sprint(sentinel) {
			t.Errorf("%s: failed UnmarshalJSON changed the envelope to %v", name, got)
		}
	}
}

// TestBadJSONThroughPackage: json.Unmarshal passes the malformed error of
// UnmarshalJSON through for input that is valid JSON.
func TestBadJSONThroughPackage(t *testing.T) {
	for _, in := range []string{
		`{"type":"CallExploded","time":"2020-01-02T03:04:05Z"}`,
		`{"type":"CallIgnored","time":"yesterday"}`,
		`{"type":"CallHeld","time":"2020-01-02T03:04:05Z","data":{"by":"sideways"}}`,
	} {
		var env Envelope
		wantMalformed(t, in, json.Unmarshal([]byte(in), &env))
	}
}

// The decoders of schema 2.

// transferBody is a TransferInitiated body with empty strings and parties and
// the given kind and kept side: the kind is the first byte of the payload, the
// kept side follows the (empty) original call.
func transferBody(kind, kept byte) []byte {
	head := len(rawBody(SchemaVersion, uint64(TypeTransferInitiated), 0))
	b := EncodeBody(nil, 0, TransferInitiated{Kind: Blind, Kept: Caller})
	if b[head] != byte(Blind) || b[head+1] != 0 || b[head+2] != byte(Caller) {
		panic(fmt.Sprintf("TransferInitiated layout changed: % x", b))
	}
	b[head], b[head+2] = kind, kept
	return b
}

// TestBadSideNewTypes: the call control events need a side, both of them for
// CallParked; TransferInitiated.Kept may be NoSide (click-to-call), never more
// than Callee.
func TestBadSideNewTypes(t *testing.T) {
	bodies := map[string]func(v byte) []byte{
		"CallDigits.Side":          func(v byte) []byte { return rawBody(SchemaVersion, uint64(TypeCallDigits), 0, v, 1, '5', 0, 0) },
		"CallRecordingStarted.By":  func(v byte) []byte { return rawBody(SchemaVersion, uint64(TypeCallRecordingStarted), 0, v, 1, 'r') },
		"CallRecordingStopped.By":  func(v byte) []byte { return rawBody(SchemaVersion, uint64(TypeCallRecordingStopped), 0, v) },
		"CallParked.Side":          func(v byte) []byte { return rawBody(SchemaVersion, uint64(TypeCallParked), 0, v, byte(Caller), 0) },
		"CallParked.By":            func(v byte) []byte { return rawBody(SchemaVersion, uint64(TypeCallParked), 0, byte(Callee), v, 0) },
		"CallHoldNotAvailable.By":  func(v byte) []byte { return rawBody(SchemaVersion, uint64(TypeCallHoldNotAvailable), 0, v, 0) },
		"TransferInitiated.Kept":   func(v byte) []byte { return transferBody(byte(Blind), v) },
		"CallParked.Side and By":   func(v byte) []byte { return rawBody(SchemaVersion, uint64(TypeCallParked), 0, v, v, 0) },
		"CallDigits.Side, no more": func(v byte) []byte { return rawBody(SchemaVersion, uint64(TypeCallDigits), 0, v) },
		"CallParked.By, no slot":   func(v byte) []byte { return rawBody(SchemaVersion, uint64(TypeCallParked), 0, byte(Caller), v) },
		"TransferInitiated.Kept, no more": func(v byte) []byte {
			return rawBody(SchemaVersion, uint64(TypeTransferInitiated), 0, byte(Attended), 0, v)
		},
	}
	for _, name := range slices.Sorted(maps.Keys(bodies)) {
		body := bodies[name]
		bad := []byte{byte(NoSide), 3, 4, 0x80, 0xFF}
		good := []byte{byte(Caller), byte(Callee)}
		if strings.HasPrefix(name, "TransferInitiated") {
			bad, good = bad[1:], append(good, byte(NoSide))
		}
		for _, v := range bad {
			_, err := decodeBodySafe(body(v))
			wantMalformed(t, fmt.Sprintf("%s = %d", name, v), err)
		}
		if strings.Contains(name, ",") {
			continue // truncated after the side: no good value
		}
		for _, v := range good {
			if _, err := decodeBodySafe(body(v)); err != nil {
				t.Errorf("%s = %d: %v", name, v, err)
			}
		}
	}
}

func TestBadTransferKind(t *testing.T) {
	for _, v := range []byte{0, byte(ClickToCall) + 1, 6, 0x7F, 0x80, 0xFF} {
		for _, kept := range []byte{byte(NoSide), byte(Caller)} {
			_, err := decodeBodySafe(transferBody(v, kept))
			wantMalformed(t, fmt.Sprintf("transfer kind %d", v), err)
			if err != nil && !strings.Contains(err.Error(), "transfer kind") {
				t.Errorf("transfer kind %d: error %q does not name the kind", v, err)
			}
		}
		// A bad kind and nothing after it.
		_, err := decodeBodySafe(rawBody(SchemaVersion, uint64(TypeTransferInitiated), 0, v))
		wantMalformed(t, fmt.Sprintf("transfer kind %d alone", v), err)
	}
	for k := Blind; k <= ClickToCall; k++ {
		env, err := decodeBodySafe(transferBody(byte(k), byte(Caller)))
		if err != nil {
			t.Errorf("transfer kind %d: %v", k, err)
		} else if got := env.Event.(TransferInitiated); got.Kind != k || got.Kept != Caller {
			t.Errorf("transfer kind %d: decoded %#v", k, got)
		}
	}
}

func TestBadStrategy(t *testing.T) {
	group := func(strategy byte) []byte {
		// name "g", no extensions, no numbers, members "a" and "b"
		return rawBody(SchemaVersion, uint64(TypeGroupDefined), 0, 1, 'g', 0, 0, 2, 1, 'a', 1, 'b', strategy)
	}
	for _, v := range []byte{0, byte(RoundRobin) + 1, 0x7F, 0x80, 0xFF} {
		_, err := decodeBodySafe(group(v))
		wantMalformed(t, fmt.Sprintf("strategy %d", v), err)
		if err != nil && !strings.Contains(err.Error(), "strategy") {
			t.Errorf("strategy %d: error %q does not name the strategy", v, err)
		}
	}
	for _, s := range []Strategy{RingAll, RoundRobin} {
		env, err := decodeBodySafe(group(byte(s)))
		if err != nil {
			t.Errorf("strategy %d: %v", s, err)
			continue
		}
		want := GroupDefined{Name: "g", Members: []string{"a", "b"}, Strategy: s}
		if got := env.Event; !reflect.DeepEqual(got, want) {
			t.Errorf("strategy %d: decoded %#v, want %#v", s, got, want)
		}
	}
	// The strategy is the last byte: without it the body is truncated.
	g := group(byte(RingAll))
	_, err := decodeBodySafe(g[: len(g)-1 : len(g)-1])
	wantMalformed(t, "group without strategy", err)
}

func TestNegativeDTMF(t *testing.T) {
	digits := func(duration, gap int64) []byte {
		b := rawBody(SchemaVersion, uint64(TypeCallDigits), 0, byte(Caller), 2, '1', '#')
		b = binary.AppendVarint(b, duration)
		return binary.AppendVarint(b, gap)
	}
	for _, c := range []struct{ duration, gap int64 }{
		{-1, 0}, {0, -1}, {-1, -1}, {math.MinInt64, 50_000_000}, {100_000_000, math.MinInt64}, {-100_000_000, 50_000_000},
	} {
		_, err := decodeBodySafe(digits(c.duration, c.gap))
		wantMalformed(t, fmt.Sprintf("CallDigits duration %d gap %d", c.duration, c.gap), err)
		if err != nil && !strings.Contains(err.Error(), "negative") {
			t.Errorf("duration %d gap %d: error %q does not say negative", c.duration, c.gap, err)
		}
	}
	for _, c := range []struct{ duration, gap int64 }{{0, 0}, {100_000_000, 50_000_000}, {math.MaxInt64, math.MaxInt64}} {
		env, err := decodeBodySafe(digits(c.duration, c.gap))
		if err != nil {
			t.Errorf("duration %d gap %d: %v", c.duration, c.gap, err)
			continue
		}
		want := CallDigits{Side: Caller, Digits: "1#", Duration: c.duration, Gap: c.gap}
		if env.Event != want {
			t.Errorf("decoded %#v, want %#v", env.Event, want)
		}
	}
	// A negative duration with the gap missing: malformed either way.
	b := rawBody(SchemaVersion, uint64(TypeCallDigits), 0, byte(Caller), 1, '1')
	_, err := decodeBodySafe(binary.AppendVarint(b, -1))
	wantMalformed(t, "negative duration, no gap", err)
}

// mutations are the byte values TestMutatedBodies writes over each byte of a
// body: the edges of the enums and of the varints.
var mutations = []byte{0, 1, 2, 3, 4, 5, 0x7F, 0x80, 0xCE, 0xFF}

// TestMutatedBodies changes each byte of each sample's body to each of the
// mutations: the decoder gives a malformed error or an event that re-encodes
// to itself, and never panics.
func TestMutatedBodies(t *testing.T) {
	for _, s := range samples {
		body := EncodeBody(nil, s.at, s.ev)
		for i := range body {
			for _, m := range mutations {
				b := slices.Clone(body)
				b[i] = m
				env, err := decodeBodySafe(b)
				if err != nil {
					wantMalformed(t, fmt.Sprintf("%s with byte %d = %#x: % x", s.name, i, m, b), err)
					continue
				}
				if env.Event == nil || env.Event.Type() != env.Type {
					t.Errorf("%s with byte %d = %#x: event %#v for type %v", s.name, i, m, env.Event, env.Type)
					continue
				}
				var again Envelope
				if err := DecodeBody(EncodeBody(nil, env.Time, env.Event), &again); err != nil {
					t.Errorf("%s with byte %d = %#x decodes as %#v, which does not re-encode: %v", s.name, i, m, env.Event, err)
				} else if !reflect.DeepEqual(again.Event, env.Event) {
					t.Errorf("%s with byte %d = %#x: %#v re-encodes as %#v", s.name, i, m, env.Event, again.Event)
				}
			}
		}
	}
}

// The decoders of schema 3.

// wantMalformedSaying is wantMalformed, and the error names what is wrong.
func wantMalformedSaying(t *testing.T, what string, err error, words string) {
	t.Helper()
	wantMalformed(t, what, err)
	if err != nil && !strings.Contains(err.Error(), words) {
		t.Errorf("%s: error %q does not say %q", what, err, words)
	}
}

// TestBadPresence: a presence is available, busy, away or offline; no other
// byte, for the presence a client sets and the one others see.
func TestBadPresence(t *testing.T) {
	for _, typ := range []Type{TypeClientPresenceSet, TypePresenceChanged} {
		for v := 0; v <= 0xFF; v++ {
			body := rawBody(SchemaVersion, uint64(typ), 0, byte(v), 5, 'l', 'u', 'n', 'c', 'h')
			env, err := decodeBodySafe(body)
			if p := Presence(v); p >= PresenceAvailable && p <= PresenceOffline {
				want := Event(ClientPresenceSet{Presence: p, Activity: "lunch"})
				if typ == TypePresenceChanged {
					want = PresenceChanged{Presence: p, Activity: "lunch"}
				}
				if err != nil || env.Event != want {
					t.Errorf("%s presence %d: %#v, %v", typ, v, env.Event, err)
				}
				continue
			}
			wantMalformedSaying(t, fmt.Sprintf("%s presence %d", typ, v), err, "presence")
			// A bad presence and nothing after it.
			_, err = decodeBodySafe(rawBody(SchemaVersion, uint64(typ), 0, byte(v)))
			wantMalformed(t, fmt.Sprintf("%s presence %d alone", typ, v), err)
		}
		// The activity is a string: without it the body is truncated.
		_, err := decodeBodySafe(rawBody(SchemaVersion, uint64(typ), 0, byte(PresenceAway)))
		wantMalformedSaying(t, fmt.Sprintf("%s without activity", typ), err, "truncated")
	}
}

// TestEmptyCallLists: deleting history, hearing or deleting voicemail names
// at least one call.
func TestEmptyCallLists(t *testing.T) {
	for _, typ := range []Type{TypeHistoryDeleted, TypeVoicemailHeard, TypeVoicemailDeleted} {
		_, err := decodeBodySafe(rawBody(SchemaVersion, uint64(typ), 0, 0))
		wantMalformedSaying(t, fmt.Sprintf("%s with no calls", typ), err, "no calls")
		// Without a count at all, or with a count longer than the bytes.
		_, err = decodeBodySafe(rawBody(SchemaVersion, uint64(typ), 0))
		wantMalformed(t, fmt.Sprintf("%s without a list", typ), err)
		_, err = decodeBodySafe(rawBody(SchemaVersion, uint64(typ), 0, 2, 1, 'a'))
		wantMalformed(t, fmt.Sprintf("%s with 2 calls in 2 bytes", typ), err)
		_, err = decodeBodySafe(rawBody(SchemaVersion, uint64(typ), 0, 0, 1, 'a'))
		wantMalformed(t, fmt.Sprintf("%s with no calls and a trailing call", typ), err)

		for _, calls := range [][]string{{"call-1"}, {""}, {"a", "b", "a"}} {
			env, err := decodeBodySafe(cat(rawBody(SchemaVersion, uint64(typ), 0), appendStrings(nil, calls)))
			if err != nil {
				t.Errorf("%s with calls %q: %v", typ, calls, err)
				continue
			}
			var got []string
			switch e := env.Event.(type) {
			case HistoryDeleted:
				got = e.Calls
			case VoicemailHeard:
				got = e.Calls
			case VoicemailDeleted:
				got = e.Calls
			}
			if !slices.Equal(got, calls) || env.Type != typ {
				t.Errorf("%s with calls %q: decoded %#v", typ, calls, env.Event)
			}
		}
	}
}

// TestVoicemailReason: a call goes to voicemail because the callee rejected
// it or it rang unanswered; every other byte is refused.
func TestVoicemailReason(t *testing.T) {
	for v := 0; v <= 0xFF; v++ {
		body := binary.AppendVarint(rawBody(SchemaVersion, uint64(TypeCallToVoicemail), 0, byte(v)), 1_767_603_720_000_000_000)
		env, err := decodeBodySafe(body)
		if r := Reason(v); r == Rejected || r == NoAnswer {
			if want := (CallToVoicemail{Reason: r, Deadline: 1_767_603_720_000_000_000}); err != nil || env.Event != want {
				t.Errorf("voicemail reason %d: %#v, %v", v, env.Event, err)
			}
			continue
		}
		wantMalformedSaying(t, fmt.Sprintf("voicemail reason %d", v), err, "voicemail after")
		// A bad reason and no deadline.
		_, err = decodeBodySafe(rawBody(SchemaVersion, uint64(TypeCallToVoicemail), 0, byte(v)))
		wantMalformed(t, fmt.Sprintf("voicemail reason %d alone", v), err)
	}
	// The deadline is a varint: any value, as for CallRinging.
	for _, deadline := range []int64{0, -1, math.MinInt64, math.MaxInt64} {
		body := binary.AppendVarint(rawBody(SchemaVersion, uint64(TypeCallToVoicemail), 0, byte(NoAnswer)), deadline)
		if env, err := decodeBodySafe(body); err != nil || env.Event != (CallToVoicemail{Reason: NoAnswer, Deadline: deadline}) {
			t.Errorf("voicemail deadline %d: %#v, %v", deadline, env.Event, err)
		}
	}
	_, err := decodeBodySafe(rawBody(SchemaVersion, uint64(TypeCallToVoicemail), 0, byte(Rejected)))
	wantMalformedSaying(t, "voicemail without deadline", err, "truncated")
}

// TestBadVoicemailLeft: a message is left for a client, and is not shorter
// than nothing.
func TestBadVoicemailLeft(t *testing.T) {
	left := func(client string, from Party, duration int64) []byte {
		b := appendParty(appendString(rawBody(SchemaVersion, uint64(TypeVoicemailLeft), 0), client), from)
		return binary.AppendVarint(b, duration)
	}
	from := Party{Number: "+4930123456", Name: "Zoë"}
	for _, c := range []struct {
		client   string
		duration int64
	}{
		{"", 0}, {"", 17_500_000_000}, {"bob", -1}, {"bob", math.MinInt64}, {"", -1},
	} {
		_, err := decodeBodySafe(left(c.client, from, c.duration))
		wantMalformedSaying(t, fmt.Sprintf("voicemail left for %q, %d long", c.client, c.duration), err, "voicemail without a client")
	}
	for _, c := range []struct {
		client   string
		duration int64
	}{
		{"bob", 0}, {"bob", 17_500_000_000}, {"b", math.MaxInt64},
	} {
		env, err := decodeBodySafe(left(c.client, from, c.duration))
		if want := (VoicemailLeft{Client: c.client, From: from, Duration: c.duration}); err != nil || env.Event != want {
			t.Errorf("voicemail left for %q, %d long: %#v, %v", c.client, c.duration, env.Event, err)
		}
	}
	// An empty from is an unknown caller: allowed.
	if env, err := decodeBodySafe(left("bob", Party{}, 1)); err != nil || env.Event != (VoicemailLeft{Client: "bob", Duration: 1}) {
		t.Errorf("voicemail left from nobody: %#v, %v", env.Event, err)
	}
	// Cut off before the duration, or inside the party.
	b := left("bob", from, 1)
	_, err := decodeBodySafe(b[: len(b)-1 : len(b)-1])
	wantMalformedSaying(t, "voicemail left without duration", err, "truncated")
	_, err = decodeBodySafe(appendString(rawBody(SchemaVersion, uint64(TypeVoicemailLeft), 0), "bob"))
	wantMalformed(t, "voicemail left without from", err)
}

// TestSessionWithoutClient: a session belongs to a client.
func TestSessionWithoutClient(t *testing.T) {
	for _, auto := range []byte{0, 1} {
		_, err := decodeBodySafe(rawBody(SchemaVersion, uint64(TypeSessionCreated), 0, 0, auto))
		wantMalformedSaying(t, fmt.Sprintf("session without a client, auto-answer %d", auto), err, "without a client")
		env, err := decodeBodySafe(rawBody(SchemaVersion, uint64(TypeSessionCreated), 0, 5, 'a', 'l', 'i', 'c', 'e', auto))
		if want := (SessionCreated{Client: "alice", AutoAnswer: auto == 1}); err != nil || env.Event != want {
			t.Errorf("session of alice, auto-answer %d: %#v, %v", auto, env.Event, err)
		}
	}
	// No client and a bad bool, or no bool.
	_, err := decodeBodySafe(rawBody(SchemaVersion, uint64(TypeSessionCreated), 0, 0, 2))
	wantMalformed(t, "session without a client, auto-answer 2", err)
	_, err = decodeBodySafe(rawBody(SchemaVersion, uint64(TypeSessionCreated), 0, 0))
	wantMalformed(t, "session without a client, without auto-answer", err)
	_, err = decodeBodySafe(rawBody(SchemaVersion, uint64(TypeSessionCreated), 0, 1, 'a'))
	wantMalformedSaying(t, "session without auto-answer", err, "truncated")
}

// TestEmptyLine: a session subscribes to, and drops, a line that has a name.
func TestEmptyLine(t *testing.T) {
	for _, typ := range []Type{TypeSessionSubscribed, TypeSessionUnsubscribed} {
		_, err := decodeBodySafe(rawBody(SchemaVersion, uint64(typ), 0, 0))
		wantMalformedSaying(t, fmt.Sprintf("%s empty line", typ), err, "empty line")
		_, err = decodeBodySafe(rawBody(SchemaVersion, uint64(typ), 0))
		wantMalformed(t, fmt.Sprintf("%s without line", typ), err)
		_, err = decodeBodySafe(rawBody(SchemaVersion, uint64(typ), 0, 4, '5', '0', '0'))
		wantMalformed(t, fmt.Sprintf("%s line cut off", typ), err)
		for _, line := range []string{"500", "+4930600600", "callpark", " "} {
			env, err := decodeBodySafe(appendString(rawBody(SchemaVersion, uint64(typ), 0), line))
			want := Event(SessionSubscribed{Line: line})
			if typ == TypeSessionUnsubscribed {
				want = SessionUnsubscribed{Line: line}
			}
			if err != nil || env.Event != want {
				t.Errorf("%s line %q: %#v, %v", typ, line, env.Event, err)
			}
		}
	}
}

// TestNegativeDeadlines: the grace timer of a session fires at a time, or not
// at all (0); it is never negative.
func TestNegativeDeadlines(t *testing.T) {
	closed := func(deadline int64) []byte {
		return binary.AppendVarint(rawBody(SchemaVersion, uint64(TypeSessionConnectionClosed), 0), deadline)
	}
	for _, d := range []int64{-1, -1_767_603_900_000_000_000, math.MinInt64} {
		_, err := decodeBodySafe(closed(d))
		wantMalformedSaying(t, fmt.Sprintf("SessionConnectionClosed deadline %d", d), err, "negative deadline")
	}
	for _, d := range []int64{0, 1, 1_767_603_900_000_000_000, math.MaxInt64} {
		if env, err := decodeBodySafe(closed(d)); err != nil || env.Event != (SessionConnectionClosed{Deadline: d}) {
			t.Errorf("SessionConnectionClosed deadline %d: %#v, %v", d, env.Event, err)
		}
	}
	_, err := decodeBodySafe(rawBody(SchemaVersion, uint64(TypeSessionConnectionClosed), 0))
	wantMalformedSaying(t, "SessionConnectionClosed without deadline", err, "truncated")
	_, err = decodeBodySafe(rawBody(SchemaVersion, uint64(TypeSessionConnectionClosed), 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01))
	wantMalformed(t, "SessionConnectionClosed deadline overflow", err)
}

// TestNegativeVoicemailLengths: a voicemail box's longest message, and a
// call's voicemail limit, are not negative.
func TestNegativeVoicemailLengths(t *testing.T) {
	set := func(enabled byte, length int64) []byte {
		return binary.AppendVarint(rawBody(SchemaVersion, uint64(TypeClientVoicemailSet), 0, enabled), length)
	}
	dialed := func(limit int64) []byte {
		b := rawBody(SchemaVersion, uint64(TypeCallDialed), 0, make([]byte, 9)...)
		b = append(b, byte(Inbound), 0, 0, 0, 0, 0)
		return binary.AppendVarint(b, limit)
	}
	for _, n := range []int64{-1, -120_000_000_000, math.MinInt64} {
		for _, enabled := range []byte{0, 1} {
			_, err := decodeBodySafe(set(enabled, n))
			wantMalformedSaying(t, fmt.Sprintf("ClientVoicemailSet enabled %d length %d", enabled, n), err, "negative voicemail length")
		}
		_, err := decodeBodySafe(dialed(n))
		wantMalformedSaying(t, fmt.Sprintf("CallDialed voicemail limit %d", n), err, "negative voicemail limit")
	}
	for _, n := range []int64{0, 1, 120_000_000_000, math.MaxInt64} {
		if env, err := decodeBodySafe(set(1, n)); err != nil || env.Event != (ClientVoicemailSet{Enabled: true, MaxLength: n}) {
			t.Errorf("ClientVoicemailSet length %d: %#v, %v", n, env.Event, err)
		}
		if env, err := decodeBodySafe(dialed(n)); err != nil || env.Event != (CallDialed{Direction: Inbound, VoicemailLimit: n}) {
			t.Errorf("CallDialed voicemail limit %d: %#v, %v", n, env.Event, err)
		}
	}
	// A bad bool before the length.
	_, err := decodeBodySafe(set(2, 0))
	wantMalformedSaying(t, "ClientVoicemailSet enabled 2", err, "bad boolean")
	_, err = decodeBodySafe(rawBody(SchemaVersion, uint64(TypeClientVoicemailSet), 0, 1))
	wantMalformedSaying(t, "ClientVoicemailSet without length", err, "truncated")
}

// invalidSchema3Events are events of schema 3 that neither codec accepts,
// with what the binary decoder's error says.
var invalidSchema3Events = []struct {
	ev   Event
	says string
}{
	{ClientPresenceSet{}, "presence"},
	{ClientPresenceSet{Presence: PresenceOffline + 1, Activity: "x"}, "presence"},
	{ClientPresenceSet{Presence: 0xFF}, "presence"},
	{PresenceChanged{}, "presence"},
	{PresenceChanged{Presence: PresenceOffline + 1, Activity: "on a call"}, "presence"},
	{ClientVoicemailSet{Enabled: true, MaxLength: -1}, "negative voicemail length"},
	{ClientVoicemailSet{MaxLength: math.MinInt64}, "negative voicemail length"},
	{HistoryDeleted{}, "no calls"},
	{HistoryDeleted{Calls: []string{}}, "no calls"},
	{VoicemailHeard{}, "no calls"},
	{VoicemailHeard{Calls: []string{}}, "no calls"},
	{VoicemailDeleted{}, "no calls"},
	{VoicemailDeleted{Calls: []string{}}, "no calls"},
	{CallToVoicemail{}, "voicemail after"},
	{CallToVoicemail{Reason: Hangup, Deadline: 5}, "voicemail after"},
	{CallToVoicemail{Reason: Busy, Deadline: 5}, "voicemail after"},
	{CallToVoicemail{Reason: Failed}, "voicemail after"},
	{CallToVoicemail{Reason: Transferred}, "voicemail after"},
	{CallToVoicemail{Reason: Canceled}, "voicemail after"},
	{CallToVoicemail{Reason: Missed}, "voicemail after"},
	{CallToVoicemail{Reason: Voicemail}, "voicemail after"},
	{CallToVoicemail{Reason: Voicemail + 1}, "voicemail after"},
	{CallToVoicemail{Reason: 0xFF, Deadline: -1}, "voicemail after"},
	{VoicemailLeft{}, "without a client"},
	{VoicemailLeft{From: Party{Client: "alice"}, Duration: 5}, "without a client"},
	{VoicemailLeft{Client: "bob", Duration: -1}, "negative length"},
	{VoicemailLeft{Client: "bob", From: Party{Number: "+4930"}, Duration: math.MinInt64}, "negative length"},
	{CallLegRecorded{Adapter: "sip"}, "of no side"},
	{CallLegRecorded{Side: 3, Adapter: "sip", Data: []byte("x")}, "of no side"},
	{CallLegRecorded{Side: Caller}, "without an adapter"},
	{CallLegRecorded{Side: Callee, Adapter: "sip", Data: make([]byte, MaxLegData+1)}, "larger than"},
	{SessionCreated{}, "without a client"},
	{SessionCreated{AutoAnswer: true}, "without a client"},
	{SessionConnectionClosed{Deadline: -1}, "negative deadline"},
	{SessionConnectionClosed{Deadline: math.MinInt64}, "negative deadline"},
	{SessionSubscribed{}, "empty line"},
	{SessionUnsubscribed{}, "empty line"},
	{CallDialed{Direction: Inbound, VoicemailLimit: -1}, "negative voicemail limit"},
	{CallDialed{Callee: Party{Client: "bob"}, VoicemailLimit: math.MinInt64}, "negative voicemail limit"},
	{CallEnded{Reason: Voicemail + 1, By: Caller}, "end reason 10"},
}

// TestInvalidSchema3Events: what EncodeBody writes for an invalid event of
// schema 3 does not decode, as a body or in an envelope; nor does the JSON
// json.Marshal writes for it. Every error has code malformed.
func TestInvalidSchema3Events(t *testing.T) {
	for i, c := range invalidSchema3Events {
		what := fmt.Sprintf("%#v", c.ev)
		body := EncodeBody(nil, 1_767_603_600_000_000_000, c.ev)
		_, err := decodeBodySafe(body)
		wantMalformedSaying(t, what+" as a body", err, c.says)

		env := Envelope{Seq: uint64(i) + 1, Stream: "client/x", Version: 1, Type: c.ev.Type(), Time: 1_767_603_600_000_000_000, Schema: SchemaVersion, Event: c.ev}
		_, err = unmarshalSafe(Marshal(nil, &env))
		wantMalformedSaying(t, what+" in an envelope", err, c.says)

		b, err := json.Marshal(env)
		if err != nil {
			t.Errorf("%s: json.Marshal: %v", what, err)
			continue
		}
		sentinel := Envelope{Seq: 99, Stream: "untouched", Type: TypeCallIgnored, Event: CallIgnored{}}
		got := sentinel
		err = got.UnmarshalJSON(b)
		wantMalformed(t, what+" as JSON "+string(b), err)
		if err != nil && fmt.Sprint(got) != fmt.Sprint(sentinel) {
			t.Errorf("%s: failed UnmarshalJSON changed the envelope to %v", what, got)
		}
		var viaPkg Envelope
		wantMalformed(t, what+" through json.Unmarshal", json.Unmarshal(b, &viaPkg))
	}
}

// TestSchema3JSONChecks: checkJSONPayload itself refuses what the binary
// decoder refuses, for an event that reached it with its fields parsed —
// so the check does not lean on the text forms alone.
func TestSchema3JSONChecks(t *testing.T) {
	for _, c := range invalidSchema3Events {
		err := checkJSONPayload(c.ev)
		if _, ok := c.ev.(CallEnded); ok {
			// A CallEnded reason past voicemail cannot reach the check:
			// ParseReason refuses its text first.
			continue
		}
		wantMalformed(t, fmt.Sprintf("checkJSONPayload(%#v)", c.ev), err)
	}
	for _, s := range samples {
		if err := checkJSONPayload(s.ev); err != nil {
			t.Errorf("checkJSONPayload(%s): %v", s.name, err)
		}
	}
}
