package bench

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// Plot sizes and colours.
const (
	plotW      = 960
	panelH     = 250
	panelGap   = 80
	plotTop    = 70
	plotLeft   = 90
	plotRight  = 40
	plotFooter = 130 // below the last panel: its axis label, then up to 3 lines of figures
)

var (
	black     = color.RGBA{0x20, 0x20, 0x20, 255}
	grey      = color.RGBA{0x70, 0x70, 0x70, 255}
	gridGrey  = color.RGBA{0xe4, 0xe4, 0xe4, 255}
	blue      = color.RGBA{0x1f, 0x77, 0xb4, 255}
	orange    = color.RGBA{0xff, 0x7f, 0x0e, 255}
	green     = color.RGBA{0x2c, 0xa0, 0x2c, 255}
	red       = color.RGBA{0xd6, 0x27, 0x28, 255}
	seriesCol = map[string]color.RGBA{"lifecycle": blue, "soak": orange, "replay": green}
)

// WritePlot draws the report to path: SVG when the name ends in .svg, PNG
// when it ends in .png.
func WritePlot(path string, r *Report) error {
	var write func(io.Writer, *Report) error
	switch strings.ToLower(filepath.Ext(path)) {
	case ".svg":
		write = PlotSVG
	case ".png":
		write = PlotPNG
	default:
		return fmt.Errorf("plot %s: the name must end in .svg or .png", path)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// PlotSVG draws throughput over time and the latency percentiles as SVG.
func PlotSVG(w io.Writer, r *Report) error {
	panels := plotPanels(r)
	c := newSVG(plotW, plotHeight(len(panels)))
	drawPlot(c, r, panels)
	return c.writeTo(w)
}

// PlotPNG draws the same plot as a PNG image.
func PlotPNG(w io.Writer, r *Report) error {
	panels := plotPanels(r)
	c := newPNG(plotW, plotHeight(len(panels)))
	drawPlot(c, r, panels)
	return c.writeTo(w)
}

func plotHeight(panels int) int {
	return plotTop + max(panels, 1)*(panelH+panelGap) - panelGap + plotFooter
}

// panelKind is one chart of the plot.
type panelKind int

const (
	panelCalls   panelKind = iota // lifecycle and soak, calls/s over time
	panelReplay                   // replay events/s over time
	panelLatency                  // latency by percentile
)

func plotPanels(r *Report) []panelKind {
	var ps []panelKind
	if len(r.Throughput["lifecycle"]) > 0 || len(r.Throughput["soak"]) > 0 {
		ps = append(ps, panelCalls)
	}
	if len(r.LatencyPercentiles) > 0 {
		ps = append(ps, panelLatency)
	}
	if len(r.Throughput["replay"]) > 0 {
		ps = append(ps, panelReplay)
	}
	return ps
}

// frame maps data coordinates into a panel.
type frame struct {
	x, y, w, h             float64
	xmin, xmax, ymin, ymax float64
}

func (f frame) px(v float64) float64 { return f.x + (v-f.xmin)/(f.xmax-f.xmin)*f.w }
func (f frame) py(v float64) float64 { return f.y + f.h - (v-f.ymin)/(f.ymax-f.ymin)*f.h }

func drawPlot(c canvas, r *Report, panels []panelKind) {
	title := fmt.Sprintf("callengine bench - workload %s", r.Workload)
	if r.Quick {
		title += " (quick)"
	}
	c.text(plotLeft, 30, title, 18, 's', black)
	c.text(plotLeft, 50, fmt.Sprintf("%s, %s, %d CPUs, %s/%s", r.StartedAt.Format("2006-01-02 15:04:05 MST"), r.GoVersion, r.NumCPU, r.OS, r.Arch), 12, 's', grey)
	y := float64(plotTop)
	for _, p := range panels {
		f := frame{x: plotLeft, y: y + 24, w: plotW - plotLeft - plotRight, h: panelH - 24}
		switch p {
		case panelCalls:
			drawSeries(c, f, r, []string{"lifecycle", "soak"}, "Calls per second over time",
				map[string]string{"lifecycle": "lifecycle: complete calls/s", "soak": "soak: calls set up/s"}, "calls/s")
		case panelReplay:
			drawSeries(c, f, r, []string{"replay"}, "Replay: events folded per second over time",
				map[string]string{"replay": "replay: events/s"}, "events/s")
		case panelLatency:
			drawLatency(c, f, r)
		}
		y += panelH + panelGap
	}
	if len(panels) == 0 {
		c.text(plotW/2, y+panelH/2, "no throughput series or latencies were measured in this run", 14, 'm', grey)
		y += panelH + panelGap
	}
	drawFooter(c, r, y-panelGap+70)
}

// drawSeries draws throughput samples of some workloads against time.
func drawSeries(c canvas, f frame, r *Report, names []string, title string, legend map[string]string, unit string) {
	c.text(f.x, f.y-10, title, 14, 's', black)
	var tmax, ymax float64
	for _, n := range names {
		for _, s := range r.Throughput[n] {
			tmax = math.Max(tmax, s.At)
			ymax = math.Max(ymax, s.Rate)
		}
	}
	f.xmin, f.xmax = 0, niceCeil(math.Max(tmax, 0.5))
	f.ymin, f.ymax = 0, niceCeil(math.Max(ymax, 1))
	axes(c, f, "seconds since the workload started", unit)
	lx := f.x + f.w - 10
	ly := f.y + 14
	for _, n := range names {
		samples := r.Throughput[n]
		if len(samples) == 0 {
			continue
		}
		pts := make([]point, 0, len(samples)+1)
		prev := 0.0
		for _, s := range samples {
			// A step per interval: the rate held over it.
			pts = append(pts, point{f.px(prev), f.py(s.Rate)}, point{f.px(s.At), f.py(s.Rate)})
			prev = s.At
		}
		col := seriesCol[n]
		c.polyline(pts, col, 2)
		c.rect(lx-200, ly-8, 14, 4, col)
		c.text(lx-180, ly-3, legend[n], 12, 's', black)
		ly += 18
	}
}

// drawLatency draws the HDR percentile curve: x is log10(1/(1-p)), so that
// 90 %, 99 %, 99.9 % … are evenly spaced.
func drawLatency(c canvas, f frame, r *Report) {
	n := int64(0)
	if r.Commands != nil {
		n = *r.Commands
	}
	c.text(f.x, f.y-10, "Command latency by percentile", 14, 's', black)
	c.text(f.x+f.w, f.y-10, fmt.Sprintf("call -> durable answer, %s commands, HDR histogram", count(n)), 12, 'e', grey)
	xOf := func(p float64) float64 { return math.Log10(1 / (1 - p/100)) }
	var ymax, xmax float64
	var pts []PercentilePoint
	for _, p := range r.LatencyPercentiles {
		if p.Percentile >= 100 {
			continue
		}
		pts = append(pts, p)
		ymax = math.Max(ymax, p.Ms)
		xmax = math.Max(xmax, xOf(p.Percentile))
	}
	f.xmin, f.xmax = 0, math.Max(math.Ceil(xmax), 2)
	f.ymin, f.ymax = 0, niceCeil(math.Max(ymax, 0.001))
	// x axis: percentile labels instead of numbers.
	for k := 0; k <= int(f.xmax); k++ {
		x := f.px(float64(k))
		c.line(x, f.y, x, f.y+f.h, gridGrey, 1)
		label := "0%"
		if k > 0 {
			label = strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.5f", 100-100/math.Pow(10, float64(k))), "0"), ".") + "%"
		}
		c.text(x, f.y+f.h+16, label, 12, 'm', grey)
	}
	yAxis(c, f, "ms")
	c.line(f.x, f.y+f.h, f.x+f.w, f.y+f.h, black, 1)
	c.text(f.x+f.w/2, f.y+f.h+36, "percentile", 12, 'm', grey)
	line := make([]point, len(pts))
	for i, p := range pts {
		line[i] = point{f.px(xOf(p.Percentile)), f.py(p.Ms)}
	}
	c.polyline(line, blue, 2)
	marks := []struct {
		p     float64
		label string
		v     *float64
	}{{50, "p50", r.P50Ms}, {90, "p90", r.P90Ms}, {99, "p99", r.P99Ms}, {99.9, "p99.9", r.P999Ms}}
	// Dots with short labels above-left of them (the curve rises to the
	// right, so that corner is empty); the values in a line at the top.
	var values []string
	for _, m := range marks {
		if m.v == nil {
			continue
		}
		x, y := f.px(xOf(m.p)), f.py(*m.v)
		c.dot(x, y, 4, red)
		c.text(x-5, y-7, m.label, 12, 'e', red)
		values = append(values, fmt.Sprintf("%s %s ms", m.label, sig3(*m.v)))
	}
	if r.MaxMs != nil {
		values = append(values, fmt.Sprintf("max %s ms", sig3(*r.MaxMs)))
	}
	c.text(f.x+10, f.y+16, strings.Join(values, "   "), 12, 's', red)
}

// axes draws a grid, both axes and their labels.
func axes(c canvas, f frame, xlabel, ylabel string) {
	for _, t := range ticks(f.xmax) {
		x := f.px(t)
		c.line(x, f.y, x, f.y+f.h, gridGrey, 1)
		c.text(x, f.y+f.h+16, short(t), 12, 'm', grey)
	}
	yAxis(c, f, ylabel)
	c.line(f.x, f.y+f.h, f.x+f.w, f.y+f.h, black, 1)
	c.text(f.x+f.w/2, f.y+f.h+36, xlabel, 12, 'm', grey)
}

func yAxis(c canvas, f frame, unit string) {
	for _, t := range ticks(f.ymax) {
		y := f.py(t)
		c.line(f.x, y, f.x+f.w, y, gridGrey, 1)
		c.text(f.x-8, y+4, short(t), 12, 'e', grey)
	}
	c.line(f.x, f.y, f.x, f.y+f.h, black, 1)
	c.text(f.x-8, f.y-10, unit, 12, 'e', grey)
}

// drawFooter lists the figures that have no curve.
func drawFooter(c canvas, r *Report, y float64) {
	var parts []string
	if r.EventsPerSec != nil {
		parts = append(parts, fmt.Sprintf("journal: %s durable events/s, raw bbolt %s/s (ratio %.2f)",
			count(int64(*r.EventsPerSec)), count(int64(*r.RawBboltEventsPerSec)), *r.RatioToRaw))
	}
	if r.CallsPerSec != nil {
		parts = append(parts, fmt.Sprintf("lifecycle: %s calls/s", count(int64(*r.CallsPerSec))))
	}
	if r.HeapBytesPerLiveCall != nil {
		parts = append(parts, fmt.Sprintf("soak: %s B heap per live call at %s calls", count(int64(*r.HeapBytesPerLiveCall)), count(*r.LiveCalls)))
	}
	if r.RestoreSeconds != nil {
		parts = append(parts, fmt.Sprintf("restore: %.3f s for %s live calls", *r.RestoreSeconds, count(*r.RestoredCalls)))
	}
	if r.ReplayEventsPerSec != nil {
		parts = append(parts, fmt.Sprintf("replay: %s events/s", count(int64(*r.ReplayEventsPerSec))))
	}
	// Two figures per line.
	for i := 0; i < len(parts); i += 2 {
		line := parts[i]
		if i+1 < len(parts) {
			line += "   |   " + parts[i+1]
		}
		c.text(plotLeft, y, line, 12, 's', black)
		y += 18
	}
}

// niceCeil rounds v up to a round axis end: 1, 1.2, 1.5, 2, 2.5, 3, 4, 5,
// 6 or 8 times a power of ten.
func niceCeil(v float64) float64 {
	return roundUp(v, []float64{1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10})
}

// roundUp rounds v up to one of steps times a power of ten.
func roundUp(v float64, steps []float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range steps {
		if v <= m*p*1.0000001 {
			return m * p
		}
	}
	return 10 * p
}

// ticks returns round values from 0 to max, 3 to 10 of them.
func ticks(max float64) []float64 {
	step := roundUp(max/6, []float64{1, 2, 2.5, 5, 10})
	var out []float64
	for i := 0; ; i++ {
		v := float64(i) * step
		if v > max*1.0000001 || i > 20 {
			break
		}
		out = append(out, v)
	}
	return out
}

// short formats an axis value: 1.5M, 250k, 12, 0.5.
func short(v float64) string {
	a := math.Abs(v)
	trim := func(s string) string {
		if strings.Contains(s, ".") {
			s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		}
		return s
	}
	switch {
	case a >= 1e6:
		return trim(fmt.Sprintf("%.2f", v/1e6)) + "M"
	case a >= 1e3:
		return trim(fmt.Sprintf("%.2f", v/1e3)) + "k"
	case a == 0:
		return "0"
	default:
		return trim(fmt.Sprintf("%.3f", v))
	}
}
