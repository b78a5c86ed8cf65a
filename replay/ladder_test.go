package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/callengine/callengine/internal/browsertest"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
)

// ladderFixture is a call's envelopes and the lanes and arrows its page must
// draw.
type ladderFixture struct {
	name   string
	envs   []events.Envelope
	lanes  []string // lane roles and the start of their labels, "role:label"
	arrows []string // "Type from→to", lanes by index
	state  string   // the final state in the header
}

var ladderT0 = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

func ladderEnvs(stream string, evs ...any) []events.Envelope {
	var out []events.Envelope
	for i := 0; i < len(evs); i += 2 {
		at, ev := evs[i].(time.Duration), evs[i+1].(events.Event)
		v := uint64(len(out) + 1)
		out = append(out, events.Envelope{Seq: 100 + 3*v, Stream: stream, Version: v, Type: ev.Type(),
			Time: ladderT0.Add(at).UnixNano(), Schema: events.SchemaVersion, Event: ev})
	}
	return out
}

var (
	ladderAlice = events.Party{Client: "alice", Number: "101", Name: "Alice"}
	ladderBob   = events.Party{Client: "bob", Number: "102", Name: "Bob"}
)

// An internal call: rings two devices, answered on one, held, resumed,
// muted, unmuted, hung up by the callee.
func ladderInternalCall() ladderFixture {
	ring := ladderT0.Add(60 * time.Second).UnixNano()
	return ladderFixture{
		name: "internal",
		envs: ladderEnvs("call/01KE4Z7X3M0000000000000001",
			0*time.Millisecond, events.CallDialed{Caller: ladderAlice, Callee: ladderBob, CallerDevice: "alice-desk", CallerID: "101", Destination: "102", Direction: events.Internal},
			0*time.Millisecond, events.CallRinging{Devices: []string{"bob-desk", "bob-web"}, Deadline: ring},
			4200*time.Millisecond, events.CallAnswered{Device: "bob-web"},
			31500*time.Millisecond, events.CallHeld{By: events.Caller},
			47*time.Second, events.CallResumed{By: events.Caller},
			52*time.Second, events.CallMuted{Side: events.Callee},
			58*time.Second, events.CallUnmuted{Side: events.Callee},
			130400*time.Millisecond, events.CallEnded{Reason: events.Hangup, By: events.Callee},
		),
		lanes: []string{"caller:caller · Alice", "engine:callengine", "callee:callee · Bob", "callee:callee · Bob"},
		arrows: []string{
			"CallDialed 0→1",
			"CallRinging 1→2", "CallRinging 1→3",
			"CallAnswered 3→1", "CallAnswered 1→0",
			"CallHeld 0→1", "CallHeld 1→3",
			"CallResumed 0→1", "CallResumed 1→3",
			"CallMuted 3→1",
			"CallUnmuted 3→1",
			"CallEnded 3→1", "CallEnded 1→0",
		},
		state: "ended · hangup by callee",
	}
}

// An inbound call from an external number that rings two devices, is
// ignored, and times out.
func ladderMissedCall() ladderFixture {
	carol := events.Party{Client: "carol", Number: "+14155550103", Name: "Carol"}
	ext := events.Party{Number: "+14155550199", Name: "Dana Shipping"}
	return ladderFixture{
		name: "missed",
		envs: ladderEnvs("call/01KE4Z7X3M0000000000000002",
			0*time.Millisecond, events.CallDialed{Caller: ext, Callee: carol, CallerID: "+14155550199", Destination: "+14155550103", Direction: events.Inbound},
			0*time.Millisecond, events.CallRinging{Devices: []string{"carol-desk", "carol-mobile"}, Deadline: ladderT0.Add(30 * time.Second).UnixNano()},
			8*time.Second, events.CallIgnored{},
			30*time.Second, events.CallEnded{Reason: events.NoAnswer, Missed: true},
		),
		lanes:  []string{"caller:caller · Dana Shipping", "engine:callengine", "callee:callee · Carol", "callee:callee · Carol"},
		arrows: []string{"CallDialed 0→1", "CallRinging 1→2", "CallRinging 1→3", "CallIgnored 2→1", "CallEnded 1→0", "CallEnded 1→2"},
		state:  "ended · no-answer · missed",
	}
}

// An outbound call to an external number, answered, hung up by the far end.
func ladderOutboundCall() ladderFixture {
	ext := events.Party{Number: "+33144556677"}
	return ladderFixture{
		name: "outbound",
		envs: ladderEnvs("call/01KE4Z7X3M0000000000000003",
			0*time.Millisecond, events.CallDialed{Caller: ladderAlice, Callee: ext, CallerDevice: "alice-desk", CallerID: "+14155550100", Destination: "+33144556677", Direction: events.Outbound},
			1200*time.Millisecond, events.CallRinging{},
			6*time.Second, events.CallAnswered{},
			45*time.Second, events.CallEnded{Reason: events.Hangup, By: events.Callee},
		),
		lanes:  []string{"caller:caller · Alice", "engine:callengine", "callee:callee · +33144556677"},
		arrows: []string{"CallDialed 0→1", "CallRinging 1→2", "CallAnswered 2→1", "CallAnswered 1→0", "CallEnded 2→1", "CallEnded 1→0"},
		state:  "ended · hangup by callee",
	}
}

