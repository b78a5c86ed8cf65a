package fsm_test

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

const grace = 5 * time.Minute

// sessionStep is one command and what it must give.
type sessionStep struct {
	at   time.Duration
	cmd  fsm.SessionCommand
	want []events.Event // nil with code "": no events
	code errcode.Code
	// after the step
	status fsm.SessionStatus
	conns  int
}

func runSession(t *testing.T, steps []sessionStep) fsm.Session {
	t.Helper()
	s := fsm.Session{ID: "s1"}
	var log []events.Event
	var ats []int64
	for i, st := range steps {
		now := int64(st.at)
		before := s.Clone()
		evs, err := fsm.DecideSession(&s, st.cmd, now)
		if !reflect.DeepEqual(before, s) {
			t.Fatalf("step %d: DecideSession changed the state", i)
		}
		if errcode.CodeOf(err) != st.code || (err == nil) != (st.code == "") {
			t.Fatalf("step %d (%T): error %v, want code %q", i, st.cmd, err, st.code)
		}
		if !reflect.DeepEqual(evs, st.want) {
			t.Fatalf("step %d (%T): events %#v, want %#v", i, st.cmd, evs, st.want)
		}
		for _, ev := range evs {
			if err := fsm.ApplySession(&s, ev, now); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			log, ats = append(log, ev), append(ats, now)
		}
		if s.Status != st.status || s.Connections != st.conns {
			t.Fatalf("step %d (%T): status %q conns %d, want %q %d", i, st.cmd, s.Status, s.Connections, st.status, st.conns)
		}
	}
	re := fsm.Session{ID: "s1"}
	for i, ev := range log {
		if err := fsm.ApplySession(&re, ev, ats[i]); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(re, s) {
		t.Fatalf("refold differs:\n%+v\n%+v", re, s)
	}
	return s
}

func TestSessionCounterAndGrace(t *testing.T) {
	m := time.Minute
	s := runSession(t, []sessionStep{
		{0, fsm.RestoreSession{}, nil, errcode.InvalidSession, fsm.NoSession, 0},
		{0, fsm.CreateSession{}, nil, errcode.MissingParameter, fsm.NoSession, 0},
		{0, fsm.CreateSession{Client: "alice", AutoAnswer: true}, []events.Event{events.SessionCreated{Client: "alice", AutoAnswer: true}}, "", fsm.SessionActive, 1},
		{0, fsm.CreateSession{Client: "alice"}, nil, errcode.AlreadyExists, fsm.SessionActive, 1},
		{m, fsm.RestoreSession{}, []events.Event{events.SessionRestored{}}, "", fsm.SessionActive, 2},
		{2 * m, fsm.CloseConnection{Grace: grace}, []events.Event{events.SessionConnectionClosed{}}, "", fsm.SessionActive, 1},
		{3 * m, fsm.CloseConnection{Grace: 0}, nil, errcode.InvalidParams, fsm.SessionActive, 1},
		{3 * m, fsm.CloseConnection{Grace: grace}, []events.Event{events.SessionConnectionClosed{Deadline: int64(3*m + grace)}}, "", fsm.SessionGrace, 0},
		{3 * m, fsm.CloseConnection{Grace: grace}, nil, errcode.InvalidState, fsm.SessionGrace, 0},
		{4 * m, fsm.GraceTimeout{}, nil, "", fsm.SessionGrace, 0}, // not due
		{5 * m, fsm.SubscribeLine{Line: "102"}, []events.Event{events.SessionSubscribed{Line: "102"}}, "", fsm.SessionGrace, 0},
		{5 * m, fsm.SubscribeLine{Line: "102"}, nil, errcode.AlreadyExists, fsm.SessionGrace, 0},
		{5 * m, fsm.UnsubscribeLine{Line: "103"}, nil, errcode.NotFound, fsm.SessionGrace, 0},
		{6 * m, fsm.RestoreSession{}, []events.Event{events.SessionRestored{}}, "", fsm.SessionActive, 1},
		{9 * m, fsm.GraceTimeout{}, nil, "", fsm.SessionActive, 1}, // the stopped timer is stale
		{9 * m, fsm.SetAutoAnswer{On: true}, nil, "", fsm.SessionActive, 1},
		{9 * m, fsm.SetAutoAnswer{On: false}, []events.Event{events.SessionAutoAnswerSet{On: false}}, "", fsm.SessionActive, 1},
		{10 * m, fsm.CloseConnection{Grace: grace}, []events.Event{events.SessionConnectionClosed{Deadline: int64(10*m + grace)}}, "", fsm.SessionGrace, 0},
		{15 * m, fsm.GraceTimeout{}, []events.Event{events.SessionDestroyed{Expired: true}}, "", fsm.SessionDestroyed, 0},
		{16 * m, fsm.RestoreSession{}, nil, errcode.InvalidSession, fsm.SessionDestroyed, 0},
		{16 * m, fsm.DestroySession{}, nil, errcode.InvalidSession, fsm.SessionDestroyed, 0},
		{16 * m, fsm.GraceTimeout{}, nil, "", fsm.SessionDestroyed, 0},
	})
	if !s.Expired || s.Lines != nil || s.GraceDeadline != 0 {
		t.Fatalf("destroyed session keeps state: %+v", s)
	}
}

func TestSessionDestroyAndLines(t *testing.T) {
	runSession(t, []sessionStep{
		{0, fsm.CreateSession{Client: "alice"}, []events.Event{events.SessionCreated{Client: "alice"}}, "", fsm.SessionActive, 1},
		{1, fsm.SubscribeLine{Line: ""}, nil, errcode.MissingParameter, fsm.SessionActive, 1},
		{1, fsm.SubscribeLine{Line: "callpark"}, []events.Event{events.SessionSubscribed{Line: "callpark"}}, "", fsm.SessionActive, 1},
		{2, fsm.UnsubscribeLine{Line: "callpark"}, []events.Event{events.SessionUnsubscribed{Line: "callpark"}}, "", fsm.SessionActive, 1},
		{3, fsm.DestroySession{}, []events.Event{events.SessionDestroyed{}}, "", fsm.SessionDestroyed, 0},
		{4, fsm.SubscribeLine{Line: "102"}, nil, errcode.InvalidSession, fsm.SessionDestroyed, 0},
	})
}

// TestSessionRandom drives random commands and checks the counter's
// invariants after each: never negative, grace exactly at 0 with a
// deadline, and a refold equal to the state.
func TestSessionRandom(t *testing.T) {
	for seed := uint64(1); seed <= 200; seed++ {
		r := rand.New(rand.NewPCG(seed, 0))
		s := fsm.Session{ID: "s"}
		var log []events.Event
		var ats []int64
		now := int64(0)
		for range 60 {
			now += int64(r.IntN(200)) * int64(time.Second)
			var cmd fsm.SessionCommand
			switch r.IntN(8) {
			case 0:
				cmd = fsm.CreateSession{Client: "c"}
			case 1, 2:
				cmd = fsm.RestoreSession{}
			case 3, 4:
				cmd = fsm.CloseConnection{Grace: grace}
			case 5:
				cmd = fsm.GraceTimeout{}
			case 6:
				cmd = fsm.SubscribeLine{Line: []string{"a", "b"}[r.IntN(2)]}
			default:
				if r.IntN(10) == 0 {
					cmd = fsm.DestroySession{}
				} else {
					cmd = fsm.UnsubscribeLine{Line: []string{"a", "b"}[r.IntN(2)]}
				}
			}
			evs, err := fsm.DecideSession(&s, cmd, now)
			if err != nil && errcode.CodeOf(err) == "" {
				t.Fatalf("seed %d: untyped error %v", seed, err)
			}
			for _, ev := range evs {
				if err := fsm.ApplySession(&s, ev, now); err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
				log, ats = append(log, ev), append(ats, now)
			}
			if s.Connections < 0 || (s.Status == fsm.SessionGrace) != (s.Live() && s.Connections == 0) ||
				(s.Status == fsm.SessionGrace) != (s.GraceDeadline != 0) {
				t.Fatalf("seed %d: broken invariant %+v", seed, s)
			}
		}
		re := fsm.Session{ID: "s"}
		for i, ev := range log {
			if err := fsm.ApplySession(&re, ev, ats[i]); err != nil {
				t.Fatal(err)
			}
		}
		if !reflect.DeepEqual(re, s) {
			t.Fatalf("seed %d: refold differs", seed)
		}
	}
}

func TestSessionApplyRefusesMisfits(t *testing.T) {
	s := fsm.Session{ID: "s"}
	for _, ev := range []events.Event{events.SessionRestored{}, events.SessionConnectionClosed{}, events.SessionSubscribed{Line: "a"}, events.CallIgnored{}} {
		if err := fsm.ApplySession(&s, ev, 0); err == nil {
			t.Fatalf("%T applied to a session that does not exist", ev)
		}
	}
	_ = fsm.ApplySession(&s, events.SessionCreated{Client: "c"}, 0)
	if err := fsm.ApplySession(&s, events.SessionConnectionClosed{}, 0); err == nil {
		t.Fatal("last connection closed without a deadline applied")
	}
	if s.Version != 1 {
		t.Fatalf("refused events changed the version: %d", s.Version)
	}
}
