package e2e

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// The softphone page's call statistics (call.stats, shown in a panel on the
// call's card) and recordings (recording.start/stop, the WAV fetched with
// the page's token).

// statsRow is one row of a call's stats panel, as the page shows it.
type statsRow struct {
	Side, Codec, In, Out, Dropped, Lost, Jitter string
}

type statsPanel struct {
	Hidden bool                `json:"hidden"`
	Note   string              `json:"note"`
	Rows   map[string]statsRow `json:"rows"` // by data-side: caller, callee
}

// statsPanel reads the text of the stats panel on the call's card.
func (p *person) statsPanel(callID string) (statsPanel, error) {
	js := fmt.Sprintf(`(() => {
		const panel = document.querySelector(%q);
		if (!panel) return null;
		const rows = {};
		for (const tr of panel.querySelectorAll("tbody tr")) {
			const f = (k) => (tr.querySelector('[data-f="' + k + '"]') || {}).textContent ?? "";
			rows[tr.dataset.side] = {Side: f("side"), Codec: f("codec"), In: f("in"), Out: f("out"), Dropped: f("dropped"), Lost: f("lost"), Jitter: f("jitter")};
		}
		return {hidden: panel.hidden || panel.offsetParent === null, note: panel.querySelector('[data-testid="call-stats-note"]').textContent, rows};
	})()`, btn(callID, "call-stats"))
	v, err := eval[*statsPanel](p, js)
	if err != nil {
		return statsPanel{}, err
	}
	if v == nil {
		return statsPanel{}, fmt.Errorf("no stats panel on the card of call %s", callID)
	}
	return *v, nil
}

// waitStats polls the call's stats panel until match holds.
func (p *person) waitStats(callID, what string, match func(statsPanel) bool) statsPanel {
	p.t.Helper()
	var last statsPanel
	var err error
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		last, err = p.statsPanel(callID)
		if err == nil && match(last) {
			return last
		}
	}
	p.t.Fatalf("%s: stats panel of call %s not %s within %v: %+v (err %v)", p.name, callID, what, wait, last, err)
	return statsPanel{}
}

func count(s string) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

var codecText = regexp.MustCompile(`^audio/[A-Za-z0-9.-]+/[0-9]+$`)
var jitterText = regexp.MustCompile(`^[0-9]+\.[0-9] ms$`)

// flowing: both rows of a visible panel show a codec, packets both ways,
// a loss count and a jitter in ms.
func flowing(ps statsPanel) bool {
	if ps.Hidden || len(ps.Rows) != 2 {
		return false
	}
	for _, side := range []string{"caller", "callee"} {
		r, ok := ps.Rows[side]
		if !ok || !codecText.MatchString(r.Codec) || count(r.In) <= 0 || count(r.Out) <= 0 ||
			count(r.Lost) < 0 || !jitterText.MatchString(r.Jitter) {
			return false
		}
	}
	return true
}

// sentStats counts the call.stats requests the page sent for the call.
func (p *person) sentStats(callID string) int {
	n, err := eval[int](p, fmt.Sprintf(`softphone.sent.filter(m => m.type === "call.stats" && m.call_id === %q).length`, callID))
	if err != nil {
		p.t.Fatalf("%s: read the sent messages: %v", p.name, err)
	}
	return n
}

// noMoreStats checks that the page asks for no more statistics of the call
// over 2.5 s (it asks once a second while the panel is open).
func (p *person) noMoreStats(callID, why string) {
	p.t.Helper()
	time.Sleep(300 * time.Millisecond) // a request on its way may still go out
	before := p.sentStats(callID)
	time.Sleep(2500 * time.Millisecond)
	if after := p.sentStats(callID); after != before {
		p.t.Errorf("%s: %s, the page still sent call.stats for call %s: %d, then %d 2.5 s later", p.name, why, callID, before, after)
	}
}