// A call to a client with no device: it fails in the same append.
func ladderFailedCall() ladderFixture {
	return ladderFixture{
		name: "failed",
		envs: ladderEnvs("call/01KE4Z7X3M0000000000000004",
			0*time.Millisecond, events.CallDialed{Caller: ladderAlice, Callee: ladderBob, CallerDevice: "alice-desk", Destination: "102"},
			0*time.Millisecond, events.CallEnded{Reason: events.Failed},
		),
		lanes:  []string{"caller:caller · Alice", "engine:callengine", "callee:callee · Bob"},
		arrows: []string{"CallDialed 0→1", "CallEnded 1→0", "CallEnded 1→2"},
		state:  "ended · failed",
	}
}

// A call still ringing (no end): the header says so.
func ladderLiveCall() ladderFixture {
	return ladderFixture{
		name: "live",
		envs: ladderEnvs("call/01KE4Z7X3M0000000000000005",
			0*time.Millisecond, events.CallDialed{Caller: ladderAlice, Callee: ladderBob, CallerDevice: "alice-desk", Destination: "102"},
			0*time.Millisecond, events.CallRinging{Devices: []string{"bob-desk"}},
		),
		lanes:  []string{"caller:caller · Alice", "engine:callengine", "callee:callee · Bob"},
		arrows: []string{"CallDialed 0→1", "CallRinging 1→2"},
		state:  "ringing",
	}
}

// ladderMix builds envelopes of several streams: stream, offset, event,
// repeated; each stream's versions count from 1, seqs follow each other.
func ladderMix(items ...any) []events.Envelope {
	var out []events.Envelope
	versions := map[string]uint64{}
	for i := 0; i < len(items); i += 3 {
		stream, at, ev := items[i].(string), items[i+1].(time.Duration), items[i+2].(events.Event)
		versions[stream]++
		out = append(out, events.Envelope{Seq: 200 + uint64(len(out)), Stream: stream, Version: versions[stream], Type: ev.Type(),
			Time: ladderT0.Add(at).UnixNano(), Schema: events.SchemaVersion, Event: ev})
	}
	return out
}

// A call bob sends on, blind: alice goes to carol in a new call. The
// transfer's events are notes across the ladder.
func ladderTransferredCall() ladderFixture {
	const call, tr = "call/01KE4Z7X3M0000000000000006", "transfer/01KE4Z7X3M00000000000000T1"
	return ladderFixture{
		name: "transferred",
		envs: ladderMix(
			call, 0*time.Second, events.CallDialed{Caller: ladderAlice, Callee: ladderBob, CallerDevice: "alice-desk", Destination: "102"},
			call, 0*time.Second, events.CallRinging{Devices: []string{"bob-desk"}},
			call, 2*time.Second, events.CallAnswered{Device: "bob-desk"},
			tr, 30*time.Second, events.TransferInitiated{Kind: events.Blind, Call: "01KE4Z7X3M0000000000000006", Kept: events.Caller,
				Target: events.Party{Client: "carol", Number: "103"}, Destination: "103", NewCall: "01KE4Z7X3M0000000000000007"},
			call, 30*time.Second, events.CallEnded{Reason: events.Transferred, By: events.Callee},
			tr, 30*time.Second, events.TransferCompleted{},
		),
		lanes: []string{"caller:caller · Alice", "engine:callengine", "callee:callee · Bob"},
		arrows: []string{"CallDialed 0→1", "CallRinging 1→2", "CallAnswered 2→1", "CallAnswered 1→0",
			"TransferInitiated 0→2", "CallEnded 2→1", "CallEnded 1→0", "TransferCompleted 0→2"},
		state: "ended · transferred by callee",
	}
}

// A call with the call control of schema 2: DTMF, a recording, parked by
// bob and unparked by carol (a lane of her own from then on), merged into
// a conference.
func ladderParkedCall() ladderFixture {
	carol := events.Party{Client: "carol", Number: "103", Name: "Carol"}
	return ladderFixture{
		name: "parked",
		envs: ladderEnvs("call/01KE4Z7X3M0000000000000008",
			0*time.Second, events.CallDialed{Caller: ladderAlice, Callee: ladderBob, CallerDevice: "alice-desk", Destination: "102"},
			0*time.Second, events.CallRinging{Devices: []string{"bob-desk"}},
			time.Second, events.CallAnswered{Device: "bob-desk"},
			2*time.Second, events.CallDigits{Side: events.Caller, Digits: "12#", Duration: 1e8, Gap: 7e7},
			3*time.Second, events.CallRecordingStarted{By: events.Caller, Ref: "rec/8"},
			4*time.Second, events.CallParked{Side: events.Caller, By: events.Callee, Slot: "3"},
			9*time.Second, events.CallUnparked{Party: carol, Device: "carol-desk"},
			10*time.Second, events.CallHeld{By: events.Callee},
			11*time.Second, events.CallJoined{Conference: "conf-1", Peer: "01KE4Z7X3M0000000000000009"},
			12*time.Second, events.CallRecordingStopped{By: events.Caller},
			20*time.Second, events.CallEnded{Reason: events.Hangup, By: events.Callee},
		),
		lanes: []string{"caller:caller · Alice", "engine:callengine", "callee:callee · Bob", "callee:callee · Carol (unparked)"},
		arrows: []string{"CallDialed 0→1", "CallRinging 1→2", "CallAnswered 2→1", "CallAnswered 1→0",
			"CallDigits 0→1", "CallDigits 1→2", "CallRecordingStarted 0→1", "CallParked 2→1", "CallParked 1→0",
			"CallUnparked 3→1", "CallUnparked 1→0", "CallHeld 3→1", "CallHeld 1→0", "CallJoined 1→0", "CallJoined 1→3",
			"CallRecordingStopped 0→1", "CallEnded 3→1", "CallEnded 1→0"},
		state: "ended · hangup by callee",
	}
}

