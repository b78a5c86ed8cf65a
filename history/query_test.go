package history_test

import (
	"testing"

	"github.com/callengine/callengine/history"
)

func TestMatchNumber(t *testing.T) {
	for _, tc := range []struct {
		want, number string
		ok           bool
	}{
		{"+14155550101", "+14155550101", true},
		{"+1 (415) 555-0101", "+14155550101", true},
		{"4155550101", "+14155550101", true},
		{"0101", "+14155550101", true},
		{"0102", "+14155550101", false},
		{"+14155550101", "+4155550101", false}, // more digits than the number has
		{"102", "102", true},
		{"102", "+14155550102", true}, // an extension's digits end a number: give more to narrow
		{"sip:ops@example.org", "sip:ops@example.org", true},
		{"ops", "sip:ops@example.org", false}, // no digits: only the same string
		{"0101", "", false},
		{"tel:+14155550101", "+14155550101", true},
	} {
		if got := history.MatchNumber(tc.want, tc.number); got != tc.ok {
			t.Errorf("MatchNumber(%q, %q) = %v, want %v", tc.want, tc.number, got, tc.ok)
		}
	}
}
