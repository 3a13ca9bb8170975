package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"strings"
	"unicode"
)

// font is a 5×7 bitmap font of capitals, digits and the signs the chart
// needs: seven rows of five pixels each, '#' set. Small letters are drawn
// as capitals.
var font = map[rune][7]string{
	'A': {".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"},
	'B': {"####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."},
	'C': {".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."},
	'D': {"####.", "#...#", "#...#", "#...#", "#...#", "#...#", "####."},
	'E': {"#####", "#....", "#....", "####.", "#....", "#....", "#####"},
	'F': {"#####", "#....", "#....", "####.", "#....", "#....", "#...."},
	'G': {".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"},
	'H': {"#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"},
	'I': {".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."},
	'J': {"..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."},
	'K': {"#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"},
	'L': {"#....", "#....", "#....", "#....", "#....", "#....", "#####"},
	'M': {"#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"},
	'N': {"#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"},
	'O': {".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."},
	'P': {"####.", "#...#", "#...#", "####.", "#....", "#....", "#...."},
	'Q': {".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"},
	'R': {"####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"},
	'S': {".####", "#....", "#....", ".###.", "....#", "....#", "####."},
	'T': {"#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."},
	'U': {"#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."},
	'V': {"#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."},
	'W': {"#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."},
	'X': {"#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"},
	'Y': {"#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."},
	'Z': {"#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"},
	'0': {".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."},
	'1': {"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."},
	'2': {".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"},
	'3': {"####.", "....#", "....#", ".###.", "....#", "....#", "####."},
	'4': {"...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."},
	'5': {"#####", "#....", "####.", "....#", "....#", "#...#", ".###."},
	'6': {"..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."},
	'7': {"#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."},
	'8': {".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."},
	'9': {".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."},
	' ': {".....", ".....", ".....", ".....", ".....", ".....", "....."},
	'.': {".....", ".....", ".....", ".....", ".....", ".##..", ".##.."},
	',': {".....", ".....", ".....", ".....", ".##..", "..#..", ".#..."},
	':': {".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."},
	'/': {"....#", "....#", "...#.", "..#..", ".#...", "#....", "#...."},
	'-': {".....", ".....", ".....", "#####", ".....", ".....", "....."},
	'+': {".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."},
	'=': {".....", ".....", "#####", ".....", "#####", ".....", "....."},
	'(': {"...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."},
	')': {".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."},
	'%': {"##...", "##..#", "...#.", "..#..", ".#...", "#..##", "...##"},
	'<': {"...#.", "..#..", ".#...", "#....", ".#...", "..#..", "...#."},
	'>': {".#...", "..#..", "...#.", "....#", "...#.", "..#..", ".#..."},
	'≤': {"...#.", "..#..", ".#...", "..#..", "...#.", ".....", ".####"},
	'≥': {".#...", "..#..", "...#.", "..#..", ".#...", ".....", "####."},
	';': {".....", ".##..", ".##..", ".....", ".##..", "..#..", ".#..."},
	'×': {".....", ".....", "#...#", ".#.#.", "..#..", ".#.#.", "#...#"},
	'?': {".###.", "#...#", "....#", "...#.", "..#..", ".....", "..#.."},
}

// canvas is an RGBA image with the few drawing operations a bar chart needs.
type canvas struct{ *image.RGBA }

var (
	white = color.RGBA{255, 255, 255, 255}
	black = color.RGBA{0, 0, 0, 255}
	grid  = color.RGBA{225, 225, 225, 255}
	red   = color.RGBA{200, 30, 30, 255}
)

func newCanvas(w, h int) canvas {
	c := canvas{image.NewRGBA(image.Rect(0, 0, w, h))}
	c.rect(0, 0, w, h, white)
	return c
}

// rect fills [x0,x1)×[y0,y1).
func (c canvas) rect(x0, y0, x1, y1 int, col color.Color) {
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			c.Set(x, y, col)
		}
	}
}

