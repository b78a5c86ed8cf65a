package webhooks

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/errcode"
)

// stateVersion is the format of the state file.
const stateVersion = 1

// stateJSON is the state file: for each endpoint (by ID, else URL) the last
// journal sequence number it is done with — delivered, dead, or of a kind it
// does not take.
type stateJSON struct {
	Version int               `json:"version"`
	Cursors map[string]uint64 `json:"cursors"`
}

// state keeps the endpoints' cursors and writes them to the state file in
// the background. A cursor is written only after the events up to it are
// done, and a write replaces the whole file atomically (temporary file,
// fsync, rename): after a crash the file holds older cursors at worst, and
// their events are delivered again — never skipped.
type state struct {
	path string
	log  *slog.Logger

	mu      sync.Mutex
	cursors map[string]uint64
	dirty   bool

	kick chan struct{} // a write is wanted
	stop chan struct{}
	done chan struct{}
	err  error // of the last write, for Close
}

// loadState reads path. A missing file (or an empty path) is an empty state.
func loadState(path string, log *slog.Logger) (*state, error) {
	s := &state{path: path, log: log, cursors: map[string]uint64{}}
	if path == "" {
		return s, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, errcode.Wrap(errcode.Unavailable, err, "webhook state file "+path)
	}
	j, err := parseState(b)
	if err != nil {
		return nil, errcode.Wrap(errcode.Malformed, err, "webhook state file "+path)
	}
	for k, v := range j.Cursors {
		s.cursors[k] = v
	}
	return s, nil
}

// parseState decodes a state file's bytes.
func parseState(b []byte) (stateJSON, error) {
	var j stateJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return stateJSON{}, fmt.Errorf("not a webhook state file: %w", err)
	}
	if j.Version != stateVersion {
		return stateJSON{}, fmt.Errorf("state file version %d, this code reads %d", j.Version, stateVersion)
	}
	return j, nil
}

// cursor returns the saved cursor of an endpoint.
func (s *state) cursor(key string) (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cursors[key]
	return c, ok
}

// reset replaces every cursor (endpoints no longer configured are dropped)
// and reports whether anything changed.
func (s *state) reset(cursors map[string]uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := len(cursors) != len(s.cursors)
	for k, v := range cursors {
		if old, ok := s.cursors[k]; !ok || old != v {
			changed = true
		}
	}
	s.cursors = cursors
	s.dirty = s.dirty || changed
	return changed
}

// set records an endpoint's cursor in memory; kick has it written.
func (s *state) set(key string, cursor uint64) {
	s.mu.Lock()
	if s.cursors[key] != cursor {
		s.cursors[key] = cursor
		s.dirty = true
	}
	s.mu.Unlock()
}

// start runs the background writer: it writes when asked, at most once
// per interval on clk, and a last time when stopped.
func (s *state) start(clk clock.Clock, interval time.Duration) {
	if s.path == "" {
		return // nothing to write: no writer, no timers
	}
	s.kick = make(chan struct{}, 1)
	s.stop = make(chan struct{})
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		for {
			select {
			case <-s.kick:
				s.flush()
			case <-s.stop:
				s.flush()
				return
			}
			// Requests made meanwhile wait in kick.
			wait := make(chan struct{})
			t := clk.AfterFunc(interval, func() { close(wait) })
			select {
			case <-wait:
			case <-s.stop:
				t.Stop()
				s.flush()
				return
			}
		}
	}()
}

// requestWrite asks the writer to write the cursors soon. Requests made
// while it writes coalesce into one more write.
func (s *state) requestWrite() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// close writes the cursors a last time and stops the writer.
func (s *state) close() error {
	if s.stop == nil {
		return nil
	}
	close(s.stop)
	<-s.done
	return s.err
}

// flush writes the cursors if they changed. A failed write is logged and
// tried again at the next request.
func (s *state) flush() {
	s.mu.Lock()
	if !s.dirty {
		s.mu.Unlock()
		return
	}
	b, err := json.MarshalIndent(stateJSON{Version: stateVersion, Cursors: s.cursors}, "", "  ")
	s.dirty = false
	s.mu.Unlock()
	if err == nil {
		err = writeAtomic(s.path, append(b, '\n'))
	}
	s.err = err
	if err != nil {
		s.log.Error("webhook state file not written", slog.String("path", s.path), slog.String("error", err.Error()))
		s.mu.Lock()
		s.dirty = true
		s.mu.Unlock()
	}
}

// writeAtomic replaces path with data: a temporary file in the same
// directory, synced, renamed over path, then the directory synced. Path is
// the old file or the new one, never a mix. An empty path writes nothing.
func writeAtomic(path string, data []byte) (err error) {
	if path == "" {
		return nil
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+strings.TrimPrefix(base, ".")+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
