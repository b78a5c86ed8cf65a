package bench

import (
	"bytes"
	"encoding/xml"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sampleReport is a report with every figure and series.
func sampleReport() *Report {
	r := newReport(Options{Workload: "all", Calls: 1000, Concurrency: 100})
	l := NewLatency()
	for i := 1; i <= 5000; i++ {
		l.Record(i, time.Duration(i)*time.Microsecond)
	}
	h := l.Histogram()
	r.setLifecycle(LifecycleResult{Calls: 1000, Concurrency: 100, Events: 6000, Commands: h.TotalCount(), Elapsed: time.Second,
		CallsPerSec: 1000, EventsPerSec: 6000, P50: Quantile(h, .5), P90: Quantile(h, .9), P99: Quantile(h, .99),
		P999: Quantile(h, .999), Max: 5 * time.Millisecond, Latency: h, Stopped: "count",
		Throughput: []Sample{{0.25, 250, 1000}, {0.5, 200, 800}, {0.75, 300, 1200}, {1, 250, 1000}}}, false)
	r.setAppends(AppendsResult{Records: 100, Writers: 10, EventsPerSec: 3e5, RawEventsPerSec: 6e5, Ratio: 0.5})
	r.setSoak(SoakResult{LiveCalls: 1000, HeapBytesPerCall: 1700, Setup: time.Second, Throughput: []Sample{{0.25, 500, 2000}, {0.4, 300, 2000}}})
	r.setRestore(RestoreResult{LiveCalls: 1000, Clients: 20, Events: 3000, Elapsed: 30 * time.Millisecond})
	r.setReplay(ReplayResult{Events: 9000, Passes: 1, Streams: 1020, Elapsed: 5 * time.Millisecond, EventsPerSec: 1.8e6,
		Throughput: []Sample{{0.25, 400_000, 1.6e6}, {0.5, 500_000, 2e6}}}, nil)
	r.judge()
	return r
}

// checkSVG parses an SVG document as XML and counts its elements by name.
func checkSVG(t *testing.T, b []byte) map[string]int {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	elems := map[string]int{}
	root := ""
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
			}
			elems[se.Name.Local]++
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q, want svg", root)
	}
	return elems
}

func TestPlotSVGIsValidAndDrawsEverySeries(t *testing.T) {
	var b bytes.Buffer
	if err := PlotSVG(&b, sampleReport()); err != nil {
		t.Fatal(err)
	}
	elems := checkSVG(t, b.Bytes())
	// lifecycle, soak and replay throughput, and the percentile curve.
	if elems["polyline"] != 4 || elems["circle"] != 4 || elems["text"] < 20 {
		t.Errorf("elements %v", elems)
	}
	for _, s := range []string{"Calls per second over time", "Command latency by percentile", "Replay: events folded",
		"p99.9", "99.9%", "lifecycle: complete calls/s", "journal: 300,000 durable events/s"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("SVG lacks %q", s)
		}
	}
}

func TestPlotPNGDecodes(t *testing.T) {
	var b bytes.Buffer
	if err := PlotPNG(&b, sampleReport()); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&b)
	if err != nil {
		t.Fatal(err)
	}
	bounds := img.Bounds()
	if bounds.Dx() != plotW || bounds.Dy() != plotHeight(3) {
		t.Errorf("size %v", bounds)
	}
	// Something was drawn in the series colours.
	colours := map[[3]uint32]int{}
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			colours[[3]uint32{r >> 8, g >> 8, b >> 8}]++
		}
	}
	for name, c := range map[string][3]uint32{"blue": {0x1f, 0x77, 0xb4}, "orange": {0xff, 0x7f, 0x0e}, "green": {0x2c, 0xa0, 0x2c}, "red": {0xd6, 0x27, 0x28}} {
		if colours[c] < 20 {
			t.Errorf("%s: %d pixels", name, colours[c])
		}
	}
}

// A run that measured no series still gives a valid plot, saying so.
func TestPlotWithoutSeries(t *testing.T) {
	r := newReport(Options{Workload: "journal"})
	r.setAppends(AppendsResult{EventsPerSec: 1, RawEventsPerSec: 2, Ratio: 0.5})
	dir := t.TempDir()
	for _, name := range []string{"p.svg", "p.PNG"} {
		path := filepath.Join(dir, name)
		if err := WritePlot(path, r); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(path)
		if strings.HasSuffix(name, ".svg") {
			checkSVG(t, b)
			if !strings.Contains(string(b), "no throughput series") {
				t.Error("no note that nothing was plotted")
			}
		} else if _, err := png.Decode(bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	if err := WritePlot(filepath.Join(dir, "p.jpg"), r); err == nil {
		t.Error("a .jpg plot was accepted")
	}
}

func TestAxisHelpers(t *testing.T) {
	for v, want := range map[float64]float64{0.7: 0.8, 5.86: 6, 1.47: 1.5, 17_000: 20_000, 2.3e6: 2.5e6, 0: 1} {
		if got := niceCeil(v); got != want {
			t.Errorf("niceCeil(%v) = %v, want %v", v, got, want)
		}
	}
	for _, max := range []float64{0.5, 6, 20_000, 2.5e6} {
		ts := ticks(max)
		if len(ts) < 3 || len(ts) > 11 || ts[0] != 0 || ts[len(ts)-1] > max*1.0000001 {
			t.Errorf("ticks(%v) = %v", max, ts)
		}
	}
	for v, want := range map[float64]string{2.5e6: "2.5M", 20_000: "20k", 0.25: "0.25", 0: "0", 6: "6"} {
		if got := short(v); got != want {
			t.Errorf("short(%v) = %q, want %q", v, got, want)
		}
	}
}
