package sipsyntax

import (
	"errors"
	"slices"
	"testing"
)

func TestOptionTags(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want []string
		err  error
	}{
		{[]string{"100rel"}, []string{"100rel"}, nil},
		{[]string{"Replaces, timer", "100REL"}, []string{"replaces", "timer", "100rel"}, nil},
		{[]string{" replaces ,, replaces", "REPLACES"}, []string{"replaces"}, nil},
		{[]string{""}, nil, nil},
		{nil, nil, nil},
		{[]string{"timer; refresher=uac"}, nil, ErrOptionTag},
		{[]string{"a b"}, nil, ErrOptionTag},
		{[]string{`"quoted"`}, nil, ErrOptionTag},
	} {
		got, err := OptionTags(c.in)
		if !errors.Is(err, c.err) || !slices.Equal(got, c.want) {
			t.Errorf("OptionTags(%q) = %q, %v; want %q, %v", c.in, got, err, c.want, c.err)
		}
	}
	many := ""
	for i := range maxOptionTags + 1 {
		many += "t" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ","
	}
	if _, err := OptionTags([]string{many}); !errors.Is(err, ErrOptionTag) {
		t.Errorf("%d tags: %v, want ErrOptionTag", maxOptionTags+1, err)
	}
}

func TestUnsupported(t *testing.T) {
	got := Unsupported([]string{"100rel", "replaces", "timer"}, []string{"replaces"})
	if want := []string{"100rel", "timer"}; !slices.Equal(got, want) {
		t.Fatalf("Unsupported = %q, want %q", got, want)
	}
	if got := Unsupported([]string{"replaces"}, []string{"replaces"}); got != nil {
		t.Fatalf("Unsupported of what is supported = %q", got)
	}
}

func TestParseRAck(t *testing.T) {
	r, err := ParseRAck("776656 1 invite")
	if err != nil || r != (RAck{RSeq: 776656, CSeq: 1, Method: "INVITE"}) || r.String() != "776656 1 INVITE" {
		t.Fatalf("%+v %v", r, err)
	}
	for _, bad := range []string{"", "1 2", "0 1 INVITE", "1 0 INVITE", "x 1 INVITE", "1 1 INV:ITE", "4294967296 1 INVITE", "1 2 INVITE extra"} {
		if _, err := ParseRAck(bad); !errors.Is(err, ErrRAck) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestParseSessionExpires(t *testing.T) {
	se, err := ParseSessionExpires(" 1800 ; Refresher=UAC;x")
	if err != nil || se != (SessionExpires{Seconds: 1800, Refresher: "uac"}) || se.String() != "1800;refresher=uac" {
		t.Fatalf("%+v %v", se, err)
	}
	if se, err := ParseSessionExpires("90"); err != nil || se != (SessionExpires{Seconds: 90}) {
		t.Fatalf("%+v %v", se, err)
	}
	for _, bad := range []string{"", "0", "-5", "86401", "1e3", "90;refresher=proxy", "x;refresher=uac"} {
		if _, err := ParseSessionExpires(bad); !errors.Is(err, ErrSessionExpires) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
