package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Chart geometry: a 720×360 canvas with margins for axes and a legend.
const (
	width, height            = 720.0, 360.0
	left, right, top, bottom = 70.0, 20.0, 40.0, 50.0
)

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"}

// esc escapes text for XML.
func esc(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '"':
			b.WriteString("&quot;")
		case '\'':
			b.WriteString("&apos;")
		default:
			if r < 0x20 && r != '\t' && r != '\n' || r == 0xFFFE || r == 0xFFFF {
				continue // not allowed in XML 1.0
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// niceTicks returns about n round tick values (1, 2, 5 × 10^k) covering [lo, hi].
func niceTicks(lo, hi float64, n int) []float64 {
	if !(hi > lo) {
		hi = lo + 1
	}
	step := math.Pow(10, math.Floor(math.Log10((hi-lo)/float64(n))))
	for _, m := range []float64{1, 2, 5, 10} {
		if (hi-lo)/(step*m) <= float64(n) {
			step *= m
			break
		}
	}
	var out []float64
	for v := math.Floor(lo/step) * step; v <= hi+step/2 && len(out) < 50; v += step {
		out = append(out, v)
	}
	return out
}

type canvas struct{ b strings.Builder }

func newCanvas(title string) *canvas {
	c := &canvas{}
	fmt.Fprintf(&c.b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" font-family="sans-serif" font-size="12">`+"\n",
		width, height, width, height)
	fmt.Fprintf(&c.b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&c.b, `<text x="%g" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", left, esc(title))
	return c
}

func (c *canvas) text(x, y float64, anchor, s string, extra string) {
	fmt.Fprintf(&c.b, `<text x="%.1f" y="%.1f" text-anchor="%s" %s>%s</text>`+"\n", x, y, anchor, extra, esc(s))
}

func (c *canvas) line(x1, y1, x2, y2 float64, stroke string, w float64) {
	fmt.Fprintf(&c.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="%g"/>`+"\n", x1, y1, x2, y2, stroke, w)
}

func (c *canvas) done() string {
	c.b.WriteString("</svg>\n")
	return c.b.String()
}

// axis maps values onto pixels, linearly or in log10.
type axis struct {
	lo, hi   float64
	log      bool
	px0, px1 float64
}

func (a axis) at(v float64) float64 {
	lo, hi := a.lo, a.hi
	if a.log {
		v, lo, hi = math.Log10(math.Max(v, a.lo)), math.Log10(lo), math.Log10(hi)
	}
	if hi == lo {
		return (a.px0 + a.px1) / 2
	}
	return a.px0 + (v-lo)/(hi-lo)*(a.px1-a.px0)
}

func (a axis) ticks() []float64 {
	if !a.log {
		return niceTicks(a.lo, a.hi, 6)
	}
	var out []float64
	for e := math.Floor(math.Log10(a.lo)); e <= math.Ceil(math.Log10(a.hi)) && len(out) < 20; e++ {
		out = append(out, math.Pow(10, e))
	}
	return out
}

func (c *canvas) frame(x, y axis, xTitle, yTitle string) {
	c.line(left, height-bottom, width-right, height-bottom, "#333", 1)
	c.line(left, top, left, height-bottom, "#333", 1)
	for _, t := range y.ticks() {
		if t < y.lo-1e-9 || t > y.hi+1e-9 {
			continue
		}
		py := y.at(t)
		c.line(left, py, width-right, py, "#eee", 1)
		c.text(left-6, py+4, "end", tick(t), "")
	}
	for _, t := range x.ticks() {
		if t < x.lo-1e-9 || t > x.hi+1e-9 {
			continue
		}
		px := x.at(t)
		c.line(px, height-bottom, px, height-bottom+4, "#333", 1)
		c.text(px, height-bottom+18, "middle", tick(t), "")
	}
	c.text((left+width-right)/2, height-12, "middle", xTitle, "")
	c.text(16, (top+height-bottom)/2, "middle", yTitle, fmt.Sprintf(`transform="rotate(-90 16 %.1f)"`, (top+height-bottom)/2))
}

func (c *canvas) legend(names []string) {
	for i, n := range names {
		x := width - right - 220
		y := top + 4 + float64(i)*16
		fmt.Fprintf(&c.b, `<rect x="%.1f" y="%.1f" width="10" height="10" fill="%s"/>`+"\n", x, y, palette[i%len(palette)])
		c.text(x+14, y+9, "start", n, "")
	}
}

// LineChart draws series against a shared linear x and y.
func LineChart(title, xTitle, yUnit string, series []Series) string {
	c := newCanvas(title)
	xlo, xhi, ylo, yhi := math.Inf(1), math.Inf(-1), 0.0, math.Inf(-1)
	for _, s := range series {
		for _, p := range s.Points {
			if finite(p.X) && finite(p.Y) {
				xlo, xhi, ylo, yhi = min(xlo, p.X), max(xhi, p.X), min(ylo, p.Y), max(yhi, p.Y)
			}
		}
	}
	if math.IsInf(xlo, 1) {
		c.text(width/2, height/2, "middle", "no data", "")
		return c.done()
	}
	if xhi == xlo {
		xhi = xlo + 1
	}
	if yhi <= ylo {
		yhi = ylo + 1
	}
	yt := niceTicks(ylo, yhi, 6)
	x := axis{lo: xlo, hi: xhi, px0: left, px1: width - right}
	y := axis{lo: ylo, hi: yt[len(yt)-1], px0: height - bottom, px1: top}
	c.frame(x, y, xTitle, yUnit)
	names := make([]string, 0, len(series))
	for i, s := range series {
		names = append(names, s.Name)
		var pts []string
		for _, p := range s.Points {
			if finite(p.X) && finite(p.Y) {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x.at(p.X), y.at(p.Y)))
			}
		}
		if len(pts) == 1 {
			xy := strings.Split(pts[0], ",")
			fmt.Fprintf(&c.b, `<circle cx="%s" cy="%s" r="3" fill="%s"/>`+"\n", xy[0], xy[1], palette[i%len(palette)])
			continue
		}
		fmt.Fprintf(&c.b, `<polyline fill="none" stroke="%s" stroke-width="1.8" points="%s"/>`+"\n", palette[i%len(palette)], strings.Join(pts, " "))
	}
	c.legend(names)
	return c.done()
}

