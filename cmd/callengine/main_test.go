package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestDemoTwiceShowsTheRestore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"demo", "--data", dir}, &out, &errs); code != 0 {
		t.Fatalf("first run exit %d: %s", code, errs.String())
	}
	first := out.String()
	for _, want := range []string{
		"restored 0 clients and 0 live calls",
		"CallRinging", "devices=bob-desk,bob-web", "device=bob-web",
		"refused: invalid_state",
		"callee=+33144556677 destination=\"+33 1 44 55 66 77\" direction=outbound",
		"closing with 2 live calls",
	} {
		if !strings.Contains(first, want) {
			t.Errorf("first run lacks %q:\n%s", want, first)
		}
	}
	out.Reset()
	if code := run(context.Background(), []string{"demo", "--data", dir}, &out, &errs); code != 0 {
		t.Fatalf("second run exit %d: %s", code, errs.String())
	}
	second := out.String()
	for _, want := range []string{"restored 3 clients and 2 live calls", "connected since", "ringing since", "no live calls left"} {
		if !strings.Contains(second, want) {
			t.Errorf("second run lacks %q:\n%s", want, second)
		}
	}
	if n := strings.Count(second, "CallEnded"); n != 2 {
		t.Errorf("second run ended %d calls, want 2:\n%s", n, second)
	}
}

func TestUnknownCommand(t *testing.T) {
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"frobnicate"}, &out, &errs); code != 2 || !strings.Contains(errs.String(), "unknown command") {
		t.Fatalf("exit %d, stderr %q", code, errs.String())
	}
	if code := run(context.Background(), nil, &out, &errs); code != 2 {
		t.Fatalf("no command: exit %d", code)
	}
}
