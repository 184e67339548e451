package trace_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	gatewayv1 "tda-mesh/gateway/rest/gen/tda/gateway/v1"
	jobsv1 "tda-mesh/gateway/rest/gen/tda/jobs/v1"
	"tda-mesh/gateway/rest/internal/proxy"
	"tda-mesh/gateway/rest/internal/trace"
)

const traceID = "0123456789abcdef0123456789abcdef"

// gateway answers GetJob for the caller holding key "k1" only (as the real
// gateway does for another tenant's job: NOT_FOUND).
type gateway struct {
	gatewayv1.UnimplementedTdaServiceServer
}

func (gateway) GetJob(ctx context.Context, req *gatewayv1.GetJobRequest) (*gatewayv1.GetJobResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if k := md.Get("x-api-key"); len(k) == 0 || k[0] != "k1" {
		return nil, status.Error(codes.NotFound, "job not found")
	}
	id := traceID
	if req.GetJobId() == "job_untraced" {
		id = ""
	}
	return &gatewayv1.GetJobResponse{Job: &jobsv1.Job{JobId: req.GetJobId(), TraceId: id}}, nil
}

// store is Jaeger's query API shape for one trace (three spans, two services).
func store(t *testing.T, asked *atomic.Int32) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		if r.URL.Path != "/api/traces/"+traceID {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(`{"data":[{"traceID":"` + traceID + `","spans":[
		  {"spanID":"b2","operationName":"tda.jobs.v1.JobService/SubmitJob","references":[{"refType":"CHILD_OF","spanID":"a1"}],"startTime":1000200,"duration":300,"processID":"p2","tags":[]},
		  {"spanID":"a1","operationName":"tda.gateway.v1.TdaService/ComputeVietorisRips","references":[],"startTime":1000000,"duration":900,"processID":"p1","tags":[{"key":"otel.status_code","value":"ERROR"}]},
		  {"spanID":"c3","operationName":"scheduler.run_job","references":[{"refType":"FOLLOWS_FROM","spanID":"b2"},{"refType":"CHILD_OF","spanID":"b2"}],"startTime":1000400,"duration":50,"processID":"p2","tags":[{"key":"error","value":true}]}
		],"processes":{"p1":{"serviceName":"gateway"},"p2":{"serviceName":"scheduler"}}}]}`))
	}))
	t.Cleanup(s.Close)
	return s
}

func start(t *testing.T, queryURL string) *httptest.Server {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	gatewayv1.RegisterTdaServiceServer(gs, gateway{})
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	conn, err := proxy.Dial(lis.Addr().String(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	h, err := proxy.New(context.Background(), proxy.Options{Conn: conn, TraceQueryURL: queryURL})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url, key string) (*http.Response, []byte) {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return res, []byte(b.String())
}

func TestTraceOfAJob(t *testing.T) {
	var asked atomic.Int32
	srv := start(t, store(t, &asked).URL)
	res, body := get(t, srv.URL+"/api/v1/tda/jobs/job_1/trace", "k1")
	if res.StatusCode != 200 {
		t.Fatalf("%d %s", res.StatusCode, body)
	}
	var tr trace.Trace
	if err := json.Unmarshal(body, &tr); err != nil {
		t.Fatal(err)
	}
	if tr.TraceID != traceID || len(tr.Spans) != 3 {
		t.Fatalf("%+v", tr)
	}
	want := []trace.Span{
		{SpanID: "a1", Service: "gateway", Name: "tda.gateway.v1.TdaService/ComputeVietorisRips", StartUs: 1000000, DurationUs: 900, Error: true},
		{SpanID: "b2", ParentSpanID: "a1", Service: "scheduler", Name: "tda.jobs.v1.JobService/SubmitJob", StartUs: 1000200, DurationUs: 300},
		{SpanID: "c3", ParentSpanID: "b2", Service: "scheduler", Name: "scheduler.run_job", StartUs: 1000400, DurationUs: 50, Error: true},
	}
	for i, s := range want {
		if tr.Spans[i] != s {
			t.Errorf("span %d: %+v, want %+v", i, tr.Spans[i], s)
		}
	}
}

func TestOtherTenantsJobAndUntracedJob(t *testing.T) {
	var asked atomic.Int32
	srv := start(t, store(t, &asked).URL)
	if res, body := get(t, srv.URL+"/api/v1/tda/jobs/job_1/trace", "k2"); res.StatusCode != 404 {
		t.Errorf("another tenant: %d %s", res.StatusCode, body)
	}
	if res, body := get(t, srv.URL+"/api/v1/tda/jobs/job_untraced/trace", "k1"); res.StatusCode != 404 || !strings.Contains(string(body), "no trace id") {
		t.Errorf("untraced: %d %s", res.StatusCode, body)
	}
	if n := asked.Load(); n != 0 {
		t.Errorf("the trace store was asked %d times for jobs the caller may not see", n)
	}
}

func TestStoreDownIs503AndRouteAbsentWithoutStore(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	srv := start(t, down.URL)
	if res, body := get(t, srv.URL+"/api/v1/tda/jobs/job_1/trace", "k1"); res.StatusCode != 503 || strings.Contains(string(body), "127.0.0.1") {
		t.Errorf("store down: %d %s", res.StatusCode, body)
	}
	plain := start(t, "")
	if res, _ := get(t, plain.URL+"/api/v1/tda/jobs/job_1/trace", "k1"); res.StatusCode != 404 {
		t.Errorf("no store configured: %d", res.StatusCode)
	}
}
