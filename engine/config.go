package engine

import (
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/ids"
	"github.com/callengine/callengine/internal/actors"
	"github.com/callengine/callengine/webhooks"
)

// Dispatcher runs the actors' mailboxes: Schedule runs fn — a run of one
// actor's queued messages, at most Throughput of them — now or later, on
// some goroutine. protoactor-go's dispatchers are Dispatchers.
type Dispatcher interface {
	Schedule(fn func())
	Throughput() int
}

// InlineDispatcher runs every actor, transfers included, on the goroutine
// that posts to it, one message at a time: with one goroutine driving the
// engine, as the simulator does, the actors step in one order on every run.
func InlineDispatcher() Dispatcher { return actors.InlineDispatcher{Messages: 300} }

// Config configures an engine. The zero value is usable: a journal in
// ./callengine-data, the wall clock, random time-ordered ids, a 60 s ring
// timeout and no adapter (calls to numbers outside the engine are refused).
type Config struct {
	// DataDir holds the journal file (journal.db). Default "callengine-data".
	DataDir string
	// JournalPath overrides the journal file's path.
	JournalPath string
	// Clock is the engine's only source of time. Default clock.Real{}.
	Clock clock.Clock
	// IDs hands out call ids. Default ids.NewRandom(Clock).
	IDs ids.Source
	// RingTimeout is how long a call rings before it ends no-answer.
	// Default 60 s; negative means no timeout.
	RingTimeout time.Duration
	// Adapter reaches parties outside the engine. Nil: such calls are refused
	// with code unavailable.
	Adapter Adapter
	// Domain is the SIP domain whose URIs address this engine's clients.
	Domain string
	// Numbers are organisation numbers (E.164) that any client may present
	// as caller id, besides the clients' own numbers.
	Numbers []string
	// Logger receives the engine's structured logs. Default: discarded.
	Logger *slog.Logger
	// Dispatcher runs the actors' mailboxes. Nil: a call's, client's or
	// session's runs on the goroutine that posts to it, one message at a
	// time (no hand-over to another goroutine), and a transfer's on a
	// goroutine of its own (it goes on after its command returned). Set,
	// it runs them all: InlineDispatcher for a deterministic engine.
	Dispatcher Dispatcher
	// SubscriberBuffer is the number of events a subscription may fall
	// behind before it is closed with code unavailable. Default 4096.
	SubscriberBuffer int
	// RestorePausesGC lets Open pause the process's garbage collector while
	// it restores many live calls (8,192 or more): a collection during a
	// restore marks the heap being built to free little. The collection
	// then runs once after Open, in the background; a memory limit
	// (GOMEMLIMIT) still holds. Off by default: the collector belongs to
	// the whole program.
	RestorePausesGC bool
	// LockTimeout is how long Open waits for another process to release the
	// journal file. Default 2 s.
	LockTimeout time.Duration
	// CommitInterval is the journal's group commit interval
	// (journal.Options.CommitInterval): while commands come from more than
	// one caller, a commit waits until this long after the last one began
	// and carries every command that arrived meanwhile. Fewer commits, less
	// CPU and fewer fsyncs per command, for up to this much latency. 0 (the
	// default): commit as soon as the writer is free.
	CommitInterval time.Duration

	// TokenSecret signs access and refresh tokens (CL3); at least 32 bytes.
	// Nil: IssueTokens fails with code unavailable and commands carry no
	// identity (the embedding program is trusted).
	TokenSecret []byte
	// PreviousTokenSecrets still verify tokens (signed before a rotation)
	// but never sign; drop one once its tokens have expired.
	PreviousTokenSecrets [][]byte
	// AccessTokenTTL is how long an access token is valid. Default 1 h.
	AccessTokenTTL time.Duration
	// RefreshTokenTTL is how long a refresh token is valid. Default 30 days.
	RefreshTokenTTL time.Duration
	// SessionGrace is how long a session with no connection lives before
	// its grace timer destroys it (CL4). Default 5 min.
	SessionGrace time.Duration

	// HistoryPath is the file of the call history projection (H1); it is
	// rebuilt from the journal when missing or stale. Default
	// DataDir/history.db (<journal>-history.db beside a JournalPath).
	HistoryPath string
	// NoHistory turns the call history and voicemail listing off.
	NoHistory bool

	// Webhooks are the HTTP endpoints that receive new-call, call-ended,
	// voicemail and message events (H3). Empty: none.
	Webhooks []webhooks.Endpoint
	// WebhookOptions tunes their delivery (retries, backoff, state file).
	WebhookOptions webhooks.Options

	// RetainEnded is how long an ended call stays in the hot journal before
	// it is archived (Retention); 0 keeps every call. ArchiveDir receives
	// the archive files; default DataDir/archive (<journal>-archive beside a
	// JournalPath).
	RetainEnded time.Duration
	ArchiveDir  string

	// ActionLog logs, at debug level, every event with the state change it
	// made (H5).
	ActionLog bool
}

// beside names a file that lives with the journal: DataDir/name, or
// <journal>-name beside the journal when only JournalPath was given.
func (c Config) beside(name string) string {
	if c.JournalPath == filepath.Join(c.DataDir, "journal.db") {
		return filepath.Join(c.DataDir, name)
	}
	return strings.TrimSuffix(c.JournalPath, filepath.Ext(c.JournalPath)) + "-" + name
}

// WithDefaults returns c with every field left unset given its default, as
// Open uses it: JournalPath, HistoryPath and ArchiveDir then name the files
// an engine on c reads and writes (the CLI's offline commands use them).
func (c Config) WithDefaults() Config {
	if c.DataDir == "" {
		c.DataDir = "callengine-data"
	}
	if c.JournalPath == "" {
		c.JournalPath = filepath.Join(c.DataDir, "journal.db")
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.IDs == nil {
		c.IDs = ids.NewRandom(c.Clock)
	}
	if c.RingTimeout == 0 {
		c.RingTimeout = 60 * time.Second
	}
	if c.RingTimeout < 0 {
		c.RingTimeout = 0
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.SubscriberBuffer <= 0 {
		c.SubscriberBuffer = 4096
	}
	if c.LockTimeout <= 0 {
		c.LockTimeout = 2 * time.Second
	}
	if c.AccessTokenTTL <= 0 {
		c.AccessTokenTTL = time.Hour
	}
	if c.RefreshTokenTTL <= 0 {
		c.RefreshTokenTTL = 30 * 24 * time.Hour
	}
	if c.SessionGrace <= 0 {
		c.SessionGrace = 5 * time.Minute
	}
	if c.HistoryPath == "" {
		c.HistoryPath = c.beside("history.db")
	}
	if c.ArchiveDir == "" {
		c.ArchiveDir = c.beside("archive")
	}
	return c
}
