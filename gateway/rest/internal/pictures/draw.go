package pictures

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"sort"
	"strconv"
	"strings"

	commonv1 "tda-mesh/gateway/rest/gen/tda/common/v1"
)

// The layout below is the one of the gateway's SVG pictures
// (gateway/src/pictures.ts): same sizes, margins, scales, colours, caps and
// bar selection, so a PNG is that SVG rasterised at `scale`.

const (
	// MaxSide bounds width and height (user units), as for the SVG routes.
	MaxSide = 4096
	// MaxBars is the barcode's bar budget (the longest bars are drawn).
	MaxBars = 2000
	// MaxPoints is the most points a diagram draws.
	MaxPoints = 50_000
	// maxBarcodeHeight bounds the barcode's height (user units).
	maxBarcodeHeight = 64_000
)

var palette = []color.NRGBA{
	rgb(0x1f77b4), rgb(0xd62728), rgb(0x2ca02c), rgb(0x9467bd), rgb(0xff7f0e),
	rgb(0x8c564b), rgb(0xe377c2), rgb(0x17becf), rgb(0x7f7f7f),
}

var (
	black = rgb(0x000000)
	grey  = rgb(0x999999)
	dark  = rgb(0x555555)
)

func rgb(v uint32) color.NRGBA {
	return color.NRGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 0xff}
}

func colour(dim uint32) color.NRGBA { return palette[int(dim)%len(palette)] }

func withAlpha(c color.NRGBA, a float64) color.NRGBA {
	c.A = uint8(math.Round(a * 255))
	return c
}

// clampSide is the SVG's: 0 means the default, then 64..MaxSide.
func clampSide(v uint32, def int) int {
	if v == 0 {
		return def
	}
	return max(64, min(MaxSide, int(v)))
}

func finite(v float64) bool { return !math.IsInf(v, 0) && !math.IsNaN(v) }

// valueRange is [lo, hi] of the axes: lo = min(0, finite births), hi = 1.05 × the largest finite value (1 if none is positive).
func valueRange(ds []*commonv1.PersistenceDiagram) (lo, hi float64) {
	top := 0.0
	for _, d := range ds {
		for _, iv := range d.GetIntervals() {
			if b := iv.GetBirth(); finite(b) {
				top = math.Max(top, b)
				lo = math.Min(lo, b)
			}
			if e := iv.GetDeath(); finite(e) {
				top = math.Max(top, e)
			}
		}
	}
	if top <= 0 {
		top = 1
	}
	return lo, top * 1.05
}

func ticks(lo, hi float64) []float64 {
	out := make([]float64, 0, 6)
	for k := 0; k <= 5; k++ {
		out = append(out, lo+(hi-lo)*float64(k)/5)
	}
	return out
}

// label formats a tick as JavaScript's fmt() in pictures.ts does.
func label(v float64) string {
	if v == 0 {
		return "0"
	}
	if a := math.Abs(v); a >= 1e4 || a < 1e-3 {
		// toExponential(1): 1.5e+4, 2.0e-5 -> "1.5e+4", "2.0e-5"
		s := strconv.FormatFloat(v, 'e', 1, 64)
		mant, exp, _ := strings.Cut(s, "e")
		n, _ := strconv.Atoi(exp)
		sign := "+"
		if n < 0 {
			sign = "-"
		}
		return fmt.Sprintf("%se%s%d", mant, sign, abs(n))
	}
	// String(Number(v.toPrecision(3)))
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 3, 64), 64)
	return strconv.FormatFloat(r, 'f', -1, 64)
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func sortedByDim(ds []*commonv1.PersistenceDiagram) []*commonv1.PersistenceDiagram {
	out := append([]*commonv1.PersistenceDiagram(nil), ds...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].GetDimension() < out[j].GetDimension() })
	return out
}

// Diagram draws the persistence diagram: birth on x, death on y, essential
// classes on the dashed line at the top; returns the picture and the number of points drawn.
func Diagram(ds []*commonv1.PersistenceDiagram, width, height uint32, scale float64) (*image.RGBA, int, error) {
	w := clampSide(width, 480)
	h := w
	if height != 0 {
		h = clampSide(height, w)
	}
	const left, right, top, bottom = 48.0, 16.0, 28.0, 36.0
	c, err := newCanvas(w, h, scale)
	if err != nil {
		return nil, 0, err
	}
	defer c.close()
	lo, hi := valueRange(ds)
	plotW, plotH := float64(w)-left-right, float64(h)-top-bottom
	infRow := top - 12
	sx := func(v float64) float64 { return left + (v-lo)/(hi-lo)*plotW }
	sy := func(v float64) float64 {
		if !finite(v) {
			return infRow
		}
		return top + plotH - (v-lo)/(hi-lo)*plotH
	}
	c.line(left, top, left+plotW, top, grey)
	c.line(left+plotW, top, left+plotW, top+plotH, grey)
	c.line(left+plotW, top+plotH, left, top+plotH, grey)
	c.line(left, top+plotH, left, top, grey)
	c.line(sx(lo), sy(lo), sx(hi), sy(hi), dark)
	c.dashed(left, left+plotW, infRow, 4, 3, grey)
	c.text("∞", left-6, infRow+4, end, black)
	for _, t := range ticks(lo, hi) {
		c.text(label(t), sx(t), float64(h)-bottom+14, middle, black)
		c.text(label(t), left-6, sy(t)+4, end, black)
	}
	c.text("birth", left+plotW/2, float64(h)-6, middle, black)
	c.textUp("death", 12, top+plotH/2, black)
	drawn := 0
	sorted := sortedByDim(ds)
	for _, d := range sorted {
		col := withAlpha(colour(d.GetDimension()), 0.75)
		for _, iv := range d.GetIntervals() {
			if drawn >= MaxPoints || !finite(iv.GetBirth()) {
				continue
			}
			c.fillCircle(sx(iv.GetBirth()), sy(iv.GetDeath()), 3, col)
			drawn++
		}
	}
	for k, d := range sorted {
		x, y := left+8, top+8+float64(k)*14
		c.fillRect(x, y, 10, 10, colour(d.GetDimension()))
		c.text(fmt.Sprintf("H%d", d.GetDimension()), x+14, y+9, start, black)
	}
	return c.img, drawn, nil
}

