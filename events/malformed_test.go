package events

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime"
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
	for _, typ := range []uint64{0, 6, 19, 29, 100, 1000, math.MaxUint16, math.MaxUint16 + 1, 1 << 40, math.MaxUint64} {
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
			"ClientRegistered.AcceptInbound": rawBody(SchemaVersion, uint64(TypeClientRegistered), 0, 0, 0, 0, 0, v),
			"ClientUpdated.AcceptInbound":    rawBody(SchemaVersion, uint64(TypeClientUpdated), 0, 0, v),
			"CallEnded.Missed":               rawBody(SchemaVersion, uint64(TypeCallEnded), 0, byte(Hangup), byte(Caller), v),
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
	for _, v := range []byte{byte(NoReason), byte(Missed) + 1, 0x7F, 0xFF} {
		_, err := decodeBodySafe(rawBody(SchemaVersion, uint64(TypeCallEnded), 0, v, byte(Caller), 0))
		wantMalformed(t, fmt.Sprintf("reason %d", v), err)
	}
}

func TestBadDirection(t *testing.T) {
	payload := make([]byte, 9) // two empty parties, three empty strings
	for _, v := range []byte{byte(Inbound) + 1, 0x7F, 0xFF} {
		_, err := decodeBodySafe(rawBody(SchemaVersion, uint64(TypeCallDialed), 0, append(payload, v)...))
		wantMalformed(t, fmt.Sprintf("direction %d", v), err)
	}
	for _, v := range []Direction{Internal, Outbound, Inbound} {
		if _, err := decodeBodySafe(rawBody(SchemaVersion, uint64(TypeCallDialed), 0, append(payload, byte(v))...)); err != nil {
			t.Errorf("direction %d: %v", v, err)
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

	env, err := decodeBodySafe(cat(head, uv(2), []byte{0, 0, 0, 0, 0, 0, 1}))
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
		"reason String form":      env(`"CallEnded"`, at, `{"reason":"reason(9)"}`),
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
