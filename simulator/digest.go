package simulator

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/callengine/callengine/journal"
)

// Digest returns the sha256 of a journal's events in order — each event's
// sequence number, stream, version and encoded body — and how many there
// are. Two runs of a scenario with the same seed give the same digest.
func Digest(path string) (string, int, error) {
	j, err := journal.Open(path, journal.Options{ReadOnly: true})
	if err != nil {
		return "", 0, err
	}
	defer j.Close()
	h := sha256.New()
	n := 0
	err = j.Scan(1, func(r journal.Record) error {
		fmt.Fprintf(h, "%d %s %d %x\n", r.Seq, r.Stream, r.Version, r.Data)
		n++
		return nil
	})
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
