package webhooks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/journal"
	"github.com/callengine/callengine/webhooks"
)

// A receiver checks the signature, then handles each id once: a retried
// delivery (its first answer was lost) has the same id.
func ExampleVerify() {
	secret := []byte("whsec-test")
	var mu sync.Mutex
	seen := map[string]bool{}
	receiver := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "cannot read the body", http.StatusBadRequest)
			return
		}
		err = webhooks.Verify(secret, r.Header.Get(webhooks.HeaderTimestamp), r.Header.Get(webhooks.HeaderSignature),
			body, time.Now(), 5*time.Minute)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var d webhooks.Delivery
		if err := json.Unmarshal(body, &d); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		dup := seen[d.ID]
		seen[d.ID] = true
		mu.Unlock()
		if !dup {
			fmt.Println("handled", d.Kind, d.ID)
		}
		w.WriteHeader(http.StatusNoContent)
	})

	// What the engine sends (here built by hand): the same body twice, then
	// a forged one.
	body := []byte(`{"id":"call/c-1@4","kind":"call.ended","seq":9,"time":"2026-01-05T09:01:04Z","stream":"call/c-1","type":"CallEnded","data":{"reason":"hangup","by":"callee"}}`)
	send := func(secret []byte) int {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		req := httptest.NewRequest(http.MethodPost, "/hooks/callengine", bytes.NewReader(body))
		req.Header.Set(webhooks.HeaderTimestamp, ts)
		req.Header.Set(webhooks.HeaderSignature, webhooks.Sign(secret, ts, body))
		rec := httptest.NewRecorder()
		receiver.ServeHTTP(rec, req)
		return rec.Code
	}
	fmt.Println(send(secret))
	fmt.Println(send(secret))
	fmt.Println(send([]byte("guess")))
	// Output:
	// handled call.ended call/c-1@4
	// 204
	// 204
	// 401
}

// Start follows a journal; an engine does this for Config.Webhooks.
func ExampleStart() {
	dir, _ := os.MkdirTemp("", "webhooks-example")
	defer os.RemoveAll(dir)
	j, err := journal.Open(filepath.Join(dir, "journal.db"), journal.Options{})
	if err != nil {
		panic(err)
	}
	defer j.Close()

	got := make(chan webhooks.Delivery)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var d webhooks.Delivery
		_ = json.NewDecoder(r.Body).Decode(&d)
		w.WriteHeader(http.StatusOK)
		got <- d
	}))
	defer srv.Close()

	d, err := webhooks.Start(j, []webhooks.Endpoint{{URL: srv.URL, Secret: []byte("k"), Events: []string{webhooks.KindMessageSent}}},
		webhooks.Options{StatePath: filepath.Join(dir, "webhooks.json")})
	if err != nil {
		panic(err)
	}
	defer d.Close()

	at := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC).UnixNano()
	sent := events.EncodeBody(nil, at, events.MessageSent{From: events.Party{Client: "alice"}, To: "+33612345678", Text: "on my way"})
	if _, err := j.Append(context.Background(), "message/m-1", 0, [][]byte{sent}, false); err != nil {
		panic(err)
	}
	dl := <-got
	fmt.Println(dl.ID, dl.Kind, dl.Time.Format(time.RFC3339), string(dl.Data))
	// Output:
	// message/m-1@1 message.sent 2026-01-05T09:00:00Z {"from":{"client":"alice"},"to":"+33612345678","text":"on my way"}
}
