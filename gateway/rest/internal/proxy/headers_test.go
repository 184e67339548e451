package proxy

import "testing"

func TestIncomingHeaderMatcher(t *testing.T) {
	for key, want := range map[string]string{
		"X-Api-Key": "x-api-key", "x-api-key": "x-api-key", "Traceparent": "traceparent",
		"Tracestate": "tracestate", "X-Request-Id": "x-request-id", "Baggage": "baggage",
	} {
		if got, ok := IncomingHeaderMatcher(key); !ok || got != want {
			t.Errorf("%s -> %q %v, want %q", key, got, ok, want)
		}
	}
	// Authorization is forwarded by grpc-gateway itself; the rest is dropped.
	for _, key := range []string{"Authorization", "Cookie", "Grpc-Metadata-X-Tenant-Id", "X-Tenant-Id", "Content-Type", "Host"} {
		if got, ok := IncomingHeaderMatcher(key); ok {
			t.Errorf("%s should not be forwarded (got %q)", key, got)
		}
	}
}

func TestOutgoingHeaderMatcher(t *testing.T) {
	if got, ok := OutgoingHeaderMatcher("x-trace-id"); !ok || got != "X-Trace-Id" {
		t.Errorf("x-trace-id -> %q", got)
	}
	if got, _ := OutgoingHeaderMatcher("other"); got != "Grpc-Metadata-other" {
		t.Errorf("other -> %q", got)
	}
	for _, k := range []string{"content-type", "date", "grpc-accept-encoding"} {
		if got, ok := OutgoingHeaderMatcher(k); ok {
			t.Errorf("%s should be dropped (got %q)", k, got)
		}
	}
}

func TestIsJSON(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/json": true, "application/json; charset=utf-8": true, "application/vnd.x+json": true,
		"": false, "text/csv": false, "application/octet-stream": false, "multipart/form-data; boundary=x": false,
	} {
		if got := isJSON(ct); got != want {
			t.Errorf("isJSON(%q) = %v", ct, got)
		}
	}
}
