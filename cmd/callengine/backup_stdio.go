package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/callengine/callengine/journal"
)

// backupTarget is where the copy is written: out itself, or for "-" a file
// in a temporary directory that cleanup removes once the copy has gone to
// stdout.
func backupTarget(out string) (path string, toStdout bool, cleanup func(), err error) {
	if out != "-" {
		return out, false, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "callengine-backup-")
	if err != nil {
		return "", false, nil, err
	}
	return filepath.Join(dir, "journal.db"), true, func() { os.RemoveAll(dir) }, nil
}

// backupToStdout writes the verified copy to stdout, and returns where the
// report goes then: stderr, since stdout carries the journal.
func backupToStdout(info *journal.CopyInfo, stdout, stderr io.Writer) (io.Writer, error) {
	f, err := os.Open(info.Path)
	if err != nil {
		return stdout, err
	}
	defer f.Close()
	if _, err := io.Copy(stdout, f); err != nil {
		return stdout, fmt.Errorf("writing the copy to stdout: %w", err)
	}
	info.Path = "-"
	return stderr, nil
}

// backupJSON prints the outcome of a backup as JSON.
func backupJSON(w, stderr io.Writer, src string, info journal.CopyInfo) int {
	doc := struct {
		Journal     string `json:"journal"`
		Copy        string `json:"copy"`
		Method      string `json:"method"`
		Attempts    int    `json:"attempts"`
		Bytes       int64  `json:"bytes"`
		Events      uint64 `json:"events"`
		LiveStreams int    `json:"live_streams"`
		TxID        uint64 `json:"bbolt_tx"`
		Checked     bool   `json:"checked"`
		WindowNS    int64  `json:"window_ns"`
		DurationNS  int64  `json:"duration_ns"`
	}{src, info.Path, string(info.Method), info.Attempts, info.Bytes, info.LastSeq, info.LiveStreams, info.TxID,
		info.Checked, int64(info.Window), int64(info.Duration)}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		fmt.Fprintln(stderr, "callengine backup:", err)
		return 1
	}
	return 0
}