// dashed draws a horizontal dashed line, thick pixels high.
func (c canvas) dashed(x0, x1, y, thick int, col color.Color) {
	for x := x0; x < x1; x += 12 {
		c.rect(x, y, min(x+8, x1), y+thick, col)
	}
}

// text draws s with its top-left corner at (x, y), each font pixel a
// scale×scale square, and returns the width drawn.
func (c canvas) text(x, y, scale int, s string, col color.Color) int {
	x0 := x
	for _, r := range s {
		g, ok := font[r]
		if !ok {
			g, ok = font[unicode.ToUpper(r)]
		}
		if !ok {
			g = font['?']
		}
		for row, bits := range g {
			for bit, px := range bits {
				if px == '#' {
					c.rect(x+bit*scale, y+row*scale, x+(bit+1)*scale, y+(row+1)*scale, col)
				}
			}
		}
		x += 6 * scale
	}
	return x - x0
}

func textWidth(s string, scale int) int { return len([]rune(s)) * 6 * scale }

// series is one client's values across the groups.
type series struct {
	name   string
	col    color.RGBA
	values []float64 // NaN: not measured
}

// panel is one grouped bar chart.
type panel struct {
	title  string
	groups []string // the x axis
	xLabel string
	ss     []series
	format func(float64) string // a bar's value label
	ref    float64              // a target, drawn as a dashed line; 0: none
}

// draw draws p in the rectangle (x, y, w, h).
func (c canvas) draw(p panel, x, y, w, h int) {
	c.text(x, y, 2, p.title, black)
	top, bottom, left, right := y+40, y+h-56, x+80, x+w-10
	maxV := 0.0
	for _, s := range p.ss {
		for _, v := range s.values {
			if !math.IsNaN(v) {
				maxV = math.Max(maxV, v)
			}
		}
	}
	maxV = math.Max(maxV, p.ref)
	maxV *= 1.08 // room for the value labels
	step := niceStep(maxV / 5)
	maxV = math.Ceil(maxV/step) * step
	yOf := func(v float64) int { return bottom - int(math.Round(v/maxV*float64(bottom-top))) }
	for v := 0.0; v <= maxV+step/2; v += step {
		py := yOf(v)
		c.rect(left, py, right, py+1, grid)
		l := trimFloat(v)
		c.text(left-10-textWidth(l, 2), py-7, 2, l, black)
	}
	c.rect(left, top, left+2, bottom+1, black)
	c.rect(left, bottom, right, bottom+2, black)
	gw := (right - left) / len(p.groups)
	bw := (gw - 20) / len(p.ss)
	for g, name := range p.groups {
		gx := left + g*gw + 10
		for i, s := range p.ss {
			v := s.values[g]
			if math.IsNaN(v) {
				continue
			}
			bx := gx + i*bw
			c.rect(bx+1, yOf(v), bx+bw-2, bottom, s.col)
			l := p.format(v)
			c.text(bx+(bw-textWidth(l, 1))/2, yOf(v)-10, 1, l, black)
		}
		c.text(left+g*gw+(gw-textWidth(name, 2))/2, bottom+10, 2, name, black)
	}
	c.text(left+(right-left-textWidth(p.xLabel, 2))/2, bottom+34, 2, p.xLabel, black)
	if p.ref > 0 {
		c.dashed(left, right, yOf(p.ref)-1, 3, red)
	}
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}

func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

// legend draws the series' colours and names in a row, then the dashed
// target line's meaning.
func (c canvas) legend(x, y int, ss []series, ref string) {
	for _, s := range ss {
		c.rect(x, y, x+20, y+14, s.col)
		x += 28 + c.text(x+28, y, 2, s.name, black) + 30
	}
	if ref != "" {
		c.dashed(x, x+44, y+6, 3, red)
		c.text(x+54, y, 2, ref, black)
	}
}