// A ring-all group call: the members' devices ring as "member/device".
func ladderGroupCall() ladderFixture {
	acme := events.Party{Number: "+442071234567", Name: "Acme"}
	return ladderFixture{
		name: "group",
		envs: ladderEnvs("call/01KE4Z7X3M0000000000000010",
			0*time.Second, events.CallDialed{Caller: acme, Callee: events.Party{Number: "200", Name: "Sales"}, Destination: "200", Direction: events.Inbound, Group: "sales"},
			0*time.Second, events.CallRinging{Devices: []string{"alice/alice-desk", "bob/bob-desk"}},
			3*time.Second, events.CallAnswered{Device: "bob/bob-desk"},
			9*time.Second, events.CallEnded{Reason: events.Hangup, By: events.Callee},
		),
		lanes:  []string{"caller:caller · Acme", "engine:callengine", "callee:callee · alice", "callee:callee · bob"},
		arrows: []string{"CallDialed 0→1", "CallRinging 1→2", "CallRinging 1→3", "CallAnswered 3→1", "CallAnswered 1→0", "CallEnded 3→1", "CallEnded 1→0"},
		state:  "ended · hangup by callee",
	}
}

func ladderFixtures() []ladderFixture {
	return []ladderFixture{ladderInternalCall(), ladderMissedCall(), ladderOutboundCall(), ladderFailedCall(), ladderLiveCall(),
		ladderTransferredCall(), ladderParkedCall(), ladderGroupCall()}
}

// The new call of a transfer: the transfer's events come before the call's
// first; they are notes, with the transfer described in the header.
func TestLadderTransferNotes(t *testing.T) {
	const call, tr = "call/NEW", "transfer/T2"
	envs := ladderMix(
		tr, 0*time.Second, events.TransferInitiated{Kind: events.Attended, Call: "OLD", Kept: events.Caller,
			Target: events.Party{Client: "dave", Number: "104"}, Destination: "104", Consult: "CONSULT", NewCall: "NEW"},
		tr, 5*time.Second, events.TransferAnswered{},
		call, 20*time.Second, events.CallDialed{Caller: ladderAlice, Callee: events.Party{Client: "dave", Number: "104"}, Destination: "104", Transfer: "T2"},
		call, 20*time.Second, events.CallAnswered{Device: "dave-desk"},
		tr, 20*time.Second, events.TransferCompleted{},
		"group/sales", 21*time.Second, events.GroupMemberPicked{Member: "dave", Call: "OTHER"},
		call, 80*time.Second, events.CallEnded{Reason: events.Hangup, By: events.Caller},
	)
	d := ladderParse(t, ladderWrite(t, "", envs))
	if d.data.Call.ID != "NEW" || d.title != "Call NEW" || d.data.Call.Setup != "2026-01-05T09:00:20Z" || d.data.Call.Duration != "1m00.000s" {
		t.Errorf("header %+v, title %q", d.data.Call, d.title)
	}
	var got []string
	for _, a := range d.data.Arrows {
		got = append(got, fmt.Sprintf("%s %d→%d %v %s | %s | %s", a.Type, a.From, a.To, a.Note, a.Offset, a.Label, a.Detail))
	}
	want := []string{
		"TransferInitiated 0→2 true -20.000s | TransferInitiated · attended transfer T2 | the caller of call OLD goes to dave after a consultation (call CONSULT) in this call",
		"TransferAnswered 0→2 true -15.000s | TransferAnswered · attended transfer T2 | call CONSULT answered",
		"CallDialed 0→1 false +0.000s | CallDialed 104 (transfer T2) | ",
		"CallAnswered 2→1 false +0.000s | CallAnswered on dave-desk | ",
		"CallAnswered 1→0 false +0.000s | CallAnswered | ",
		"TransferCompleted 0→2 true +0.000s | TransferCompleted · attended transfer T2 | joined in this call",
		"GroupMemberPicked 0→2 true +1.000s | GroupMemberPicked · group sales | dave's turn (round-robin)",
		"CallEnded 0→1 false +1m00.000s | CallEnded hangup by caller | ",
		"CallEnded 1→2 false +1m00.000s | CallEnded | ",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("arrows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if want := "transfer T2 (attended, completed): call OLD → new call NEW (this call), after consultation CONSULT; its caller goes to dave"; d.byID["summary"] == "" ||
		!strings.Contains(d.byID["summary"], want) {
		t.Errorf("the header lacks %q: %q", want, d.byID["summary"])
	}
	if d.rows != len(envs) || !strings.Contains(d.cells[0], "note: the caller of call OLD goes to dave") {
		t.Errorf("%d rows, first %q", d.rows, d.cells[0])
	}
	if !reflect.DeepEqual(d.data.Events, envs) {
		t.Errorf("the embedded events do not decode to the input")
	}
}

// ladderJSON is the JSON contract between the page and its script.
type ladderJSON struct {
	Title string `json:"title"`
	Call  struct {
		ID, Caller, Callee, Direction, State, Reason, Setup, Duration string
		EndedBy                                                       string `json:"ended_by"`
	} `json:"call"`
	Lanes []struct {
		Role, Label, Sub string
	} `json:"lanes"`
	Arrows []struct {
		Event    int
		Type     string
		From, To int
		Label    string
		Offset   string
		Note     bool
		Detail   string
	} `json:"arrows"`
	Events []events.Envelope `json:"events"`
}

var ladderScriptRE = regexp.MustCompile(`(?s)(<script[^>]*>)(.*?)(</script>)`)

// ladderParse reads a page: the JSON data, and the document (scripts
// emptied) as elements by id, the table rows and every tag.
type ladderDoc struct {
	data  ladderJSON
	title string
	byID  map[string]string
	rows  int
	cells []string // the text of each table row
	tags  map[string]int
	attrs []xml.Attr
}

func ladderParse(t *testing.T, page string) ladderDoc {
	t.Helper()
	var d ladderDoc
	scripts := ladderScriptRE.FindAllStringSubmatch(page, -1)
	if len(scripts) != 2 || !strings.Contains(scripts[0][1], `id="ladder-data"`) || !strings.Contains(scripts[0][1], `type="application/json"`) {
		t.Fatalf("want the JSON data script then the drawing script, found %d scripts", len(scripts))
	}
	if err := json.Unmarshal([]byte(scripts[0][2]), &d.data); err != nil {
		t.Fatalf("the page's JSON data does not decode: %v", err)
	}
	body := ladderScriptRE.ReplaceAllString(page, "$1$3")
	dec := xml.NewDecoder(strings.NewReader(body))
	dec.Strict = false
	dec.AutoClose = xml.HTMLAutoClose
	dec.Entity = xml.HTMLEntity
	d.byID, d.tags = map[string]string{}, map[string]int{}
	var stack []string // ids of the open elements (or "")
	var inBody, inTitle bool
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the page does not parse: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			d.tags[tok.Name.Local]++
			d.attrs = append(d.attrs, tok.Attr...)
			id := ""
			for _, a := range tok.Attr {
				if a.Name.Local == "id" {
					id = a.Value
				}
			}
			stack = append(stack, id)
			switch tok.Name.Local {
			case "tbody":
				inBody = true
			case "tr":
				if inBody {
					d.rows++
					d.cells = append(d.cells, "")
				}
			case "br":
				if inBody && len(d.cells) > 0 {
					d.cells[len(d.cells)-1] += "\n"
				}
			case "title":
				inTitle = true
			}
		case xml.EndElement:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			switch tok.Name.Local {
			case "tbody":
				inBody = false
			case "title":
				inTitle = false
			}
		case xml.CharData:
			if inBody && len(d.cells) > 0 {
				d.cells[len(d.cells)-1] += string(tok) + " "
			}
			if inTitle {
				d.title += string(tok)
			}
			for _, id := range stack {
				if id != "" {
					d.byID[id] += string(tok)
				}
			}
		}
	}
	return d
}

