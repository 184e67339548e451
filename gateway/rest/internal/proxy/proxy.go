// Package proxy assembles the REST front: grpc-gateway's mux for the
// google.api.http annotations of tda.gateway.v1.TdaService plus the
// hand-written endpoints (file upload, PNG pictures, health, OpenAPI, metrics).
package proxy

import (
	"context"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"

	// Registers google.rpc.* detail types so error details marshal to JSON.
	_ "google.golang.org/genproto/googleapis/rpc/errdetails"

	gatewayv1 "tda-mesh/gateway/rest/gen/tda/gateway/v1"
	"tda-mesh/gateway/rest/internal/console"
	"tda-mesh/gateway/rest/internal/metrics"
	"tda-mesh/gateway/rest/internal/pictures"
	"tda-mesh/gateway/rest/internal/telemetry"
	"tda-mesh/gateway/rest/internal/trace"
	"tda-mesh/gateway/rest/internal/upload"
)

// JSONPath of the generated client-streaming upload route.
const uploadJSONPath = "/api/v1/data/upload"

// Marshaler is the JSON mapping used for every request and response:
//   - field names as in the .proto (snake_case: job_id, max_dim), matching the
//     URL templates; camelCase is still accepted on input (protojson);
//   - unpopulated fields are emitted (false, 0, "", [] appear explicitly) so
//     clients see the full shape; proto3 `optional` fields that are unset
//     are still omitted;
//   - enums as their names, 64-bit integers as strings, bytes as base64;
//   - unknown fields in request bodies are rejected with 400, so a misspelt
//     parameter is not silently ignored.
func Marshaler() *runtime.JSONPb {
	return &runtime.JSONPb{
		MarshalOptions:   protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true},
		UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
	}
}

// Options configure New.
type Options struct {
	Conn             *grpc.ClientConn // to the TdaService (TS gateway)
	Metrics          *metrics.Metrics
	Health           http.Handler // GET /health
	OpenAPI          http.Handler // GET /openapi.json and /api/v1/openapi.json
	UploadChunkBytes int
	UploadMaxBytes   int64
	// MaxBodyBytes caps request bodies of every route except the two upload
	// routes (0 = DefaultMaxBodyBytes). Larger bodies fail with 400.
	MaxBodyBytes int64
	// Console serves the web console at "/", "/assets/…" and "/docs/…" (nil: not served).
	Console http.Handler
	// TraceQueryURL, when set, serves GET /api/v1/tda/jobs/{job_id}/trace from this trace store.
	TraceQueryURL string
}

// DefaultMaxBodyBytes matches the gRPC message limit.
const DefaultMaxBodyBytes = 64 << 20

// New builds the complete HTTP handler.
func New(ctx context.Context, o Options) (http.Handler, error) {
	mux := runtime.NewServeMux(
		// HttpBody responses (the SVG pictures) are written raw with their own content type.
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.HTTPBodyMarshaler{Marshaler: Marshaler()}),
		runtime.WithIncomingHeaderMatcher(IncomingHeaderMatcher),
		runtime.WithOutgoingHeaderMatcher(OutgoingHeaderMatcher),
		runtime.WithErrorHandler(ErrorHandler),
		runtime.WithForwardResponseOption(forwardTraceOption),
		runtime.WithMiddlewares(metrics.RouteMiddleware, telemetry.RouteMiddleware),
	)
	client := gatewayv1.NewTdaServiceClient(o.Conn)
	if err := gatewayv1.RegisterTdaServiceHandlerClient(ctx, mux, client); err != nil {
		return nil, err
	}

	up := &upload.Handler{Mux: mux, Client: client, ChunkBytes: o.UploadChunkBytes, MaxBytes: o.UploadMaxBytes}
	if o.Metrics != nil {
		up.OnBytes = o.Metrics.AddUploadBytes
	}
	type route struct {
		method, path string
		h            runtime.HandlerFunc
	}
	pics := &pictures.Handler{Mux: mux, Client: client}
	routes := []route{
		{http.MethodPost, upload.Path, up.Handle},
		{http.MethodGet, pictures.DiagramPath, pics.Diagram},
		{http.MethodGet, pictures.BarcodePath, pics.Barcode},
	}
	if o.Health != nil {
		routes = append(routes, route{http.MethodGet, "/health", plain(o.Health)})
	}
	if o.OpenAPI != nil {
		routes = append(routes,
			route{http.MethodGet, "/openapi.json", plain(o.OpenAPI)},
			route{http.MethodGet, "/api/v1/openapi.json", plain(o.OpenAPI)})
	}
	if o.Metrics != nil {
		routes = append(routes, route{http.MethodGet, "/metrics", plain(o.Metrics.Handler())})
	}
	if o.TraceQueryURL != "" {
		th := &trace.Handler{Mux: mux, Client: client, QueryURL: o.TraceQueryURL, HTTP: &http.Client{Timeout: 15 * time.Second}}
		routes = append(routes, route{http.MethodGet, trace.Path, th.Handle})
	}
	if o.Console != nil {
		for _, p := range console.Routes {
			routes = append(routes, route{http.MethodGet, p, plain(o.Console)}, route{http.MethodHead, p, plain(o.Console)})
		}
	}
	for _, rt := range routes {
		if err := mux.HandlePath(rt.method, rt.path, rt.h); err != nil {
			return nil, err
		}
	}

	limit := o.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	var h http.Handler = rawUploadAlias(limitBodies(mux, limit))
	h = WithRequestID(h)
	if o.Metrics != nil {
		h = o.Metrics.Wrap(h)
	}
	return h, nil
}

func plain(h http.Handler) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, _ map[string]string) { h.ServeHTTP(w, r) }
}

// rawUploadAlias sends POST /api/v1/data/upload with a non-JSON body (raw
// bytes, multipart/form-data, or no Content-Type) to the streaming file
// handler. JSON bodies keep grpc-gateway's client-streaming mapping
// (concatenated {"header": ...} {"chunk": "<base64>"} objects).
func rawUploadAlias(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.TrimSuffix(r.URL.Path, "/") == uploadJSONPath && !isJSON(r.Header.Get("Content-Type")) {
			r2 := r.Clone(r.Context())
			r2.URL.Path = upload.Path
			r2.URL.RawPath = ""
			next.ServeHTTP(w, r2)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// limitBodies caps non-upload request bodies (grpc-gateway reads a unary
// request body whole before decoding it).
func limitBodies(next http.Handler, limit int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := strings.TrimSuffix(r.URL.Path, "/"); p != uploadJSONPath && p != upload.Path && r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		next.ServeHTTP(w, r)
	})
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json") || mt == "application/x-ndjson"
}
