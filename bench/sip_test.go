package bench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// SIP calls from a sipp phone through a real serve child (this test
// binary, see TestMain) out on a trunk to a sipp that answers, at a low
// rate: every call completes, none fails, each is in the journal (dialed,
// its dialog recorded, ended by the hangup), and the figures are read.
// sipp must be installed (the test command installs it): without it the
// test fails.
func TestSIPCallsThroughServe(t *testing.T) {
	if _, err := exec.LookPath("sipp"); err != nil {
		t.Fatal("sipp is not installed: the test command installs it (apt-get install -y --no-install-recommends sip-tester)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir := t.TempDir()
	r, err := SIP(ctx, SIPConfig{Rate: 20, Duration: 3 * time.Second, Hold: 500 * time.Millisecond, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", r)
	if r.Calls != 60 || r.Successful != 60 || r.Failed != 0 {
		t.Fatalf("calls %d, completed %d, failed %d (%v)", r.Calls, r.Successful, r.Failed, r.Errors)
	}
	// Two dialogs recorded a call: the phone's and the trunk's.
	if r.Dialed != 60 || r.Journaled != 60 || r.LegsJournaled != 120 || r.NotJournaled() != 0 {
		t.Errorf("journal: dialed %d, ended by a hangup %d, dialogs recorded %d", r.Dialed, r.Journaled, r.LegsJournaled)
	}
	// 60 calls started over 3 s, each held 0.5 s.
	if r.CallsPerSec < 5 || r.CallsPerSec > 25 || r.Elapsed < 3*time.Second {
		t.Errorf("%v calls/s in %v", r.CallsPerSec, r.Elapsed)
	}
	if r.Setups != 60 || r.SetupP50 <= 0 || r.SetupP99 < r.SetupP50 || r.SetupMax < r.SetupP99 {
		t.Errorf("%d setups: p50 %v, p99 %v, max %v", r.Setups, r.SetupP50, r.SetupP99, r.SetupMax)
	}
	if !r.HaveCPU || r.ServerCPU <= 0 || r.UACCPU <= 0 || r.UASCPU <= 0 {
		t.Errorf("cpu %v: serve %v, uac %v, uas %v", r.HaveCPU, r.ServerCPU, r.UACCPU, r.UASCPU)
	}
	if !r.HaveHeap || r.LiveCalls <= 0 || r.HeapBefore == 0 {
		t.Errorf("heap %v: %v live calls, heap before %d", r.HaveHeap, r.LiveCalls, r.HeapBefore)
	}
	// What serve was given: the phone is challenged, the trunk is the only
	// address calls come in from.
	b, err := os.ReadFile(filepath.Join(dir, "serve.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"password: " + sipPassword, "address: 127.0.0.2:", `tcp: ""`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("serve.yaml lacks %q:\n%s", want, b)
		}
	}

	// The report and its targets: 20 calls/s is another scale than the
	// target's; the failed calls and the journal are judged at any.
	rep := &Report{}
	rep.setSIP(r)
	rep.judge()
	for fig, want := range map[string]string{
		"sip_calls_per_sec":       "n/a: at 20 SIP calls/s offered, target set at 1,000 or more",
		"sip_failed_calls":        "met",
		"sip_calls_not_journaled": "met",
	} {
		if got := rep.target(fig).Verdict(); got != want {
			t.Errorf("%s: %q, want %q", fig, got, want)
		}
	}
}

// Bad settings are refused before anything starts: a rate out of bounds,
// less than one call, a sipp that is not there (the error says which
// package brings it).
func TestSIPConfigRefusesBadRate(t *testing.T) {
	for _, rate := range []int{0, -1, maxSIPRate + 1} {
		if _, err := SIP(context.Background(), SIPConfig{Rate: rate, Dir: t.TempDir()}); err == nil {
			t.Errorf("rate %d: no error", rate)
		}
	}
	if _, err := SIP(context.Background(), SIPConfig{Rate: 1, Duration: 100 * time.Millisecond, Dir: t.TempDir()}); err == nil {
		t.Error("0.1 call: no error")
	}
	if _, err := SIP(context.Background(), SIPConfig{Rate: 10, Sipp: "no-such-sipp-program", Dir: t.TempDir()}); err == nil ||
		!strings.Contains(err.Error(), "sip-tester") {
		t.Errorf("missing sipp: %v", err)
	}
}

// The targets of the sip workload: judged at 1,000 calls/s or more for 60 s
// or more only; n/a below either.
func TestSIPTargetScale(t *testing.T) {
	for _, c := range []struct {
		rate    int64
		secs    float64
		perSec  float64
		verdict string
	}{
		{1000, 60, 1003, "met"},
		{1000, 60, 870, "MISSED"},
		{1500, 90, 1400, "met"},
		{1000, 10, 990, "n/a: at 10.0 s of SIP calls, target set at 60.0 or more"},
		{500, 60, 500, "n/a: at 500 SIP calls/s offered, target set at 1,000 or more"},
	} {
		rep := &Report{SIPRate: i64(c.rate), SIPDurationSeconds: f64(c.secs), SIPCallsPerSec: f64(c.perSec)}
		rep.judge()
		if got := rep.target("sip_calls_per_sec").Verdict(); got != c.verdict {
			t.Errorf("%d calls/s for %v s, %v measured: %q, want %q", c.rate, c.secs, c.perSec, got, c.verdict)
		}
	}
}