func ladderWrite(t *testing.T, title string, envs []events.Envelope) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteLadder(&b, title, envs); err != nil {
		t.Fatalf("WriteLadder: %v", err)
	}
	return b.String()
}

func TestLadderPage(t *testing.T) {
	for _, fx := range ladderFixtures() {
		t.Run(fx.name, func(t *testing.T) {
			page := ladderWrite(t, "", fx.envs)
			d := ladderParse(t, page)
			id := strings.TrimPrefix(fx.envs[0].Stream, "call/")

			// The data the script draws from.
			var lanes []string
			for _, l := range d.data.Lanes {
				lanes = append(lanes, l.Role+":"+l.Label)
			}
			if !reflect.DeepEqual(lanes, fx.lanes) {
				t.Errorf("lanes %q\nwant  %q", lanes, fx.lanes)
			}
			var arrows []string
			prev := -1
			for _, a := range d.data.Arrows {
				arrows = append(arrows, fmt.Sprintf("%s %d→%d", a.Type, a.From, a.To))
				if a.Event < prev || a.Event >= len(fx.envs) || fx.envs[a.Event].Type.String() != a.Type {
					t.Errorf("arrow %+v out of order or of the wrong event", a)
				}
				prev = a.Event
				if !strings.HasPrefix(a.Label, a.Type) || !strings.HasPrefix(a.Offset, "+") {
					t.Errorf("arrow label %q offset %q", a.Label, a.Offset)
				}
			}
			if !reflect.DeepEqual(arrows, fx.arrows) {
				t.Errorf("arrows %q\nwant   %q", arrows, fx.arrows)
			}
			if !reflect.DeepEqual(d.data.Events, fx.envs) {
				t.Errorf("the embedded events do not decode to the input:\n%v\n%v", d.data.Events, fx.envs)
			}
			if d.data.Call.ID != id || d.data.Title != "Call "+id {
				t.Errorf("call %+v title %q", d.data.Call, d.data.Title)
			}

			// The document.
			if d.title != "Call "+id || d.byID["call-id"] != id {
				t.Errorf("title %q, call id %q", d.title, d.byID["call-id"])
			}
			if got := strings.Join(strings.Fields(d.byID["call-state"]), " "); got != fx.state {
				t.Errorf("final state %q, want %q", got, fx.state)
			}
			if d.rows != len(fx.envs) {
				t.Errorf("the table has %d rows for %d events", d.rows, len(fx.envs))
			}
			for i, row := range d.cells {
				if i < len(fx.envs) && !strings.Contains(row, " "+fx.envs[i].Type.String()+" ") {
					t.Errorf("table row %d %q lacks %s", i, row, fx.envs[i].Type)
				}
			}
			if d.tags["noscript"] != 1 || d.tags["figure"] != 1 || d.tags["style"] != 1 {
				t.Errorf("tags %v", d.tags)
			}
			// Self-contained: nothing to fetch.
			for _, tag := range []string{"link", "img", "iframe", "object", "embed", "base"} {
				if d.tags[tag] > 0 {
					t.Errorf("the page has a <%s>", tag)
				}
			}
			for _, a := range d.attrs {
				if a.Name.Local == "src" || a.Name.Local == "href" {
					t.Errorf("the page has %s=%q", a.Name.Local, a.Value)
				}
			}
			if n := strings.Count(page, "http"); n != strings.Count(page, `"http://www.w3.org/2000/svg"`) {
				t.Errorf("the page names a URL other than the SVG namespace")
			}
			if strings.Contains(page, "@import") || regexp.MustCompile(`url\((?:[^#]|#[^h])`).MatchString(page) {
				t.Errorf("the CSS loads something")
			}
		})
	}
}

