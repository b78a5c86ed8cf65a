package sip

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/callengine/callengine/events"
)

// A record whose SDPs would pass events.MaxLegData (a browser's WebRTC
// offer, base64 in JSON) sheds the peer's SDP first and keeps ours, which
// a restart needs; then ours; a record too large without them is an error.
func TestRecordShedsThePeersSDPFirst(t *testing.T) {
	big := func(n int) []byte { return []byte("v=0\r\n" + strings.Repeat("a=x\r\n", n/5)) }
	r := dialogRecord{CallID: "c1", Role: "uas", State: "confirmed", SentSDP: big(1100), RemoteSDP: big(2200)}
	data, err := encodeRecord(r)
	if err != nil || len(data) > events.MaxLegData {
		t.Fatalf("%d bytes, %v", len(data), err)
	}
	var got dialogRecord
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.RemoteSDP) != 0 || string(got.SentSDP) != string(r.SentSDP) {
		t.Fatalf("kept %d bytes of ours, %d of the peer's", len(got.SentSDP), len(got.RemoteSDP))
	}

	r.SentSDP = big(3500)
	got = dialogRecord{}
	if data, err = encodeRecord(r); err != nil || json.Unmarshal(data, &got) != nil || len(got.SentSDP)+len(got.RemoteSDP) != 0 {
		t.Fatalf("both too big: %d bytes, %v", len(data), err)
	}

	r.RouteSet = []string{strings.Repeat("x", events.MaxLegData)}
	if _, err := encodeRecord(r); err == nil {
		t.Fatal("a record too large without its SDPs was encoded")
	}

	small := dialogRecord{CallID: "c2", SentSDP: big(300), RemoteSDP: big(300)}
	got = dialogRecord{}
	if data, err = encodeRecord(small); err != nil || json.Unmarshal(data, &got) != nil || len(got.SentSDP) == 0 || len(got.RemoteSDP) == 0 {
		t.Fatalf("a small record lost its SDPs: %v", err)
	}
}