// 9. the stats panel: both pages of a call show the relay's figures of
// both sides (a codec, packets both ways), refreshed while open; closing
// the panel, or the call's end, stops the requests.
func TestSoftphoneCallStats(t *testing.T) {
	s := startServer(t)
	alice, bob := s.open("alice"), s.open("bob")
	id := establish(alice, bob)
	alice.audioFlows(id)
	bob.audioFlows(id)

	if ps, err := alice.statsPanel(id); err != nil || !ps.Hidden {
		t.Fatalf("alice: the stats panel before it is opened: %+v (err %v)", ps, err)
	}
	alice.click(btn(id, "stats"))
	first := alice.waitStats(id, "showing packets both ways and a codec", flowing)
	if !strings.Contains(strings.ToLower(first.Rows["caller"].Codec), "opus") {
		t.Errorf("alice: the caller's codec is %q; browsers call each other on Opus without media.prefer_g711", first.Rows["caller"].Codec)
	}
	if !strings.HasPrefix(first.Rows["caller"].Side, "me") || !strings.HasPrefix(first.Rows["callee"].Side, "other") {
		t.Errorf("alice (the caller): the rows' sides read %q and %q", first.Rows["caller"].Side, first.Rows["callee"].Side)
	}
	// Refreshed while it is open: the figures grow on both sides.
	alice.waitStats(id, "refreshed", func(ps statsPanel) bool {
		return flowing(ps) &&
			count(ps.Rows["caller"].In) > count(first.Rows["caller"].In) && count(ps.Rows["caller"].Out) > count(first.Rows["caller"].Out) &&
			count(ps.Rows["callee"].In) > count(first.Rows["callee"].In) && count(ps.Rows["callee"].Out) > count(first.Rows["callee"].Out)
	})
	t.Logf("alice's panel: %+v", first.Rows)

	bob.click(btn(id, "stats"))
	b := bob.waitStats(id, "showing packets both ways and a codec", flowing)
	if !strings.HasPrefix(b.Rows["callee"].Side, "me") {
		t.Errorf("bob (the callee): his row reads %q", b.Rows["callee"].Side)
	}

	alice.click(btn(id, "stats-close"))
	alice.waitStats(id, "hidden", func(ps statsPanel) bool { return ps.Hidden })
	alice.noMoreStats(id, "with the panel closed")

	// bob's panel is open when the call ends.
	alice.click(btn(id, "hangup"))
	bob.waitCall("ended", func(c callView) bool { return c.CallID == id && c.State == "ended" })
	if ps, err := bob.statsPanel(id); err == nil && !ps.Hidden {
		t.Errorf("bob: the stats panel still shows after the call ended: %+v", ps)
	}
	bob.noMoreStats(id, "after the call ended")
}

// recordConfig is serveConfig with alice allowed to record and browsers
// answered with G.711 (the relay records G.711 only).
const recordConfig = `log_level: debug
ring_timeout: 30s
media:
  loopback_only: true
  prefer_g711: true
clients:
  - id: alice
    name: Alice
    password: alice-pw
    extensions: ["101"]
    permissions: [record]
  - id: bob
    name: Bob
    password: bob-pw
    extensions: ["102"]
`

// text is the text of the element sel on the page ("" if there is none).
func (p *person) text(sel string) string {
	v, _ := eval[string](p, fmt.Sprintf(`(document.querySelector(%q) || {}).textContent ?? ""`, sel))
	return v
}

func (p *person) waitText(sel, what string, match func(string) bool) string {
	p.t.Helper()
	var last string
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if last = p.text(sel); match(last) {
			return last
		}
	}
	p.t.Fatalf("%s: %s not %s within %v: %q", p.name, sel, what, wait, last)
	return ""
}

// wavInfo is what the header of a PCM WAV file says.
type wavInfo struct {
	channels, rate, bits int
	data                 []byte
}

