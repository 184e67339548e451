package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
)

// An HTTP request with a traceparent goes through Handler and AccessLog into a
// gRPC call on a connection with DialOption: the backend receives the trace
// context of the proxy's client span, which is a child of the proxy's server
// span, which continues the caller's trace; the access log line names the trace.
func TestRequestSpansPropagateToTheBackend(t *testing.T) {
	if _, err := Setup(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	otel.SetTracerProvider(tp)
	defer otel.SetTracerProvider(noop.NewTracerProvider())

	got := make(chan string, 1)
	srv := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		got <- strings.Join(md.Get("traceparent"), ",")
		return h(ctx, req)
	}))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Stop()
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()), DialOption())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)

	var logs bytes.Buffer
	h := Handler(AccessLog(slog.New(slog.NewJSONHandler(&logs, nil)), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := client.Check(r.Context(), &healthpb.HealthCheckRequest{}); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})))
	const callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	req := httptest.NewRequest(http.MethodGet, "/api/v1/tda/limits", nil)
	req.Header.Set("traceparent", "00-"+callerTrace+"-00f067aa0ba902b7-01")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusNoContent {
		t.Fatalf("status %d: %s", w.Code, w.Body.String())
	}

	sent := <-got
	spans := rec.Ended()
	var server, client_ sdktrace.ReadOnlySpan
	for _, s := range spans {
		switch s.SpanKind() {
		case trace.SpanKindServer:
			server = s
		case trace.SpanKindClient:
			client_ = s
		}
	}
	if server == nil || client_ == nil {
		t.Fatalf("want a server and a client span, got %d spans", len(spans))
	}
	if server.SpanContext().TraceID().String() != callerTrace || server.Parent().SpanID().String() != "00f067aa0ba902b7" {
		t.Errorf("server span does not continue the caller's trace: %s parent %s", server.SpanContext().TraceID(), server.Parent().SpanID())
	}
	if client_.Parent().SpanID() != server.SpanContext().SpanID() {
		t.Errorf("client span is not a child of the server span")
	}
	want := "00-" + callerTrace + "-" + client_.SpanContext().SpanID().String() + "-01"
	if sent != want {
		t.Errorf("backend got traceparent %q, want %q", sent, want)
	}
	var line map[string]any
	if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
		t.Fatalf("access log: %v (%q)", err, logs.String())
	}
	if line["trace_id"] != callerTrace || line["span_id"] != server.SpanContext().SpanID().String() || line["status"] != float64(204) {
		t.Errorf("access log line %v", line)
	}
}

// Prometheus scrapes make no spans and no access log lines.
func TestMetricsScrapesAreNotTraced(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	defer otel.SetTracerProvider(noop.NewTracerProvider())
	var logs bytes.Buffer
	h := Handler(AccessLog(slog.New(slog.NewJSONHandler(&logs, nil)), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if n := len(rec.Ended()); n != 0 || logs.Len() != 0 {
		t.Errorf("/metrics: %d spans, log %q", n, logs.String())
	}
}
