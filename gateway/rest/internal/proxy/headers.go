package proxy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/textproto"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/proto"
)

// TraceIDHeader is the response header (and gRPC response metadata key) that
// carries the trace id of the request.
const TraceIDHeader = "x-trace-id"

// RequestIDHeader is forwarded to the backend; one is generated when missing.
const RequestIDHeader = "x-request-id"

// forwardedHeaders are the HTTP request headers copied into gRPC metadata
// (lower-cased, no prefix). Everything else is dropped on purpose: in
// particular `Grpc-Metadata-*` is not honoured, so callers cannot inject
// internal metadata (e.g. a tenant id) that backends trust from the gateway.
//
// `Authorization` is absent here because grpc-gateway already forwards it as
// `authorization` itself; matching it again would send it twice.
var forwardedHeaders = map[string]bool{
	"x-api-key":     true,
	"traceparent":   true,
	"tracestate":    true,
	"baggage":       true,
	RequestIDHeader: true,
}

// IncomingHeaderMatcher decides which HTTP headers become gRPC metadata.
func IncomingHeaderMatcher(key string) (string, bool) {
	k := strings.ToLower(key)
	if forwardedHeaders[k] {
		return k, true
	}
	return "", false
}

// OutgoingHeaderMatcher maps gRPC response header metadata to HTTP headers:
// x-trace-id is passed back as X-Trace-Id; transport-level keys (content-type,
// date, grpc-*) are dropped; any other key keeps grpc-gateway's default
// Grpc-Metadata-<key> form.
func OutgoingHeaderMatcher(key string) (string, bool) {
	k := strings.ToLower(key)
	switch {
	case k == TraceIDHeader:
		return textproto.CanonicalMIMEHeaderKey(TraceIDHeader), true
	case k == "content-type", k == "date", k == "user-agent", strings.HasPrefix(k, "grpc-"), strings.HasPrefix(k, ":"):
		return "", false
	}
	return runtime.MetadataHeaderPrefix + key, true
}

// traceIDFromTrailer copies x-trace-id from response trailers (a trailers-only
// gRPC error carries its metadata there) when headers did not have it.
func traceIDFromTrailer(ctx context.Context, w http.ResponseWriter) {
	md, ok := runtime.ServerMetadataFromContext(ctx)
	if !ok || w.Header().Get(TraceIDHeader) != "" || len(md.HeaderMD.Get(TraceIDHeader)) > 0 {
		return
	}
	if v := md.TrailerMD.Get(TraceIDHeader); len(v) > 0 {
		w.Header().Set(TraceIDHeader, v[0])
	}
}

// forwardTraceOption is a forward-response option applied to every success.
func forwardTraceOption(ctx context.Context, w http.ResponseWriter, _ proto.Message) error {
	traceIDFromTrailer(ctx, w)
	return nil
}

// WithRequestID makes sure every request carries an X-Request-Id (the
// caller's, or a fresh random one) and echoes it in the response.
func WithRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if id == "" || len(id) > 128 {
			var b [16]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
			r.Header.Set(RequestIDHeader, id)
		}
		w.Header().Set(RequestIDHeader, id)
		next.ServeHTTP(w, r)
	})
}