// parseWAV reads the 44-byte header the relay writes (RIFF, WAVE, a PCM fmt
// chunk, the data chunk) and checks its sizes against the file's length.
func parseWAV(b []byte) (wavInfo, error) {
	le := binary.LittleEndian
	switch {
	case len(b) < 44:
		return wavInfo{}, fmt.Errorf("%d bytes: shorter than a WAV header", len(b))
	case string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE":
		return wavInfo{}, fmt.Errorf("not RIFF/WAVE: %q", b[:12])
	case int(le.Uint32(b[4:8])) != len(b)-8:
		return wavInfo{}, fmt.Errorf("RIFF size %d, file of %d bytes", le.Uint32(b[4:8]), len(b))
	case string(b[12:16]) != "fmt " || le.Uint32(b[16:20]) != 16 || le.Uint16(b[20:22]) != 1:
		return wavInfo{}, fmt.Errorf("no PCM fmt chunk: %q size %d format %d", b[12:16], le.Uint32(b[16:20]), le.Uint16(b[20:22]))
	case string(b[36:40]) != "data" || int(le.Uint32(b[40:44])) != len(b)-44:
		return wavInfo{}, fmt.Errorf("data chunk %q of %d bytes, file of %d", b[36:40], le.Uint32(b[40:44]), len(b))
	}
	w := wavInfo{channels: int(le.Uint16(b[22:24])), rate: int(le.Uint32(b[24:28])), bits: int(le.Uint16(b[34:36])), data: b[44:]}
	if blockAlign := int(le.Uint16(b[32:34])); blockAlign != w.channels*w.bits/8 || int(le.Uint32(b[28:32])) != w.rate*blockAlign {
		return w, fmt.Errorf("inconsistent fmt chunk: %d channels, %d bits, block %d, %d bytes/s", w.channels, w.bits, blockAlign, le.Uint32(b[28:32]))
	}
	return w, nil
}

// download is the first download of a person's page: catchDownload makes
// the browser save downloads into a directory of the test, with events
// (the default browser context: every tab), back to the default when the
// test ends.
type download struct {
	p    *person
	dir  string
	done chan cdpbrowser.EventDownloadProgress
}

func (p *person) catchDownload() *download {
	t := p.t
	t.Helper()
	d := &download{p: p, dir: t.TempDir(), done: make(chan cdpbrowser.EventDownloadProgress, 1)}
	progress, stopProgress := context.WithTimeout(p.ctx, 4*wait)
	t.Cleanup(stopProgress)
	go func() {
		for ev, err := range chromedp.Events(progress, cdpbrowser.DownloadProgress) {
			if err != nil {
				return
			}
			if ev.State == cdpbrowser.DownloadProgressStateCompleted || ev.State == cdpbrowser.DownloadProgressStateCanceled {
				d.done <- ev
				return
			}
		}
	}()
	setDownloads := func(ctx context.Context, params cdpbrowser.SetDownloadBehaviorParams) error {
		return chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, params)
			return err
		}))
	}
	events := true
	ctx, cancel := context.WithTimeout(p.ctx, wait)
	err := setDownloads(ctx, cdpbrowser.SetDownloadBehaviorParams{Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: d.dir, EventsEnabled: &events})
	cancel()
	if err != nil {
		t.Fatalf("%s: set the download directory: %v", p.name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(browser, 5*time.Second)
		defer cancel()
		if err := setDownloads(ctx, cdpbrowser.SetDownloadBehaviorParams{Behavior: cdpbrowser.SetDownloadBehaviorBehaviorDefault}); err != nil {
			t.Logf("downloads back to the default: %v", err)
		}
	})
	return d
}

// file waits for the download to complete and returns the saved file.
func (d *download) file() []byte {
	t := d.p.t
	t.Helper()
	select {
	case ev := <-d.done:
		if ev.State != cdpbrowser.DownloadProgressStateCompleted {
			t.Fatalf("%s: the download ended %s", d.p.name, ev.State)
		}
		saved, err := os.ReadFile(filepath.Join(d.dir, ev.GUID))
		if err != nil {
			t.Fatalf("%s: the downloaded file: %v", d.p.name, err)
		}
		t.Logf("%s: downloaded %d bytes", d.p.name, len(saved))
		return saved
	case <-time.After(wait):
		t.Fatalf("%s: no download completed within %v", d.p.name, wait)
	}
	return nil
}

