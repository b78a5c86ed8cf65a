package engine_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/journal"
)

// callLoad registers 2×workers clients and has each worker run calls one
// after the other until ctx ends: dial, answer, hold, resume, mute, hang up,
// with some calls left ringing, held or connected. ack is called after every
// acknowledged command with the call's id and version. pace is a pause
// before each command (0: none).
func callLoad(ctx context.Context, e *engine.Engine, workers int, pace time.Duration, ack func(id string, version uint64)) error {
	for i := 0; i < workers; i++ {
		for _, side := range []string{"a", "b"} {
			id := fmt.Sprintf("%s%d", side, i)
			ext := fmt.Sprintf("%d%03d", map[string]int{"a": 1, "b": 2}[side], i)
			if _, err := e.RegisterClient(ctx, engine.ClientSpec{ID: id, Extensions: []string{ext},
				Devices: []engine.Device{{ID: id + "-phone"}}}); err != nil {
				return err
			}
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			from, to, dev := fmt.Sprintf("a%d", i), fmt.Sprintf("2%03d", i), fmt.Sprintf("b%d-phone", i)
			step := func(c engine.Call, err error) (engine.Call, bool) {
				if err != nil {
					if ctx.Err() == nil {
						errs[i] = err
					}
					return c, false
				}
				ack(c.ID, c.Version)
				if pace > 0 {
					select {
					case <-time.After(pace):
					case <-ctx.Done():
						return c, false
					}
				}
				return c, true
			}
			for n := 0; ctx.Err() == nil; n++ {
				c, ok := step(e.Dial(ctx, engine.DialRequest{From: from, To: to}))
				if !ok {
					return
				}
				if n%5 == 1 {
					continue // left ringing
				}
				id := c.ID
				for _, cmd := range []func() (engine.Call, error){
					func() (engine.Call, error) { return e.Answer(ctx, id, dev) },
					func() (engine.Call, error) { return e.Hold(ctx, id, engine.Caller) },
					func() (engine.Call, error) { return e.Resume(ctx, id, engine.Caller) },
					func() (engine.Call, error) { return e.Mute(ctx, id, engine.Callee) },
					func() (engine.Call, error) { return e.Hangup(ctx, id, engine.Callee) },
				} {
					if c, ok = step(cmd()); !ok {
						return
					}
					if (n%5 == 2 && c.State == engine.Held) || (n%5 == 3 && c.State == engine.Connected && c.MutedCallee) {
						break // left held, or connected
					}
				}
			}
		}(i)
	}
	wg.Wait()
	return errors.Join(errs...)
}

// ackLog keeps the highest acknowledged version of each call.
type ackLog struct {
	mu    sync.Mutex
	calls map[string]uint64
	n     int
}

func (a *ackLog) add(id string, v uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.calls == nil {
		a.calls = map[string]uint64{}
	}
	if v > a.calls[id] {
		a.calls[id] = v
	}
	a.n++
}

func (a *ackLog) snapshot() (map[string]uint64, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return maps.Clone(a.calls), a.n
}

// checkBackup opens a copy as a journal, checks it, and checks that every
// stream's versions are contiguous and that it holds every acknowledged
// version in acked. It returns the copy's records.
func checkBackup(t *testing.T, path string, acked map[string]uint64) []journal.Record {
	t.Helper()
	j, err := journal.Open(path, journal.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatalf("backup %s does not open: %v", path, err)
	}
	defer j.Close()
	if err := j.Check(); err != nil {
		t.Fatalf("backup %s: %v", path, err)
	}
	var recs []journal.Record
	next := map[string]uint64{}
	if err := j.Scan(1, func(r journal.Record) error {
		if r.Seq != uint64(len(recs)+1) {
			return fmt.Errorf("seq %d after %d records", r.Seq, len(recs))
		}
		if r.Version != next[r.Stream]+1 {
			return fmt.Errorf("%s: version %d after %d", r.Stream, r.Version, next[r.Stream])
		}
		next[r.Stream] = r.Version
		recs = append(recs, r)
		return nil
	}); err != nil {
		t.Fatalf("backup %s: %v", path, err)
	}
	for id, v := range acked {
		if got := next["call/"+id]; got < v {
			t.Fatalf("backup %s: call %s at version %d, version %d was acknowledged before the backup", path, id, got, v)
		}
	}
	return recs
}

func samePrefix(t *testing.T, name string, got, want []journal.Record) {
	t.Helper()
	if len(got) > len(want) {
		t.Fatalf("%s has %d records, the journal only %d", name, len(got), len(want))
	}
	for i, g := range got {
		w := want[i]
		if g.Seq != w.Seq || g.Stream != w.Stream || g.Version != w.Version || string(g.Data) != string(w.Data) {
			t.Fatalf("%s: record %d is %+v, the journal has %+v", name, i, g, w)
		}
	}
}

