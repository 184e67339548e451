// Package telemetry sets up the REST proxy's tracing: W3C trace context
// propagation always (an incoming traceparent reaches the gateway even when
// nothing is exported), and an OTLP/gRPC span exporter when
// OTEL_EXPORTER_OTLP_ENDPOINT is set. Server spans come from otelhttp
// (Handler), client spans on the gRPC connections from otelgrpc (DialOption).
package telemetry

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/felixge/httpsnoop"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
)

// ServiceName is the service.name of the proxy's spans.
const ServiceName = "tda-rest"

// Setup installs the global propagator and, when endpoint is not empty
// (e.g. http://127.0.0.1:4317), a tracer provider exporting in batches over
// OTLP/gRPC. The returned function flushes and stops the exporter.
func Setup(ctx context.Context, endpoint string) (func(context.Context) error, error) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	if endpoint == "" {
		return func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(endpoint))
	if err != nil {
		return nil, err
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(semconv.ServiceName(ServiceName)))
	if err != nil {
		return nil, err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	return tp.Shutdown, nil
}

// Handler wraps the proxy's HTTP handler in a server span per request
// (named "<METHOD> <route>" once the mux has matched a route, see
// RouteMiddleware). Prometheus scrapes are not traced.
func Handler(next http.Handler) http.Handler {
	return otelhttp.NewHandler(next, ServiceName,
		otelhttp.WithFilter(func(r *http.Request) bool { return r.URL.Path != "/metrics" }),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }),
	)
}

// RouteMiddleware names the request's server span after the matched route
// template (low cardinality: "GET /api/v1/tda/jobs/{job_id}").
func RouteMiddleware(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p map[string]string) {
		if pat, ok := runtime.HTTPPattern(r.Context()); ok {
			route := strings.ReplaceAll(pat.String(), "=*}", "}")
			span := trace.SpanFromContext(r.Context())
			span.SetName(r.Method + " " + route)
			span.SetAttributes(attribute.String("http.route", route))
		}
		next(w, r, p)
	}
}

// DialOption makes a client span for every call on a gRPC connection and
// injects its context (traceparent) into the call's metadata.
func DialOption() grpc.DialOption {
	return grpc.WithStatsHandler(otelgrpc.NewClientHandler())
}

// AccessLog logs one line per API request (not for Prometheus scrapes or the
// console's static files) with the trace and span ids of its server span, so a
// request is found from its trace and back. Wrap it inside Handler.
func AccessLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/") && r.URL.Path != "/health" {
			next.ServeHTTP(w, r)
			return
		}
		m := httpsnoop.CaptureMetrics(next, w, r)
		sc := trace.SpanContextFromContext(r.Context())
		attrs := []any{"method", r.Method, "path", r.URL.Path, "status", m.Code, "duration_ms", m.Duration.Milliseconds(), "bytes", m.Written}
		if sc.IsValid() {
			attrs = append(attrs, "trace_id", sc.TraceID().String(), "span_id", sc.SpanID().String())
		}
		level := slog.LevelInfo
		if m.Code >= 500 {
			level = slog.LevelWarn
		}
		log.Log(r.Context(), level, "request", attrs...)
	})
}
