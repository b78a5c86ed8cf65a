package engine

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
)

// Logs (FEATURES H5). The engine logs through Config.Logger, a log/slog
// logger: errors (a stream that cannot be folded, a webhook that gives
// up), warnings (a transfer step refused), information (restore, history
// rebuilt, retention runs, sessions that expire) and, at debug level,
// every refused command. With Config.ActionLog, every journaled event is
// logged at debug level as an "action" with the state change it made: the
// fields of the call, client, transfer, session, group or message that
// differ from before, "field: old → new". NewLogger builds a logger for
// one of the levels none, error, warn, info, debug.

// LogLevels are the levels NewLogger and ParseLogLevel know, quietest
// first.
var LogLevels = []string{"none", "error", "warn", "info", "debug"}

// levelNone is above every level slog writes: nothing is logged.
const levelNone = slog.Level(100)

// ParseLogLevel parses one of LogLevels.
func ParseLogLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "none", "off":
		return levelNone, nil
	case "error":
		return slog.LevelError, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	}
	return 0, errcode.Newf(errcode.InvalidParams, "log level %q is not one of %s", s, strings.Join(LogLevels, ", "))
}

// NewLogger returns a logger writing to w at the given level (one of
// LogLevels), as text or, with json, as JSON lines.
func NewLogger(w io.Writer, level string, json bool) (*slog.Logger, error) {
	l, err := ParseLogLevel(level)
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: l}
	if json {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

// actionLog logs each journaled event with the change it made to its
// aggregate's view. It remembers the last view of every stream it saw
// until the stream ends.
type actionLog struct {
	log  *slog.Logger
	mu   sync.Mutex
	last map[string]reflect.Value
}

func newActionLog(l *slog.Logger) *actionLog {
	if !l.Enabled(context.Background(), slog.LevelDebug) {
		return nil
	}
	return &actionLog{log: l.With(slog.String("log", "action")), last: map[string]reflect.Value{}}
}

// view returns the aggregate an event carries, as a struct value.
func (ev *Event) view() (reflect.Value, bool) {
	for _, p := range []any{ev.Call, ev.Client, ev.Transfer, ev.Session, ev.Group, ev.Message} {
		if v := reflect.ValueOf(p); !v.IsNil() {
			return v.Elem(), true
		}
	}
	return reflect.Value{}, false
}

// seed remembers the view of a stream restored from the journal, so that
// its next event shows a change, not the whole state.
func (a *actionLog) seed(stream string, view any) {
	if a == nil {
		return
	}
	v := reflect.ValueOf(view)
	a.mu.Lock()
	a.last[stream] = v
	a.mu.Unlock()
}

func (a *actionLog) record(ev *Event) {
	cur, ok := ev.view()
	if !ok {
		return
	}
	a.mu.Lock()
	prev, had := a.last[ev.Stream]
	if events.Ends(ev.Event) {
		delete(a.last, ev.Stream)
	} else {
		cp := reflect.New(cur.Type()).Elem()
		cp.Set(cur)
		a.last[ev.Stream] = cp
	}
	a.mu.Unlock()
	changes := diffView(prev, had, cur)
	a.log.Debug("action",
		slog.Uint64("seq", ev.Seq), slog.String("stream", ev.Stream), slog.Uint64("version", ev.Version),
		slog.String("type", ev.Type.String()), slog.Any("event", ev.Event), slog.String("change", changes))
}

// diffView lists the fields of cur that differ from prev, "Field: old →
// new", separated by "; ". A stream seen for the first time lists its
// fields that are set; an event whose command changed nothing more than the
// event before it says "(with the event before)".
func diffView(prev reflect.Value, had bool, cur reflect.Value) string {
	var parts []string
	t := cur.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() || f.Name == "Version" || f.Name == "Duration" {
			continue
		}
		c := cur.Field(i)
		if had {
			p := prev.Field(i)
			if reflect.DeepEqual(p.Interface(), c.Interface()) {
				continue
			}
			parts = append(parts, fmt.Sprintf("%s: %s → %s", f.Name, show(p), show(c)))
		} else if !c.IsZero() {
			parts = append(parts, fmt.Sprintf("%s: %s", f.Name, show(c)))
		}
	}
	if len(parts) == 0 {
		return "(with the event before)"
	}
	return strings.Join(parts, "; ")
}

func show(v reflect.Value) string {
	if v.IsZero() {
		return "-"
	}
	switch x := v.Interface().(type) {
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case string:
		return fmt.Sprintf("%q", x)
	}
	return fmt.Sprintf("%v", v.Interface())
}

// observed reports whether anyone hears of events: subscribers or the
// action log.
func (e *Engine) observed() bool { return e.actions != nil || e.bus.active() }

// emit hands a journaled event to the action log and the subscribers.
func (e *Engine) emit(ev *Event) {
	if e.actions != nil {
		e.actions.record(ev)
	}
	e.bus.publish(ev)
}

// logRefused logs a refused command at debug level.
func (e *Engine) logRefused(ctx context.Context, what, id string, err error) {
	if err == nil || !e.cfg.Logger.Enabled(ctx, slog.LevelDebug) {
		return
	}
	e.cfg.Logger.Debug("command refused", slog.String("command", what), slog.String("id", id),
		slog.String("code", string(errcode.CodeOf(err))), slog.String("err", err.Error()))
}
