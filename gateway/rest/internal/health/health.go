// Package health answers GET /health from the gateway's standard gRPC health
// service alone: the edge knows the gateway, not the topology behind it. The
// gateway is SERVING only while its own dependencies (upload, scheduler,
// Redis, Kafka, its event outbox) are; it publishes each one's state as the
// health service "dependency/<name>", which Health/List returns, so the answer
// still names what is down.
package health

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// DependencyPrefix starts the health service names under which the gateway
// publishes its dependencies' states.
const DependencyPrefix = "dependency/"

// Service is the JSON shape of the gateway's own check.
type Service struct {
	Status    string  `json:"status"`          // SERVING, NOT_SERVING, UNKNOWN, SERVICE_UNKNOWN, UNREACHABLE, NO_HEALTH_SERVICE
	Error     string  `json:"error,omitempty"` // gRPC code name when the check itself failed
	LatencyMs float64 `json:"latency_ms"`
}

// Report is the JSON answer of GET /health.
type Report struct {
	Status   string             `json:"status"` // SERVING or NOT_SERVING
	Services map[string]Service `json:"services"`
	// The gateway's dependencies as it reports them (absent when it could not be asked).
	Dependencies map[string]string `json:"dependencies,omitempty"`
	// "gateway" when it is not serving, and each dependency it reports down.
	Down []string `json:"down,omitempty"`
}

// Checker asks the gateway, each call bounded by Timeout.
type Checker struct {
	Gateway healthpb.HealthClient
	Timeout time.Duration
}

// up says whether the gateway counts as available. A server that answers
// UNIMPLEMENTED is reachable but has no health service: it counts as up.
func up(s Service) bool { return s.Status == "SERVING" || s.Status == "NO_HEALTH_SERVICE" }

func (c *Checker) check(ctx context.Context) Service {
	start := time.Now()
	resp, err := c.Gateway.Check(ctx, &healthpb.HealthCheckRequest{})
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
	return s
}

// dependencies lists the gateway's dependencies and their states (nil when List fails).
func (c *Checker) dependencies(ctx context.Context) map[string]string {
	resp, err := c.Gateway.List(ctx, &healthpb.HealthListRequest{})
	if err != nil {
		return nil
	}
	deps := map[string]string{}
	for name, st := range resp.GetStatuses() {
		if dep, ok := strings.CutPrefix(name, DependencyPrefix); ok {
			deps[dep] = st.GetStatus().String()
		}
	}
	return deps
}

// Check asks the gateway for its status and its dependencies' (concurrently).
func (c *Checker) Check(ctx context.Context) Report {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var gw Service
	var deps map[string]string
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); gw = c.check(cctx) }()
	go func() { defer wg.Done(); deps = c.dependencies(cctx) }()
	wg.Wait()

	rep := Report{Status: "SERVING", Services: map[string]Service{"gateway": gw}, Dependencies: deps}
	if !up(gw) {
		rep.Down = append(rep.Down, "gateway")
	}
	for name, st := range deps {
		if st != "SERVING" {
			rep.Down = append(rep.Down, name)
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
