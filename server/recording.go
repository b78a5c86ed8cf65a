package server

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/media"
)

// Recordings in serve (FEATURES C11): while the engine's call is recorded
// (StartRecording, recording.start over the WebSocket), the relay writes
// the audio of its two legs — "<call>/caller" and "<call>/callee", a
// channel each — to recordings/<ref>.wav (media.Relay.StartRecording), and
// completes the file when the recording stops or the call ends. The
// engine decides; this only follows its events. A call whose media is not
// on the relay (two SIP phones passed through) has no audio to record:
// logged. After a restart the calls still recorded go on in the files
// they had.

// recorder follows the engine's recording events for the relay.
type recorder struct {
	e       *engine.Engine
	relay   *media.Relay
	dir     string
	log     *slog.Logger
	ctx     context.Context
	cancel  context.CancelFunc
	sub     *engine.Subscription
	done    chan struct{}
	closing atomic.Bool
}

// recordedEvents are the events the recorder follows.
var recordedEvents = engine.Filter{Types: []events.Type{
	events.TypeCallRecordingStarted, events.TypeCallRecordingStopped, events.TypeCallEnded,
}}

// startRecorder follows e's recordings into dir, and takes up the calls
// recorded when the server stopped.
func startRecorder(ctx context.Context, e *engine.Engine, relay *media.Relay, dir string, log *slog.Logger) (*recorder, error) {
	ctx, cancel := context.WithCancel(ctx)
	sub, err := e.Subscribe(ctx, recordedEvents)
	if err != nil {
		cancel()
		return nil, err
	}
	r := &recorder{e: e, relay: relay, dir: dir, log: log, ctx: ctx, cancel: cancel, sub: sub, done: make(chan struct{})}
	r.resume(ctx)
	go r.follow()
	return r, nil
}

// follow turns the events into recordings until the recorder closes; a
// subscription that ends otherwise (it fell behind) is taken again, and
// the recordings it may have missed are taken up (resume).
func (r *recorder) follow() {
	defer close(r.done)
	for {
		for ev := range r.sub.Events() {
			c := ev.Call
			if c == nil {
				continue
			}
			switch ev.Type {
			case events.TypeCallRecordingStarted:
				r.start(c)
			case events.TypeCallRecordingStopped, events.TypeCallEnded:
				r.stop(c)
			}
		}
		if r.closing.Load() || r.ctx.Err() != nil {
			return
		}
		r.log.Warn("recording: the event subscription ended; following again", "err", r.sub.Err())
		sub, err := r.e.Subscribe(r.ctx, recordedEvents)
		if err != nil {
			r.log.Error("recording: cannot follow the engine's events", "err", err)
			return
		}
		r.sub = sub
		r.resume(r.ctx)
	}
}

// resume starts again the recordings of the live calls that are recorded
// (the server stopped during them): their files go on.
func (r *recorder) resume(ctx context.Context) {
	clients, err := r.e.Clients(ctx)
	if err != nil {
		return
	}
	seen := map[string]bool{}
	for _, cl := range clients {
		calls, err := r.e.Calls(ctx, cl.ID)
		if err != nil {
			continue
		}
		for i := range calls {
			if c := &calls[i]; c.Recording && !seen[c.ID] {
				seen[c.ID] = true
				r.start(c)
			}
		}
	}
}

// start records call c's legs under its recording's reference.
func (r *recorder) start(c *engine.Call) {
	ref := c.RecordingRef
	path := recordingPath(r.dir, ref)
	err := r.relay.StartRecording(ref, path, c.ID+"/caller", c.ID+"/callee")
	switch {
	case errors.Is(err, media.ErrNoLeg):
		r.log.Warn("recording: the call's media is not on the relay, no audio is recorded", "call", c.ID, "ref", ref)
	case errors.Is(err, media.ErrRecordingExists):
	case err != nil:
		r.log.Error("recording: cannot record", "call", c.ID, "ref", ref, "err", err)
	default:
		r.log.Info("recording: started", "call", c.ID, "ref", ref, "file", path)
	}
}

// stop completes the file of call c's recording, if one is under way.
func (r *recorder) stop(c *engine.Call) {
	ref := c.RecordingRef
	if ref == "" {
		return
	}
	info, err := r.relay.StopRecording(ref)
	if errors.Is(err, media.ErrNoRecording) {
		return // not recorded here (not on the relay), or stopped already
	}
	if err != nil {
		r.log.Error("recording: cannot complete its file", "call", c.ID, "ref", ref, "err", err)
		return
	}
	r.log.Info("recording: saved", "call", c.ID, "ref", ref, "file", info.Path, "duration", info.Duration)
}

// recordingPath is the file of recording ref under dir: its segments,
// each made of letters, digits, '.', '-' and '_' (anything else is '_';
// empty, "." and ".." segments are dropped), and ".wav".
func recordingPath(dir, ref string) string {
	var segs []string
	for seg := range strings.SplitSeq(ref, "/") {
		seg = strings.Map(func(c rune) rune {
			switch {
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-', c == '_':
				return c
			}
			return '_'
		}, seg)
		if seg == "" || seg == "." || seg == ".." {
			continue
		}
		segs = append(segs, seg)
	}
	if len(segs) == 0 {
		segs = []string{"recording"}
	}
	return filepath.Join(dir, filepath.Join(segs...)+".wav")
}

// close stops following; the relay completes the files still open when it
// closes.
func (r *recorder) close() {
	if r == nil {
		return
	}
	r.closing.Store(true)
	r.cancel()
	<-r.done
	r.sub.Close()
}
