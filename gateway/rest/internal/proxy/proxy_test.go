package proxy_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	gatewayv1 "tda-mesh/gateway/rest/gen/tda/gateway/v1"
	jobsv1 "tda-mesh/gateway/rest/gen/tda/jobs/v1"
	uploadv1 "tda-mesh/gateway/rest/gen/tda/upload/v1"
	"tda-mesh/gateway/rest/internal/metrics"
	"tda-mesh/gateway/rest/internal/proxy"
)

// fakeGateway is an in-process TdaService: UploadData counts and hashes the
// bytes it receives; the other methods script errors and metadata.
type fakeGateway struct {
	gatewayv1.UnimplementedTdaServiceServer

	mu         sync.Mutex
	header     *uploadv1.UploadHeader
	bytes      int
	chunks     int
	maxChunk   int
	sum        []byte
	md         metadata.MD
	chunkSeen  chan struct{} // signalled on every chunk
	failAfter  int           // UploadData: RESOURCE_EXHAUSTED once this many bytes arrived (0 = never)
	uploadDone chan error    // the final outcome of each UploadData call
	release    chan struct{} // WatchJob "hold": closed by the test to let the stream go on
}

func newFake() *fakeGateway {
	return &fakeGateway{chunkSeen: make(chan struct{}, 1024), uploadDone: make(chan error, 16), release: make(chan struct{})}
}

func (f *fakeGateway) UploadData(stream grpc.ClientStreamingServer[gatewayv1.UploadDataRequest, gatewayv1.UploadDataResponse]) (err error) {
	defer func() { f.uploadDone <- err }()
	md, _ := metadata.FromIncomingContext(stream.Context())
	_ = stream.SendHeader(metadata.Pairs("x-trace-id", "trace-upload"))
	h := sha256.New()
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.md, f.header = md, first.GetHeader()
	f.mu.Unlock()
	if first.GetHeader() == nil {
		return status.Error(codes.InvalidArgument, "header first")
	}
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		c := m.GetChunk()
		h.Write(c)
		f.mu.Lock()
		f.bytes += len(c)
		f.chunks++
		f.maxChunk = max(f.maxChunk, len(c))
		n := f.bytes
		f.mu.Unlock()
		select {
		case f.chunkSeen <- struct{}{}:
		default:
		}
		if f.failAfter > 0 && n >= f.failAfter {
			return status.Error(codes.ResourceExhausted, "dataset too large")
		}
	}
	f.mu.Lock()
	f.sum = h.Sum(nil)
	n := f.bytes
	f.mu.Unlock()
	return stream.SendAndClose(&gatewayv1.UploadDataResponse{
		UploadId: "up-1",
		Dataset:  &uploadv1.Dataset{DatasetId: hex.EncodeToString(f.sum), Name: first.GetHeader().GetName(), SizeBytes: uint64(n)},
	})
}

func (f *fakeGateway) GetJob(ctx context.Context, req *gatewayv1.GetJobRequest) (*gatewayv1.GetJobResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	f.mu.Lock()
	f.md = md
	f.mu.Unlock()
	_ = grpc.SetHeader(ctx, metadata.Pairs("x-trace-id", "trace-"+req.GetJobId()))
	switch req.GetJobId() {
	case "missing":
		return nil, status.Error(codes.NotFound, "no such job")
	case "busy":
		st, _ := status.New(codes.ResourceExhausted, "quota exceeded").WithDetails(
			&errdetails.ErrorInfo{Reason: "QUOTA", Domain: "tda-mesh"},
			&errdetails.RetryInfo{RetryDelay: durationpb.New(2500 * time.Millisecond)})
		return nil, st.Err()
	case "bad":
		st, _ := status.New(codes.InvalidArgument, "bad job id").WithDetails(&errdetails.BadRequest{
			FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "job_id", Description: "bad"}}})
		return nil, st.Err()
	case "denied":
		return nil, status.Error(codes.PermissionDenied, "not yours")
	case "anon":
		return nil, status.Error(codes.Unauthenticated, "missing credentials")
	case "down":
		return nil, status.Error(codes.Unavailable, "scheduler unavailable")
	}
	return &gatewayv1.GetJobResponse{Job: &jobsv1.Job{JobId: req.GetJobId()}}, nil
}

