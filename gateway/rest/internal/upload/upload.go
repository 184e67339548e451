// Package upload is the hand-written HTTP file upload endpoint: it streams a
// request body (raw, or the file part of a multipart/form-data body) into the
// TdaService.UploadData client stream in fixed-size chunks, without holding
// more than one chunk in memory.
package upload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	gatewayv1 "tda-mesh/gateway/rest/gen/tda/gateway/v1"
	uploadv1 "tda-mesh/gateway/rest/gen/tda/upload/v1"
)

// Path is where the handler is mounted (POST).
const Path = "/api/v1/data/upload/file"

// DefaultChunkBytes is the size of each chunk message (1 MiB).
const DefaultChunkBytes = 1 << 20

// maxFieldBytes caps a non-file multipart field (name, format, dim, ...).
const maxFieldBytes = 64 << 10

// Handler serves POST Path.
type Handler struct {
	Mux        *runtime.ServeMux
	Client     gatewayv1.TdaServiceClient
	ChunkBytes int   // 0 = DefaultChunkBytes
	MaxBytes   int64 // 0 = unlimited; larger bodies get 413
	// OnBytes, if set, is told how many body bytes were forwarded.
	OnBytes func(n int)
}

// ServeHTTP implements runtime.HandlerFunc's signature via Handle.
func (h *Handler) Handle(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	_, out := runtime.MarshalerForRequest(h.Mux, r)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()

	ctx, err := runtime.AnnotateContext(ctx, h.Mux, r, gatewayv1.TdaService_UploadData_FullMethodName, runtime.WithHTTPPathPattern(Path))
	if err != nil {
		runtime.HTTPError(ctx, h.Mux, out, w, r, err)
		return
	}

	hdr, err := headerFromValues(r.URL.Query(), nil)
	if err != nil {
		runtime.HTTPError(ctx, h.Mux, out, w, r, err)
		return
	}

	body := r.Body
	if h.MaxBytes > 0 {
		body = http.MaxBytesReader(w, r.Body, h.MaxBytes)
	}

	var src io.Reader
	mediaType, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mediaType == "multipart/form-data" {
		if params["boundary"] == "" {
			runtime.HTTPError(ctx, h.Mux, out, w, r, status.Error(codes.InvalidArgument, "multipart/form-data without a boundary"))
			return
		}
		part, err := fileFromMultipart(multipart.NewReader(body, params["boundary"]), hdr)
		if err != nil {
			runtime.HTTPError(ctx, h.Mux, out, w, r, bodyError(err))
			return
		}
		src = part
	} else {
		src = body
		if hdr.ContentType == "" {
			hdr.ContentType = r.Header.Get("Content-Type")
		}
		if hdr.TotalBytes == 0 && r.ContentLength > 0 {
			hdr.TotalBytes = uint64(r.ContentLength)
		}
	}

	var md runtime.ServerMetadata
	stream, err := h.Client.UploadData(ctx, grpc.Header(&md.HeaderMD), grpc.Trailer(&md.TrailerMD))
	if err != nil {
		runtime.HTTPError(runtime.NewServerMetadataContext(ctx, md), h.Mux, out, w, r, err)
		return
	}

	fail := func(err error) {
		// Cancel the stream first so a half-received upload is never committed.
		cancel()
		runtime.HTTPError(runtime.NewServerMetadataContext(ctx, md), h.Mux, out, w, r, err)
	}

	sendErr := stream.Send(&gatewayv1.UploadDataRequest{Msg: &gatewayv1.UploadDataRequest_Header{Header: hdr}})
	if sendErr == nil {
		sendErr = h.pump(src, stream, fail)
		if errors.Is(sendErr, errAborted) {
			return
		}
	}
	// io.EOF from Send means the server already ended the call: its status
	// comes from CloseAndRecv, like any other outcome.
	if sendErr != nil && !errors.Is(sendErr, io.EOF) {
		fail(sendErr)
		return
	}
	resp, err := stream.CloseAndRecv()
	ctx = runtime.NewServerMetadataContext(ctx, md)
	if err != nil {
		runtime.HTTPError(ctx, h.Mux, out, w, r, err)
		return
	}
	runtime.ForwardResponseMessage(ctx, h.Mux, out, w, r, resp)
}

var errAborted = errors.New("upload aborted")