// linkBytes reads what the link sel points to (the page's blob URL of a
// fetched recording), in bytes.
func (p *person) linkBytes(sel string) []byte {
	p.t.Helper()
	b64, err := eval[string](p, fmt.Sprintf(`(async () => {
		const buf = new Uint8Array(await (await fetch(document.querySelector(%q).href)).arrayBuffer());
		let s = "";
		for (let i = 0; i < buf.length; i += 8192) s += String.fromCharCode(...buf.subarray(i, i + 8192));
		return btoa(s);
	})()`, sel))
	if err != nil {
		p.t.Fatalf("%s: read the blob of %s: %v", p.name, sel, err)
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		p.t.Fatal(err)
	}
	return b
}

// 10. recording: alice starts recording; bob's card shows that the call is
// recorded (the engine's event, not his doing); alice stops; bob's page
// downloads the WAV with his token, and it is a complete stereo G.711
// recording.
func TestSoftphoneRecording(t *testing.T) {
	s := startServerWith(t, recordConfig)
	alice, bob := s.open("alice"), s.open("bob")

	dl := bob.catchDownload()

	id := establish(alice, bob)
	alice.audioFlows(id)
	bob.audioFlows(id)

	// G.711 (media.prefer_g711): what the stats panel shows.
	alice.click(btn(id, "stats"))
	ps := alice.waitStats(id, "showing packets both ways and a codec", flowing)
	for side, r := range ps.Rows {
		if c := strings.ToUpper(r.Codec); !strings.Contains(c, "PCMU") && !strings.Contains(c, "PCMA") {
			t.Errorf("alice: the %s's codec is %q, not G.711 (media.prefer_g711 is set)", side, r.Codec)
		}
	}
	alice.click(btn(id, "stats-close"))

	if txt := bob.text(btn(id, "call-rec")); txt != "" {
		t.Fatalf("bob: the card reads %q before any recording", txt)
	}
	alice.click(btn(id, "record"))
	bob.waitText(btn(id, "call-rec"), "showing the recording alice started", func(s string) bool {
		return strings.Contains(s, "recording") && strings.Contains(s, "other party")
	})
	alice.waitText(btn(id, "call-rec"), "showing her recording", func(s string) bool {
		return strings.Contains(s, "recording") && strings.Contains(s, "me")
	})
	alice.waitJS("Record hidden, Stop recording shown", fmt.Sprintf(`document.querySelector(%q).hidden && !document.querySelector(%q).hidden`,
		btn(id, "record"), btn(id, "record-stop")))

	time.Sleep(1500 * time.Millisecond) // a second and a half of the call recorded
	alice.click(btn(id, "record-stop"))
	bob.waitText(btn(id, "call-rec"), "showing the call recorded", func(s string) bool {
		return strings.HasPrefix(s, "recorded") && strings.Contains(s, "other party")
	})
	alice.waitJS("a download on alice's card too", fmt.Sprintf(`!!document.querySelector(%q)`, btn(id, "rec-download")))

	bob.click(btn(id, "rec-download"))
	bob.waitJS("the recording fetched", fmt.Sprintf(`(document.querySelector(%q) || {}).href?.startsWith("blob:")`, btn(id, "rec-link")))
	link := bob.text(btn(id, "rec-link"))
	if !strings.HasPrefix(link, "Save recording") {
		t.Errorf("bob: the link reads %q", link)
	}

	// What the page fetched (its blob URL), in bytes.
	wav := bob.linkBytes(btn(id, "rec-link"))
	w, err := parseWAV(wav)
	if err != nil {
		t.Fatalf("the recording bob's page fetched (%d bytes): %v", len(wav), err)
	}
	t.Logf("recording: %d bytes, %d channels, %d Hz, %d bits, %.2f s", len(wav), w.channels, w.rate, w.bits,
		float64(len(w.data))/float64(w.rate*w.channels*w.bits/8))
	if len(wav) <= 44 || w.channels != 2 || w.rate != 8000 || w.bits != 16 {
		t.Errorf("the recording: %d bytes, %d channels, %d Hz, %d bits; want more than a header, stereo 8 kHz 16-bit", len(wav), w.channels, w.rate, w.bits)
	}
	var loud [2]int // samples beyond ±1000, per channel
	for i := 0; i+3 < len(w.data); i += 4 {
		for ch := range 2 {
			if v := int16(binary.LittleEndian.Uint16(w.data[i+2*ch:])); v > 1000 || v < -1000 {
				loud[ch]++
			}
		}
	}
	t.Logf("loud samples: caller %d, callee %d of %d", loud[0], loud[1], len(w.data)/4)
	if loud[0] == 0 || loud[1] == 0 { // Chromium's fake microphones beep several times a second
		t.Errorf("the recording is silent on a side: %d loud samples of the caller (left), %d of the callee (right)", loud[0], loud[1])
	}
	if secs := float64(len(w.data)) / float64(8000*2*2); secs < 0.5 || secs > 10 {
		t.Errorf("the recording holds %.2f s of audio; about 1.5 s were recorded", secs)
	}
	if size := bob.text(btn(id, "rec-link")); !strings.Contains(size, "kB") {
		t.Errorf("bob: the link shows no size: %q", size)
	}

	// The page also saved it (an <a download> of the blob): the same bytes.
	if saved := dl.file(); string(saved) != string(wav) {
		t.Errorf("bob: the downloaded file (%d bytes) is not what the page fetched (%d bytes)", len(saved), len(wav))
	}

	// The call ends: the card stays for its recording until dismissed.
	alice.click(btn(id, "hangup"))
	bob.waitCall("ended", func(c callView) bool { return c.CallID == id && c.State == "ended" })
	bob.click(btn(id, "dismiss"))
	bob.waitJS("the card dismissed", fmt.Sprintf(`!document.querySelector(%q)`, fmt.Sprintf(`li[data-call-id=%q]`, id)))
}

