package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestOutput runs the example and compares what it prints with the output
// shown in its README.md: the story is the same on every run.
func TestOutput(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "## Output\n\n```\n")
	want, _, closed := strings.Cut(rest, "```\n")
	if !ok || !closed {
		t.Fatal("README.md has no ## Output block")
	}
	var out bytes.Buffer
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if got == want {
		return
	}
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			t.Fatalf("line %d differs from README.md:\n got: %q\nwant: %q\nwhole output:\n%s", i+1, gl, wl, got)
		}
	}
}
