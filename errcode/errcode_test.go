package errcode_test

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"testing"

	"github.com/callengine/callengine/errcode"
)

// codes lists every code with its wire spelling, status and sentinel. The
// spelling and the status are public contract: a change here is a breaking
// change.
var codes = []struct {
	code     errcode.Code
	text     string
	status   int
	sentinel *errcode.Error
}{
	{errcode.InvalidToken, "invalid_token", 401, errcode.ErrInvalidToken},
	{errcode.MissingParameter, "missing_parameter", 400, errcode.ErrMissingParameter},
	{errcode.InvalidParams, "invalid_params", 400, errcode.ErrInvalidParams},
	{errcode.InvalidSession, "invalid_session_id", 401, errcode.ErrInvalidSession},
	{errcode.NotFound, "not_found", 404, errcode.ErrNotFound},
	{errcode.InvalidState, "invalid_state", 409, errcode.ErrInvalidState},
	{errcode.Forbidden, "forbidden", 403, errcode.ErrForbidden},
	{errcode.AlreadyExists, "already_exists", 409, errcode.ErrAlreadyExists},
	{errcode.Conflict, "conflict", 409, errcode.ErrConflict},
	{errcode.Unavailable, "unavailable", 503, errcode.ErrUnavailable},
	{errcode.Closed, "closed", 503, errcode.ErrClosed},
	{errcode.JournalCorrupt, "journal_corrupt", 500, errcode.ErrJournalCorrupt},
	{errcode.Malformed, "malformed", 400, errcode.ErrMalformed},
	{errcode.Internal, "internal", 500, errcode.ErrInternal},
	{errcode.HoldNotAvailable, "hold_not_available", 409, errcode.ErrHoldNotAvailable},
	{errcode.RecordingNotAvailable, "recording_not_available", 403, errcode.ErrRecordingNotAvailable},
	{errcode.TransferFailed, "transfer_failed", 400, errcode.ErrTransferFailed},
}

func TestCodesAreDistinct(t *testing.T) {
	seen := map[errcode.Code]bool{}
	sentinels := map[*errcode.Error]bool{}
	for _, c := range codes {
		if seen[c.code] {
			t.Errorf("code %q listed twice", c.code)
		}
		seen[c.code] = true
		if sentinels[c.sentinel] {
			t.Errorf("sentinel of %q shared", c.code)
		}
		sentinels[c.sentinel] = true
		if string(c.code) != c.text {
			t.Errorf("code %q is spelled %q", c.text, string(c.code))
		}
	}
}

func TestStatus(t *testing.T) {
	for _, c := range codes {
		if got := c.code.Status(); got != c.status {
			t.Errorf("%s.Status() = %d, want %d", c.code, got, c.status)
		}
		if got := errcode.New(c.code, "m").Status(); got != c.status {
			t.Errorf("New(%s).Status() = %d, want %d", c.code, got, c.status)
		}
		if got := c.sentinel.Status(); got != c.status {
			t.Errorf("sentinel %s: Status() = %d, want %d", c.code, got, c.status)
		}
	}
	for _, unknown := range []errcode.Code{"", "teapot", "NOT_FOUND", "not_found "} {
		if got := unknown.Status(); got != 500 {
			t.Errorf("Code(%q).Status() = %d, want 500", unknown, got)
		}
	}
}

func TestSentinels(t *testing.T) {
	for _, c := range codes {
		s := c.sentinel
		if s.Code != c.code || s.Message != "" || s.Err != nil {
			t.Errorf("sentinel of %s = %#v", c.code, s)
		}
		if got, want := s.Error(), c.text+": "; got != want {
			t.Errorf("sentinel %s: Error() = %q, want %q", c.code, got, want)
		}
	}
}

func TestNewNewfWrap(t *testing.T) {
	cause := errors.New("disk on fire")
	for _, tc := range []struct {
		err        *errcode.Error
		code       errcode.Code
		msg, text  string
		wrapsCause bool
	}{
		{errcode.New(errcode.NotFound, "no call c-1"), errcode.NotFound, "no call c-1", "not_found: no call c-1", false},
		{errcode.New(errcode.Internal, ""), errcode.Internal, "", "internal: ", false},
		{errcode.Newf(errcode.InvalidState, "call %s is %s", "c-1", "ringing"), errcode.InvalidState, "call c-1 is ringing", "invalid_state: call c-1 is ringing", false},
		{errcode.Newf(errcode.InvalidParams, "100%% of %d", 3), errcode.InvalidParams, "100% of 3", "invalid_params: 100% of 3", false},
		{errcode.Newf(errcode.Malformed, "no verbs"), errcode.Malformed, "no verbs", "malformed: no verbs", false},
		{errcode.Newf(errcode.Malformed, "ünïcödé %q", "☎"), errcode.Malformed, `ünïcödé "☎"`, `malformed: ünïcödé "☎"`, false},
		{errcode.Wrap(errcode.JournalCorrupt, cause, "segment 3"), errcode.JournalCorrupt, "segment 3", "journal_corrupt: segment 3: disk on fire", true},
		{errcode.Wrap(errcode.Unavailable, nil, "no cause"), errcode.Unavailable, "no cause", "unavailable: no cause", false},
	} {
		e := tc.err
		if e.Code != tc.code || e.Message != tc.msg {
			t.Errorf("%#v: want code %q message %q", e, tc.code, tc.msg)
		}
		if got := e.Error(); got != tc.text {
			t.Errorf("Error() = %q, want %q", got, tc.text)
		}
		if tc.wrapsCause {
			if e.Unwrap() != cause || e.Err != cause || !errors.Is(e, cause) {
				t.Errorf("%q does not unwrap to its cause", e)
			}
		} else if e.Unwrap() != nil {
			t.Errorf("%q unwraps to %v, want nil", e, e.Unwrap())
		}
	}
}

