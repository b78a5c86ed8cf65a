package ws_test

import (
	"context"
	"log"
	"net/http"

	"github.com/callengine/callengine/adapters/ws"
	"github.com/callengine/callengine/engine"
)

// Mount the WebSocket protocol next to the softphone page. The relay is
// package media's; nil serves the signalling without audio.
func ExampleNewHandler() {
	e, err := engine.Open(context.Background(), engine.Config{DataDir: "callengine-data", TokenSecret: []byte("take 32 random bytes, not this line")})
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	h := ws.NewHandler(e, nil, ws.Settings{AllowedOrigins: []string{"app.example.com"}})
	defer h.Close()
	mux := http.NewServeMux()
	mux.Handle("/ws", h)
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", mux))
}
