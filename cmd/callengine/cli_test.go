package main

import (
	"bytes"
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errs bytes.Buffer
	code = run(context.Background(), args, &out, &errs)
	return code, out.String(), errs.String()
}

// flagLine is a flag as flag.PrintDefaults lists it.
var flagLine = regexp.MustCompile(`(?m)^  -([a-z][a-z0-9-]*)`)

// Every command has one help path: CMD -h, CMD --help and help CMD print the
// same usage on stdout, with every flag listed once, and exit 0. (demo -h
// used to exit 2, sim -h listed no flags, replay -h printed its usage twice,
// help demo printed the top-level usage.)
func TestEveryCommandHasOneHelpPath(t *testing.T) {
	wantFlags := map[string][]string{
		"serve":   {"config", "data", "http", "log-level", "drain-timeout", "pprof", "print-config", "json"},
		"demo":    {"data", "log-level", "log-json", "action-log", "json"},
		"bench":   {"workload", "calls", "json", "compare", "threshold", "quick"},
		"sim":     {"seed", "digest", "journal", "quiet", "random", "out", "json"},
		"replay":  {"call", "html", "at", "verify", "transfers", "json", "since", "until", "client", "number", "reason"},
		"backup":  {"data", "journal", "out", "attempts", "timeout", "no-check", "json"},
		"repair":  {"data", "journal", "timeout", "json"},
		"archive": {"data", "journal", "archive-dir", "older-than", "now", "compact", "json", "timeout"},
		"history": {"data", "journal", "client", "voicemail", "json", "limit", "before"},
		"version": {"json"},
	}
	if len(wantFlags) != len(commands) {
		t.Fatalf("the test knows %d commands, callengine has %d", len(wantFlags), len(commands))
	}
	for name, want := range wantFlags {
		var first string
		for i, args := range [][]string{{name, "-h"}, {name, "--help"}, {"help", name}, {name, "-help"}} {
			code, out, errs := runCLI(args...)
			if code != 0 || errs != "" {
				t.Errorf("%v: exit %d, stderr %q; want 0 and nothing on stderr", args, code, errs)
			}
			if n := strings.Count(out, "usage: callengine "+name); n != 1 {
				t.Errorf("%v: the usage is printed %d times on stdout:\n%s", args, n, out)
			}
			var listed []string
			for _, m := range flagLine.FindAllStringSubmatch(out, -1) {
				listed = append(listed, m[1])
			}
			for _, f := range want {
				if n := strings.Count(" "+strings.Join(listed, " ")+" ", " "+f+" "); n != 1 {
					t.Errorf("%v: flag -%s listed %d times; flags listed: %v", args, f, n, listed)
				}
			}
			if len(listed) == 0 || len(slices.Compact(slices.Sorted(slices.Values(listed)))) != len(listed) {
				t.Errorf("%v: flags listed %v (none, or some twice)", args, listed)
			}
			if !strings.Contains(out, "Exit status") {
				t.Errorf("%v: the usage does not give the exit status", args)
			}
			if i == 0 {
				first = out
			} else if out != first {
				t.Errorf("%v prints another usage than %s -h", args, name)
			}
		}
	}
	// help's own help is the top-level usage
	for _, args := range [][]string{{"help"}, {"help", "-h"}, {"help", "--help"}, {"help", "help"}, {"--help"}, {"-h"}} {
		if code, out, errs := runCLI(args...); code != 0 || errs != "" || strings.Count(out, "usage: callengine <command>") != 1 {
			t.Errorf("%v: exit %d, stderr %q\n%s", args, code, errs, out)
		}
	}
	if code, _, errs := runCLI("help", "frobnicate"); code != 2 || !strings.Contains(errs, `unknown command "frobnicate"`) {
		t.Errorf("help frobnicate: exit %d, %q", code, errs)
	}
}

// The top-level usage documents the exit status.
func TestUsageDocumentsExitStatus(t *testing.T) {
	_, out, _ := runCLI("--help")
	for _, want := range []string{"Exit status", "0  done", "1  a finding", "2  bad usage", "help CMD", "--version", "--json", `"-"`} {
		if !strings.Contains(out, want) {
			t.Errorf("usage lacks %q:\n%s", want, out)
		}
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}, {"-version"}} {
		code, out, errs := runCLI(args...)
		if code != 0 || !strings.HasPrefix(out, "callengine ") || strings.Count(out, "\n") != 1 || errs != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
	if code, out, _ := runCLI("version", "--json"); code != 0 || !strings.Contains(out, `"version":`) {
		t.Errorf("version --json: exit %d, %q", code, out)
	}
}

// A bad flag is exit 2 with the message and the usage on stderr, nothing on
// stdout.
func TestBadFlagIsExitTwo(t *testing.T) {
	for name := range commands {
		code, out, errs := runCLI(name, "--frobnicate")
		if code != 2 || out != "" || !strings.Contains(errs, "flag provided but not defined: -frobnicate") ||
			strings.Count(errs, "usage: callengine "+name) != 1 {
			t.Errorf("%s --frobnicate: exit %d, stdout %q, stderr %q", name, code, out, errs)
		}
	}
}
