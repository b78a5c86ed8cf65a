package bench

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"strings"
)

// canvas is what the plot draws on: an SVG document or a raster image.
type canvas interface {
	line(x1, y1, x2, y2 float64, c color.RGBA, width float64)
	polyline(pts []point, c color.RGBA, width float64)
	rect(x, y, w, h float64, fill color.RGBA)
	dot(x, y, r float64, fill color.RGBA)
	// text draws s with its baseline at y; anchor is 's'tart, 'm'iddle or
	// 'e'nd of the text at x.
	text(x, y float64, s string, size float64, anchor byte, c color.RGBA)
}

type point struct{ x, y float64 }

// svgCanvas writes SVG elements.
type svgCanvas struct {
	w, h int
	b    strings.Builder
}

func newSVG(w, h int) *svgCanvas {
	s := &svgCanvas{w: w, h: h}
	fmt.Fprintf(&s.b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n")
	fmt.Fprintf(&s.b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica, Arial, sans-serif">`+"\n", w, h, w, h)
	fmt.Fprintf(&s.b, `<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>`+"\n", w, h)
	return s
}

func svgColor(c color.RGBA) string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

func (s *svgCanvas) line(x1, y1, x2, y2 float64, c color.RGBA, width float64) {
	fmt.Fprintf(&s.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="%.1f"/>`+"\n", x1, y1, x2, y2, svgColor(c), width)
}

func (s *svgCanvas) polyline(pts []point, c color.RGBA, width float64) {
	if len(pts) == 0 {
		return
	}
	s.b.WriteString(`<polyline fill="none" stroke-linejoin="round" stroke="` + svgColor(c) + `" stroke-width="` + fmt.Sprintf("%.1f", width) + `" points="`)
	for i, p := range pts {
		if i > 0 {
			s.b.WriteByte(' ')
		}
		fmt.Fprintf(&s.b, "%.1f,%.1f", p.x, p.y)
	}
	s.b.WriteString(`"/>` + "\n")
}

func (s *svgCanvas) rect(x, y, w, h float64, fill color.RGBA) {
	fmt.Fprintf(&s.b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`+"\n", x, y, w, h, svgColor(fill))
}

func (s *svgCanvas) dot(x, y, r float64, fill color.RGBA) {
	fmt.Fprintf(&s.b, `<circle cx="%.1f" cy="%.1f" r="%.1f" fill="%s"/>`+"\n", x, y, r, svgColor(fill))
}

func (s *svgCanvas) text(x, y float64, str string, size float64, anchor byte, c color.RGBA) {
	a := map[byte]string{'s': "start", 'm': "middle", 'e': "end"}[anchor]
	fmt.Fprintf(&s.b, `<text x="%.1f" y="%.1f" font-size="%.0f" text-anchor="%s" fill="%s">`, x, y, size, a, svgColor(c))
	_ = xml.EscapeText(&s.b, []byte(str))
	s.b.WriteString("</text>\n")
}

func (s *svgCanvas) writeTo(w io.Writer) error {
	_, err := io.WriteString(w, s.b.String()+"</svg>\n")
	return err
}

// pngCanvas rasterises into an RGBA image; text uses a built-in 5×7 font.
type pngCanvas struct{ img *image.RGBA }

func newPNG(w, h int) *pngCanvas {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.RGBA{255, 255, 255, 255}), image.Point{}, draw.Src)
	return &pngCanvas{img: img}
}

func (p *pngCanvas) set(x, y int, c color.RGBA) {
	if image.Pt(x, y).In(p.img.Rect) {
		p.img.SetRGBA(x, y, c)
	}
}

// stamp fills a square of side width centred on (x, y).
func (p *pngCanvas) stamp(x, y float64, c color.RGBA, width float64) {
	r := math.Max(width/2, 0.5)
	for yy := int(math.Round(y - r + 0.5)); yy <= int(math.Round(y+r-0.5)); yy++ {
		for xx := int(math.Round(x - r + 0.5)); xx <= int(math.Round(x+r-0.5)); xx++ {
			p.set(xx, yy, c)
		}
	}
}

func (p *pngCanvas) line(x1, y1, x2, y2 float64, c color.RGBA, width float64) {
	steps := int(math.Ceil(math.Max(math.Abs(x2-x1), math.Abs(y2-y1))))
	if steps == 0 {
		p.stamp(x1, y1, c, width)
		return
	}
	for i := 0; i <= steps; i++ {
		t := float64(i) / float64(steps)
		p.stamp(x1+(x2-x1)*t, y1+(y2-y1)*t, c, width)
	}
}

func (p *pngCanvas) polyline(pts []point, c color.RGBA, width float64) {
	for i := 1; i < len(pts); i++ {
		p.line(pts[i-1].x, pts[i-1].y, pts[i].x, pts[i].y, c, width)
	}
	if len(pts) == 1 {
		p.stamp(pts[0].x, pts[0].y, c, width)
	}
}

func (p *pngCanvas) rect(x, y, w, h float64, fill color.RGBA) {
	r := image.Rect(int(math.Round(x)), int(math.Round(y)), int(math.Round(x+w)), int(math.Round(y+h)))
	draw.Draw(p.img, r, image.NewUniform(fill), image.Point{}, draw.Src)
}

func (p *pngCanvas) dot(x, y, r float64, fill color.RGBA) {
	for yy := int(y - r); yy <= int(y+r)+1; yy++ {
		for xx := int(x - r); xx <= int(x+r)+1; xx++ {
			dx, dy := float64(xx)-x, float64(yy)-y
			if dx*dx+dy*dy <= r*r {
				p.set(xx, yy, fill)
			}
		}
	}
}

// text draws with the 5×7 font: scale 1 below 14 px, 2 from 14 px.
func (p *pngCanvas) text(x, y float64, s string, size float64, anchor byte, c color.RGBA) {
	scale := 1
	if size >= 14 {
		scale = 2
	}
	s = fontText(s)
	adv := 6 * scale
	w := len(s) * adv
	x0 := int(math.Round(x))
	switch anchor {
	case 'm':
		x0 -= w / 2
	case 'e':
		x0 -= w
	}
	top := int(math.Round(y)) - 7*scale
	for i := 0; i < len(s); i++ {
		g, ok := glyphs[s[i]]
		if !ok {
			continue
		}
		for row := 0; row < 7; row++ {
			for col := 0; col < 5; col++ {
				if g[row][col] != '#' {
					continue
				}
				for dy := 0; dy < scale; dy++ {
					for dx := 0; dx < scale; dx++ {
						p.set(x0+i*adv+col*scale+dx, top+row*scale+dy, c)
					}
				}
			}
		}
	}
}

func (p *pngCanvas) writeTo(w io.Writer) error {
	bw := bufio.NewWriter(w)
	if err := png.Encode(bw, p.img); err != nil {
		return err
	}
	return bw.Flush()
}

// fontText maps s onto the characters the 5×7 font has: upper case ASCII,
// with a few replacements.
func fontText(s string) string {
	r := strings.NewReplacer("≥", ">=", "≤", "<=", "—", "-", "–", "-", "×", "X", "µ", "U", "·", "-")
	s = strings.ToUpper(r.Replace(s))
	b := make([]byte, 0, len(s))
	for _, c := range s {
		if c < 128 {
			b = append(b, byte(c))
		} else {
			b = append(b, '?')
		}
	}
	return string(b)
}

// glyphs is a 5×7 bitmap font: rows top to bottom, '#' is ink.
var glyphs = map[byte][7]string{
	' ':  {".....", ".....", ".....", ".....", ".....", ".....", "....."},
	'0':  {".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."},
	'1':  {"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."},
	'2':  {".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"},
	'3':  {"#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."},
	'4':  {"...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."},
	'5':  {"#####", "#....", "####.", "....#", "....#", "#...#", ".###."},
	'6':  {"..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."},
	'7':  {"#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."},
	'8':  {".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."},
	'9':  {".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."},
	'A':  {".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"},
	'B':  {"####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."},
	'C':  {".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."},
	'D':  {"###..", "#..#.", "#...#", "#...#", "#...#", "#..#.", "###.."},
	'E':  {"#####", "#....", "#....", "####.", "#....", "#....", "#####"},
	'F':  {"#####", "#....", "#....", "####.", "#....", "#....", "#...."},
	'G':  {".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"},
	'H':  {"#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"},
	'I':  {".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."},
	'J':  {"..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."},
	'K':  {"#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"},
	'L':  {"#....", "#....", "#....", "#....", "#....", "#....", "#####"},
	'M':  {"#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"},
	'N':  {"#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"},
	'O':  {".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."},
	'P':  {"####.", "#...#", "#...#", "####.", "#....", "#....", "#...."},
	'Q':  {".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"},
	'R':  {"####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"},
	'S':  {".####", "#....", "#....", ".###.", "....#", "....#", "####."},
	'T':  {"#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."},
	'U':  {"#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."},
	'V':  {"#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."},
	'W':  {"#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."},
	'X':  {"#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"},
	'Y':  {"#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."},
	'Z':  {"#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"},
	'.':  {".....", ".....", ".....", ".....", ".....", ".##..", ".##.."},
	',':  {".....", ".....", ".....", ".....", ".##..", "..#..", ".#..."},
	':':  {".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."},
	';':  {".....", ".##..", ".##..", ".....", ".##..", "..#..", ".#..."},
	'/':  {".....", "....#", "...#.", "..#..", ".#...", "#....", "....."},
	'%':  {"##...", "##..#", "...#.", "..#..", ".#...", "#..##", "...##"},
	'-':  {".....", ".....", ".....", "#####", ".....", ".....", "....."},
	'+':  {".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."},
	'(':  {"...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."},
	')':  {".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."},
	'=':  {".....", ".....", "#####", ".....", "#####", ".....", "....."},
	'>':  {".#...", "..#..", "...#.", "....#", "...#.", "..#..", ".#..."},
	'<':  {"...#.", "..#..", ".#...", "#....", ".#...", "..#..", "...#."},
	'_':  {".....", ".....", ".....", ".....", ".....", ".....", "#####"},
	'?':  {".###.", "#...#", "....#", "...#.", "..#..", ".....", "..#.."},
	'\'': {"..#..", "..#..", ".#...", ".....", ".....", ".....", "....."},
}
