package pictures

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"net/http/httptest"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"

	commonv1 "tda-mesh/gateway/rest/gen/tda/common/v1"
)

var inf = math.Inf(1)

func diag(dim uint32, bars ...[2]float64) *commonv1.PersistenceDiagram {
	d := &commonv1.PersistenceDiagram{Dimension: dim}
	for _, b := range bars {
		d.Intervals = append(d.Intervals, &commonv1.Interval{Birth: b[0], Death: b[1]})
	}
	return d
}

// roundTrip encodes img as PNG and decodes it with the standard decoder.
func roundTrip(t *testing.T, img image.Image) image.Image {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatal("no PNG signature")
	}
	out, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func near(a color.Color, b color.NRGBA, tol int) bool {
	r, g, bl, _ := a.RGBA()
	d := func(x uint32, y uint8) bool { return math.Abs(float64(int(x>>8)-int(y))) <= float64(tol) }
	return d(r, b.R) && d(g, b.G) && d(bl, b.B)
}

// over is col at opacity a over white.
func over(col color.NRGBA, a float64) color.NRGBA {
	m := func(v uint8) uint8 { return uint8(math.Round(float64(v)*a + 255*(1-a))) }
	return color.NRGBA{R: m(col.R), G: m(col.G), B: m(col.B), A: 0xff}
}

// blobs counts the 4-connected regions of pixels of colour want inside r.
func blobs(img image.Image, r image.Rectangle, want color.NRGBA) int {
	seen := map[image.Point]bool{}
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			p := image.Pt(x, y)
			if seen[p] || !near(img.At(x, y), want, 3) {
				continue
			}
			n++
			stack := []image.Point{p}
			seen[p] = true
			for len(stack) > 0 {
				q := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				for _, d := range []image.Point{{1, 0}, {-1, 0}, {0, 1}, {0, -1}} {
					s := q.Add(d)
					if s.In(r) && !seen[s] && near(img.At(s.X, s.Y), want, 3) {
						seen[s] = true
						stack = append(stack, s)
					}
				}
			}
		}
	}
	return n
}

// Points well apart, off the frame, the diagonal and the legend: one disc of each dimension's colour per interval with a finite birth.
var sample = []*commonv1.PersistenceDiagram{
	diag(1, [2]float64{1, 3}, [2]float64{2, 4.5}, [2]float64{3.5, 9}, [2]float64{6, 7}),
	diag(0, [2]float64{0.5, 1}, [2]float64{0.5, 2.5}, [2]float64{0.5, 5}, [2]float64{0.5, inf}),
}

