package fsm_test

import (
	"strings"
	"testing"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/fsm"
)

func TestParseDestination(t *testing.T) {
	type want struct {
		kind   fsm.DestinationKind
		number string
		host   string
		code   errcode.Code // set for an error
	}
	e164 := func(n string) want { return want{kind: fsm.DestE164, number: n} }
	ext := func(n string) want { return want{kind: fsm.DestExtension, number: n} }
	sip := func(u, h string) want { return want{kind: fsm.DestSIPURI, number: u, host: h} }
	tel := func(n string) want { return want{kind: fsm.DestTelURI, number: n} }
	bad := want{code: errcode.InvalidParams}
	missing := want{code: errcode.MissingParameter}

	tests := []struct {
		in   string
		want want
	}{
		// Empty.
		{"", missing},
		{"   ", missing},
		{"\t\n", missing},

		// E.164: + and 8 to 15 digits, the first not 0; separators removed.
		{"+14155551234", e164("+14155551234")},
		{"+1 415 555 1234", e164("+14155551234")},
		{"+1 (415) 555-1234", e164("+14155551234")},
		{"+1.415.555.1234", e164("+14155551234")},
		{"  +442071234567  ", e164("+442071234567")},
		{"+12345678", e164("+12345678")},                 // 8 digits: shortest
		{"+123456789012345", e164("+123456789012345")},   // 15 digits: longest
		{"+1234567", bad},                                // 7 digits
		{"+1234567890123456", bad},                       // 16 digits
		{"+1 2 3 4 5 6 7", bad},                          // separators do not count
		{"+04155551234", bad},                            // leading 0
		{"+(0)4155551234", bad},                          // leading 0 behind a separator
		{"+", bad},                                       // no digits
		{"+1415555123x", bad},                            // letter
		{"+1415/5551234", bad},                           // '/' is not a separator
		{"++14155551234", bad},                           // two pluses
		{"+14155551234;ext=12", e164("+14155551234")},    // parameters after ';' are dropped
		{"14155551234", bad},                             // 11 digits without +: not an extension
		{"+١٤١٥٥٥٥١٢٣٤", bad},                            // non-ASCII digits
		{"+1\u00a0415\u00a0555\u00a01234", bad},          // no-break spaces are not separators
		{"+1 415 555 1234 ", e164("+14155551234")},       // trailing space trimmed
		{"+44 (0) 20 7123 4567", e164("+4402071234567")}, // trunk 0 kept: it is a digit

		// Extensions: 2 to 6 digits.
		{"1", bad},
		{"10", ext("10")},
		{"105", ext("105")},
		{"0042", ext("0042")},
		{"123456", ext("123456")},
		{"1234567", bad},
		{" 105 ", ext("105")},
		{"10 5", bad},
		{"10-5", bad},
		{"1a", bad},

		// SIP and SIPS URIs: user@host, host lower-cased, parameters and
		// headers dropped, port allowed.
		{"sip:alice@example.com", sip("alice", "example.com")},
		{"SIP:Alice@Example.COM", sip("Alice", "example.com")},
		{"sips:bob@secure.example.com", sip("bob", "secure.example.com")},
		{"sip:alice@example.com:5060", sip("alice", "example.com:5060")},
		{"sip:alice@example.com;transport=tcp", sip("alice", "example.com")},
		{"sip:alice@example.com:5061;transport=tls;lr", sip("alice", "example.com:5061")},
		{"sip:alice@example.com?subject=hi", sip("alice", "example.com")},
		{"sip:+14155551234@gw.example.com;user=phone", sip("+14155551234", "gw.example.com")},
		{"sip:105@10.0.0.1", sip("105", "10.0.0.1")},
		{"sip:alice@[2001:db8::1]", sip("alice", "[2001:db8::1]")},
		{"sip:alice@[2001:db8::1]:5060", sip("alice", "[2001:db8::1]:5060")},
		{"sip:alice:secret@example.com", sip("alice:secret", "example.com")},
		{"sip:example.com", bad},                       // no user
		{"sip:@example.com", bad},                      // empty user
		{"sip:alice@", bad},                            // empty host
		{"sip:alice@example.com:", bad},                // empty port
		{"sip:alice@example.com:50x0", bad},            // bad port
		{"sip:alice@:5060", bad},                       // port without host
		{"sip:alice@exa_mple.com", bad},                // '_' in host
		{"sip:alice@example.com/x", bad},               // '/' in host
		{"sip:al ice@example.com", bad},                // space in user
		{"sip:al\"ice@example.com", bad},               // quote in user
		{"sip:<alice>@example.com", bad},               // angle brackets
		{"sip:alicé@example.com", bad},                 // non-ASCII user
		{"sip:alice@bob@example.com", bad},             // host holds '@'
		{"sip:;x=1@example.com", bad},                  // params start before the user
		{"sip:alice@" + strings.Repeat("a", 254), bad}, // host too long
		{"sip:alice@" + strings.Repeat("a", 253), sip("alice", strings.Repeat("a", 253))},
		{"sip:", bad},
		{"sİp:alice@example.com", bad}, // U+0130 lower-cases to 'i' but is not ASCII
		{"ſip:alice@example.com", bad}, // U+017F folds to 's'
		{"SiPs:alice@example.com", sip("alice", "example.com")},
		{"sips:", bad},

		// TEL URIs: tel: and an E.164 number.
		{"tel:+14155551234", tel("+14155551234")},
		{"TEL:+1-415-555-1234", tel("+14155551234")},
		{"tel:+1-415-555-1234;phone-context=example.com", tel("+14155551234")},
		{"tel: +14155551234", tel("+14155551234")},
		{"tel:4155551234", bad}, // local number: not E.164
		{"tel:+0123456789", bad},
		{"tel:+1234567", bad},
		{"tel:", bad},
		{"tel:105", bad},

		// Garbage.
		{"alice", bad},
		{"alice@example.com", bad},
		{"mailto:alice@example.com", bad},
		{"http://example.com", bad},
		{"sipx:alice@example.com", bad},
		{"-1", bad},
		{"ab", bad},
		{"\x00\x01", bad},
		{"☎", bad},
	}
	for _, tc := range tests {
		got, err := fsm.ParseDestination(tc.in)
		if tc.want.code != "" {
			if err == nil {
				t.Errorf("ParseDestination(%q) = %+v, want error %s", tc.in, got, tc.want.code)
				continue
			}
			if c := errcode.CodeOf(err); c != tc.want.code {
				t.Errorf("ParseDestination(%q): error %v, want code %s", tc.in, err, tc.want.code)
			}
			if got != (fsm.Destination{}) {
				t.Errorf("ParseDestination(%q): error with a non-zero result %+v", tc.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseDestination(%q): %v, want %s %q", tc.in, err, tc.want.kind, tc.want.number)
			continue
		}
		wantDest := fsm.Destination{Raw: tc.in, Kind: tc.want.kind, Number: tc.want.number, Host: tc.want.host}
		if tc.want.kind == fsm.DestSIPURI {
			wantDest.Scheme = "sip"
			if strings.HasPrefix(strings.ToLower(strings.TrimSpace(tc.in)), "sips:") {
				wantDest.Scheme = "sips"
			}
		}
		if got != wantDest {
			t.Errorf("ParseDestination(%q) = %+v, want %+v", tc.in, got, wantDest)
		}
	}
}

func TestDestinationKindString(t *testing.T) {
	for k, want := range map[fsm.DestinationKind]string{
		fsm.DestE164: "e164", fsm.DestExtension: "extension", fsm.DestSIPURI: "sip", fsm.DestTelURI: "tel",
		0: "unknown", 99: "unknown",
	} {
		if got := k.String(); got != want {
			t.Errorf("DestinationKind(%d).String() = %q, want %q", k, got, want)
		}
	}
}

func TestNormalizeNumberAndValidExtension(t *testing.T) {
	for in, want := range map[string]string{
		"+1 (415) 555-1234": "+14155551234",
		"+447700900123":     "+447700900123",
		"4155551234":        "",
		"+0":                "",
		"":                  "",
	} {
		got, ok := fsm.NormalizeNumber(in)
		if got != want || ok != (want != "") {
			t.Errorf("NormalizeNumber(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for in, want := range map[string]bool{
		"": false, "1": false, "12": true, "123456": true, "1234567": false, "12a": false, " 12": false,
	} {
		if got := fsm.ValidExtension(in); got != want {
			t.Errorf("ValidExtension(%q) = %v, want %v", in, got, want)
		}
	}
}

// FuzzParseDestination: ParseDestination never panics; an error is a typed
// missing_parameter (blank input) or invalid_params with a zero Destination;
// a success has a valid kind, keeps Raw, has the fields its kind promises,
// and parses again to the same result.
func FuzzParseDestination(f *testing.F) {
	for _, s := range []string{
		"", " ", "+14155551234", "+1 (415) 555-1234", "+12345678", "+1234567890123456", "+04155551234",
		"105", "1", "1234567", "sip:alice@example.com", "SIPS:Bob@Example.com:5061;transport=tls",
		"sip:alice@[2001:db8::1]:5060", "sip:alice@example.com:", "sip:@x", "tel:+1-415-555-1234;phone-context=x",
		"tel:4155551234", "alice", "sip:alice@ex_ample.com", "+14155551234;ext=1", "sİp:alice@example.com",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := fsm.ParseDestination(s)
		if err != nil {
			code := errcode.CodeOf(err)
			blank := strings.TrimSpace(s) == ""
			if (blank && code != errcode.MissingParameter) || (!blank && code != errcode.InvalidParams) {
				t.Fatalf("ParseDestination(%q): error %v with code %q", s, err, code)
			}
			if d != (fsm.Destination{}) {
				t.Fatalf("ParseDestination(%q): error with a non-zero result %+v", s, d)
			}
			return
		}
		if d.Raw != s {
			t.Fatalf("ParseDestination(%q): Raw = %q", s, d.Raw)
		}
		switch d.Kind {
		case fsm.DestE164, fsm.DestTelURI:
			if n, ok := fsm.NormalizeNumber(d.Number); !ok || n != d.Number || d.Host != "" {
				t.Fatalf("ParseDestination(%q) = %+v: Number is not normalized E.164", s, d)
			}
			if d.Kind == fsm.DestTelURI && !strings.HasPrefix(asciiLower(strings.TrimSpace(s)), "tel:") {
				t.Fatalf("ParseDestination(%q) = %+v: TEL URI without an ASCII tel: scheme", s, d)
			}
		case fsm.DestExtension:
			if !fsm.ValidExtension(d.Number) || d.Host != "" {
				t.Fatalf("ParseDestination(%q) = %+v: Number is not an extension", s, d)
			}
		case fsm.DestSIPURI:
			if d.Number == "" || d.Host == "" || d.Host != strings.ToLower(d.Host) {
				t.Fatalf("ParseDestination(%q) = %+v: bad SIP user or host", s, d)
			}
			if p := asciiLower(strings.TrimSpace(s)); !strings.HasPrefix(p, "sip:") && !strings.HasPrefix(p, "sips:") {
				t.Fatalf("ParseDestination(%q) = %+v: SIP URI without an ASCII sip: or sips: scheme", s, d)
			}
		default:
			t.Fatalf("ParseDestination(%q) = %+v: invalid kind %d", s, d, d.Kind)
		}
		again, err := fsm.ParseDestination(d.Raw)
		if err != nil || again != d {
			t.Fatalf("re-parsing %q: %+v, %v; first parse %+v", d.Raw, again, err, d)
		}
	})
}

// asciiLower lower-cases ASCII letters only.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func TestDestinationHostname(t *testing.T) {
	for in, want := range map[string]string{
		"sip:102@example.com:5060":   "example.com",
		"sips:bob@Example.COM":       "example.com",
		"sip:bob@[2001:db8::1]:5061": "2001:db8::1",
		"sip:bob@10.0.0.1":           "10.0.0.1",
	} {
		d, err := fsm.ParseDestination(in)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if d.Hostname() != want {
			t.Errorf("%s: hostname %q, want %q", in, d.Hostname(), want)
		}
	}
}
