package sip

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
)

// The recording feature code (Settings.RecordCode "*1"), keyed by alice's
// phone in a relayed call with bob's: as INFO, "*" then "1" start the
// recording (by the caller's side; alice holds the record permission);
// "5" goes to bob as ever; "*1" again, as RFC 4733 events in her RTP this
// time, stops it; a lone "*" is held back, then passed on once the wait is
// over. Bob's phone hears "5*" and nothing of the codes, and the journal
// has the digits "5" and "*" only.
func TestFeatureCodeRecording(t *testing.T) {
	was := featureDigitWait
	featureDigitWait = 400 * time.Millisecond
	t.Cleanup(func() { featureDigitWait = was })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h := newRelayHarnessWith(t, t.TempDir(), "", nil, func(s *Settings) { s.RecordCode = "*1" })
	sub, err := h.eng.Subscribe(ctx, engine.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	ps := relayPhones(t, ctx, h, "alice", "bob")
	alice, bob := ps[0], ps[1]
	da, _, _ := relayedCall(t, ctx, alice, bob)
	info := func(digit string) {
		req := alice.inDialog(da, sip.INFO)
		req.AppendHeader(sip.NewHeader("Content-Type", "application/dtmf-relay"))
		req.SetBody([]byte("Signal=" + digit + "\r\nDuration=100\r\n"))
		if res := alice.send(ctx, req); res.StatusCode != 200 {
			t.Fatalf("INFO %s: %d", digit, res.StatusCode)
		}
	}
	var digits []string
	next := func(what string, types ...events.Type) events.Type {
		t.Helper()
		for {
			select {
			case ev := <-sub.Events():
				if d, ok := ev.Event.(events.CallDigits); ok {
					digits = append(digits, d.Digits)
				}
				for _, ty := range types {
					if ev.Type == ty {
						return ty
					}
				}
			case <-ctx.Done():
				t.Fatalf("no %s", what)
			}
		}
	}
	info("*")
	info("1")
	next("recording started", events.TypeCallRecordingStarted)
	info("5")
	next("the digit 5", events.TypeCallDigits)
	if err := alice.rtp.SendDTMF(ctx, "*1", 60*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	next("recording stopped", events.TypeCallRecordingStopped)
	info("*")
	next("the lone * passed on", events.TypeCallDigits)
	if strings.Join(digits, "") != "5*" {
		t.Errorf("digits journaled: %q, want 5 and *", digits)
	}
	eventuallyTrue(t, "bob's phone hears 5 and *", func() bool { return bob.rtp.Received().DTMF == "5*" })
	time.Sleep(300 * time.Millisecond)
	if got := bob.rtp.Received().DTMF; got != "5*" {
		t.Errorf("bob's phone heard %q, want 5*", got)
	}
}

// The transfer feature code (Settings.TransferCode "##"): bob's phone, the
// callee, keys "##", then 1003 and '#', as INFO: alice is transferred to
// carol (the engine's blind transfer by bob's side, as his REFER would),
// carol's phone rings and answers, alice and carol hear each other through
// the relay, and bob's phone gets its BYE. None of those digits reaches
// alice's phone or the journal as digits.
func TestFeatureCodeTransfer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h := newRelayHarnessWith(t, t.TempDir(), "", nil, func(s *Settings) { s.TransferCode = "##" })
	sub, err := h.eng.Subscribe(ctx, engine.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	ps := relayPhones(t, ctx, h, "alice", "bob", "carol")
	alice, bob, carol := ps[0], ps[1], ps[2]
	_, db, _ := relayedCall(t, ctx, alice, bob)
	for _, d := range "##1003#" {
		req := bob.inDialog(db, sip.INFO)
		req.AppendHeader(sip.NewHeader("Content-Type", "application/dtmf-relay"))
		req.SetBody([]byte("Signal=" + string(d) + "\r\nDuration=100\r\n"))
		if res := bob.send(ctx, req); res.StatusCode != 200 {
			t.Fatalf("INFO %c: %d", d, res.StatusCode)
		}
	}
	carol.waitInvite(ctx)
	carol.rtp.Start()
	eventuallyTrue(t, "carol hears alice", func() bool { return carol.rtp.ReceivedFrom("ALICE") > 10 })
	eventuallyTrue(t, "alice hears carol", func() bool { return alice.rtp.ReceivedFrom("CAROL") > 10 })
	bob.waitBye(ctx)
	for {
		select {
		case ev := <-sub.Events():
			if ev.Type == events.TypeCallDigits {
				t.Fatalf("digits journaled: %+v", ev.Event)
			}
			continue
		default:
		}
		break
	}
	if got := alice.rtp.Received().DTMF; got != "" {
		t.Errorf("alice's phone heard %q", got)
	}
}

// Feature codes that can be told apart are accepted; one that begins the
// other, or digits that are not DTMF, are refused (New refuses them too).
func TestCheckFeatureCodes(t *testing.T) {
	for _, tc := range []struct {
		record, transfer string
		ok               bool
	}{
		{"", "", true}, {"*1", "##", true}, {"*1", "", true}, {"", "#1", true}, {"A#", "D0", true},
		{"*1", "*1", false}, {"*1", "*12", false}, {"#", "##", false}, {"*x", "", false}, {"", "123456789", false},
	} {
		if err := CheckFeatureCodes(tc.record, tc.transfer); (err == nil) != tc.ok {
			t.Errorf("record %q, transfer %q: %v", tc.record, tc.transfer, err)
		}
	}
}
