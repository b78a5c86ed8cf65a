package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/server"
)

const serveUsage = `usage: callengine serve [--config FILE] [--data DIR] [--http ADDR] [flags]

Runs the engine on the network: opens the journal in DIR (restoring every
client and live call), registers the clients and groups of the
configuration, and serves HTTP on ADDR:

  /          the softphone page
  /ws        the WebSocket signalling
  /metrics   Prometheus metrics (callengine_*)
  /healthz   200 while the process runs
  /readyz    200 once the engine is open and provisioned; 503 while it
             starts or drains

It prints one line with the page's URL, then logs on stderr. Dial 600 (the
echo client) to hear yourself. On SIGTERM or SIGINT it drains: /readyz
answers 503, new calls are refused, the HTTP server stops, the engine
closes; live calls stay in the journal and the next start restores them.

The configuration is read in layers, a later one winning: the defaults, the
YAML file (--config, or CALLENGINE_CONFIG), CALLENGINE_* environment
variables, then the flags below. docs/serve.md lists every setting;
examples/serve.yaml is a commented file.

Exit status: 0 drained after a signal (or --print-config done), 1 the server
failed (the address is taken, provisioning was refused), 2 bad usage, an
invalid configuration (its file, line and key are named), or a data
directory whose journal cannot be opened (locked, damaged).

flags:
`

// serveFlags are the flags that set a setting, by the setting's YAML key.
var serveFlags = []struct{ name, key, usage string }{
	{"data", "data", "the engine's data `DIR` (default callengine-data; CALLENGINE_DATA)"},
	{"http", "http", "the HTTP server's `ADDR`ess, host:port; port 0 picks a free one (default 127.0.0.1:8080; CALLENGINE_HTTP)"},
	{"log-level", "log_level", "log `LEVEL` on stderr: " + strings.Join(engine.LogLevels, ", ") + " (default info; CALLENGINE_LOG_LEVEL)"},
	{"drain-timeout", "drain_timeout", "how long (a `DURATION`) the drain waits for requests in flight (default 10s; CALLENGINE_DRAIN_TIMEOUT)"},
	{"pprof", "pprof", "serve Go's profiler (/debug/pprof/) on this loopback `ADDR`ess, host:port (default off; CALLENGINE_PPROF)"},
}

// serveCmd is "callengine serve".
func serveCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("serve", serveUsage, stderr)
	file := fs.String("config", "", "the YAML configuration `FILE` (CALLENGINE_CONFIG)")
	vals := map[string]*string{}
	for _, f := range serveFlags {
		vals[f.name] = fs.String(f.name, "", f.usage)
	}
	printConfig := fs.Bool("print-config", false, "print the configuration the layers give, and exit (passwords hidden)")
	asJSON := fs.Bool("json", false, "with --print-config: write JSON instead of YAML")
	pos, code, ok := parseFlags(fs, args, stdout, false)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "callengine serve: unexpected argument %q\n\n", pos[0])
		fs.Usage()
		return 2
	}
	src := server.Sources{File: *file, Env: os.LookupEnv, Flags: map[string]string{}, FlagNames: map[string]string{}}
	if src.File == "" {
		src.File = os.Getenv("CALLENGINE_CONFIG")
	}
	fs.Visit(func(f *flag.Flag) {
		for _, sf := range serveFlags {
			if sf.name == f.Name {
				src.Flags[sf.key] = *vals[f.Name]
				src.FlagNames[sf.key] = "--" + f.Name
			}
		}
	})
	cfg, err := server.Load(src)
	if err != nil {
		return serveFailed(stderr, err)
	}
	if *printConfig {
		return printServeConfig(stdout, stderr, cfg, *asJSON)
	}
	demo := ""
	if src.File == "" && len(cfg.Clients) == 0 && server.LoopbackAddr(cfg.HTTP) {
		// Embedded defaults on this machine only: two clients to log in
		// with, as a PBX's demo extensions.
		cfg.Clients = server.DemoClients()
		demo = "callengine serve: no configuration: demo clients alice (extension 201) and bob (202), each with its id as password; 600 is the echo test"
	}
	logger, err := engine.NewLogger(stderr, cfg.LogLevel, cfg.LogJSON)
	if err != nil {
		fmt.Fprintln(stderr, "callengine serve:", err)
		return 2
	}
	s := &server.Server{Config: cfg, Stdout: stdout, Logger: logger, Notice: demo}
	if err := s.Run(ctx); err != nil {
		return serveFailed(stderr, err)
	}
	return 0
}

// serveFailed prints err, a line per problem, and returns the exit status.
func serveFailed(stderr io.Writer, err error) int {
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintln(stderr, "callengine serve:", line)
	}
	var ce *server.ConfigError
	var oe *server.OpenError
	if errors.As(err, &ce) || errors.As(err, &oe) {
		return 2
	}
	return 1
}

// printServeConfig writes cfg as YAML (a file serve reads back) or JSON,
// passwords and the token secret hidden.
func printServeConfig(stdout, stderr io.Writer, cfg server.Config, asJSON bool) int {
	if cfg.TokenSecret != "" {
		cfg.TokenSecret = "(hidden)"
	}
	cfg.Clients = append([]server.Client(nil), cfg.Clients...)
	for i := range cfg.Clients {
		if cfg.Clients[i].Password != "" {
			cfg.Clients[i].Password = "(hidden)"
		}
	}
	b, err := yaml.Marshal(cfg)
	if err == nil && asJSON {
		// Through YAML, so that durations read as in the file ("30s").
		var doc any
		if err = yaml.Unmarshal(b, &doc); err == nil {
			b, err = json.MarshalIndent(doc, "", "  ")
			b = append(b, '\n')
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "callengine serve:", err)
		return 1
	}
	stdout.Write(b)
	return 0
}