func TestLadderHeader(t *testing.T) {
	fx := ladderInternalCall()
	d := ladderParse(t, ladderWrite(t, "Incident 4711: <Alice> & Bob", fx.envs))
	if d.title != "Incident 4711: <Alice> & Bob" || d.data.Title != d.title {
		t.Fatalf("title %q / %q", d.title, d.data.Title)
	}
	c := d.data.Call
	for _, want := range []string{"client alice", "Alice", "101", "device alice-desk"} {
		if !strings.Contains(c.Caller, want) || !strings.Contains(d.byID["call-caller"], want) {
			t.Errorf("caller %q lacks %q", c.Caller, want)
		}
	}
	if !strings.Contains(c.Callee, "device bob-web") || c.Direction != "internal" || c.State != "ended" || c.Reason != "hangup" || c.EndedBy != "callee" {
		t.Errorf("header %+v", c)
	}
	if c.Setup != "2026-01-05T09:00:00Z" || c.Duration != "2m10.400s" {
		t.Errorf("setup %q duration %q", c.Setup, c.Duration)
	}
	if got := d.byID["call-duration"]; got != "2m10.400s (rang 4.200s, talked 2m06.200s)" {
		t.Errorf("duration cell %q", got)
	}
	offsets := map[string]bool{}
	for _, a := range d.data.Arrows {
		offsets[a.Offset] = true
	}
	for _, want := range []string{"+0.000s", "+4.200s", "+31.500s", "+2m10.400s"} {
		if !offsets[want] {
			t.Errorf("no arrow at %s: %v", want, offsets)
		}
	}
	if a := d.data.Arrows[1]; a.Label != "CallRinging bob-desk (timeout 1m00.000s)" {
		t.Errorf("ringing label %q", a.Label)
	}
}

