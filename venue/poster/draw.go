package poster

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
	"strconv"

	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/vector"
)

// PNG writes v's poster as a PNG image.
func (r *Renderer) PNG(w io.Writer, v Venue) error {
	l, err := r.layout(v)
	if err != nil {
		return err
	}
	img := image.NewRGBA(image.Rect(0, 0, Width, Height))
	for _, rc := range l.rects {
		fill(img, rc.fill, rc.x, rc.y, rc.w, rc.h)
	}
	l.eachModule(func(x, y, s float32) { fill(img, ink, x, y, s, s) })
	z := vector.NewRasterizer(Width, Height)
	for _, sh := range l.shapes {
		z.Reset(Width, Height)
		for _, o := range sh.ops {
			switch o.kind {
			case sfnt.SegmentOpMoveTo:
				z.ClosePath()
				z.MoveTo(o.pts[0].x, o.pts[0].y)
			case sfnt.SegmentOpLineTo:
				z.LineTo(o.pts[0].x, o.pts[0].y)
			case sfnt.SegmentOpQuadTo:
				z.QuadTo(o.pts[0].x, o.pts[0].y, o.pts[1].x, o.pts[1].y)
			case sfnt.SegmentOpCubeTo:
				z.CubeTo(o.pts[0].x, o.pts[0].y, o.pts[1].x, o.pts[1].y, o.pts[2].x, o.pts[2].y)
			}
		}
		z.ClosePath()
		z.DrawOp = draw.Over
		z.Draw(img, img.Bounds(), image.NewUniform(sh.fill), image.Point{})
	}
	if err := png.Encode(w, img); err != nil {
		return fmt.Errorf("encode poster: %w", err)
	}
	return nil
}

func fill(img *image.RGBA, c color.RGBA, x, y, w, h float32) {
	draw.Draw(img, image.Rect(int(x), int(y), int(x+w), int(y+h)), image.NewUniform(c), image.Point{}, draw.Src)
}

// eachModule calls f with the top left and side of every dark module.
func (l *layout) eachModule(f func(x, y, side float32)) {
	for row, cols := range l.modules {
		for col, dark := range cols {
			if dark {
				f(l.qrX+float32(col)*l.module, l.qrY+float32(row)*l.module, l.module)
			}
		}
	}
}

// SVG writes v's poster as an SVG document.
func (r *Renderer) SVG(w io.Writer, v Venue) error {
	l, err := r.layout(v)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`+"\n", Width, Height, Width, Height)
	_, _ = bw.WriteString("<title>")
	_ = xml.EscapeText(bw, []byte(v.Name+" — "+v.Code))
	_, _ = bw.WriteString("</title>\n")
	for _, rc := range l.rects {
		fmt.Fprintf(bw, `<rect x="%s" y="%s" width="%s" height="%s" fill="%s"/>`+"\n", num(rc.x), num(rc.y), num(rc.w), num(rc.h), hex(rc.fill))
	}
	fmt.Fprintf(bw, `<path fill="%s" shape-rendering="crispEdges" d="`, hex(ink))
	l.eachModule(func(x, y, s float32) {
		fmt.Fprintf(bw, "M%s %sh%sv%sh-%sz", num(x), num(y), num(s), num(s), num(s))
	})
	_, _ = bw.WriteString("\"/>\n")
	for _, sh := range l.shapes {
		fmt.Fprintf(bw, `<path fill="%s" d="`, hex(sh.fill))
		for _, o := range sh.ops {
			switch o.kind {
			case sfnt.SegmentOpMoveTo:
				fmt.Fprintf(bw, "M%s %s", num(o.pts[0].x), num(o.pts[0].y))
			case sfnt.SegmentOpLineTo:
				fmt.Fprintf(bw, "L%s %s", num(o.pts[0].x), num(o.pts[0].y))
			case sfnt.SegmentOpQuadTo:
				fmt.Fprintf(bw, "Q%s %s %s %s", num(o.pts[0].x), num(o.pts[0].y), num(o.pts[1].x), num(o.pts[1].y))
			case sfnt.SegmentOpCubeTo:
				fmt.Fprintf(bw, "C%s %s %s %s %s %s", num(o.pts[0].x), num(o.pts[0].y), num(o.pts[1].x), num(o.pts[1].y), num(o.pts[2].x), num(o.pts[2].y))
			}
		}
		_, _ = bw.WriteString("\"/>\n")
	}
	_, _ = bw.WriteString("</svg>\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write poster: %w", err)
	}
	return nil
}

// num writes a coordinate to a hundredth of a pixel.
func num(f float32) string { return strconv.FormatFloat(math.Round(float64(f)*100)/100, 'f', -1, 64) }

func hex(c color.RGBA) string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }
