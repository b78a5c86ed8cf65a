package history

import (
	"testing"

	"github.com/callengine/callengine/events"
)

// passOver reads the type of an event body, and passes over only known
// types the fold does not read.
func TestPassOver(t *testing.T) {
	body := func(ev events.Event) []byte { return events.EncodeBody(nil, 1, ev) }
	for _, c := range []struct {
		name string
		data []byte
		used *[256]bool
		want bool
	}{
		{"dialed", body(events.CallDialed{}), &callTypes, false},
		{"ringing", body(events.CallRinging{Devices: []string{"d"}}), &callTypes, false},
		{"ended", body(events.CallEnded{Reason: events.Hangup}), &callTypes, false},
		{"voicemail left", body(events.VoicemailLeft{Client: "bob"}), &callTypes, false},
		{"muted", body(events.CallMuted{Side: events.Caller}), &callTypes, true},
		{"history deleted", body(events.HistoryDeleted{Calls: []string{"c"}}), &clientTypes, false},
		{"heard", body(events.VoicemailHeard{Calls: []string{"c"}}), &clientTypes, false},
		{"registered", body(events.ClientRegistered{}), &clientTypes, true},
		{"a call event on a client stream", body(events.CallDialed{}), &clientTypes, true},
		{"garbage", []byte("not an event"), &callTypes, false},
		{"empty", nil, &callTypes, false},
		{"newer schema", append([]byte{bodyMagic, events.SchemaVersion + 1}, body(events.CallMuted{})[2:]...), &callTypes, false},
		{"unknown type", []byte{bodyMagic, 1, 250, 1, 2}, &callTypes, false},
	} {
		if got := passOver(c.data, c.used); got != c.want {
			t.Errorf("%s: passOver = %v, want %v", c.name, got, c.want)
		}
	}
}
