// Package poster draws the printable QR poster of a venue, as PNG and as
// SVG from one layout: a header, the venue's name and address in
// Vietnamese, the QR code holding the venue's signed code (made with
// github.com/yeqown/go-qrcode), the code in text, and how to scan it.
//
// Text is set in DejaVu Sans (github.com/go-fonts/dejavu, embedded; the
// Bitstream Vera licence with DejaVu's changes in the public domain allows
// embedding and redistribution), whose glyphs cover Vietnamese. Glyph
// outlines are drawn as paths in both formats, so the SVG needs no font on
// the printing machine and both formats show the same thing.
package poster

import (
	"errors"
	"fmt"
	"image/color"
	"strings"

	"github.com/go-fonts/dejavu/dejavusans"
	"github.com/go-fonts/dejavu/dejavusansbold"
	qrcode "github.com/yeqown/go-qrcode/v2"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
	"golang.org/x/text/unicode/norm"
)

// Size of the poster in pixels: A-series proportions (1 : √2), about A5
// at 150 dots per inch.
const (
	Width  = 874
	Height = 1240
)

// Text printed on every poster.
const (
	Heading     = "QUÉT MÃ QR KHI VÀO VÀ KHI RA"
	HowToScan   = "Quét mã bằng Bluezone, NCOVI hoặc VHD, khi vào và khi ra"
	HowToScanEN = "Scan with Bluezone, NCOVI or VHD — on the way in and out"
)

// Venue is what a poster shows.
type Venue struct {
	Name, Address string
	Code          string // the QR text, qrsig's TV1.<venue_id>.<sig>
}

// ErrCode is returned for a code the QR library cannot encode.
var ErrCode = errors.New("cannot encode the code as a QR symbol")

// Renderer draws posters with the parsed fonts. Make it once
// (NewRenderer) and share the Renderer: it is safe for concurrent use.
type Renderer struct {
	regular, bold *sfnt.Font
}

// NewRenderer parses the embedded fonts.
func NewRenderer() (*Renderer, error) {
	regular, err := sfnt.Parse(dejavusans.TTF)
	if err != nil {
		return nil, fmt.Errorf("parse DejaVu Sans: %w", err)
	}
	bold, err := sfnt.Parse(dejavusansbold.TTF)
	if err != nil {
		return nil, fmt.Errorf("parse DejaVu Sans Bold: %w", err)
	}
	return &Renderer{regular: regular, bold: bold}, nil
}

// Missing returns the runes of s (after NFC composition, as drawn) that the
// poster's fonts have no glyph for; they would print as a box.
func (r *Renderer) Missing(s string) []rune {
	var b sfnt.Buffer
	var out []rune
	for _, c := range norm.NFC.String(s) {
		if i, err := r.regular.GlyphIndex(&b, c); (err != nil || i == 0) && c != ' ' {
			out = append(out, c)
		}
	}
	return out
}

// Colours of the poster.
var (
	ink   = color.RGBA{0x11, 0x11, 0x11, 0xff}
	paper = color.RGBA{0xff, 0xff, 0xff, 0xff}
	brand = color.RGBA{0x0b, 0x4f, 0x8a, 0xff}
	muted = color.RGBA{0x55, 0x55, 0x55, 0xff}
)

// point is a position in pixels, y down.
type point struct{ x, y float32 }

// op is one path operation: move, line, quadratic or cubic Bézier to pts[n-1].
type op struct {
	kind sfnt.SegmentOp
	pts  [3]point
}

// shape is a filled path.
type shape struct {
	fill color.RGBA
	ops  []op
}

// rect is a filled rectangle.
type rect struct {
	fill       color.RGBA
	x, y, w, h float32
}

// layout is the poster as shapes, drawn in order: rects, then the QR
// modules, then the text shapes.
type layout struct {
	rects   []rect
	modules [][]bool
	qrX     float32 // top left of the symbol, its quiet zone excluded
	qrY     float32
	module  float32 // side of a module
	shapes  []shape
}

// quietZone is the margin of light modules QR readers need around a symbol.
const quietZone = 4

func (r *Renderer) layout(v Venue) (*layout, error) {
	qr, err := qrcode.NewWith(v.Code, qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionQuart))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCode, err)
	}
	var modules [][]bool
	if err := qr.Save(matrixWriter{&modules}); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCode, err)
	}
	l := &layout{modules: modules}
	l.rects = append(l.rects, rect{paper, 0, 0, Width, Height}, rect{brand, 0, 0, Width, 110})

	t := textSetter{r: r, l: l}
	t.centered(Heading, r.bold, 40, 72, Width-60, paper, 1)
	y := t.block(v.Name, r.bold, []float32{48, 42, 36, 30}, 175, 3, ink)
	y = t.block(v.Address, r.regular, []float32{26, 22}, y+8, 3, muted)

	side := float32(len(modules) + 2*quietZone)
	box := min(float32(Width-160), float32(Height-y-250))
	l.module = float32(int(box / side))
	size := l.module * side
	l.qrX = (Width-size)/2 + quietZone*l.module
	l.qrY = y + 20 + quietZone*l.module
	y += 20 + size

	t.centered(v.Code, r.regular, 24, y+10, Width-60, ink, 1)
	t.block(HowToScan, r.bold, []float32{30}, y+70, 2, brand)
	t.block(HowToScanEN, r.regular, []float32{22}, Height-60, 1, muted)
	return l, nil
}