func TestLadderOffsets(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "+0.000s", 1250 * time.Millisecond: "+1.250s", 245 * time.Second: "+4m05.000s",
		time.Hour + 4*time.Minute + 5250*time.Millisecond: "+1h04m05.250s", -time.Second: "-1.000s",
	} {
		if got := ladderOffset(d); got != want {
			t.Errorf("ladderOffset(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestLadderTable(t *testing.T) {
	d := ladderParse(t, ladderWrite(t, "", ladderMissedCall().envs))
	want := [][]string{
		{"103 1 +0.000s 09:00:00.000 CallDialed", "Dana Shipping → engine", `"direction":"inbound"`},
		{"CallRinging", "engine → Carol (carol-desk)", "engine → Carol (carol-mobile)", `"deadline":1767603630000000000`},
		{"+8.000s", "CallIgnored", "Carol (carol-desk) → engine"},
		{"CallEnded", "engine → Dana Shipping", "engine → Carol (carol-desk)", `"reason":"no-answer"`, `"missed":true`},
	}
	if len(d.cells) != len(want) {
		t.Fatalf("%d rows: %q", len(d.cells), d.cells)
	}
	for i, row := range d.cells {
		row = strings.Join(strings.Fields(row), " ")
		for _, w := range want[i] {
			if !strings.Contains(row, w) {
				t.Errorf("row %d %q lacks %q", i, row, w)
			}
		}
	}
}

type ladderFailWriter struct{}

func (ladderFailWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestLadderBadInput(t *testing.T) {
	good := ladderInternalCall().envs
	other := ladderMissedCall().envs
	client := events.Envelope{Stream: good[0].Stream, Version: 9, Seq: 999, Time: good[7].Time + 1, Type: events.TypeClientUpdated, Event: events.ClientUpdated{Name: "x"}}
	swapped := append([]events.Envelope(nil), good...)
	swapped[3], swapped[4] = swapped[4], swapped[3]
	noFold := append(append([]events.Envelope(nil), good[:2]...), good[3]) // held while ringing
	nilEvent := append([]events.Envelope(nil), good[:2]...)
	nilEvent[1].Event = nil
	wrongType := append([]events.Envelope(nil), good[:2]...)
	wrongType[1].Type = events.TypeCallAnswered
	for name, envs := range map[string][]events.Envelope{
		"no events":          nil,
		"several streams":    append(append([]events.Envelope(nil), good[:3]...), other[2]),
		"first not dialed":   good[1:],
		"a client event":     append(append([]events.Envelope(nil), good...), client),
		"out of order":       swapped,
		"does not fold":      noFold,
		"no payload":         nilEvent,
		"type and payload":   wrongType,
		"ends then goes on":  append(append([]events.Envelope(nil), ladderFailedCall().envs...), events.Envelope{Stream: ladderFailedCall().envs[0].Stream, Time: ladderT0.Add(time.Second).UnixNano(), Event: events.CallAnswered{Device: "bob-desk"}}),
		"first event is nil": {{Stream: "call/x"}},
		"only a transfer":    ladderMix("transfer/t", time.Duration(0), events.TransferCanceled{}),
		"a message":          append(append([]events.Envelope(nil), good...), events.Envelope{Stream: "message/m", Seq: 999, Time: good[7].Time, Event: events.MessageDelivered{}}),
		"a call event in a transfer stream": append(append([]events.Envelope(nil), good...),
			events.Envelope{Stream: "transfer/t", Seq: 999, Time: good[7].Time, Event: events.CallIgnored{}}),
		"a transfer that does not fold": append(append([]events.Envelope(nil), good...),
			events.Envelope{Stream: "transfer/t", Seq: 998, Version: 1, Time: good[7].Time, Event: events.TransferInitiated{Kind: events.Blind}},
			events.Envelope{Stream: "transfer/t", Seq: 999, Version: 2, Time: good[7].Time, Event: events.TransferAnswered{}}),
	} {
		var b bytes.Buffer
		err := WriteLadder(&b, "t", envs)
		if errcode.CodeOf(err) != errcode.InvalidParams {
			t.Errorf("%s: %v, want invalid_params", name, err)
		}
		if b.Len() != 0 {
			t.Errorf("%s: %d bytes written", name, b.Len())
		}
	}
	if err := WriteLadder(ladderFailWriter{}, "", good); errcode.CodeOf(err) != errcode.Unavailable {
		t.Errorf("failing writer: %v", err)
	}
}

// The page in a real browser: headless Chromium runs the script; the test
// reads the geometry of what it drew.
func TestLadderInChromium(t *testing.T) {
	const chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("%s is missing (%v): run ./test.sh (it installs it) or apt-get install -y chromium", chromium, err)
	}
	fx := ladderInternalCall()
	dir := t.TempDir()
	pagePath := filepath.Join(dir, "ladder.html")
	var b bytes.Buffer
	if err := WriteLadder(&b, "", fx.envs); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pagePath, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var browserOut bytes.Buffer
	actx, acancel := chromedp.NewExecAllocator(ctx, browsertest.Options(chromium,
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.WindowSize(1400, 1000),
		chromedp.CombinedOutput(&browserOut),
	)...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()

	var mu sync.Mutex
	var problems, requests []string
	if err := chromedp.Listen(bctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			msg := ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
			problems = append(problems, "exception: "+msg)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == "error" || ev.Type == "assert" || ev.Type == "warning" {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				problems = append(problems, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
			}
		case *log.EventEntryAdded:
			if ev.Entry.Level == "error" {
				problems = append(problems, "browser log: "+ev.Entry.Text+" "+ev.Entry.URL)
			}
		case *network.EventRequestWillBeSent:
			requests = append(requests, ev.Request.URL)
		}
	}); err != nil {
		t.Fatalf("start chromium: %v\n%s", err, browserOut.String())
	}
	url := "file://" + pagePath
	if err := chromedp.Do(bctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("#ladder svg g.arrow"))); err != nil {
		t.Fatalf("load %s: %v\n%s", url, err, browserOut.String())
	}

	type rect struct{ Left, Right, Top, Bottom, Width, Height float64 }
	type geometry struct {
		SVG   rect
		Drawn string
		Rows  int
		Title string
		Lanes []struct {
			X, Top, Bottom float64
			Label, Sub     string
			Role           string
		}
		Arrows []struct {
			Event, From, To int
			Type            string
			Line, Text      rect
			Label, Offset   string
		}
	}
	geo, err := chromedp.Run(bctx, chromedp.Evaluate[geometry](`(() => {
		const box = (e) => { const r = e.getBoundingClientRect(); return {Left: r.left, Right: r.right, Top: r.top, Bottom: r.bottom, Width: r.width, Height: r.height}; };
		const svg = document.querySelector("#ladder svg");
		return {
			SVG: box(svg),
			Drawn: document.getElementById("ladder").dataset.drawn,
			Rows: document.querySelectorAll("#events tbody tr").length,
			Title: document.title,
			Lanes: [...svg.querySelectorAll("g.lane")].map((g) => {
				const l = box(g.querySelector("line.lifeline"));
				const t = g.querySelectorAll("text");
				return {X: (l.Left + l.Right) / 2, Top: l.Top, Bottom: l.Bottom, Label: t[0].textContent, Sub: t[1].textContent,
					Role: g.getAttribute("class").replace("lane ", "")};
			}),
			Arrows: [...svg.querySelectorAll("g.arrow")].map((g) => ({
				Event: +g.dataset.event, From: +g.dataset.from, To: +g.dataset.to, Type: g.dataset.type,
				Line: box(g.querySelector("line")), Text: box(g.querySelector("text.label")),
				Label: g.querySelector("text.label").textContent, Offset: g.querySelector("text.offset").textContent,
			})),
		};
	})()`))
	if err != nil {
		t.Fatalf("read the drawing: %v", err)
	}
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	shotPath := filepath.Join(dir, "ladder.png")
	if err := os.WriteFile(shotPath, shot, 0o600); err != nil {
		t.Fatal(err)
	}

	take := func() (p, r []string) {
		mu.Lock()
		defer mu.Unlock()
		p, r, problems, requests = problems, requests, nil, nil
		return p, r
	}
	seen, reqs := take()
	for _, p := range seen {
		t.Errorf("in the browser: %s", p)
	}
	for _, r := range reqs {
		if r != url {
			t.Errorf("the page requested %s", r)
		}
	}

	// Lifelines: one per lane the events imply, left to right, full height.
	if len(geo.Lanes) != len(fx.lanes) {
		t.Fatalf("%d lifelines, want %d", len(geo.Lanes), len(fx.lanes))
	}
	for i, l := range geo.Lanes {
		if got := l.Role + ":" + l.Label; got != fx.lanes[i] {
			t.Errorf("lifeline %d is %q, want %q", i, got, fx.lanes[i])
		}
		if i > 0 && l.X <= geo.Lanes[i-1].X {
			t.Errorf("lifeline %d at x=%v, left of lifeline %d at %v", i, l.X, i-1, geo.Lanes[i-1].X)
		}
		if l.X < geo.SVG.Left || l.X > geo.SVG.Right || l.Top < geo.SVG.Top || l.Bottom > geo.SVG.Bottom+0.5 {
			t.Errorf("lifeline %d outside the SVG: %+v in %+v", i, l, geo.SVG)
		}
	}
	if geo.Lanes[2].Sub != "bob-desk · 102" || geo.Lanes[3].Sub != "bob-web · 102" {
		t.Errorf("device lanes: %q, %q", geo.Lanes[2].Sub, geo.Lanes[3].Sub)
	}

	// Arrows: one per message the events imply, between the right
	// lifelines, inside the SVG, top to bottom in event order.
	if len(geo.Arrows) != len(fx.arrows) || geo.Drawn != fmt.Sprint(len(fx.arrows)) {
		t.Fatalf("%d arrows drawn (data-drawn %q), want %d", len(geo.Arrows), geo.Drawn, len(fx.arrows))
	}
	const eps = 1.0
	for i, a := range geo.Arrows {
		if got := fmt.Sprintf("%s %d→%d", a.Type, a.From, a.To); got != fx.arrows[i] {
			t.Errorf("arrow %d is %q, want %q", i, got, fx.arrows[i])
		}
		wantL, wantR := min(geo.Lanes[a.From].X, geo.Lanes[a.To].X), max(geo.Lanes[a.From].X, geo.Lanes[a.To].X)
		if ladderAbs(a.Line.Left-wantL) > eps || ladderAbs(a.Line.Right-wantR) > eps {
			t.Errorf("arrow %d spans x %v…%v, lifelines at %v…%v", i, a.Line.Left, a.Line.Right, wantL, wantR)
		}
		for name, r := range map[string]rect{"line": a.Line, "label": a.Text} {
			if r.Left < geo.SVG.Left-eps || r.Right > geo.SVG.Right+eps || r.Top < geo.SVG.Top-eps || r.Bottom > geo.SVG.Bottom+eps {
				t.Errorf("arrow %d %s %+v lies outside the SVG %+v", i, name, r, geo.SVG)
			}
		}
		if i > 0 {
			p := geo.Arrows[i-1]
			if a.Line.Top <= p.Line.Top || a.Event < p.Event {
				t.Errorf("arrow %d (event %d, y %v) is not below arrow %d (event %d, y %v)", i, a.Event, a.Line.Top, i-1, p.Event, p.Line.Top)
			}
			if a.Text.Top < p.Line.Bottom-eps {
				t.Errorf("arrow %d's label overlaps arrow %d", i, i-1)
			}
		}
		if a.Line.Top < geo.Lanes[0].Top {
			t.Errorf("arrow %d above the lifelines", i)
		}
		if a.Text.Width == 0 || !strings.HasPrefix(a.Label, a.Type) || !strings.HasPrefix(a.Offset, "+") {
			t.Errorf("arrow %d label %q (width %v), offset %q", i, a.Label, a.Text.Width, a.Offset)
		}
	}
	for _, want := range []string{"CallDialed 102", "CallRinging bob-web (timeout 1m00.000s)", "CallAnswered on bob-web",
		"CallHeld by caller", "CallMuted callee", "CallEnded hangup by callee"} {
		found := false
		for _, a := range geo.Arrows {
			found = found || a.Label == want
		}
		if !found {
			t.Errorf("no arrow labelled %q", want)
		}
	}
	if geo.Rows != len(fx.envs) || !strings.HasPrefix(geo.Title, "Call ") {
		t.Errorf("table rows %d, title %q", geo.Rows, geo.Title)
	}

	// The screenshot is a PNG with a drawing in it.
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	colors := ladderColors(img)
	if img.Bounds().Dx() < int(geo.SVG.Width) || colors < 16 {
		t.Errorf("screenshot %v with %d colours", img.Bounds(), colors)
	}
	t.Logf("%d lifelines, %d arrows, SVG %.0f×%.0f px; screenshot %s (%v, %d colours)",
		len(geo.Lanes), len(geo.Arrows), geo.SVG.Width, geo.SVG.Height, shotPath, img.Bounds().Size(), colors)

	// A transferred call: the transfer's events are notes across every
	// lane, between the arrows, their text inside the drawing.
	tfx := ladderTransferredCall()
	b.Reset()
	if err := WriteLadder(&b, "", tfx.envs); err != nil {
		t.Fatal(err)
	}
	notesPath := filepath.Join(dir, "transferred.html")
	if err := os.WriteFile(notesPath, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx, chromedp.Navigate("file://"+notesPath), chromedp.WaitVisible(chromedp.CSS("#ladder svg g.note"))); err != nil {
		t.Fatalf("load the transferred call: %v", err)
	}
	type noteGeo struct {
		SVG, Box   rect
		Texts      []rect
		Label      string
		Detail     string
		LaneL      float64
		LaneR      float64
		Prev, Next float64 // the arrows around it, y
	}
	notes, err := chromedp.Run(bctx, chromedp.Evaluate[[]noteGeo](`(() => {
		const box = (e) => { const r = e.getBoundingClientRect(); return {Left: r.left, Right: r.right, Top: r.top, Bottom: r.bottom, Width: r.width, Height: r.height}; };
		const svg = document.querySelector("#ladder svg");
		const lanes = [...svg.querySelectorAll("g.lane line.lifeline")].map((l) => box(l).Left);
		const items = [...svg.querySelectorAll("g.arrow, g.note")];
		return [...svg.querySelectorAll("g.note")].map((g) => {
			const i = items.indexOf(g);
			const y = (e) => e ? box(e.querySelector("line, rect")).Top : 0;
			return {SVG: box(svg), Box: box(g.querySelector("rect")), Texts: [...g.querySelectorAll("text.label, text.detail")].map(box),
				Label: g.querySelector("text.label").textContent, Detail: (g.querySelector("text.detail") || {}).textContent || "",
				LaneL: lanes[0], LaneR: lanes[lanes.length - 1], Prev: y(items[i - 1]), Next: y(items[i + 1])};
		});
	})()`))
	if err != nil {
		t.Fatalf("read the notes: %v", err)
	}
	if len(notes) != 2 || notes[0].Label != "TransferInitiated · blind transfer 01KE4Z7X3M00000000000000T1" || notes[1].Detail != "joined in call 01KE4Z7X3M0000000000000007" {
		t.Fatalf("notes %+v", notes)
	}
	for i, n := range notes {
		if n.Box.Left > n.LaneL || n.Box.Right < n.LaneR {
			t.Errorf("note %d spans x %v…%v, not every lifeline (%v…%v)", i, n.Box.Left, n.Box.Right, n.LaneL, n.LaneR)
		}
		for _, r := range append(n.Texts, n.Box) {
			if r.Left < n.SVG.Left-eps || r.Right > n.SVG.Right+eps || r.Width == 0 {
				t.Errorf("note %d: %+v outside the SVG %+v", i, r, n.SVG)
			}
		}
		if n.Box.Top <= n.Prev || n.Next != 0 && n.Box.Bottom >= n.Next {
			t.Errorf("note %d at y %v…%v, not between its neighbours (%v, %v)", i, n.Box.Top, n.Box.Bottom, n.Prev, n.Next)
		}
	}
	seen, _ = take()
	for _, p := range seen {
		t.Errorf("in the browser, with notes: %s", p)
	}

	// The checks above can fail: a page whose data the script cannot draw
	// throws, which this test sees, and shows the fallback message.
	broken := ladderScriptRE.ReplaceAllStringFunc(b.String(), func(m string) string {
		if strings.Contains(m, `id="ladder-data"`) {
			return `<script type="application/json" id="ladder-data">{"lanes": 5, "arrows": []}</script>`
		}
		return m
	})
	brokenPath := filepath.Join(dir, "broken.html")
	if err := os.WriteFile(brokenPath, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx, chromedp.Navigate("file://"+brokenPath), chromedp.WaitVisible(chromedp.CSS("#ladder p.error"))); err != nil {
		t.Fatalf("load the broken page: %v", err)
	}
	msg, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector("#ladder p.error").textContent`))
	if err != nil || !strings.Contains(msg, "could not be drawn") {
		t.Errorf("fallback message %q, %v", msg, err)
	}
	if err := chromedp.Do(bctx, chromedp.Sleep(100*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	seen, _ = take()
	if len(seen) == 0 || !strings.Contains(strings.Join(seen, "\n"), "exception") {
		t.Errorf("the broken page's exception was not seen: %q", seen)
	}
	t.Logf("the broken page reported: %q", seen)
}

func ladderAbs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// ladderColors counts the distinct colours of img (up to 1000).
func ladderColors(img image.Image) int {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
			if len(seen) >= 1000 {
				return len(seen)
			}
		}
	}
	return len(seen)
}