func (f *fakeGateway) WatchJob(req *gatewayv1.WatchJobRequest, stream grpc.ServerStreamingServer[gatewayv1.WatchJobResponse]) error {
	if req.GetJobId() == "missing" {
		return status.Error(codes.NotFound, "no such job")
	}
	for i := 0; i < 3; i++ {
		if err := stream.Send(&gatewayv1.WatchJobResponse{Update: &jobsv1.JobUpdate{}}); err != nil {
			return err
		}
		if req.GetJobId() == "hold" && i == 0 {
			select {
			case <-f.release:
			case <-time.After(5 * time.Second):
				return status.Error(codes.DeadlineExceeded, "never released")
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if req.GetJobId() == "breaks" {
		return status.Error(codes.Internal, "engine lost")
	}
	return nil
}

type harness struct {
	fake *fakeGateway
	srv  *httptest.Server
	h    http.Handler
	m    *metrics.Metrics
}

func start(t testing.TB, chunk int, maxBytes int64) *harness {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fake := newFake()
	gs := grpc.NewServer(grpc.MaxRecvMsgSize(64 << 20))
	gatewayv1.RegisterTdaServiceServer(gs, fake)
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)

	conn, err := proxy.Dial(lis.Addr().String(), 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	m := metrics.New()
	h, err := proxy.New(context.Background(), proxy.Options{Conn: conn, Metrics: m, UploadChunkBytes: chunk, UploadMaxBytes: maxBytes})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &harness{fake: fake, srv: srv, h: h, m: m}
}

func decode(t *testing.T, r io.Reader) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.NewDecoder(r).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func TestRawUploadStreamsInChunks(t *testing.T) {
	h := start(t, 1<<20, 0)
	data := pattern(5<<20 + 12345)
	want := sha256.Sum256(data)

	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/api/v1/data/upload/file?name=cloud&format=raw-float64&dim=3", bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("X-Api-Key", "k1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	body := decode(t, resp.Body)
	if got := resp.Header.Get("X-Trace-Id"); got != "trace-upload" {
		t.Errorf("X-Trace-Id = %q", got)
	}
	f := h.fake
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.bytes != len(data) || hex.EncodeToString(f.sum) != hex.EncodeToString(want[:]) {
		t.Fatalf("server got %d bytes (want %d) sum match=%v", f.bytes, len(data), hex.EncodeToString(f.sum) == hex.EncodeToString(want[:]))
	}
	if f.maxChunk != 1<<20 || f.chunks != 6 {
		t.Errorf("chunks=%d maxChunk=%d, want 6 chunks of at most 1 MiB", f.chunks, f.maxChunk)
	}
	hd := f.header
	if hd.GetName() != "cloud" || hd.GetFormat() != uploadv1.DataFormat_DATA_FORMAT_RAW_FLOAT64 || hd.GetDim() != 3 ||
		hd.GetTotalBytes() != uint64(len(data)) || hd.GetContentType() != "application/octet-stream" {
		t.Errorf("header = %v", hd)
	}
	if got := f.md.Get("x-api-key"); len(got) != 1 || got[0] != "k1" {
		t.Errorf("x-api-key metadata = %v", got)
	}
	ds := body["dataset"].(map[string]any)
	if ds["dataset_id"] != hex.EncodeToString(want[:]) || ds["size_bytes"] != fmt.Sprint(len(data)) || body["upload_id"] != "up-1" {
		t.Errorf("response = %v", body)
	}
	if _, ok := body["deduplicated"]; !ok {
		t.Errorf("unpopulated fields should be emitted: %v", body)
	}
}

// The first chunk must reach the server while the client is still sending:
// the body is streamed, not buffered.
func TestUploadIsStreamedNotBuffered(t *testing.T) {
	h := start(t, 64<<10, 0)
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write(pattern(64 << 10))
		select {
		case <-h.fake.chunkSeen:
			_, _ = pw.Write(pattern(100))
			_ = pw.Close()
		case <-time.After(5 * time.Second):
			_ = pw.CloseWithError(errors.New("server saw nothing before the body ended"))
		}
	}()
	resp, err := http.Post(h.srv.URL+"/api/v1/data/upload?name=s", "text/csv", pr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	h.fake.mu.Lock()
	defer h.fake.mu.Unlock()
	if h.fake.bytes != 64<<10+100 || h.fake.header.GetContentType() != "text/csv" {
		t.Fatalf("bytes=%d header=%v", h.fake.bytes, h.fake.header)
	}
}

func TestMultipartUpload(t *testing.T) {
	h := start(t, 1<<20, 0)
	data := pattern(3<<20 + 7)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("format", "csv")
	_ = mw.WriteField("dim", "2")
	fw, _ := mw.CreateFormFile("file", "points.csv")
	_, _ = fw.Write(data)
	_ = mw.WriteField("ignored", "after the file")
	_ = mw.Close()

	resp, err := http.Post(h.srv.URL+"/api/v1/data/upload", mw.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	h.fake.mu.Lock()
	defer h.fake.mu.Unlock()
	hd := h.fake.header
	if h.fake.bytes != len(data) || hd.GetName() != "points.csv" || hd.GetFormat() != uploadv1.DataFormat_DATA_FORMAT_CSV || hd.GetDim() != 2 {
		t.Fatalf("bytes=%d header=%v", h.fake.bytes, hd)
	}
}

func TestMultipartWithoutFileIs400(t *testing.T) {
	h := start(t, 1<<20, 0)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("name", "x")
	_ = mw.Close()
	resp, err := http.Post(h.srv.URL+"/api/v1/data/upload/file", mw.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

func TestUploadBadParams(t *testing.T) {
	h := start(t, 1<<20, 0)
	for _, q := range []string{"format=bogus", "dim=-1", "dim=x", "resume_offset=1.5"} {
		resp, err := http.Post(h.srv.URL+"/api/v1/data/upload/file?"+q, "application/octet-stream", strings.NewReader("1 2\n"))
		if err != nil {
			t.Fatal(err)
		}
		body := decode(t, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || body["code"] != float64(codes.InvalidArgument) {
			t.Errorf("%s: status %d body %v", q, resp.StatusCode, body)
		}
	}
}

// A server-side error mid-stream (size cap) reaches the client as its HTTP
// mapping; the proxy stops reading the body.
func TestUploadServerErrorMidStream(t *testing.T) {
	h := start(t, 1<<20, 0)
	h.fake.failAfter = 2 << 20
	resp, err := http.Post(h.srv.URL+"/api/v1/data/upload/file", "application/octet-stream", bytes.NewReader(pattern(16<<20)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body := decode(t, resp.Body)
	if resp.StatusCode != http.StatusTooManyRequests || body["message"] != "dataset too large" {
		t.Fatalf("status %d body %v", resp.StatusCode, body)
	}
}

type failingReader struct{ left int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n := min(len(p), r.left)
	r.left -= n
	return n, nil
}

// A truncated body must cancel the gRPC call, never complete the upload.
func TestTruncatedBodyCancelsUpload(t *testing.T) {
	h := start(t, 1<<20, 0)
	req := httptest.NewRequest(http.MethodPost, "/api/v1/data/upload/file?name=t", &failingReader{left: 3<<20 + 5})
	req.Header.Set("Content-Type", "application/octet-stream")
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, req)
	if rec.Code != 400 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
	}
	select {
	case err := <-h.fake.uploadDone:
		if status.Code(err) != codes.Canceled {
			t.Fatalf("server saw %v, want Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("server call did not end")
	}
}

func TestUploadSizeCap(t *testing.T) {
	h := start(t, 1<<20, 1<<20)
	resp, err := http.Post(h.srv.URL+"/api/v1/data/upload/file", "application/octet-stream", bytes.NewReader(pattern(3<<20)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

// JSON bodies on POST /api/v1/data/upload keep grpc-gateway's
// client-streaming mapping (concatenated objects, base64 chunks).
func TestJSONClientStreamUpload(t *testing.T) {
	h := start(t, 1<<20, 0)
	body := `{"header":{"name":"j","format":"DATA_FORMAT_CSV"}}{"chunk":"MSwyCg=="}{"chunk":"Myw0Cg=="}`
	resp, err := http.Post(h.srv.URL+"/api/v1/data/upload", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	h.fake.mu.Lock()
	defer h.fake.mu.Unlock()
	if h.fake.bytes != 8 || h.fake.header.GetName() != "j" {
		t.Fatalf("bytes=%d header=%v", h.fake.bytes, h.fake.header)
	}
}

func TestHeadersForwarded(t *testing.T) {
	h := start(t, 1<<20, 0)
	req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/api/v1/tda/jobs/j1", nil)
	req.Header.Set("Authorization", "Bearer tok")
	req.Header.Set("X-Api-Key", "key")
	req.Header.Set("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	req.Header.Set("Tracestate", "x=1")
	req.Header.Set("X-Request-Id", "rid-1")
	req.Header.Set("Grpc-Metadata-X-Tenant-Id", "evil")
	req.Header.Set("Cookie", "c=1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body := decode(t, resp.Body)
	if resp.StatusCode != 200 || body["job"].(map[string]any)["job_id"] != "j1" {
		t.Fatalf("status %d body %v", resp.StatusCode, body)
	}
	if resp.Header.Get("X-Trace-Id") != "trace-j1" || resp.Header.Get("X-Request-Id") != "rid-1" {
		t.Errorf("response headers %v", resp.Header)
	}
	h.fake.mu.Lock()
	md := h.fake.md
	h.fake.mu.Unlock()
	want := map[string]string{
		"authorization": "Bearer tok", "x-api-key": "key", "x-request-id": "rid-1", "tracestate": "x=1",
		"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
	}
	for k, v := range want {
		if got := md.Get(k); len(got) != 1 || got[0] != v {
			t.Errorf("metadata %s = %v, want [%s]", k, got, v)
		}
	}
	for _, k := range []string{"x-tenant-id", "cookie", "grpcgateway-cookie"} {
		if got := md.Get(k); len(got) != 0 {
			t.Errorf("metadata %s should not be forwarded, got %v", k, got)
		}
	}
}

func TestRequestIDGenerated(t *testing.T) {
	h := start(t, 1<<20, 0)
	resp, err := http.Get(h.srv.URL + "/api/v1/tda/jobs/j2")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	id := resp.Header.Get("X-Request-Id")
	h.fake.mu.Lock()
	got := h.fake.md.Get("x-request-id")
	h.fake.mu.Unlock()
	if len(id) != 32 || len(got) != 1 || got[0] != id {
		t.Fatalf("response id %q, forwarded %v", id, got)
	}
}

func TestErrorMapping(t *testing.T) {
	h := start(t, 1<<20, 0)
	cases := []struct {
		id     string
		status int
	}{
		{"missing", 404}, {"busy", 429}, {"bad", 400}, {"denied", 403}, {"anon", 401}, {"down", 503},
	}
	for _, c := range cases {
		resp, err := http.Get(h.srv.URL + "/api/v1/tda/jobs/" + c.id)
		if err != nil {
			t.Fatal(err)
		}
		body := decode(t, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d (%v)", c.id, resp.StatusCode, c.status, body)
		}
		if resp.Header.Get("X-Trace-Id") != "trace-"+c.id {
			t.Errorf("%s: X-Trace-Id %q", c.id, resp.Header.Get("X-Trace-Id"))
		}
		switch c.id {
		case "anon":
			if got := resp.Header.Get("WWW-Authenticate"); got != proxy.Challenge {
				t.Errorf("WWW-Authenticate = %q", got)
			}
		case "busy":
			if resp.Header.Get("Retry-After") != "3" {
				t.Errorf("Retry-After = %q, want 3", resp.Header.Get("Retry-After"))
			}
			d := body["details"].([]any)
			if len(d) != 2 || d[0].(map[string]any)["@type"] != "type.googleapis.com/google.rpc.ErrorInfo" || d[0].(map[string]any)["reason"] != "QUOTA" {
				t.Errorf("details = %v", d)
			}
		case "bad":
			d := body["details"].([]any)[0].(map[string]any)
			if d["@type"] != "type.googleapis.com/google.rpc.BadRequest" {
				t.Errorf("details = %v", d)
			}
		default:
			if resp.Header.Get("Retry-After") != "" {
				t.Errorf("%s: unexpected Retry-After", c.id)
			}
		}
	}
}

func TestUnreachableGatewayIs503WithoutInternals(t *testing.T) {
	lis, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := lis.Addr().String()
	lis.Close()
	conn, _ := proxy.Dial(addr, 1<<20)
	defer conn.Close()
	hd, _ := proxy.New(context.Background(), proxy.Options{Conn: conn})
	rec := httptest.NewRecorder()
	hd.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/tda/jobs/x", nil))
	if rec.Code != 503 || strings.Contains(rec.Body.String(), "127.0.0.1") {
		t.Fatalf("status %d body %s", rec.Code, rec.Body.String())
	}
}

func TestWatchStreamsNDJSON(t *testing.T) {
	h := start(t, 1<<20, 0)
	resp, err := http.Get(h.srv.URL + "/api/v1/tda/jobs/j/watch")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	lines := 0
	for sc.Scan() {
		var v map[string]any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if _, ok := v["result"].(map[string]any)["update"]; !ok {
			t.Fatalf("line %q", sc.Text())
		}
		lines++
	}
	if lines != 3 {
		t.Fatalf("%d lines", lines)
	}

	// Each message is flushed as it arrives: the first line is readable
	// while the server still holds the stream open.
	resp1, err := http.Get(h.srv.URL + "/api/v1/tda/jobs/hold/watch")
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp1.Body)
	first, err := br.ReadString('\n')
	if err != nil || !strings.Contains(first, `"result"`) {
		t.Fatalf("first line %q: %v", first, err)
	}
	close(h.fake.release)
	rest, _ := io.ReadAll(br)
	resp1.Body.Close()
	if n := strings.Count(string(rest), "\n"); n != 2 {
		t.Fatalf("after release: %q", rest)
	}

	// An error after messages: a final {"error": ...} line.
	resp2, err := http.Get(h.srv.URL + "/api/v1/tda/jobs/breaks/watch")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	ls := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(ls) != 4 || !strings.Contains(ls[3], `"error"`) {
		t.Fatalf("body %q", b)
	}

	// An error before any message: a plain HTTP error.
	resp3, err := http.Get(h.srv.URL + "/api/v1/tda/jobs/missing/watch")
	if err != nil {
		t.Fatal(err)
	}
	resp3.Body.Close()
	if resp3.StatusCode != 404 {
		t.Fatalf("status %d", resp3.StatusCode)
	}
}

func TestMetricsRoutes(t *testing.T) {
	h := start(t, 1<<20, 0)
	for _, p := range []string{"/api/v1/tda/jobs/a", "/api/v1/tda/jobs/missing", "/nope"} {
		resp, err := http.Get(h.srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := http.Post(h.srv.URL+"/api/v1/data/upload/file", "application/octet-stream", bytes.NewReader(pattern(1000)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = http.Get(h.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`tda_rest_requests_total{code="200",method="GET",route="/api/v1/tda/jobs/{job_id}"} 1`,
		`tda_rest_requests_total{code="404",method="GET",route="/api/v1/tda/jobs/{job_id}"} 1`,
		`tda_rest_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`tda_rest_requests_total{code="200",method="POST",route="/api/v1/data/upload/file"} 1`,
		`tda_rest_upload_bytes_total 1000`,
		`tda_rest_request_duration_seconds_bucket{code="200",method="GET",route="/api/v1/tda/jobs/{job_id}",le="+Inf"} 1`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestUnknownJSONFieldIs400(t *testing.T) {
	h := start(t, 1<<20, 0)
	resp, err := http.Post(h.srv.URL+"/api/v1/tda/compute/vietoris-rips", "application/json", strings.NewReader(`{"dataset_id":"d","maxdim":2}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

// BenchmarkUpload measures the proxy's own upload path (HTTP body -> 1 MiB
// UploadData chunks) against the in-process fake: go test -bench Upload ./internal/proxy
func BenchmarkUpload(b *testing.B) {
	h := start(b, 1<<20, 0)
	data := pattern(32 << 20)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := http.Post(h.srv.URL+"/api/v1/data/upload/file", "application/octet-stream", bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
		<-h.fake.uploadDone
	}
}

func TestBodyLimit(t *testing.T) {
	lis, _ := net.Listen("tcp", "127.0.0.1:0")
	defer lis.Close()
	conn, _ := proxy.Dial(lis.Addr().String(), 1<<20)
	defer conn.Close()
	hd, _ := proxy.New(context.Background(), proxy.Options{Conn: conn, MaxBodyBytes: 1024})
	big := `{"stream_id":"s","values":[` + strings.Repeat("1,", 1000) + `1]}`
	rec := httptest.NewRecorder()
	hd.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/stream/publish", strings.NewReader(big)))
	if rec.Code != 400 {
		t.Fatalf("status %d body %s", rec.Code, rec.Body.String())
	}
}
