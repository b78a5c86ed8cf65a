package simulator

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/callengine/callengine/errcode"
)

// FuzzParse: any bytes give a scenario or a malformed error, never a panic;
// a scenario that parses marshals to YAML that parses again.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("../examples/scenarios/*.yaml")
	more, _ := filepath.Glob("testdata/*.yaml")
	for _, p := range append(files, more...) {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("steps:\n  - do: far \"+33 6\" dial 101 name \"x\" as c1\n  - fault: delay far-answered 2s c1 times 2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := Parse(data)
		if err != nil {
			if errcode.CodeOf(err) != errcode.Malformed {
				t.Fatalf("error without code malformed: %v", err)
			}
			return
		}
		out, err := sc.Marshal()
		if err != nil {
			t.Fatalf("a parsed scenario does not marshal: %v", err)
		}
		if _, err := Parse(out); err != nil {
			t.Fatalf("a marshalled scenario does not parse: %v\n%s", err, out)
		}
	})
}