// pump copies src into chunk messages until EOF. A read error (client gone,
// truncated body, size cap) aborts the call and answers the client; the
// returned error is then errAborted. A send error is returned as is.
func (h *Handler) pump(src io.Reader, stream grpc.ClientStreamingClient[gatewayv1.UploadDataRequest, gatewayv1.UploadDataResponse], fail func(error)) error {
	size := h.ChunkBytes
	if size <= 0 {
		size = DefaultChunkBytes
	}
	for {
		// A fresh buffer per chunk: the message must not change after Send.
		buf := make([]byte, size)
		n, rerr := fill(src, buf)
		if n > 0 {
			if err := stream.Send(&gatewayv1.UploadDataRequest{Msg: &gatewayv1.UploadDataRequest_Chunk{Chunk: buf[:n]}}); err != nil {
				return err
			}
			if h.OnBytes != nil {
				h.OnBytes(n)
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			fail(bodyError(rerr))
			return errAborted
		}
	}
}

// fill reads until buf is full or the reader fails; io.EOF only on a clean end.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// bodyError turns a request-body failure into a status for the client.
func bodyError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return &runtime.HTTPStatusError{
			HTTPStatus: http.StatusRequestEntityTooLarge,
			Err:        status.Errorf(codes.ResourceExhausted, "upload larger than %d bytes", tooBig.Limit),
		}
	}
	if s, ok := status.FromError(err); ok && s.Code() != codes.Unknown {
		return err
	}
	return status.Errorf(codes.InvalidArgument, "reading the request body: %v", err)
}

// fileFromMultipart walks the parts up to the file (the part named "file", or
// the first part with a filename). Plain fields before it fill header fields
// the query string did not set. Fields after the file are not read.
func fileFromMultipart(mr *multipart.Reader, hdr *uploadv1.UploadHeader) (*multipart.Part, error) {
	fields := url.Values{}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return nil, status.Error(codes.InvalidArgument, `multipart body has no file part (use a part named "file")`)
		}
		if err != nil {
			return nil, err
		}
		if p.FormName() == "file" || p.FileName() != "" {
			if _, err := headerFromValues(fields, hdr); err != nil {
				return nil, err
			}
			if hdr.Name == "" {
				hdr.Name = p.FileName()
			}
			if hdr.ContentType == "" {
				hdr.ContentType = p.Header.Get("Content-Type")
			}
			return p, nil
		}
		v, err := io.ReadAll(io.LimitReader(p, maxFieldBytes+1))
		if err != nil {
			return nil, err
		}
		if len(v) > maxFieldBytes {
			return nil, status.Errorf(codes.InvalidArgument, "multipart field %q is too long", p.FormName())
		}
		fields.Add(p.FormName(), string(v))
	}
}

// headerFromValues reads the upload parameters (name, format, dim,
// content_type, upload_id, resume_offset, total_bytes) from q. With a non-nil
// into, only fields still empty in it are set.
func headerFromValues(q url.Values, into *uploadv1.UploadHeader) (*uploadv1.UploadHeader, error) {
	h := into
	if h == nil {
		h = &uploadv1.UploadHeader{}
	}
	var bad []string
	uintParam := func(key string, bits int) (uint64, bool) {
		v := strings.TrimSpace(q.Get(key))
		if v == "" {
			return 0, false
		}
		n, err := strconv.ParseUint(v, 10, bits)
		if errors.Is(err, strconv.ErrRange) {
			bad = append(bad, fmt.Sprintf("%s: out of range (at most %d): %q", key, uint64(1)<<bits-1, v))
			return 0, false
		}
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: not a non-negative integer: %q", key, v))
			return 0, false
		}
		return n, true
	}
	if v := q.Get("name"); v != "" && h.Name == "" {
		h.Name = v
	}
	if v := q.Get("format"); v != "" && h.Format == uploadv1.DataFormat_DATA_FORMAT_UNSPECIFIED {
		f, err := ParseFormat(v)
		if err != nil {
			bad = append(bad, err.Error())
		}
		h.Format = f
	}
	if n, ok := uintParam("dim", 32); ok && h.Dim == 0 {
		h.Dim = uint32(n)
	}
	if v := q.Get("content_type"); v != "" && h.ContentType == "" {
		h.ContentType = v
	}
	if v := q.Get("upload_id"); v != "" && h.UploadId == "" {
		h.UploadId = v
	}
	// byte counts: the services hold them as exact doubles (integers up to 2^53-1)
	if n, ok := uintParam("resume_offset", 53); ok && h.ResumeOffset == 0 {
		h.ResumeOffset = n
	}
	if n, ok := uintParam("total_bytes", 53); ok && h.TotalBytes == 0 {
		h.TotalBytes = n
	}
	if len(bad) > 0 {
		return nil, status.Error(codes.InvalidArgument, "bad upload parameters: "+strings.Join(bad, "; "))
	}
	return h, nil
}

// ParseFormat accepts "csv", "CSV", "raw-float64", "DATA_FORMAT_CSV" or the
// enum number.
func ParseFormat(s string) (uploadv1.DataFormat, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.ReplaceAll(t, "-", "_")
	if n, err := strconv.Atoi(t); err == nil {
		if _, ok := uploadv1.DataFormat_name[int32(n)]; ok {
			return uploadv1.DataFormat(n), nil
		}
	}
	if !strings.HasPrefix(t, "DATA_FORMAT_") {
		t = "DATA_FORMAT_" + t
	}
	if v, ok := uploadv1.DataFormat_value[t]; ok {
		return uploadv1.DataFormat(v), nil
	}
	return 0, fmt.Errorf("format: unknown %q (e.g. auto, csv, tsv, whitespace, json, npy, raw_float64, raw_float32, off, ply, distance_matrix)", s)
}