func TestBackupWhileCallsRun(t *testing.T) {
	dir := t.TempDir()
	e, err := engine.Open(context.Background(), engine.Config{DataDir: dir, RingTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var acks ackLog
	loadDone := make(chan error, 1)
	go func() { loadDone <- callLoad(ctx, e, 6, 0, acks.add) }()

	out := t.TempDir()
	type taken struct {
		path    string
		acked   map[string]uint64
		lastSeq uint64
		info    engine.BackupInfo
	}
	var backups []taken
	for i := 0; i < 5; i++ {
		time.Sleep(40 * time.Millisecond)
		acked, n := acks.snapshot()
		if n == 0 {
			i--
			continue
		}
		seq := e.Journal().LastSeq()
		path := filepath.Join(out, fmt.Sprintf("backup-%d.db", i))
		info, err := e.Backup(context.Background(), path)
		if err != nil {
			t.Fatalf("backup %d: %v", i, err)
		}
		if info.Path != path || info.LastSeq < seq || !info.Checked || info.Bytes == 0 {
			t.Fatalf("backup %d: %+v; the journal was at seq %d before", i, info, seq)
		}
		if st, err := os.Stat(path); err != nil || st.Size() != info.Bytes {
			t.Fatalf("backup %d: size %v, %v; info says %d", i, st, err, info.Bytes)
		}
		t.Logf("backup %d: %d acknowledged commands before it, %d bytes, seq %d, %d live streams, %v",
			i, n, info.Bytes, info.LastSeq, info.LiveStreams, info.Duration)
		backups = append(backups, taken{path, acked, seq, info})
	}
	cancel()
	if err := <-loadDone; err != nil {
		t.Fatalf("call load: %v", err)
	}
	var all []journal.Record
	if err := e.Journal().Scan(1, func(r journal.Record) error { all = append(all, r); return nil }); err != nil {
		t.Fatal(err)
	}
	var prev uint64
	for i, b := range backups {
		recs := checkBackup(t, b.path, b.acked)
		if uint64(len(recs)) != b.info.LastSeq || b.info.LastSeq < prev {
			t.Fatalf("backup %d: %d records, info says %d, previous backup %d", i, len(recs), b.info.LastSeq, prev)
		}
		prev = b.info.LastSeq
		samePrefix(t, b.path, recs, all)
	}

	// An engine opens on a backup and restores what it holds.
	last := backups[len(backups)-1]
	e2, err := engine.Open(context.Background(), engine.Config{JournalPath: last.path, RingTimeout: time.Hour})
	if err != nil {
		t.Fatalf("open an engine on the backup: %v", err)
	}
	defer e2.Close()
	if r := e2.Restored(); r.Clients != 12 || r.Clients+r.Calls != last.info.LiveStreams {
		t.Fatalf("restored %+v from a backup with %d live streams", r, last.info.LiveStreams)
	}
}

func TestBackupErrors(t *testing.T) {
	dir := t.TempDir()
	e, err := engine.Open(context.Background(), engine.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := e.RegisterClient(ctx, engine.ClientSpec{ID: "alice", Extensions: []string{"101"}, Devices: []engine.Device{{ID: "d"}}}); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	file := filepath.Join(out, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		code errcode.Code
	}{
		{filepath.Join(out, "missing-dir", "b.db"), errcode.Unavailable},
		{filepath.Join(file, "b.db"), errcode.Unavailable}, // parent is a file
		{filepath.Join(dir, "journal.db"), errcode.InvalidParams},
		{out, errcode.InvalidParams},
		{"", errcode.MissingParameter},
	} {
		if _, err := e.Backup(ctx, c.path); errcode.CodeOf(err) != c.code {
			t.Errorf("Backup(%q): %v, want code %s", c.path, err, c.code)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := e.Backup(cctx, filepath.Join(out, "b.db")); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "b.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed backup left a file: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Backup(ctx, filepath.Join(out, "b.db")); !errors.Is(err, errcode.ErrClosed) {
		t.Errorf("closed engine: %v", err)
	}
	ents, _ := os.ReadDir(out)
	if len(ents) != 1 {
		t.Errorf("files left in the backup dir: %v", ents)
	}
}

// The hard case: a journal held by an engine in another process, copied
// with journal.CopyFile while that engine takes calls.

const backupChildEnv = "CALLENGINE_BACKUP_CHILD_DIR"

// TestBackupChildEngine is not a test: it is the child process of
// TestCopyFileFromAnotherProcess (run with backupChildEnv set). Without the
// variable it returns at once.
func TestBackupChildEngine(t *testing.T) {
	dir := os.Getenv(backupChildEnv)
	if dir == "" {
		return
	}
	pace, _ := time.ParseDuration(os.Getenv("CALLENGINE_BACKUP_CHILD_PACE"))
	ctx := context.Background()
	e, err := engine.Open(ctx, engine.Config{DataDir: dir, RingTimeout: time.Hour})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(1)
	}
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(w, "ready")
	w.Flush()
	err = callLoad(ctx, e, 8, pace, func(id string, v uint64) {
		mu.Lock()
		fmt.Fprintf(w, "ack %s %d\n", id, v)
		w.Flush()
		mu.Unlock()
	})
	fmt.Fprintln(os.Stderr, "child load:", err)
	os.Exit(1)
}

func TestCopyFileFromAnotherProcess(t *testing.T) {
	for _, load := range []struct {
		name string
		pace time.Duration
	}{
		{"paced", 2 * time.Millisecond}, // 8 callers, a command every 2 ms each
		{"flat-out", 0},                 // 8 callers, no pause
	} {
		t.Run(load.name, func(t *testing.T) { copyFromChild(t, load.pace) })
	}
}

func copyFromChild(t *testing.T, pace time.Duration) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBackupChildEngine$", "-test.count=1")
	cmd.Env = append(os.Environ(), backupChildEnv+"="+dir, "CALLENGINE_BACKUP_CHILD_PACE="+pace.String())
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	var acks ackLog
	ready := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) == 1 && f[0] == "ready":
				close(ready)
			case len(f) == 3 && f[0] == "ack":
				v, _ := strconv.ParseUint(f[2], 10, 64)
				acks.add(f[1], v)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("child not ready in 30 s")
	}
	src := filepath.Join(dir, "journal.db")
	out := t.TempDir()
	type taken struct {
		path  string
		acked map[string]uint64
		info  journal.CopyInfo
	}
	var copies []taken
	attempts := 0
	deadline := time.Now().Add(20 * time.Second)
	for len(copies) < 10 && time.Now().Before(deadline) {
		time.Sleep(60 * time.Millisecond)
		acked, n := acks.snapshot()
		if n == 0 {
			continue
		}
		path := filepath.Join(out, fmt.Sprintf("copy-%d.db", len(copies)))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		info, err := journal.CopyFile(ctx, src, path, journal.CopyOptions{MaxAttempts: 1000})
		cancel()
		if errors.Is(err, journal.ErrBusy) {
			t.Logf("copy %d: %v", len(copies), err)
			attempts += 1000
			continue
		}
		if err != nil {
			t.Fatalf("copy %d: %v", len(copies), err)
		}
		if info.Method != journal.CopyStableMeta {
			t.Fatalf("copy %d by %s: the child did not hold the journal", len(copies), info.Method)
		}
		attempts += info.Attempts
		t.Logf("copy %d: %d commands acknowledged before it; %d bytes, seq %d, tx %d, %d attempt(s), window %v, %v",
			len(copies), n, info.Bytes, info.LastSeq, info.TxID, info.Attempts, info.Window, info.Duration)
		copies = append(copies, taken{path, acked, info})
	}
	if len(copies) < 5 {
		t.Fatalf("only %d copies succeeded in 20 s (%d attempts)", len(copies), attempts)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	killed = true
	<-readerDone
	_, total := acks.snapshot()

	// Each copy: opens, checks, contiguous versions, everything acknowledged
	// before it, and a prefix of the next copy and of the final journal.
	j, err := journal.Open(src, journal.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("journal after SIGKILL: %v", err)
	}
	var final []journal.Record
	if err := j.Scan(1, func(r journal.Record) error { final = append(final, r); return nil }); err != nil {
		t.Fatal(err)
	}
	j.Close()
	var prev []journal.Record
	for i, c := range copies {
		recs := checkBackup(t, c.path, c.acked)
		if uint64(len(recs)) != c.info.LastSeq || len(recs) < len(prev) {
			t.Fatalf("copy %d: %d records, info says %d, the previous copy had %d", i, len(recs), c.info.LastSeq, len(prev))
		}
		samePrefix(t, fmt.Sprintf("copy %d", i-1), prev, recs)
		samePrefix(t, fmt.Sprintf("copy %d", i), recs, final)
		prev = recs
	}
	t.Logf("%d copies in %d attempts; child acknowledged %d commands, final journal %d events", len(copies), attempts, total, len(final))
}
