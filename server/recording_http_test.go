package server

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestRecordingRef(t *testing.T) {
	ref, call, ok := recordingRef("rec/call-01HZ_x/12.wav")
	if !ok || ref != "rec/call-01HZ_x/12" || call != "call-01HZ_x" {
		t.Fatalf("%q %q %v", ref, call, ok)
	}
	for _, bad := range []string{"", "rec/c/1", "rec/c/x.wav", "rec/../1.wav", "rec/c/1/2.wav", "x/c/1.wav", "rec/c.d/1.wav", "rec//1.wav", "rec/c/-1.wav"} {
		if _, _, ok := recordingRef(bad); ok {
			t.Errorf("%q taken", bad)
		}
	}
}

// FuzzRecordingRef: whatever the path, a reference taken names a file
// under the recordings directory, of the call it names.
func FuzzRecordingRef(f *testing.F) {
	for _, s := range []string{"rec/call-1/3.wav", "rec/../../etc/passwd.wav", "rec/c/1.wav/", "rec/c%2F/1.wav", "rec/c/01.wav"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		ref, call, ok := recordingRef(path)
		if !ok {
			return
		}
		if !strings.HasPrefix(ref, "rec/"+call+"/") || strings.Contains(ref, "..") {
			t.Fatalf("%q: ref %q call %q", path, ref, call)
		}
		dir := filepath.Join("/", "recordings")
		file := recordingPath(dir, ref)
		if rel, err := filepath.Rel(dir, file); err != nil || strings.HasPrefix(rel, "..") || rel != ref+".wav" {
			t.Fatalf("%q: file %q", path, file)
		}
	})
}
