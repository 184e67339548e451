// Package metrics instruments the REST proxy itself and serves the
// Prometheus text exposition.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Unmatched is the route label of requests no route matched.
const Unmatched = "unmatched"

// Metrics holds the proxy's collectors in a private registry.
type Metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	inFlight    prometheus.Gauge
	uploadBytes prometheus.Counter
}

// New creates the collectors (plus Go runtime and process collectors).
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tda_rest_requests_total",
		Help: "HTTP requests served by the REST proxy, by method, route template and status code.",
	}, []string{"method", "route", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "tda_rest_request_duration_seconds",
		Help:    "Time from request start to the end of the response (streams: until the stream ends).",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
	}, []string{"method", "route", "code"})
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "tda_rest_requests_in_flight",
		Help: "HTTP requests currently being served.",
	})
	m.uploadBytes = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "tda_rest_upload_bytes_total",
		Help: "Request body bytes streamed into UploadData by the file upload endpoint.",
	})
	m.reg.MustRegister(m.requests, m.duration, m.inFlight, m.uploadBytes,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// AddUploadBytes counts streamed upload bytes.
func (m *Metrics) AddUploadBytes(n int) { m.uploadBytes.Add(float64(n)) }

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

type routeKey struct{}

type routeSlot struct{ route string }

// RouteMiddleware is a grpc-gateway middleware that records the matched route
// template for Wrap (which runs outside the mux and cannot see it otherwise).
func RouteMiddleware(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p map[string]string) {
		if slot, ok := r.Context().Value(routeKey{}).(*routeSlot); ok {
			if pat, ok := runtime.HTTPPattern(r.Context()); ok {
				slot.route = strings.ReplaceAll(pat.String(), "=*}", "}")
			}
		}
		next(w, r, p)
	}
}

// Wrap counts and times every request passing through next.
func (m *Metrics) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		slot := &routeSlot{}
		sw := &statusWriter{ResponseWriter: w}
		m.inFlight.Inc()
		defer func() {
			m.inFlight.Dec()
			route := slot.route
			if route == "" {
				route = Unmatched
			}
			code := sw.code
			if code == 0 {
				code = http.StatusOK
			}
			labels := prometheus.Labels{"method": methodLabel(r.Method), "route": route, "code": strconv.Itoa(code)}
			m.requests.With(labels).Inc()
			m.duration.With(labels).Observe(time.Since(start).Seconds())
		}()
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), routeKey{}, slot)))
	})
}

// methodLabel keeps label cardinality bounded.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

// statusWriter remembers the status code; Flush and Unwrap keep streaming
// (chunked watch responses) working through it.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
