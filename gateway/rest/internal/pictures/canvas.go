package pictures

import (
	"image"
	"image/color"
	"math"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// canvas draws in the SVG's user units (pixels of the SVG) onto an RGBA
// image scale times larger, with anti-aliased edges computed from pixel
// coverage, as a browser rasterises the same SVG.
type canvas struct {
	img   *image.RGBA
	scale float64
	face  font.Face
}

var (
	fontOnce sync.Once
	fontData *opentype.Font
	fontErr  error
)

// regular is Go Regular (the Go fonts' BSD licence is in x/image), the
// stand-in for the SVG's font-family="sans-serif".
func regular() (*opentype.Font, error) {
	fontOnce.Do(func() { fontData, fontErr = opentype.Parse(goregular.TTF) })
	return fontData, fontErr
}

// newCanvas is a white w×h (user units) picture at the given scale, with
// text at 11 units like the SVG's font-size.
func newCanvas(w, h int, scale float64) (*canvas, error) {
	f, err := regular()
	if err != nil {
		return nil, err
	}
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: 11 * scale, DPI: 72, Hinting: font.HintingNone})
	if err != nil {
		return nil, err
	}
	pw := max(1, int(math.Round(float64(w)*scale)))
	ph := max(1, int(math.Round(float64(h)*scale)))
	img := image.NewRGBA(image.Rect(0, 0, pw, ph))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	return &canvas{img: img, scale: scale, face: face}, nil
}

func (c *canvas) close() { _ = c.face.Close() }

// blend paints colour col over pixel (x, y) with coverage a in [0, 1].
func (c *canvas) blend(x, y int, col color.NRGBA, a float64) {
	if a <= 0 || !(image.Point{x, y}.In(c.img.Rect)) {
		return
	}
	a = math.Min(a, 1) * float64(col.A) / 255
	i := c.img.PixOffset(x, y)
	p := c.img.Pix[i : i+4 : i+4]
	mix := func(dst uint8, src uint8) uint8 { return uint8(math.Round(float64(src)*a + float64(dst)*(1-a))) }
	p[0] = mix(p[0], col.R)
	p[1] = mix(p[1], col.G)
	p[2] = mix(p[2], col.B)
	p[3] = 0xff
}

func clamp01(v float64) float64 { return math.Max(0, math.Min(1, v)) }

// fillRect fills the rectangle (user units), partly covered pixels blended by area.
func (c *canvas) fillRect(x, y, w, h float64, col color.NRGBA) {
	s := c.scale
	x0, y0, x1, y1 := x*s, y*s, (x+w)*s, (y+h)*s
	b := c.img.Rect
	for py := max(b.Min.Y, int(math.Floor(y0))); py < min(b.Max.Y, int(math.Ceil(y1))); py++ {
		cy := math.Min(y1, float64(py+1)) - math.Max(y0, float64(py))
		for px := max(b.Min.X, int(math.Floor(x0))); px < min(b.Max.X, int(math.Ceil(x1))); px++ {
			cx := math.Min(x1, float64(px+1)) - math.Max(x0, float64(px))
			c.blend(px, py, col, clamp01(cx)*clamp01(cy))
		}
	}
}

// fillCircle fills a disc of radius r (user units) centred on (x, y).
func (c *canvas) fillCircle(x, y, r float64, col color.NRGBA) {
	s := c.scale
	cx, cy, rr := x*s, y*s, r*s
	for py := int(math.Floor(cy - rr - 1)); py <= int(math.Ceil(cy+rr+1)); py++ {
		for px := int(math.Floor(cx - rr - 1)); px <= int(math.Ceil(cx+rr+1)); px++ {
			d := math.Hypot(float64(px)+0.5-cx, float64(py)+0.5-cy)
			c.blend(px, py, col, clamp01(rr+0.5-d))
		}
	}
}

// line strokes the segment (x1,y1)–(x2,y2), width 1 user unit.
func (c *canvas) line(x1, y1, x2, y2 float64, col color.NRGBA) {
	s := c.scale
	ax, ay, bx, by := x1*s, y1*s, x2*s, y2*s
	half := 0.5 * s
	dx, dy := bx-ax, by-ay
	l2 := dx*dx + dy*dy
	for py := int(math.Floor(math.Min(ay, by) - half - 1)); py <= int(math.Ceil(math.Max(ay, by)+half+1)); py++ {
		for px := int(math.Floor(math.Min(ax, bx) - half - 1)); px <= int(math.Ceil(math.Max(ax, bx)+half+1)); px++ {
			qx, qy := float64(px)+0.5, float64(py)+0.5
			t := 0.0
			if l2 > 0 {
				t = clamp01(((qx-ax)*dx + (qy-ay)*dy) / l2)
			}
			d := math.Hypot(qx-(ax+t*dx), qy-(ay+t*dy))
			c.blend(px, py, col, clamp01(half+0.5-d))
		}
	}
}

// dashed strokes a horizontal segment with dashes of on units and gaps of off units.
func (c *canvas) dashed(x1, x2, y, on, off float64, col color.NRGBA) {
	for x := x1; x < x2; x += on + off {
		c.line(x, y, math.Min(x+on, x2), y, col)
	}
}

// anchor is the SVG text-anchor.
type anchor int

const (
	start anchor = iota
	middle
	end
)

// text writes s with its baseline at y (user units), anchored at x.
func (c *canvas) text(s string, x, y float64, a anchor, col color.NRGBA) {
	d := &font.Drawer{Dst: c.img, Src: image.NewUniform(col), Face: c.face}
	w := float64(d.MeasureString(s)) / 64
	px := x * c.scale
	switch a {
	case middle:
		px -= w / 2
	case end:
		px -= w
	}
	d.Dot = fixed.Point26_6{X: fixed.Int26_6(math.Round(px * 64)), Y: fixed.Int26_6(math.Round(y * c.scale * 64))}
	d.DrawString(s)
}

// textUp writes s turned a quarter turn anticlockwise (reading upwards),
// centred on (x, y) along its length with its baseline at x (user units):
// SVG's rotate(-90 x y) of a text-anchor="middle" label.
func (c *canvas) textUp(s string, x, y float64, col color.NRGBA) {
	m := c.face.Metrics()
	asc, desc := m.Ascent.Ceil(), m.Descent.Ceil()
	d := &font.Drawer{Face: c.face}
	w := d.MeasureString(s).Ceil()
	mask := image.NewAlpha(image.Rect(0, 0, w, asc+desc))
	d.Dst, d.Src, d.Dot = mask, image.Opaque, fixed.P(0, asc)
	d.DrawString(s)
	// mask (u, v) -> canvas (bx + v - asc, by + w/2 - u): the baseline becomes the column bx
	bx := int(math.Round(x * c.scale))
	by := int(math.Round(y * c.scale))
	for v := 0; v < asc+desc; v++ {
		for u := 0; u < w; u++ {
			if a := mask.AlphaAt(u, v).A; a > 0 {
				c.blend(bx+v-asc, by+w/2-u, col, float64(a)/255)
			}
		}
	}
}
