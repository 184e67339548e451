// Package trace serves a job's trace, GET /api/v1/tda/jobs/{job_id}/trace:
// it asks the gateway for the job with the caller's own credentials (so a
// tenant sees only its jobs' traces), then reads the trace from the trace
// store's query API (Jaeger's HTTP API: GET {base}/api/traces/{trace_id})
// and answers a flat list of spans the console draws as a waterfall.
package trace

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	gatewayv1 "tda-mesh/gateway/rest/gen/tda/gateway/v1"
)

// Path is the route pattern (GET).
const Path = "/api/v1/tda/jobs/{job_id}/trace"

// MaxSpans bounds the answer; MaxBodyBytes bounds what is read from the store.
const (
	MaxSpans     = 20000
	MaxBodyBytes = 32 << 20
)

var traceIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// Span is one span as the console draws it.
type Span struct {
	SpanID       string `json:"span_id"`
	ParentSpanID string `json:"parent_span_id"`
	Service      string `json:"service"`
	Name         string `json:"name"`
	StartUs      int64  `json:"start_us"`
	DurationUs   int64  `json:"duration_us"`
	Error        bool   `json:"error"`
}

// Trace is the answer of the route.
type Trace struct {
	TraceID   string `json:"trace_id"`
	Spans     []Span `json:"spans"`
	Truncated bool   `json:"truncated"`
}

// Handler serves Path.
type Handler struct {
	Mux    *runtime.ServeMux
	Client gatewayv1.TdaServiceClient
	// QueryURL is the trace store's query API base (e.g. http://127.0.0.1:16686).
	QueryURL string
	HTTP     *http.Client
}

// Handle is the runtime.HandlerFunc of Path.
func (h *Handler) Handle(w http.ResponseWriter, r *http.Request, params map[string]string) {
	_, out := runtime.MarshalerForRequest(h.Mux, r)
	ctx, err := runtime.AnnotateContext(r.Context(), h.Mux, r, gatewayv1.TdaService_GetJob_FullMethodName, runtime.WithHTTPPathPattern(Path))
	if err != nil {
		runtime.HTTPError(ctx, h.Mux, out, w, r, err)
		return
	}
	job, err := h.Client.GetJob(ctx, &gatewayv1.GetJobRequest{JobId: params["job_id"]})
	if err != nil {
		runtime.HTTPError(ctx, h.Mux, out, w, r, err)
		return
	}
	id := job.GetJob().GetTraceId()
	if !traceIDRE.MatchString(id) {
		runtime.HTTPError(ctx, h.Mux, out, w, r, status.Error(codes.NotFound, "this job has no trace id (tracing was off when it was submitted)"))
		return
	}
	t, err := h.fetch(ctx, id)
	if err != nil {
		runtime.HTTPError(ctx, h.Mux, out, w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(t)
}

// jaegerTrace is the part of Jaeger's /api/traces/{id} answer we read.
type jaegerTrace struct {
	Data []struct {
		Spans []struct {
			SpanID        string `json:"spanID"`
			OperationName string `json:"operationName"`
			References    []struct {
				RefType string `json:"refType"`
				SpanID  string `json:"spanID"`
			} `json:"references"`
			StartTime int64  `json:"startTime"`
			Duration  int64  `json:"duration"`
			ProcessID string `json:"processID"`
			Tags      []struct {
				Key   string `json:"key"`
				Value any    `json:"value"`
			} `json:"tags"`
		} `json:"spans"`
		Processes map[string]struct {
			ServiceName string `json:"serviceName"`
		} `json:"processes"`
	} `json:"data"`
}

func (h *Handler) fetch(ctx context.Context, traceID string) (*Trace, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.QueryURL+"/api/traces/"+url.PathEscape(traceID), nil)
	if err != nil {
		return nil, status.Error(codes.Internal, "bad trace store address")
	}
	res, err := h.HTTP.Do(req)
	if err != nil {
		return nil, status.Error(codes.Unavailable, "the trace store is unavailable; retry later")
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusNotFound {
		// not (yet) in the store: spans are exported in batches
		return &Trace{TraceID: traceID, Spans: []Span{}}, nil
	}
	if res.StatusCode != http.StatusOK {
		return nil, status.Error(codes.Unavailable, fmt.Sprintf("the trace store answered HTTP %d", res.StatusCode))
	}
	var jt jaegerTrace
	if err := json.NewDecoder(io.LimitReader(res.Body, MaxBodyBytes)).Decode(&jt); err != nil {
		return nil, status.Error(codes.Unavailable, "the trace store's answer could not be read")
	}
	return flatten(traceID, &jt), nil
}

// flatten turns Jaeger's answer into spans ordered by start time.
func flatten(traceID string, jt *jaegerTrace) *Trace {
	t := &Trace{TraceID: traceID, Spans: []Span{}}
	for _, d := range jt.Data {
		for _, s := range d.Spans {
			if len(t.Spans) >= MaxSpans {
				t.Truncated = true
				break
			}
			sp := Span{SpanID: s.SpanID, Name: s.OperationName, StartUs: s.StartTime, DurationUs: s.Duration, Service: d.Processes[s.ProcessID].ServiceName}
			for _, ref := range s.References {
				if ref.RefType == "CHILD_OF" {
					sp.ParentSpanID = ref.SpanID
					break
				}
			}
			for _, tag := range s.Tags {
				if (tag.Key == "error" && tag.Value == true) || (tag.Key == "otel.status_code" && tag.Value == "ERROR") {
					sp.Error = true
				}
			}
			t.Spans = append(t.Spans, sp)
		}
	}
	sort.SliceStable(t.Spans, func(i, j int) bool { return t.Spans[i].StartUs < t.Spans[j].StartUs })
	return t
}
