package engine_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/journal"
)

const crashChildEnv = "CALLENGINE_CRASH_CHILD_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		os.Exit(crashChild(dir))
	}
	os.Exit(m.Run())
}

// crashChild is the process that gets killed: it opens an engine on dir and
// drives calls from several goroutines until it dies, printing one line per
// acknowledged command:
//
//	ack <call> <version> <state> <seq of the command's last event>
func crashChild(dir string) int {
	ctx := context.Background()
	e, err := engine.Open(ctx, engine.Config{DataDir: dir, RingTimeout: time.Hour})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		return 1
	}
	const workers = 8
	for i := 0; i < workers; i++ {
		for _, side := range []string{"a", "b"} {
			id := fmt.Sprintf("%s%d", side, i)
			ext := fmt.Sprintf("%d%02d", map[string]int{"a": 1, "b": 2}[side], i)
			if _, err := e.RegisterClient(ctx, engine.ClientSpec{ID: id, Extensions: []string{ext},
				Devices: []engine.Device{{ID: id + "-phone"}}}); err != nil {
				fmt.Fprintln(os.Stderr, "child register:", err)
				return 1
			}
		}
	}
	fmt.Println("ready")
	var mu sync.Mutex
	ack := func(c engine.Call, err error) bool {
		if err != nil {
			fmt.Fprintln(os.Stderr, "child command:", err)
			return false
		}
		mu.Lock()
		fmt.Printf("ack %s %d %s\n", c.ID, c.Version, c.State)
		mu.Unlock()
		return true
	}
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			from, to, dev := fmt.Sprintf("a%d", i), fmt.Sprintf("2%02d", i), fmt.Sprintf("b%d-phone", i)
			for n := 0; ; n++ {
				c, err := e.Dial(ctx, engine.DialRequest{From: from, To: to})
				if !ack(c, err) {
					return
				}
				if n%4 == 1 {
					continue // leave it ringing
				}
				if c, err = e.Answer(ctx, c.ID, dev); !ack(c, err) {
					return
				}
				if c, err = e.Hold(ctx, c.ID, engine.Caller); !ack(c, err) {
					return
				}
				if n%4 == 2 {
					continue // leave it held
				}
				if c, err = e.Resume(ctx, c.ID, engine.Caller); !ack(c, err) {
					return
				}
				if n%4 == 3 {
					continue // leave it connected
				}
				if c, err = e.Hangup(ctx, c.ID, engine.Callee); !ack(c, err) {
					return
				}
			}
		}(i)
	}
	wg.Wait()
	return 1
}

type acked struct {
	version uint64
	state   string
}

func TestSIGKILLMidCallsLosesNothingAcknowledged(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()

	const killAfter = 5000
	calls := map[string]acked{}
	n := 0
	timeout := time.After(60 * time.Second)
	killed := false
	for line := range lines {
		if f := strings.Fields(line); len(f) == 4 && f[0] == "ack" {
			v, _ := strconv.ParseUint(f[2], 10, 64)
			if v >= calls[f[1]].version {
				calls[f[1]] = acked{version: v, state: f[3]}
			}
			n++
		}
		select {
		case <-timeout:
			cmd.Process.Kill()
			t.Fatalf("child acknowledged only %d commands in 60 s", n)
		default:
		}
		if n >= killAfter && !killed {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true // keep reading: lines already written were acknowledged
		}
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v", err)
	}
	t.Logf("child acknowledged %d commands on %d calls before SIGKILL", n, len(calls))

	// Every acknowledged event is in the journal.
	j, err := journal.Open(dir+"/journal.db", journal.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("journal after SIGKILL: %v", err)
	}
	liveStreams := 0
	if err := j.Live(func(stream string, _ uint64) error {
		if strings.HasPrefix(stream, "call/") {
			liveStreams++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for id, a := range calls {
		v, err := j.StreamVersion("call/" + id)
		if err != nil {
			t.Fatal(err)
		}
		if v < a.version {
			t.Errorf("call %s: acknowledged version %d, journal has %d", id, a.version, v)
		}
	}
	j.Close()

	// Every live call comes back, in the state it was acknowledged in (or one
	// command further: a command may be durable but not yet printed).
	e, err := engine.Open(context.Background(), engine.Config{DataDir: dir, RingTimeout: time.Hour})
	if err != nil {
		t.Fatalf("reopen after SIGKILL: %v", err)
	}
	defer e.Close()
	if got := e.LiveCalls(); got != liveStreams {
		t.Fatalf("restored %d live calls, journal has %d live call streams", got, liveStreams)
	}
	restoredLive := 0
	for id, a := range calls {
		c, err := e.Call(context.Background(), id)
		if err != nil {
			t.Fatalf("call %s: %v", id, err)
		}
		switch {
		case c.Version == a.version && string(c.State) != a.state:
			t.Errorf("call %s v%d: acknowledged %s, restored %s", id, a.version, a.state, c.State)
		case c.Version > a.version+1:
			t.Errorf("call %s: restored v%d is more than one command past acknowledged v%d", id, c.Version, a.version)
		}
		if c.State.Live() {
			restoredLive++
			// A restored call takes commands.
			if _, err := e.Hangup(context.Background(), id, engine.Caller); err != nil {
				t.Errorf("hang up restored call %s: %v", id, err)
			}
		}
		if a.state == "ended" && c.State != engine.Ended {
			t.Errorf("call %s acknowledged ended, restored %s", id, c.State)
		}
		if c.State == engine.Ended && c.Reason == events.NoReason {
			t.Errorf("call %s ended without reason", id)
		}
	}
	if restoredLive == 0 {
		t.Fatal("no live call was restored: the test proved nothing")
	}
	t.Logf("restored and hung up %d live calls", restoredLive)
}
