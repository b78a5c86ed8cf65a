package wire

import (
	"errors"
	"flag"
	"testing"

	"github.com/callengine/callengine/errcode"
)

// maxFuzzRequest bounds the requests FuzzDecode tries while fuzzing.
const maxFuzzRequest = 512

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		in   string
		code errcode.Code
	}{
		{`{"type":"ping"}`, ""},
		{`{"type":"auth.login","client_id":"a","password":"p"}`, ""},
		{`{"type":"call.create","req_id":"1","destination":"102","sdp":"v=0\r\n"}`, ""},
		{`{"type":"ice.candidate","call_id":"c","candidate":"","sdp_mid":null}`, ""},
		{`{"type":"call.unpark","slot":"1"}`, ""},
		{`{"type":"directory.query","presence":["away"],"limit":5}`, ""},
		{`{"type":"history.query","from":"2026-01-01T00:00:00Z","kinds":["missed"]}`, ""},
		{``, errcode.Malformed},
		{`null`, errcode.Malformed},
		{`"ping"`, errcode.Malformed},
		{`{"type":"ping"} {}`, errcode.Malformed},
		{`{"type":"ping","x":1}`, errcode.Malformed},
		{`{"type":"nope"}`, errcode.Malformed},
		{`{}`, errcode.MissingParameter},
		{`{"type":"call.unpark"}`, errcode.MissingParameter},
		{`{"type":"auth.login","client_id":"a"}`, errcode.MissingParameter},
		{`{"type":"call.create","destination":"1","sdp":"hello"}`, errcode.InvalidParams},
		{`{"type":"call.hold","call_id":"a/b"}`, errcode.InvalidParams},
		{`{"type":"call.dtmf","call_id":"c","digits":"1","duration_ms":-1}`, errcode.InvalidParams},
		{`{"type":"directory.query","limit":-1}`, errcode.InvalidParams},
		{`{"type":"presence.set","presence":3}`, errcode.Malformed},
		{`{"type":"history.query","to":"yesterday"}`, errcode.InvalidParams},
	} {
		_, err := Decode([]byte(tc.in))
		if got := errcode.CodeOf(err); got != tc.code {
			t.Errorf("Decode(%s) = %v, want code %q", tc.in, err, tc.code)
		}
		var de *DecodeError
		if err != nil && !errors.As(err, &de) {
			t.Errorf("Decode(%s): %T is not a *DecodeError", tc.in, err)
		}
	}
}

// FuzzDecode: Decode never panics, and either accepts a request of a known
// type or refuses with one of the three codes.
//
// While fuzzing, inputs over maxFuzzRequest bytes are skipped: the
// minimiser, quadratic in an input's length, spent 45 s of a one-minute run
// on one long JSON input it had found (71k execs in all, none after 15 s).
// The decoder's branches are reached by short requests; a plain go test
// runs every seed and corpus entry, whatever its length.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"type":"call.hold","call_id":"x"}`))
	fuzzing := flag.Lookup("test.fuzz").Value.String() != ""
	f.Fuzz(func(t *testing.T, data []byte) {
		if fuzzing && len(data) > maxFuzzRequest {
			return
		}
		r, err := Decode(data)
		if err != nil {
			switch errcode.CodeOf(err) {
			case errcode.Malformed, errcode.MissingParameter, errcode.InvalidParams:
			default:
				t.Fatalf("Decode: code %q (%v)", errcode.CodeOf(err), err)
			}
			return
		}
		if _, ok := needs[r.Type]; !ok {
			t.Fatalf("accepted unknown type %q", r.Type)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	data := []byte(`{"type":"call.create","req_id":"c1","destination":"+14155551234","sdp":"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}