// chartGroups are the record limits on the x axis, as the benchmarks name
// them and as the chart shows them.
var chartGroups = []struct{ name, label string }{
	{"limit=512", "512"}, {"limit=1024", "1024"}, {"limit=2048", "2048"}, {"limit=4096", "4096"}, {noLimit, "16 KIB"},
}

var chartClients = []struct {
	name string
	col  color.RGBA
}{
	{stdName, color.RGBA{130, 130, 130, 255}},
	{utlsName, color.RGBA{60, 120, 210, 255}},
	{tlsappName, color.RGBA{235, 125, 20, 255}},
}

// Chart draws RAM per connection and throughput against the record limit
// for tlsapp and its baselines, and returns the PNG.
func Chart(r *Results, date string) ([]byte, error) {
	tp := pair{"tls13", "aes128"}
	collect := func(name func(limit, client string) string, unit string, scale float64) []series {
		var ss []series
		for _, cl := range chartClients {
			s := series{name: cl.name, col: cl.col}
			for _, g := range chartGroups {
				v, ok := r.Get(name(g.name, cl.name), unit)
				if !ok {
					v = math.NaN()
				}
				s.values = append(s.values, v/scale)
			}
			ss = append(ss, s)
		}
		return ss
	}
	groups := make([]string, len(chartGroups))
	for i, g := range chartGroups {
		groups[i] = g.label
	}
	kibLabel := func(v float64) string { return fmt.Sprintf("%.1f", v) }
	mbLabel := func(v float64) string { return fmt.Sprintf("%.0f", v) }
	ref := func(name string, unit string, scale, factor float64) float64 {
		v, _ := r.Get(name, unit)
		return v / scale * factor
	}
	const xLabel = "RECORD LIMIT (BYTES)"
	panels := []panel{
		{title: "RAM PER IDLE CONNECTION, KIB (LOWER IS BETTER)", groups: groups, xLabel: xLabel, format: kibLabel,
			ss:  collect(memName, "retained-B/conn", 1024),
			ref: ref(memName(noLimit, stdName), "retained-B/conn", 1024, heapBound)},
		{title: "PEAK RAM PER CONNECTION, KIB (LOWER IS BETTER)", groups: groups, xLabel: xLabel, format: kibLabel,
			ss: collect(memName, "peak-B/conn", 1024)},
		{title: "DOWNLOAD MB/S, TLS 1.3 AES-128-GCM (HIGHER IS BETTER)", groups: groups, xLabel: xLabel, format: mbLabel,
			ss:  collect(func(l, c string) string { return transferName("Download", tp, l, c) }, "MB/s", 1),
			ref: ref(transferName("Download", tp, noLimit, stdName), "MB/s", 1, throughputBound)},
		{title: "UPLOAD MB/S, TLS 1.3 AES-128-GCM (HIGHER IS BETTER)", groups: groups, xLabel: xLabel, format: mbLabel,
			ss:  collect(func(l, c string) string { return transferName("Upload", tp, l, c) }, "MB/s", 1),
			ref: ref(transferName("Upload", tp, noLimit, stdName), "MB/s", 1, throughputBound)},
	}

	const w, h, pw, ph = 1400, 1010, 680, 440
	c := newCanvas(w, h)
	c.text(20, 16, 3, "TLSAPP AGAINST CRYPTO/TLS AND UTLS BY RECORD LIMIT", black)
	c.text(20, 48, 2, "medians of the run of "+date+". crypto/tls and utls cannot ask for a limit; the server caps records.", color.RGBA{70, 70, 70, 255})
	c.legend(20, 78, panels[0].ss, "TARGET: RAM 0.5× AND SPEED 0.85× CRYPTO/TLS AT 16 KIB")
	for i, p := range panels {
		c.draw(p, 20+(i%2)*(pw+20), 116+(i/2)*(ph+14), pw, ph)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, c); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