// TestIsSentinel: errors.Is(err, ErrX) holds exactly when err is or wraps an
// error with code X, however deep it is wrapped.
func TestIsSentinel(t *testing.T) {
	wrappers := []struct {
		name string
		wrap func(error) error
	}{
		{"bare", func(err error) error { return err }},
		{"%w", func(err error) error { return fmt.Errorf("engine: %w", err) }},
		{"%w twice", func(err error) error { return fmt.Errorf("api: %w", fmt.Errorf("engine: %w", err)) }},
		{"%w with another", func(err error) error { return fmt.Errorf("%w; %w", io.EOF, err) }},
		{"errors.Join", func(err error) error { return errors.Join(fs.ErrNotExist, err) }},
		{"as cause of a plain code", func(err error) error { return errcode.Wrap("", err, "outer") }},
	}
	for _, c := range codes {
		for _, mk := range []struct {
			name string
			err  error
		}{
			{"New", errcode.New(c.code, "something")},
			{"Newf", errcode.Newf(c.code, "thing %d", 7)},
			{"Wrap", errcode.Wrap(c.code, io.ErrUnexpectedEOF, "wrapped")},
			{"sentinel", c.sentinel},
		} {
			for _, w := range wrappers {
				err := w.wrap(mk.err)
				for _, other := range codes {
					want := other.code == c.code
					if got := errors.Is(err, other.sentinel); got != want {
						t.Errorf("%s %s %s: errors.Is(%q, Err%s) = %v, want %v", c.code, mk.name, w.name, err, other.code, got, want)
					}
				}
			}
		}
	}
}

func TestIsOther(t *testing.T) {
	nf := errcode.New(errcode.NotFound, "no call c-1")
	cases := []struct {
		name   string
		err    error
		target error
		want   bool
	}{
		{"same pointer", nf, nf, true},
		{"same code and message, other pointer", nf, errcode.New(errcode.NotFound, "no call c-1"), false},
		{"same code, other message", nf, errcode.New(errcode.NotFound, "x"), false},
		{"a target with a message is not a sentinel", errcode.ErrNotFound, errcode.New(errcode.NotFound, "x"), false},
		{"sentinel-like target built by hand", nf, &errcode.Error{Code: errcode.NotFound}, true},
		{"plain error is no sentinel", errors.New("not_found: "), errcode.ErrNotFound, false},
		{"plain target", nf, errors.New("not_found: no call c-1"), false},
		{"nil error", nil, errcode.ErrNotFound, false},
		{"nil target", nf, nil, false},
		{"cause through Wrap", errcode.Wrap(errcode.Internal, nf, "restore"), errcode.ErrNotFound, true},
		{"outer code through Wrap", errcode.Wrap(errcode.Internal, nf, "restore"), errcode.ErrInternal, true},
		{"plain cause through Wrap", errcode.Wrap(errcode.Internal, io.EOF, "read"), io.EOF, true},
		{"unknown code", errcode.New("teapot", "x"), &errcode.Error{Code: "teapot"}, true},
	}
	for _, tc := range cases {
		if got := errors.Is(tc.err, tc.target); got != tc.want {
			t.Errorf("%s: errors.Is(%v, %v) = %v, want %v", tc.name, tc.err, tc.target, got, tc.want)
		}
	}
}

func TestAs(t *testing.T) {
	inner := errcode.New(errcode.InvalidState, "call c-1 is ended")
	outer := errcode.Wrap(errcode.Conflict, inner, "hold")
	for _, tc := range []struct {
		name string
		err  error
		want *errcode.Error
	}{
		{"bare", inner, inner},
		{"%w", fmt.Errorf("engine: %w", inner), inner},
		{"%w twice", fmt.Errorf("api: %w", fmt.Errorf("engine: %w", inner)), inner},
		{"join", errors.Join(io.EOF, inner), inner},
		{"outermost wins", fmt.Errorf("api: %w", outer), outer},
		{"plain", io.EOF, nil},
		{"plain wrapped", fmt.Errorf("x: %w", io.EOF), nil},
		{"nil", nil, nil},
	} {
		var e *errcode.Error
		ok := errors.As(tc.err, &e)
		if ok != (tc.want != nil) || e != tc.want {
			t.Errorf("%s: errors.As = %v, %p; want %p", tc.name, ok, e, tc.want)
		}
	}
	// Through the outer error the inner one is still reachable.
	var e *errcode.Error
	if !errors.As(outer.Unwrap(), &e) || e.Code != errcode.InvalidState || e.Message != "call c-1 is ended" {
		t.Errorf("inner error through Unwrap: %#v", e)
	}
}

func TestCodeOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want errcode.Code
	}{
		{"nil", nil, ""},
		{"plain", errors.New("boom"), ""},
		{"plain wrapped", fmt.Errorf("x: %w", io.EOF), ""},
		{"plain formatted with %v", fmt.Errorf("x: %v", errcode.New(errcode.NotFound, "n")), ""},
		{"New", errcode.New(errcode.NotFound, "n"), errcode.NotFound},
		{"sentinel", errcode.ErrClosed, errcode.Closed},
		{"%w", fmt.Errorf("x: %w", errcode.New(errcode.Forbidden, "f")), errcode.Forbidden},
		{"%w twice", fmt.Errorf("y: %w", fmt.Errorf("x: %w", errcode.ErrUnavailable)), errcode.Unavailable},
		{"join, first coded", errors.Join(io.EOF, errcode.ErrConflict, errcode.ErrInternal), errcode.Conflict},
		{"outermost of Wrap", errcode.Wrap(errcode.Internal, errcode.ErrNotFound, "w"), errcode.Internal},
		{"Wrap of plain", errcode.Wrap(errcode.JournalCorrupt, io.EOF, "w"), errcode.JournalCorrupt},
		{"unknown code", errcode.New("teapot", "t"), "teapot"},
	} {
		if got := errcode.CodeOf(tc.err); got != tc.want {
			t.Errorf("%s: CodeOf(%v) = %q, want %q", tc.name, tc.err, got, tc.want)
		}
	}
	for _, c := range codes {
		if got := errcode.CodeOf(fmt.Errorf("ctx: %w", errcode.Newf(c.code, "m"))); got != c.code {
			t.Errorf("CodeOf(wrapped %s) = %q", c.code, got)
		}
	}
}

func TestErrorText(t *testing.T) {
	err := fmt.Errorf("hold c-1: %w", errcode.Wrap(errcode.InvalidState, errcode.New(errcode.NotFound, "no call c-1"), "cannot hold"))
	if got, want := err.Error(), "hold c-1: invalid_state: cannot hold: not_found: no call c-1"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func Example() {
	err := fmt.Errorf("hold c-1: %w", errcode.New(errcode.InvalidState, "call c-1 is ringing"))

	fmt.Println(err)
	fmt.Println(errors.Is(err, errcode.ErrInvalidState), errors.Is(err, errcode.ErrNotFound))

	var e *errcode.Error
	if errors.As(err, &e) {
		fmt.Println(e.Code, e.Status(), e.Message)
	}
	fmt.Println(errcode.CodeOf(err), errcode.CodeOf(io.EOF) == "")
	// Output:
	// hold c-1: invalid_state: call c-1 is ringing
	// true false
	// invalid_state 409 call c-1 is ringing
	// invalid_state true
}

func ExampleWrap() {
	cause := io.ErrUnexpectedEOF
	err := errcode.Wrap(errcode.JournalCorrupt, cause, "segment 7, record 12")
	fmt.Println(err)
	fmt.Println(err.Status(), errors.Is(err, errcode.ErrJournalCorrupt), errors.Is(err, io.ErrUnexpectedEOF))
	// Output:
	// journal_corrupt: segment 7, record 12: unexpected EOF
	// 500 true true
}

// coder is a lower-layer error kind that carries its code, like the
// journal's sentinel errors.
type coder struct{ code errcode.Code }

func (c *coder) Error() string           { return "lower: " + string(c.code) }
func (c *coder) ErrorCode() errcode.Code { return c.code }

func TestClassify(t *testing.T) {
	locked := &coder{errcode.Unavailable}
	for _, tc := range []struct {
		name string
		err  error
		want errcode.Code
	}{
		{"nil", nil, "fallback"},
		{"plain", io.EOF, "fallback"},
		{"*Error is not a Coder", errcode.New(errcode.NotFound, "m"), "fallback"},
		{"bare", locked, errcode.Unavailable},
		{"%w", fmt.Errorf("open: %w", &coder{errcode.JournalCorrupt}), errcode.JournalCorrupt},
		{"inside an *Error", errcode.Wrap(errcode.InvalidParams, fmt.Errorf("x: %w", locked), "m"), errcode.Unavailable},
		{"errors.Join", errors.Join(io.EOF, &coder{errcode.Closed}), errcode.Closed},
	} {
		if got := errcode.Classify(tc.err, "fallback"); got != tc.want {
			t.Errorf("%s: Classify(%v) = %q, want %q", tc.name, tc.err, got, tc.want)
		}
	}
}