type barGroup struct {
	dim    uint32
	bars   []*commonv1.Interval
	hidden int
}

// barGroups shares the bar budget between dimensions (the longest bars of
// each), then orders each group's bars by birth, longest first.
func barGroups(ds []*commonv1.PersistenceDiagram) []barGroup {
	sorted := sortedByDim(ds)
	total := 0
	for _, d := range sorted {
		total += len(d.GetIntervals())
	}
	budget := min(total, MaxBars)
	groups := make([]barGroup, 0, len(sorted))
	for _, d := range sorted {
		n := len(d.GetIntervals())
		share := 0
		if total > 0 {
			share = max(min(n, 1), int(math.Floor(float64(n)/float64(total)*float64(budget))))
		}
		bars := append([]*commonv1.Interval(nil), d.GetIntervals()...)
		// JavaScript's comparator: (pb - pa) || (a.birth - b.birth), NaN counting as 0
		sort.SliceStable(bars, func(i, j int) bool {
			a, b := bars[i], bars[j]
			if p := (b.GetDeath() - b.GetBirth()) - (a.GetDeath() - a.GetBirth()); p != 0 && !math.IsNaN(p) {
				return p < 0
			}
			return a.GetBirth() < b.GetBirth()
		})
		bars = bars[:min(share, len(bars))]
		sort.SliceStable(bars, func(i, j int) bool {
			a, b := bars[i], bars[j]
			if a.GetBirth() != b.GetBirth() {
				return a.GetBirth() < b.GetBirth()
			}
			if e := b.GetDeath() - a.GetDeath(); e != 0 && !math.IsNaN(e) {
				return e < 0
			}
			return false
		})
		groups = append(groups, barGroup{dim: d.GetDimension(), bars: bars, hidden: n - len(bars)})
	}
	return groups
}

// BarcodeSize is the barcode's size in user units (its height follows the bars).
func BarcodeSize(ds []*commonv1.PersistenceDiagram, width uint32) (w, h int) {
	w = clampSide(width, 640)
	body := 0
	for _, g := range barGroups(ds) {
		body += len(g.bars)*6 + 16
		if g.hidden > 0 {
			body += 12
		}
	}
	return w, min(24+body+30, maxBarcodeHeight)
}

// Barcode draws one bar per interval (the longest MaxBars), grouped by
// dimension; returns the picture and the number of bars drawn.
func Barcode(ds []*commonv1.PersistenceDiagram, width uint32, scale float64) (*image.RGBA, int, error) {
	w, h := BarcodeSize(ds, width)
	const left, right, top = 40.0, 24.0, 24.0
	const barH, gap, groupGap = 4.0, 2.0, 16.0
	c, err := newCanvas(w, h, scale)
	if err != nil {
		return nil, 0, err
	}
	defer c.close()
	lo, hi := valueRange(ds)
	plotW := float64(w) - left - right
	sx := func(v float64) float64 {
		if !finite(v) {
			return left + plotW + 12
		}
		return left + (v-lo)/(hi-lo)*plotW
	}
	y := top
	drawn := 0
	for _, g := range barGroups(ds) {
		col := colour(g.dim)
		c.text(fmt.Sprintf("H%d", g.dim), 4, y+10, start, col)
		for _, b := range g.bars {
			x1, x2 := sx(b.GetBirth()), sx(b.GetDeath())
			c.fillRect(x1, y, math.Max(1, x2-x1), barH, col)
			drawn++
			y += barH + gap
		}
		if g.hidden > 0 {
			c.text(fmt.Sprintf("… %d shorter bars not drawn", g.hidden), left, y+9, start, dark)
			y += 12
		}
		y += groupGap
	}
	c.line(left, y, left+plotW, y, grey)
	for _, t := range ticks(lo, hi) {
		c.text(label(t), sx(t), y+14, middle, black)
	}
	c.text("∞", left+plotW+12, y+14, middle, black)
	return c.img, drawn, nil
}