// recState is what the page knows of a call's recording (softphone.calls()).
type recState struct {
	Recording    bool   `json:"recording"`
	RecordedBy   string `json:"recorded_by"`
	RecordingRef string `json:"recording_ref"`
	Recordings   []struct {
		Ref   string `json:"ref"`
		State string `json:"state"`
	} `json:"recordings"`
}

func (p *person) recState(callID string) recState {
	p.t.Helper()
	v, err := eval[*recState](p, fmt.Sprintf(`softphone.calls().find((c) => c.call_id === %q) || null`, callID))
	if err != nil || v == nil {
		p.t.Fatalf("%s: no call %s on the page (err %v)", p.name, callID, err)
	}
	return *v
}

// 11. a reload mid-recording: alice records, bob reloads his page; the
// session.restored he gets says the call is recorded, under the ref of
// alice's recording.started, and his card shows it as it did before the
// reload; alice stops; bob's page offers the download and saves a complete
// WAV.
func TestSoftphoneRecordingAfterReload(t *testing.T) {
	s := startServerWith(t, recordConfig)
	alice, bob := s.open("alice"), s.open("bob")
	dl := bob.catchDownload()

	id := establish(alice, bob)
	alice.audioFlows(id)
	bob.audioFlows(id)

	alice.click(btn(id, "record"))
	alice.waitText(btn(id, "call-rec"), "showing her recording", func(s string) bool { return strings.HasPrefix(s, "● recording") })
	bob.waitText(btn(id, "call-rec"), "showing the recording alice started", func(s string) bool { return strings.HasPrefix(s, "● recording") })
	ref, err := eval[string](alice, fmt.Sprintf(`softphone.lastEvents.find((m) => m.type === "recording.started" && m.call_id === %q).ref`, id))
	if err != nil || ref == "" {
		t.Fatalf("alice: no ref in recording.started: %q (err %v)", ref, err)
	}
	if rs := bob.recState(id); !rs.Recording || rs.RecordingRef != ref {
		t.Fatalf("bob before the reload: %+v, want recording under %q", rs, ref)
	}

	bob.do("reload", chromedp.Reload())
	bob.waitJS("restored", `softphone.state().authed`)
	bob.waitCall("back after the reload", func(c callView) bool { return c.CallID == id && connected(c) })
	// What the server said.
	restored, err := eval[string](bob, fmt.Sprintf(`JSON.stringify(((softphone.lastEvents.find((m) => m.type === "session.restored") || {}).calls || []).find((c) => c.call_id === %q) || null)`, id))
	if err != nil {
		t.Fatalf("bob: read session.restored: %v", err)
	}
	if !strings.Contains(restored, `"recording":true`) || !strings.Contains(restored, fmt.Sprintf(`"recording_ref":%q`, ref)) {
		t.Fatalf("bob: session.restored lists the call as %s; want recording true under %q", restored, ref)
	}
	// What the page shows: the card as a live recording's.
	txt := bob.waitText(btn(id, "call-rec"), "showing the recording after the reload", func(s string) bool { return strings.HasPrefix(s, "● recording") })
	bob.waitJS("the recording line marked", fmt.Sprintf(`document.querySelector(%q).dataset.recording === "true" && document.querySelector(%q).offsetParent !== null`,
		btn(id, "call-rec"), btn(id, "call-rec")))
	if rs := bob.recState(id); !rs.Recording || rs.RecordingRef != ref || len(rs.Recordings) != 0 {
		t.Fatalf("bob after the reload: %+v, want recording under %q", rs, ref)
	}
	t.Logf("bob's card after the reload: %q", txt)
	bob.audioFlows(id)
	time.Sleep(time.Second) // audio recorded after the reload too

	alice.click(btn(id, "record-stop"))
	bob.waitText(btn(id, "call-rec"), "showing the call recorded", func(s string) bool {
		return strings.HasPrefix(s, "recorded") && strings.Contains(s, "other party")
	})
	if rs := bob.recState(id); rs.Recording || len(rs.Recordings) != 1 || rs.Recordings[0].Ref != ref {
		t.Fatalf("bob after the stop: %+v, want one finished recording %q", rs, ref)
	}

	bob.click(btn(id, "rec-download"))
	bob.waitJS("the recording fetched", fmt.Sprintf(`(document.querySelector(%q) || {}).href?.startsWith("blob:")`, btn(id, "rec-link")))
	wav := bob.linkBytes(btn(id, "rec-link"))
	w, err := parseWAV(wav)
	if err != nil {
		t.Fatalf("the recording bob's page fetched after the reload (%d bytes): %v", len(wav), err)
	}
	secs := float64(len(w.data)) / float64(w.rate*w.channels*w.bits/8)
	t.Logf("recording: %d bytes, %d channels, %d Hz, %d bits, %.2f s", len(wav), w.channels, w.rate, w.bits, secs)
	if len(wav) <= 44 || w.channels != 2 || w.rate != 8000 || w.bits != 16 {
		t.Errorf("the recording: %d bytes, %d channels, %d Hz, %d bits; want more than a header, stereo 8 kHz 16-bit", len(wav), w.channels, w.rate, w.bits)
	}
	if saved := dl.file(); string(saved) != string(wav) {
		t.Errorf("bob: the downloaded file (%d bytes) is not what the page fetched (%d bytes)", len(saved), len(wav))
	} else if _, err := parseWAV(saved); err != nil {
		t.Errorf("bob: the downloaded file: %v", err)
	}

	alice.click(btn(id, "hangup"))
	bob.waitCall("ended", func(c callView) bool { return c.CallID == id && c.State == "ended" })
}