// HistogramChart draws the distribution over log-spaced buckets, five per
// decade; each of the HDR histogram's bars counts where its middle falls.
func HistogramChart(h Histogram) string {
	c := newCanvas(h.Name + " (" + h.Unit + ")")
	var bars []bar
	if h.Dist != nil {
		bars = h.Dist.bars()
	}
	if len(bars) == 0 {
		c.text(width/2, height/2, "middle", "no data", "")
		return c.done()
	}
	mid := func(b bar) float64 { return (b.from + b.to) / 2 }
	lo, hi := math.Inf(1), 0.0
	for _, b := range bars {
		if v := mid(b); v > 0 {
			lo = min(lo, v)
		}
		hi = max(hi, mid(b))
	}
	if math.IsInf(lo, 1) {
		lo, hi = 1, 10
	}
	lo = math.Pow(10, math.Floor(math.Log10(lo)))
	hi = math.Max(math.Pow(10, math.Ceil(math.Log10(hi))), lo*10)
	const perDecade = 5
	n := int(math.Round(math.Log10(hi/lo))) * perDecade
	counts := make([]int64, n)
	for _, b := range bars {
		i := 0
		if v := mid(b); v > lo {
			i = min(n-1, int(math.Log10(v/lo)*perDecade))
		}
		counts[i] += b.count
	}
	most := int64(0)
	for _, k := range counts {
		most = max(most, k)
	}
	x := axis{lo: lo, hi: hi, log: true, px0: left, px1: width - right}
	yt := niceTicks(0, float64(most), 5)
	y := axis{lo: 0, hi: yt[len(yt)-1], px0: height - bottom, px1: top}
	c.frame(x, y, h.Unit+" (log scale)", "samples")
	for i, k := range counts {
		if k == 0 {
			continue
		}
		b0 := lo * math.Pow(10, float64(i)/perDecade)
		b1 := lo * math.Pow(10, float64(i+1)/perDecade)
		x0, x1 := x.at(b0), x.at(b1)
		fmt.Fprintf(&c.b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`+"\n",
			x0+1, y.at(float64(k)), math.Max(1, x1-x0-2), y.at(0)-y.at(float64(k)), palette[0])
	}
	p := h.Dist.Percentiles()
	for i, m := range []struct {
		name string
		v    float64
	}{{"p50", p.P50}, {"p99", p.P99}} {
		if m.v <= 0 {
			continue
		}
		px := x.at(m.v)
		c.line(px, top, px, height-bottom, palette[1+i], 1.5)
		c.text(px+3, top+12+float64(i)*14, "start", fmt.Sprintf("%s %s", m.name, num(m.v)), fmt.Sprintf(`fill="%s"`, palette[1+i]))
	}
	return c.done()
}

// SystemsChart draws grouped bars of F1 and F2 p50/p99 per system on a log
// scale, since systems differ by orders of magnitude.
func SystemsChart(systems []System) string {
	c := newCanvas("F1 and F2 latency by system (ms, log scale)")
	metrics := []struct {
		name string
		get  func(System) float64
	}{
		{"F1 p50", func(s System) float64 { return s.F1ms.P50 }},
		{"F1 p99", func(s System) float64 { return s.F1ms.P99 }},
		{"F2 p50", func(s System) float64 { return s.F2ms.P50 }},
		{"F2 p99", func(s System) float64 { return s.F2ms.P99 }},
	}
	lo, hi := math.Inf(1), 0.0
	for _, s := range systems {
		for _, m := range metrics {
			if v := m.get(s); v > 0 && finite(v) {
				lo, hi = min(lo, v), max(hi, v)
			}
		}
	}
	if math.IsInf(lo, 1) {
		c.text(width/2, height/2, "middle", "no data", "")
		return c.done()
	}
	lo = math.Pow(10, math.Floor(math.Log10(lo)))
	hi = math.Max(math.Pow(10, math.Ceil(math.Log10(hi))), lo*10)
	y := axis{lo: lo, hi: hi, log: true, px0: height - bottom, px1: top}
	c.line(left, height-bottom, width-right, height-bottom, "#333", 1)
	c.line(left, top, left, height-bottom, "#333", 1)
	for _, t := range y.ticks() {
		py := y.at(t)
		c.line(left, py, width-right, py, "#eee", 1)
		c.text(left-6, py+4, "end", tick(t), "")
	}
	group := (width - left - right) / float64(max(1, len(systems)))
	bar := group * 0.8 / float64(len(metrics))
	for i, s := range systems {
		gx := left + float64(i)*group + group*0.1
		for j, m := range metrics {
			v := m.get(s)
			if !(v > 0) || !finite(v) {
				continue
			}
			fmt.Fprintf(&c.b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %s ms</title></rect>`+"\n",
				gx+float64(j)*bar, y.at(v), math.Max(1, bar-2), y.at(lo)-y.at(v), palette[j%len(palette)], esc(s.Name), m.name, num(v))
		}
		c.text(gx+group*0.4, height-bottom+18, "middle", s.Name, "")
	}
	names := make([]string, len(metrics))
	for i, m := range metrics {
		names[i] = m.name
	}
	c.legend(names)
	return c.done()
}

// tick formats an axis value: round values print short (500, 0.1, 2e+06).
func tick(v float64) string {
	return strconv.FormatFloat(v, 'g', 4, 64)
}
