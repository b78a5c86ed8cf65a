package webhooks

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/callengine/callengine/errcode"
)

// FuzzVerify: whatever the headers and body, Verify never panics, refuses
// with code invalid_token, and accepts only a signature made with the
// secret over that timestamp and body.
func FuzzVerify(f *testing.F) {
	secret := []byte("whsec-0123456789abcdef")
	body := []byte(`{"id":"call/c1@1","kind":"call.created"}`)
	f.Add("1767603600", Sign(secret, "1767603600", body), body)
	f.Add("1767603600", "v1=00,"+Sign(secret, "1767603600", body), body)
	f.Add("1767603600", "v0=abcd", body)
	f.Add("-1", "v1=", []byte{})
	f.Add("99999999999999999999", "v1=zz", []byte("x"))
	f.Fuzz(func(t *testing.T, ts, sig string, b []byte) {
		err := Verify(secret, ts, sig, b, time.Unix(1767603600, 0), 0)
		if err != nil {
			if c := errcode.CodeOf(err); c != errcode.InvalidToken {
				t.Fatalf("Verify: error %v with code %q", err, c)
			}
			return
		}
		// Accepted: one of the comma-separated values is the signature.
		if Verify([]byte("another secret entirely"), ts, sig, b, time.Unix(1767603600, 0), 0) == nil {
			t.Fatalf("signature %q verifies under two secrets", sig)
		}
	})
}

// FuzzParseState: a damaged state file is refused with a reason, never a
// panic; one that parses writes back to a file that parses the same.
func FuzzParseState(f *testing.F) {
	f.Add([]byte(`{"version":1,"cursors":{"https://example.com/hook":42}}`))
	f.Add([]byte(`{"version":2,"cursors":{}}`))
	f.Add([]byte(`{"version":1,"cursors":{"a":-1}}`))
	f.Add([]byte(`not json`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		j, err := parseState(b)
		if err != nil {
			return
		}
		out, err := json.Marshal(j)
		if err != nil {
			t.Fatal(err)
		}
		again, err := parseState(out)
		if err != nil || len(again.Cursors) != len(j.Cursors) {
			t.Fatalf("state %s does not parse back: %v", out, err)
		}
		for k, v := range j.Cursors {
			if again.Cursors[k] != v {
				t.Fatalf("cursor %q: %d → %d", k, v, again.Cursors[k])
			}
		}
	})
}

// TestDamagedStateFile: a state file that is not one gives code malformed,
// and Start refuses it; nothing is delivered from a made-up position.
func TestDamagedStateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "webhooks.json")
	for _, b := range []string{"{", `{"version":7}`, `{"version":1,"cursors":{"a":"x"}}`} {
		if err := os.WriteFile(path, []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := loadState(path, nil)
		if c := errcode.CodeOf(err); c != errcode.Malformed {
			t.Errorf("%s: error %v, code %q", b, err, c)
		}
	}
}