// matrixWriter keeps the QR library's module matrix.
type matrixWriter struct{ out *[][]bool }

func (w matrixWriter) Write(mat qrcode.Matrix) error {
	*w.out = mat.Bitmap()
	return nil
}

func (matrixWriter) Close() error { return nil }

// textSetter lays out lines of text as glyph outlines.
type textSetter struct {
	r   *Renderer
	l   *layout
	buf sfnt.Buffer
}

// block sets s centred under top in the first of sizes at which it fits in
// maxLines lines, cutting it with an ellipsis at the last size, and returns
// the y under its last line.
func (t *textSetter) block(s string, f *sfnt.Font, sizes []float32, top float32, maxLines int, fill color.RGBA) float32 {
	s = norm.NFC.String(strings.Join(strings.Fields(s), " "))
	var lines []string
	var size float32
	for _, size = range sizes {
		if lines = t.wrap(s, f, size, Width-80); len(lines) <= maxLines {
			break
		}
	}
	if len(lines) > maxLines {
		lines = lines[:maxLines]
		last := []rune(lines[maxLines-1])
		for len(last) > 0 && t.width(string(last)+"…", f, size) > Width-80 {
			last = last[:len(last)-1]
		}
		lines[maxLines-1] = string(last) + "…"
	}
	lead := size * 1.3
	for i, line := range lines {
		t.centered(line, f, size, top+size+float32(i)*lead, Width-80, fill, 0)
	}
	return top + float32(len(lines))*lead
}

// wrap breaks s into lines no wider than width, at spaces (a word longer
// than a line is broken anywhere).
func (t *textSetter) wrap(s string, f *sfnt.Font, size, width float32) []string {
	var lines []string
	cur := ""
	for _, word := range strings.Fields(s) {
		next := strings.TrimSpace(cur + " " + word)
		if t.width(next, f, size) <= width {
			cur = next
			continue
		}
		if cur != "" {
			lines = append(lines, cur)
		}
		cur = ""
		for _, c := range word {
			if cur != "" && t.width(cur+string(c), f, size) > width {
				lines = append(lines, cur)
				cur = ""
			}
			cur += string(c)
		}
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}

func ppem(size float32) fixed.Int26_6 { return fixed.Int26_6(size * 64) }

func (t *textSetter) glyph(f *sfnt.Font, c rune) sfnt.GlyphIndex {
	i, err := f.GlyphIndex(&t.buf, c)
	if err != nil || i == 0 {
		i, _ = f.GlyphIndex(&t.buf, '?')
	}
	return i
}

// width is the advance of s.
func (t *textSetter) width(s string, f *sfnt.Font, size float32) float32 {
	var w fixed.Int26_6
	prev := sfnt.GlyphIndex(0)
	for _, c := range s {
		i := t.glyph(f, c)
		if prev != 0 {
			k, _ := f.Kern(&t.buf, prev, i, ppem(size), 0)
			w += k
		}
		a, _ := f.GlyphAdvance(&t.buf, i, ppem(size), 0)
		w += a
		prev = i
	}
	return float32(w) / 64
}

// centered sets one line with its baseline at y, centred, shrunk to fit
// width when shrink is set.
func (t *textSetter) centered(s string, f *sfnt.Font, size, y, width float32, fill color.RGBA, shrink int) {
	s = norm.NFC.String(s)
	w := t.width(s, f, size)
	if shrink > 0 && w > width {
		size *= width / w
		w = t.width(s, f, size)
	}
	x := (Width - w) / 2
	sh := shape{fill: fill}
	prev := sfnt.GlyphIndex(0)
	for _, c := range s {
		i := t.glyph(f, c)
		if prev != 0 {
			k, _ := f.Kern(&t.buf, prev, i, ppem(size), 0)
			x += float32(k) / 64
		}
		segs, err := f.LoadGlyph(&t.buf, i, ppem(size), nil)
		if err == nil {
			for _, sg := range segs {
				o := op{kind: sg.Op}
				for j, p := range sg.Args[:argCount(sg.Op)] {
					o.pts[j] = point{x + float32(p.X)/64, y + float32(p.Y)/64}
				}
				sh.ops = append(sh.ops, o)
			}
		}
		a, _ := f.GlyphAdvance(&t.buf, i, ppem(size), 0)
		x += float32(a) / 64
		prev = i
	}
	t.l.shapes = append(t.l.shapes, sh)
}

func argCount(o sfnt.SegmentOp) int {
	switch o {
	case sfnt.SegmentOpQuadTo:
		return 2
	case sfnt.SegmentOpCubeTo:
		return 3
	default:
		return 1
	}
}
