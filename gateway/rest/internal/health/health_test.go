package health

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	grpchealth "google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// serve starts a gRPC server; with health statuses (service name → status) unless withHealth is false.
func serve(t *testing.T, withHealth bool, statuses map[string]healthpb.HealthCheckResponse_ServingStatus) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	if withHealth {
		hs := grpchealth.NewServer()
		for name, st := range statuses {
			hs.SetServingStatus(name, st)
		}
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

func checker(t *testing.T, addr string) *Checker {
	t.Helper()
	c, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &Checker{Gateway: healthpb.NewHealthClient(c), Timeout: time.Second}
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

const (
	serving    = healthpb.HealthCheckResponse_SERVING
	notServing = healthpb.HealthCheckResponse_NOT_SERVING
)

func TestAllServing(t *testing.T) {
	gw := serve(t, true, map[string]healthpb.HealthCheckResponse_ServingStatus{
		"": serving, "tda.gateway.v1.TdaService": serving, "dependency/upload": serving, "dependency/scheduler": serving,
	})
	code, rep := get(t, checker(t, gw))
	if code != 200 || rep.Status != "SERVING" || len(rep.Services) != 1 || len(rep.Down) != 0 {
		t.Fatalf("%d %+v", code, rep)
	}
	if rep.Services["gateway"].Status != "SERVING" {
		t.Fatalf("%+v", rep.Services)
	}
	// only the dependencies the gateway publishes, by their own names
	if len(rep.Dependencies) != 2 || rep.Dependencies["upload"] != "SERVING" || rep.Dependencies["scheduler"] != "SERVING" {
		t.Fatalf("%+v", rep.Dependencies)
	}
}

func TestDependencyDown(t *testing.T) {
	gw := serve(t, true, map[string]healthpb.HealthCheckResponse_ServingStatus{
		"": notServing, "dependency/upload": serving, "dependency/scheduler": notServing, "dependency/redis": notServing,
	})
	code, rep := get(t, checker(t, gw))
	if code != 503 || rep.Status != "NOT_SERVING" {
		t.Fatalf("%d %+v", code, rep)
	}
	if strings.Join(rep.Down, ",") != "gateway,redis,scheduler" {
		t.Fatalf("down = %v", rep.Down)
	}
}

// A gateway without a health service counts as up (it answered); nothing to list.
func TestNoHealthService(t *testing.T) {
	code, rep := get(t, checker(t, serve(t, false, nil)))
	if code != 200 || rep.Services["gateway"].Status != "NO_HEALTH_SERVICE" || rep.Dependencies != nil {
		t.Fatalf("%d %+v", code, rep)
	}
}

func TestGatewayUnreachable(t *testing.T) {
	code, rep := get(t, checker(t, deadAddr(t)))
	if code != 503 || rep.Services["gateway"].Status != "UNREACHABLE" || rep.Services["gateway"].Error == "" || strings.Join(rep.Down, ",") != "gateway" {
		t.Fatalf("%d %+v", code, rep)
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
	c := checker(t, lis.Addr().String())
	c.Timeout = 300 * time.Millisecond
	start := time.Now()
	rep := c.Check(context.Background())
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("took %v", el)
	}
	if rep.Status != "NOT_SERVING" || rep.Services["gateway"].Error != "DeadlineExceeded" {
		t.Fatalf("%+v", rep)
	}
}
