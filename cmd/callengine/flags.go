package main

import (
	"flag"

	"github.com/callengine/callengine/engine"
)

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