func TestDiagramDrawsOneDiscPerInterval(t *testing.T) {
	img, drawn, err := Render(sample, false, 0, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	out := roundTrip(t, img)
	if got := out.Bounds().Size(); got != image.Pt(960, 960) {
		t.Fatalf("size %v, want twice the SVG's 480×480", got)
	}
	if drawn != 8 {
		t.Errorf("drawn %d, want 8", drawn)
	}
	// the discs' centres are each dimension's colour at 75 % opacity over white (the legend is opaque: not counted);
	// below the ∞ line (y = 16 SVG units, crossed by it): the finite classes
	whole := out.Bounds()
	below := image.Rect(0, 2*(16+4), whole.Max.X, whole.Max.Y)
	if n := blobs(out, below, over(colour(0), 0.75)); n != 3 {
		t.Errorf("H0 discs: %d, want 3", n)
	}
	if n := blobs(out, whole, over(colour(1), 0.75)); n != 4 {
		t.Errorf("H1 discs: %d, want 4", n)
	}
	// the essential H0 class on the ∞ line, at its birth's x: sx(0.5) = 48 + 0.5/9.45 × 416 SVG units
	fx := 2 * (48 + 0.5/(9*1.05)*416)
	x := int(fx)
	if !near(out.At(x, 2*16-4), over(colour(0), 0.75), 3) || !near(out.At(x, 2*16+4), over(colour(0), 0.75), 3) {
		t.Errorf("no H0 disc on the ∞ line at x=%d: %v %v", x, out.At(x, 28), out.At(x, 36))
	}
	// the legend's swatches, opaque, one per dimension
	for d := uint32(0); d < 2; d++ {
		if n := blobs(out, whole, colour(d)); n != 1 {
			t.Errorf("H%d swatches: %d", d, n)
		}
	}
}

func TestBarcodeDrawsOneBarPerInterval(t *testing.T) {
	img, drawn, err := Render(sample, true, 0, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	out := roundTrip(t, img)
	w, h := BarcodeSize(sample, 0)
	if got := out.Bounds().Size(); got != image.Pt(2*w, 2*h) || w != 640 {
		t.Fatalf("size %v, want 2 × %d×%d", got, w, h)
	}
	if drawn != 8 {
		t.Errorf("drawn %d, want 8", drawn)
	}
	// right of the dimension labels: one opaque bar per interval
	bars := image.Rect(2*40, 0, out.Bounds().Max.X, out.Bounds().Max.Y)
	if n := blobs(out, bars, colour(0)); n != 4 {
		t.Errorf("H0 bars: %d, want 4", n)
	}
	if n := blobs(out, bars, colour(1)); n != 4 {
		t.Errorf("H1 bars: %d, want 4", n)
	}
}

func TestBarcodeKeepsTheLongestBars(t *testing.T) {
	var many [][2]float64
	for i := range MaxBars + 500 {
		many = append(many, [2]float64{0, float64(i + 1)})
	}
	ds := []*commonv1.PersistenceDiagram{diag(0, many...)}
	_, drawn, err := Render(ds, true, 0, 0, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if drawn != MaxBars {
		t.Errorf("drawn %d, want %d", drawn, MaxBars)
	}
	g := barGroups(ds)
	if g[0].hidden != 500 || g[0].bars[len(g[0].bars)-1].GetDeath() != 501 {
		t.Errorf("hidden %d, shortest kept %v", g[0].hidden, g[0].bars[len(g[0].bars)-1].GetDeath())
	}
}

func TestLargePicturesAreScaledDownToFit(t *testing.T) {
	img, _, err := Render(sample, false, 4096, 4096, 4)
	if err != nil {
		t.Fatal(err)
	}
	px := img.Bounds().Dx() * img.Bounds().Dy()
	if px > MaxPixels || img.Bounds().Dx() != img.Bounds().Dy() || img.Bounds().Dx() < 4000 {
		t.Errorf("size %v (%d px), want square within %d px", img.Bounds().Size(), px, MaxPixels)
	}
}

func TestEmptyResultStillDraws(t *testing.T) {
	for _, barcode := range []bool{false, true} {
		img, drawn, err := Render(nil, barcode, 0, 0, 1)
		if err != nil || drawn != 0 || img.Bounds().Empty() {
			t.Errorf("barcode=%v: %v %d %v", barcode, err, drawn, img.Bounds())
		}
	}
}

func TestQueryIsChecked(t *testing.T) {
	for _, c := range []struct {
		url    string
		k      kind
		fields []string
	}{
		{"/x?width=5000&height=-1&scale=9", diagramKind, []string{"width", "height", "scale"}},
		{"/x?height=10", barcodeKind, []string{"height"}},
		{"/x?width=abc", barcodeKind, []string{"width"}},
	} {
		_, err := parseQuery(httptest.NewRequest("GET", c.url, nil), c.k)
		st := status.Convert(err)
		var got []string
		for _, d := range st.Details() {
			if br, ok := d.(*errdetails.BadRequest); ok {
				for _, v := range br.GetFieldViolations() {
					got = append(got, v.GetField())
				}
			}
		}
		if st.Code().String() != "InvalidArgument" || len(got) != len(c.fields) {
			t.Errorf("%s: %v %v", c.url, st, got)
			continue
		}
		for i := range got {
			if got[i] != c.fields[i] {
				t.Errorf("%s: fields %v, want %v", c.url, got, c.fields)
			}
		}
	}
	q, err := parseQuery(httptest.NewRequest("GET", "/x?width=300&height=200&scale=1.5", nil), diagramKind)
	if err != nil || q.width != 300 || q.height != 200 || q.scale != 1.5 {
		t.Errorf("%+v %v", q, err)
	}
	q, err = parseQuery(httptest.NewRequest("GET", "/x", nil), diagramKind)
	if err != nil || q.scale != DefaultScale {
		t.Errorf("%+v %v", q, err)
	}
}

func TestLabelsAreTheSVGs(t *testing.T) {
	// JavaScript: fmt() of pictures.ts
	for v, want := range map[float64]string{0: "0", 0.105: "0.105", 1.23456: "1.23", 12345: "1.2e+4", 0.0002: "2.0e-4", 2.1: "2.1", -0.5: "-0.5"} {
		if got := label(v); got != want {
			t.Errorf("label(%v) = %q, want %q", v, got, want)
		}
	}
}
