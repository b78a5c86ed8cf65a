package server

import (
	"errors"
	"net/http"
	"os"
	"strings"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
)

// GET /recordings/rec/<call>/<n>.wav serves the file of one of the
// engine's recordings (recording.go) to a party of the call or a
// supervisor, authenticated with an access token (Authorization: Bearer,
// the tokens of auth.login over the WebSocket or Engine.Login): 401
// without a valid token, 403 for a client that was not in the call, 404
// for no such call or file. The file is served as it is (Range requests
// work); a recording still under way has its header's sizes only when it
// stops.

// recordingFile serves GET /recordings/….
func (s *Server) recordingFile(w http.ResponseWriter, r *http.Request) {
	e := s.Engine()
	if e == nil {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="callengine"`)
		http.Error(w, "an access token is needed", http.StatusUnauthorized)
		return
	}
	ctx, p, err := e.Authenticate(r.Context(), token)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="callengine", error="invalid_token"`)
		http.Error(w, "invalid access token", http.StatusUnauthorized)
		return
	}
	ref, callID, ok := recordingRef(strings.TrimPrefix(r.URL.Path, "/recordings/"))
	if !ok {
		http.NotFound(w, r)
		return
	}
	c, err := e.Call(ctx, callID)
	if err != nil {
		if errcode.CodeOf(err) == errcode.Forbidden {
			http.Error(w, "not a party of the call", http.StatusForbidden)
			return
		}
		http.NotFound(w, r)
		return
	}
	if p.Role != engine.RoleSupervisor && c.Caller.Client != p.Client && c.Callee.Client != p.Client {
		http.Error(w, "not a party of the call", http.StatusForbidden)
		return
	}
	f, err := os.Open(recordingPath(s.Config.WithDefaults().Recordings, ref))
	if errors.Is(err, os.ErrNotExist) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		http.Error(w, "cannot read the recording", http.StatusInternalServerError)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		http.Error(w, "cannot read the recording", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "audio/wav")
	w.Header().Set("Cache-Control", "private, no-store")
	http.ServeContent(w, r, "", st.ModTime(), f)
}

// recordingRef reads "rec/<call>/<n>.wav": the recording's reference
// (rec/<call>/<n>) and its call; false for any other path.
func recordingRef(path string) (ref, call string, ok bool) {
	ref, ok = strings.CutSuffix(path, ".wav")
	if !ok {
		return "", "", false
	}
	parts := strings.Split(ref, "/")
	if len(parts) != 3 || parts[0] != "rec" || !safeSegment(parts[1]) || !safeSegment(parts[2]) {
		return "", "", false
	}
	for _, c := range parts[2] {
		if c < '0' || c > '9' {
			return "", "", false
		}
	}
	return ref, parts[1], true
}

// safeSegment reports whether s is a path segment of letters, digits, '-'
// and '_' (no dots: no "..").
func safeSegment(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}
