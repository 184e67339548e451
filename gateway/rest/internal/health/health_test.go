package health

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	grpchealth "google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// serve starts a gRPC server; with a health status unless withHealth is false.
func serve(t *testing.T, withHealth bool, st healthpb.HealthCheckResponse_ServingStatus) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	if withHealth {
		hs := grpchealth.NewServer()
		hs.SetServingStatus("", st)
		healthpb.RegisterHealthServer(s, hs)
	}
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

func deadAddr(t *testing.T) string {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	_ = lis.Close()
	return addr
}

func dial(t *testing.T) func(string) (grpc.ClientConnInterface, error) {
	return func(addr string) (grpc.ClientConnInterface, error) {
		c, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err == nil {
			t.Cleanup(func() { _ = c.Close() })
		}
		return c, err
	}
}

func get(t *testing.T, c *Checker) (int, Report) {
	t.Helper()
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
	var rep Report
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
		t.Fatalf("%v: %s", err, rec.Body.String())
	}
	return rec.Code, rep
}

func TestAllServing(t *testing.T) {
	gw, _ := dial(t)(serve(t, true, healthpb.HealthCheckResponse_SERVING))
	targets, err := NewTargets(gw, []NamedAddress{
		{"upload", serve(t, true, healthpb.HealthCheckResponse_SERVING)},
		{"scheduler", ""}, // not configured: skipped
		{"engine-0", serve(t, false, 0)},
	}, dial(t))
	if err != nil {
		t.Fatal(err)
	}
	code, rep := get(t, &Checker{Targets: targets, Timeout: time.Second})
	if code != 200 || rep.Status != "SERVING" || len(rep.Services) != 3 || len(rep.Down) != 0 {
		t.Fatalf("%d %+v", code, rep)
	}
	if rep.Services["engine-0"].Status != "NO_HEALTH_SERVICE" || rep.Services["gateway"].Status != "SERVING" {
		t.Fatalf("%+v", rep.Services)
	}
}

func TestSomeDown(t *testing.T) {
	gw, _ := dial(t)(serve(t, true, healthpb.HealthCheckResponse_SERVING))
	targets, err := NewTargets(gw, []NamedAddress{
		{"upload", serve(t, true, healthpb.HealthCheckResponse_NOT_SERVING)},
		{"scheduler", deadAddr(t)},
		{"engine-0", serve(t, true, healthpb.HealthCheckResponse_SERVING)},
	}, dial(t))
	if err != nil {
		t.Fatal(err)
	}
	code, rep := get(t, &Checker{Targets: targets, Timeout: time.Second})
	if code != 503 || rep.Status != "NOT_SERVING" {
		t.Fatalf("%d %+v", code, rep)
	}
	if len(rep.Down) != 2 || rep.Down[0] != "scheduler" || rep.Down[1] != "upload" {
		t.Fatalf("down = %v", rep.Down)
	}
	if s := rep.Services["scheduler"]; s.Status != "UNREACHABLE" || s.Error == "" {
		t.Fatalf("scheduler = %+v", s)
	}
	if rep.Services["upload"].Status != "NOT_SERVING" || rep.Services["engine-0"].Status != "SERVING" {
		t.Fatalf("%+v", rep.Services)
	}
}

// A check that hangs is bounded by the timeout.
func TestTimeout(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never speaks HTTP/2
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	gw, _ := dial(t)(lis.Addr().String())
	start := time.Now()
	rep := (&Checker{Targets: []Target{{Name: "gateway", Client: healthpb.NewHealthClient(gw)}}, Timeout: 300 * time.Millisecond}).Check(context.Background())
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("took %v", el)
	}
	if rep.Status != "NOT_SERVING" || rep.Services["gateway"].Error != "DeadlineExceeded" {
		t.Fatalf("%+v", rep)
	}
}
