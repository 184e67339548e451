// Package health aggregates the standard gRPC health checks
// (grpc.health.v1.Health/Check, service "") of the mesh components the proxy
// knows about into one HTTP answer.
package health

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// Target is one component to check.
type Target struct {
	Name   string // e.g. "gateway", "upload", "scheduler", "engine-0"
	Client healthpb.HealthClient
}

// Service is the JSON shape of one component in the answer.
type Service struct {
	Status    string  `json:"status"`          // SERVING, NOT_SERVING, UNKNOWN, SERVICE_UNKNOWN, UNREACHABLE, NO_HEALTH_SERVICE
	Error     string  `json:"error,omitempty"` // gRPC code name when the check itself failed
	LatencyMs float64 `json:"latency_ms"`
}

// Report is the JSON answer of GET /health.
type Report struct {
	Status   string             `json:"status"` // SERVING or NOT_SERVING
	Services map[string]Service `json:"services"`
	Down     []string           `json:"down,omitempty"`
}

// Checker runs the checks concurrently, each with Timeout.
type Checker struct {
	Targets []Target
	Timeout time.Duration
}

// up says whether a component counts as available. A server that answers
// UNIMPLEMENTED is reachable but has no health service: it counts as up.
func up(s Service) bool { return s.Status == "SERVING" || s.Status == "NO_HEALTH_SERVICE" }

// Check queries every target and aggregates.
func (c *Checker) Check(ctx context.Context) Report {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	res := make([]Service, len(c.Targets))
	var wg sync.WaitGroup
	for i, t := range c.Targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			start := time.Now()
			resp, err := t.Client.Check(cctx, &healthpb.HealthCheckRequest{})
			s := Service{LatencyMs: float64(time.Since(start).Microseconds()) / 1000}
			switch {
			case err == nil:
				s.Status = resp.GetStatus().String()
			case status.Code(err) == codes.Unimplemented:
				s.Status = "NO_HEALTH_SERVICE"
			default:
				s.Status = "UNREACHABLE"
				s.Error = status.Code(err).String()
			}
			res[i] = s
		}()
	}
	wg.Wait()

	rep := Report{Status: "SERVING", Services: make(map[string]Service, len(c.Targets))}
	for i, t := range c.Targets {
		rep.Services[t.Name] = res[i]
		if !up(res[i]) {
			rep.Down = append(rep.Down, t.Name)
		}
	}
	if len(rep.Down) > 0 {
		rep.Status = "NOT_SERVING"
		sort.Strings(rep.Down)
	}
	return rep
}

// ServeHTTP answers 200 with the report when everything is up, else 503.
func (c *Checker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rep := c.Check(r.Context())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if rep.Status != "SERVING" {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(rep)
}

// NewTargets builds the target list: the gateway on its existing connection,
// the others on connections created by dial (nil addresses are skipped).
func NewTargets(gateway grpc.ClientConnInterface, others []NamedAddress, dial func(addr string) (grpc.ClientConnInterface, error)) ([]Target, error) {
	ts := []Target{{Name: "gateway", Client: healthpb.NewHealthClient(gateway)}}
	for _, o := range others {
		if o.Address == "" {
			continue
		}
		conn, err := dial(o.Address)
		if err != nil {
			return nil, err
		}
		ts = append(ts, Target{Name: o.Name, Client: healthpb.NewHealthClient(conn)})
	}
	return ts, nil
}

// NamedAddress names a component at an address.
type NamedAddress struct{ Name, Address string }
