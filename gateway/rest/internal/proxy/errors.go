package proxy

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/anypb"
)

// ErrorHandler is grpc-gateway's default error handler (status mapping and a
// google.rpc.Status JSON body with details) plus:
//   - Retry-After (whole seconds, rounded up) from a google.rpc.RetryInfo detail;
//   - X-Trace-Id taken from the trailers of a trailers-only error;
//   - WWW-Authenticate: Bearer realm="tda-mesh" on 401;
//   - grpc-go's own "connection refused"-style messages (which name internal
//     addresses) replaced by a generic one;
//   - details of a type this binary cannot resolve are dropped instead of
//     turning the whole body into "failed to marshal error message".
func ErrorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	var custom *runtime.HTTPStatusError
	inner := err
	if errors.As(err, &custom) {
		inner = custom.Err
	}
	st := status.Convert(inner)
	sp := st.Proto()
	rewritten := false
	if msg := localTransportMessage(sp); msg != "" {
		// grpc-go's own connection errors name internal addresses: replace them.
		sp.Message = msg
		rewritten = true
	}

	kept := make([]*anypb.Any, 0, len(sp.GetDetails()))
	for _, d := range sp.GetDetails() {
		mt, ferr := protoregistry.GlobalTypes.FindMessageByURL(d.GetTypeUrl())
		if ferr != nil {
			continue
		}
		kept = append(kept, d)
		if mt.Descriptor().FullName() == "google.rpc.RetryInfo" {
			var ri errdetails.RetryInfo
			if d.UnmarshalTo(&ri) == nil && ri.GetRetryDelay() != nil {
				secs := int64(math.Ceil(ri.GetRetryDelay().AsDuration().Seconds()))
				w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 0), 10))
			}
		}
	}
	if rewritten || len(kept) != len(sp.GetDetails()) {
		inner = status.ErrorProto(&spb.Status{Code: sp.GetCode(), Message: sp.GetMessage(), Details: kept})
		if custom != nil {
			err = &runtime.HTTPStatusError{HTTPStatus: custom.HTTPStatus, Err: inner}
		} else {
			err = inner
		}
	}
	traceIDFromTrailer(ctx, w)
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, challengeWriter{w}, r, err)
}

// Challenge is the WWW-Authenticate value of 401 answers. grpc-gateway puts
// the status message there, which is not a valid RFC 9110 challenge; the
// message stays in the JSON body.
const Challenge = `Bearer realm="tda-mesh"`

type challengeWriter struct{ http.ResponseWriter }

func (c challengeWriter) WriteHeader(code int) {
	if code == http.StatusUnauthorized {
		c.Header().Set("WWW-Authenticate", Challenge)
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c challengeWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// localTransportMessage returns a client-safe message for an UNAVAILABLE
// status produced by this process's gRPC client (no connection to the
// gateway), or "" for statuses that came from the gateway itself.
func localTransportMessage(sp *spb.Status) string {
	if codes.Code(sp.GetCode()) != codes.Unavailable || len(sp.GetDetails()) > 0 {
		return ""
	}
	m := sp.GetMessage()
	if strings.HasPrefix(m, "connection error") || strings.Contains(m, "transport:") ||
		strings.HasPrefix(m, "name resolver error") || strings.Contains(m, "connection closed") {
		return "the TDA gateway is unavailable; retry later"
	}
	return ""
}
