package main

import "flag"

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
