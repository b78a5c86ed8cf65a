package sip

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzDialogRecord: a dialog record read back from the journal (a damaged
// or foreign one included) rebuilds a dialog or is refused with an error,
// never a panic; a rebuilt dialog has its Call-ID and both tags, and a
// session timer only with a positive interval and a known refresher.
func FuzzDialogRecord(f *testing.F) {
	valid := dialogRecord{
		CallID: "a84b4c76e66710", LocalTag: "1928301774", RemoteTag: "a6c85cf",
		LocalURI: "sip:1002@127.0.0.1", RemoteURI: "sip:alice@127.0.0.1", Target: "sip:alice@127.0.0.1:5070",
		LocalCSeq: 20, RemoteCSeq: 2, InviteCSeq: 2, Transport: "UDP", Role: "uas", State: "confirmed",
		Client: "alice", Device: "alice-1", RouteSet: []string{"<sip:proxy.example.com;lr>"},
		Session: &sessionRecord{Interval: 1800, Refresher: "uac", PeerTimer: true, Due: 1_800_000_000_000},
	}
	data, err := json.Marshal(valid)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	for _, s := range []string{
		`{}`, `{"call_id":"x","local_tag":"a","remote_tag":"b","local_uri":"sip:a@b","remote_uri":"sip:c@d","remote_target":"sip:e@f"}`,
		`{"call_id":"x","local_tag":"a","remote_tag":"b","local_uri":"::","remote_uri":"sip:c@d","remote_target":"sip:e@f"}`,
		`{"session":{"interval":-5,"refresher":"uac"}}`, `{"session":{"interval":90,"refresher":"both","due":-1}}`,
		`{"route_set":["<sip:a;lr>","\u0000"]}`, `null`, `[`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r dialogRecord
		if json.Unmarshal(data, &r) != nil {
			return
		}
		d, err := dialogFromRecord(r)
		if err != nil {
			return
		}
		if d.CallID == "" || d.LocalTag == "" || d.RemoteTag == "" {
			t.Fatalf("%s: a dialog without Call-ID or tags: %+v", data, d)
		}
		if st := d.session; st != nil {
			if st.interval < time.Second || st.refresher != "uac" && st.refresher != "uas" {
				t.Fatalf("%s: session %+v", data, st)
			}
			if got := st.record(); *got != *r.Session {
				t.Fatalf("%s: session record %+v, read back %+v", data, r.Session, got)
			}
		}
	})
}
