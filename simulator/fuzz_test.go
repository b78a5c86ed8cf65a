package simulator

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/callengine/callengine/errcode"
)

// maxFuzzScenario bounds the inputs the fuzzer tries (see FuzzParse).
const maxFuzzScenario = 320

// fuzzing reports whether go test -fuzz runs (read once the flags are parsed).
var fuzzing = sync.OnceValue(func() bool {
	f := flag.Lookup("test.fuzz")
	return f != nil && f.Value.String() != ""
})

// FuzzParse: any bytes give a scenario or a malformed error, never a panic;
// a scenario that parses marshals to YAML that parses again.
//
// The seeds are the scenario files cut into small scenarios: each file's
// header (clients, and the like, without its description) with a few of its
// steps, at most maxFuzzScenario bytes. Whole files (up to 4 KiB) as seeds
// made the fuzzer stall: nearly every mutation of a long YAML document
// reaches new coverage in the YAML decoder, and the minimiser, quadratic in
// the input's length at ~100 µs a parse, then spends its 60 s on it — 71
// execs in 20 s. While fuzzing, longer inputs are skipped for the same
// reason; a plain go test runs every seed and corpus entry.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("../examples/scenarios/*.yaml")
	more, _ := filepath.Glob("testdata/*.yaml")
	for _, p := range append(files, more...) {
		if data, err := os.ReadFile(p); err == nil {
			for _, s := range smallScenarios(data, maxFuzzScenario) {
				f.Add(s)
			}
		}
	}
	f.Add([]byte("steps:\n  - do: far \"+33 6\" dial 101 name \"x\" as c1\n  - fault: delay far-answered 2s c1 times 2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzScenario && fuzzing() {
			return
		}
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

// smallScenarios cuts a scenario file into scenarios of at most max bytes:
// its top-level entries but the description and the steps, then as many
// of its steps as fit, again and again.
func smallScenarios(data []byte, max int) [][]byte {
	var header bytes.Buffer
	var steps []string
	lines := strings.SplitAfter(string(data), "\n")
	inSteps, skip := false, false
	for _, l := range lines {
		top := l != "" && l[0] != ' ' && l[0] != '\n' && l[0] != '#'
		switch {
		case top && strings.HasPrefix(l, "steps:"):
			inSteps, skip = true, false
		case top:
			inSteps, skip = false, strings.HasPrefix(l, "description:")
			if !skip {
				header.WriteString(l)
			}
		case inSteps && strings.HasPrefix(l, "  - "):
			steps = append(steps, l)
		case inSteps && len(steps) > 0:
			steps[len(steps)-1] += l
		case !skip && !inSteps:
			header.WriteString(l)
		}
	}
	var out [][]byte
	cur := bytes.NewBuffer(nil)
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, bytes.Clone(cur.Bytes()))
			cur.Reset()
		}
	}
	for _, s := range steps {
		if cur.Len() > 0 && cur.Len()+len(s) > max {
			flush()
		}
		if cur.Len() == 0 {
			if header.Len()+len("steps:\n")+len(s) > max {
				continue
			}
			cur.Write(header.Bytes())
			cur.WriteString("steps:\n")
		}
		cur.WriteString(s)
	}
	flush()
	return out
}

// TestSmallScenariosParse: most seeds FuzzParse makes are scenarios that
// parse, so the fuzzer starts from the parser's far end, not from errors.
func TestSmallScenariosParse(t *testing.T) {
	files, _ := filepath.Glob("../examples/scenarios/*.yaml")
	n, ok := 0, 0
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range smallScenarios(data, maxFuzzScenario) {
			if len(s) > maxFuzzScenario {
				t.Fatalf("%s: a seed of %d bytes", p, len(s))
			}
			n++
			if _, err := Parse(s); err == nil {
				ok++
			}
		}
	}
	if n < len(files) || ok < n/2 {
		t.Fatalf("%d seeds from %d files, %d parse", n, len(files), ok)
	}
	t.Logf("%d seeds from %d files, %d parse", n, len(files), ok)
}
