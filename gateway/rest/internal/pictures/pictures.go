// Package pictures serves a result's persistence diagram and barcode as PNG,
// GET /api/v1/tda/results/{job_id}/diagram.png and …/barcode.png: the
// pictures of the SVG routes (drawn by the gateway, gateway/src/pictures.ts)
// drawn again here as pixels, with the standard library's image/png. The
// result is read with the caller's own credentials (GetResult), so the
// gateway authenticates and a tenant sees only its own results.
package pictures

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"math"
	"net/http"
	"strconv"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	commonv1 "tda-mesh/gateway/rest/gen/tda/common/v1"
	gatewayv1 "tda-mesh/gateway/rest/gen/tda/gateway/v1"
)

// Route patterns (GET).
const (
	DiagramPath = "/api/v1/tda/results/{job_id}/diagram.png"
	BarcodePath = "/api/v1/tda/results/{job_id}/barcode.png"
)

const (
	// DefaultScale is pixels per SVG unit when the caller does not say (sharp on high-density screens).
	DefaultScale = 2
	// MaxScale bounds the scale a caller may ask for.
	MaxScale = 4
	// MaxPixels bounds a picture: a larger one is drawn at the largest scale that fits.
	MaxPixels = 1 << 24
)

// Handler serves DiagramPath and BarcodePath.
type Handler struct {
	Mux    *runtime.ServeMux
	Client gatewayv1.TdaServiceClient
}

type kind int

const (
	diagramKind kind = iota
	barcodeKind
)

// Diagram is the runtime.HandlerFunc of DiagramPath.
func (h *Handler) Diagram(w http.ResponseWriter, r *http.Request, p map[string]string) {
	h.serve(w, r, p, diagramKind)
}

// Barcode is the runtime.HandlerFunc of BarcodePath.
func (h *Handler) Barcode(w http.ResponseWriter, r *http.Request, p map[string]string) {
	h.serve(w, r, p, barcodeKind)
}

// query holds the parameters of a request, checked.
type query struct {
	width, height uint32
	scale         float64
}

func parseQuery(r *http.Request, k kind) (query, error) {
	var q query
	var bad []*errdetails.BadRequest_FieldViolation
	side := func(name string) uint32 {
		s := r.URL.Query().Get(name)
		if s == "" {
			return 0
		}
		v, err := strconv.ParseUint(s, 10, 32)
		if err != nil || v > MaxSide {
			bad = append(bad, &errdetails.BadRequest_FieldViolation{Field: name, Description: fmt.Sprintf("must be a whole number of pixels, at most %d (0: default)", MaxSide)})
			return 0
		}
		return uint32(v)
	}
	q.width = side("width")
	if k == diagramKind {
		q.height = side("height")
	} else if r.URL.Query().Has("height") {
		bad = append(bad, &errdetails.BadRequest_FieldViolation{Field: "height", Description: "the barcode's height follows its bars; give only width"})
	}
	q.scale = DefaultScale
	if s := r.URL.Query().Get("scale"); s != "" {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || !(v >= 0.25 && v <= MaxScale) {
			bad = append(bad, &errdetails.BadRequest_FieldViolation{Field: "scale", Description: fmt.Sprintf("pixels per SVG pixel, from 0.25 to %d", MaxScale)})
		} else {
			q.scale = v
		}
	}
	if len(bad) > 0 {
		st, _ := status.New(codes.InvalidArgument, "invalid picture request").WithDetails(&errdetails.BadRequest{FieldViolations: bad})
		return q, st.Err()
	}
	return q, nil
}

// fit lowers scale so that a w×h picture stays within MaxPixels.
func fit(w, h int, scale float64) float64 {
	if px := float64(w) * float64(h) * scale * scale; px > MaxPixels {
		return math.Floor(math.Sqrt(MaxPixels/(float64(w)*float64(h)))*1000) / 1000
	}
	return scale
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, params map[string]string, k kind) {
	_, out := runtime.MarshalerForRequest(h.Mux, r)
	pattern := DiagramPath
	if k == barcodeKind {
		pattern = BarcodePath
	}
	ctx, err := runtime.AnnotateContext(r.Context(), h.Mux, r, gatewayv1.TdaService_GetResult_FullMethodName, runtime.WithHTTPPathPattern(pattern))
	if err != nil {
		runtime.HTTPError(ctx, h.Mux, out, w, r, err)
		return
	}
	q, err := parseQuery(r, k)
	if err != nil {
		runtime.HTTPError(ctx, h.Mux, out, w, r, err)
		return
	}
	res, err := h.Client.GetResult(ctx, &gatewayv1.GetResultRequest{JobId: params["job_id"]})
	if err != nil {
		runtime.HTTPError(ctx, h.Mux, out, w, r, err)
		return
	}
	img, _, err := Render(res.GetResult().GetDiagrams(), k == barcodeKind, q.width, q.height, q.scale)
	if err != nil {
		runtime.HTTPError(ctx, h.Mux, out, w, r, status.Error(codes.Internal, "the picture could not be drawn"))
		return
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, img); err != nil {
		runtime.HTTPError(ctx, h.Mux, out, w, r, status.Error(codes.Internal, "the picture could not be encoded"))
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	_, _ = w.Write(buf.Bytes())
}

// Render draws the diagram (or the barcode) at scale, lowered if needed to stay within MaxPixels.
func Render(ds []*commonv1.PersistenceDiagram, barcode bool, width, height uint32, scale float64) (*image.RGBA, int, error) {
	if barcode {
		w, h := BarcodeSize(ds, width)
		return Barcode(ds, width, fit(w, h, scale))
	}
	w := clampSide(width, 480)
	h := w
	if height != 0 {
		h = clampSide(height, w)
	}
	return Diagram(ds, width, height, fit(w, h, scale))
}
