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
