package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/callengine/callengine/engine"
)

// newFlagSet is the flag set of command name. Its usage is text followed by
// every flag, listed once; it goes to stderr unless parseFlags prints it for
// -h, --help or 'callengine help NAME' (on stdout).
func newFlagSet(name, text string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { printUsage(fs, fs.Output(), text) }
	return fs
}

// printUsage writes text, then every flag of fs under "flags:".
func printUsage(fs *flag.FlagSet, w io.Writer, text string) {
	fmt.Fprint(w, text)
	if !strings.HasSuffix(text, "flags:\n") {
		fmt.Fprint(w, "\nflags:\n")
	}
	old := fs.Output()
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(old)
}

// parseFlags parses args with fs (made by newFlagSet) and returns the
// positional arguments; with interleaved, flags may also come between and
// after them. When ok is false the command is done and exits with code: 0
// after -h or --help (the usage on stdout), 2 after a bad flag (the flag
// package's message, then the usage, on stderr).
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer, interleaved bool) (pos []string, code int, ok bool) {
	usage := fs.Usage
	fs.Usage = func() {} // printed below, once, where it belongs
	defer func() { fs.Usage = usage }()
	var err error
	if interleaved {
		pos, err = parseInterleaved(fs, args)
	} else if err = fs.Parse(args); err == nil {
		pos = fs.Args()
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		old := fs.Output()
		fs.SetOutput(stdout)
		usage()
		fs.SetOutput(old)
		return nil, 0, false
	case err != nil:
		usage()
		return nil, 2, false
	}
	return pos, 0, true
}

// parseInterleaved parses flags that may come before, between or after the
// positional arguments ("replay FILE --call ID", "sim a.yaml --digest") and
// returns the positional ones. The error is the flag package's, flag.ErrHelp
// included.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// journalFlags are --data and --journal of the commands that work on a
// journal offline: the engine's data directory, or the journal file itself.
type journalFlags struct{ data, journal *string }

func addJournalFlags(fs *flag.FlagSet, dataUsage, journalUsage string) journalFlags {
	return journalFlags{data: fs.String("data", "", dataUsage), journal: fs.String("journal", "", journalUsage)}
}

// problem says what is wrong with the pair, or "".
func (f journalFlags) problem() string {
	switch {
	case *f.data == "" && *f.journal == "":
		return "which journal? give --data DIR or --journal FILE"
	case *f.data != "" && *f.journal != "":
		return "give --data or --journal, not both"
	}
	return ""
}

// config is the configuration of an engine on the flags' journal, defaults
// filled in: its JournalPath, HistoryPath and ArchiveDir are the files that
// engine uses (beside a --journal FILE: FILE-history.db, FILE-archive).
func (f journalFlags) config() engine.Config {
	return engine.Config{DataDir: *f.data, JournalPath: *f.journal}.WithDefaults()
}

// stdinFile returns path, or for "-" a temporary file holding all of stdin
// (a journal is read with random access, so it is copied out first); done
// removes it.
func stdinFile(path string) (file string, done func(), err error) {
	if path != "-" {
		return path, func() {}, nil
	}
	f, err := os.CreateTemp("", "callengine-stdin-*.db")
	if err != nil {
		return "", nil, err
	}
	done = func() { os.Remove(f.Name()) }
	if _, err := io.Copy(f, stdin); err != nil {
		f.Close()
		done()
		return "", nil, fmt.Errorf("reading stdin: %w", err)
	}
	if err := f.Close(); err != nil {
		done()
		return "", nil, err
	}
	return f.Name(), done, nil
}
