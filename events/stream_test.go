package events

import "testing"

func TestParseStream(t *testing.T) {
	for _, tc := range []struct {
		stream string
		kind   StreamKind
		id     string
	}{
		{"call/01H", CallStreamKind, "01H"},
		{"client/alice", ClientStreamKind, "alice"},
		{"session/s1", SessionStreamKind, "s1"},
		{"transfer/t1", TransferStreamKind, "t1"},
		{"group/sales", GroupStreamKind, "sales"},
		{"message/m1", MessageStreamKind, "m1"},
		{"calls/x", UnknownStream, "calls/x"},
		{"", UnknownStream, ""},
	} {
		kind, id := ParseStream(tc.stream)
		if kind != tc.kind || id != tc.id {
			t.Errorf("ParseStream(%q) = %v, %q; want %v, %q", tc.stream, kind, id, tc.kind, tc.id)
		}
		if kind != UnknownStream && kind.Stream(id) != tc.stream {
			t.Errorf("%v.Stream(%q) = %q; want %q", kind, id, kind.Stream(id), tc.stream)
		}
	}
	if CallStream("a") != "call/a" || ClientStream("a") != "client/a" || SessionStream("a") != "session/a" ||
		TransferStream("a") != "transfer/a" || GroupStream("a") != "group/a" || MessageStream("a") != "message/a" {
		t.Error("stream constructors disagree with the prefixes")
	}
	if CallStreamKind.String() != "call" || UnknownStream.String() != "unknown" {
		t.Errorf("kind names: %s, %s", CallStreamKind, UnknownStream)
	}
}
