package server

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// /metrics carries the SIP adapter's series: carol's phone registers
// (401, then 200: one binding), a REGISTER with a wrong password is an
// auth failure, and a burst of REGISTERs from one address is refused past
// the rate limit (503, counted).
func TestSIPMetrics(t *testing.T) {
	r, addr := startSIPEdge(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	carol := newSIPPhone(t, ctx, addr, "carol", "carol")

	// What follows is sent as it is, or with a wrong password.
	req := carol.OutOfDialog(sip.REGISTER, "carol")
	res, err := carol.Client().Do(ctx, req)
	if err != nil || res.StatusCode != 401 {
		t.Fatalf("REGISTER without credentials: %v, %v", res, err)
	}
	if res, err = carol.Client().DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: "carol", Password: "wrong"}); err != nil || res.StatusCode != 401 {
		t.Fatalf("REGISTER with a wrong password: %v, %v", res, err)
	}
	flooded := 0
	for range 60 {
		res, err := carol.Client().Do(ctx, carol.OutOfDialog(sip.REGISTER, "carol"))
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode == 503 {
			flooded++
		}
	}
	if flooded == 0 {
		t.Fatal("60 REGISTERs at once: none refused by the rate limit")
	}

	_, body := get(t, r.url+"/metrics")
	for series, want := range map[string]string{
		"callengine_sip_bindings": "1",
		"callengine_sip_dialogs":  "0",
		`callengine_sip_requests_total{class="2xx",method="REGISTER"}`: "1",
		"callengine_sip_auth_failures_total":                           "1",
		"callengine_sip_register_flood_rejected_total":                 strconv.Itoa(flooded),
		`callengine_sip_connections_rejected_total{reason="limit"}`:    "0",
		`callengine_sip_connections_rejected_total{reason="origin"}`:   "0",
	} {
		if !strings.Contains(body, "\n"+series+" "+want+"\n") {
			t.Errorf("the scrape lacks %s %s:\n%s", series, want, sipLines(body))
		}
	}
	// Every 401 and 503 is a REGISTER answered 4xx or 5xx.
	m := regexp.MustCompile(`\ncallengine_sip_requests_total\{class="4xx",method="REGISTER"\} (\d+)\n`).FindStringSubmatch(body)
	if m == nil || m[1] == "0" {
		t.Errorf("no REGISTER answered 4xx counted:\n%s", sipLines(body))
	}
	if !strings.Contains(body, "\n"+`callengine_sip_requests_total{class="5xx",method="REGISTER"} `+strconv.Itoa(flooded)+"\n") {
		t.Errorf("the 503s are not counted as REGISTER 5xx:\n%s", sipLines(body))
	}
}

func sipLines(body string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "callengine_sip_") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
