// Package server is callengine serve: the process that puts the engine on
// the network. It opens an engine on a data directory, provisions it from a
// configuration, and serves HTTP in front of it.
//
// Data enters through:
//   - the configuration (Config): embedded defaults, a YAML file, CALLENGINE_*
//     environment variables and flags, merged by Load, later layers winning;
//   - provisioning (Provision): the configured clients, groups and the echo
//     client are registered at start, idempotently, and stay in the journal;
//   - HTTP: /ws is handed to Server.WebSocket (package adapters/ws), which
//     turns signalling into engine commands; the server itself decides
//     nothing about calls.
//
// Data leaves through:
//   - HTTP: / serves the static files of server/web/ (the softphone page),
//     /metrics the Prometheus metrics (Metrics, callengine_* series on a
//     registry of its own), /healthz and /readyz the process's state;
//   - the network edge (edge.go): the WebSocket protocol of package
//     adapters/ws on /ws and the media relay of package media, built after
//     provisioning unless the program set Server.WebSocket itself;
//   - hooks for the adapters: Server.OnEchoCall when the echo client
//     answers a call and when it ends, Server.Draining while it shuts down, Metrics'
//     ObserveCommand, IncWebSocket and DecWebSocket, Server.MediaStats read at
//     scrape time;
//   - the journal in the data directory, which the engine writes and the next
//     start restores.
//
// Run serves until its context ends (SIGTERM or SIGINT in callengine serve),
// then drains: /readyz answers 503, the HTTP server shuts down, the engine
// closes with its live calls in the journal. docs/serve.md describes every
// setting, endpoint and metric.
//
// The server is an adapter: it uses the wall clock (clock.Real) for the
// loopback far end and crypto/rand for a token secret; no call logic lives
// here.
package server
