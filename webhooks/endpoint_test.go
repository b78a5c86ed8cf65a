package webhooks_test

import (
	"slices"
	"testing"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/webhooks"
)

func TestValidateEndpoints(t *testing.T) {
	ok := webhooks.Endpoint{URL: "https://hooks.example.com/callengine", Secret: []byte("k"), Events: []string{webhooks.KindCallEnded}}
	if err := webhooks.ValidateEndpoints([]webhooks.Endpoint{ok, {URL: "http://127.0.0.1:8080/", Secret: []byte("k")}}); err != nil {
		t.Fatal(err)
	}
	for name, eps := range map[string][]webhooks.Endpoint{
		"no URL":          {{Secret: []byte("k")}},
		"relative URL":    {{URL: "/hook", Secret: []byte("k")}},
		"other scheme":    {{URL: "ftp://example.com/hook", Secret: []byte("k")}},
		"no host":         {{URL: "http:///hook", Secret: []byte("k")}},
		"unparsable URL":  {{URL: "http://[::1", Secret: []byte("k")}},
		"no secret":       {{URL: "https://example.com/hook"}},
		"unknown kind":    {{URL: "https://example.com/hook", Secret: []byte("k"), Events: []string{"call.answered"}}},
		"same URL twice":  {ok, ok},
		"same ID twice":   {{ID: "crm", URL: "https://a.example.com/", Secret: []byte("k")}, {ID: "crm", URL: "https://b.example.com/", Secret: []byte("k")}},
		"ID equals a URL": {{ID: ok.URL, URL: "https://b.example.com/", Secret: []byte("k")}, ok},
	} {
		if err := webhooks.ValidateEndpoints(eps); errcode.CodeOf(err) != errcode.InvalidParams {
			t.Errorf("%s: %v, want invalid_params", name, err)
		}
	}
	two := []webhooks.Endpoint{{ID: "a", URL: ok.URL, Secret: []byte("k")}, {ID: "b", URL: ok.URL, Secret: []byte("k")}}
	if err := webhooks.ValidateEndpoints(two); err != nil {
		t.Fatalf("one URL, two IDs: %v", err)
	}
}

func TestKinds(t *testing.T) {
	got := map[string]events.Type{}
	for ty := events.Type(0); ty < 200; ty++ {
		if k := webhooks.KindOf(ty); k != "" {
			got[k] = ty
		}
	}
	want := map[string]events.Type{
		"call.created": events.TypeCallDialed, "call.ended": events.TypeCallEnded, "voicemail.left": events.TypeVoicemailLeft,
		"message.sent": events.TypeMessageSent, "message.delivered": events.TypeMessageDelivered, "message.failed": events.TypeMessageFailed,
	}
	if len(got) != len(want) {
		t.Fatalf("kinds %v", got)
	}
	for k, ty := range want {
		if got[k] != ty || !slices.Contains(webhooks.Kinds(), k) {
			t.Errorf("%s: %v", k, got[k])
		}
	}
	if id := webhooks.EventID("call/c-1", 4); id != "call/c-1@4" {
		t.Fatal(id)
	}
}
