// Command go-client is tda-mesh from Go: it uploads a point cloud (or distance
// matrix) to the gateway over gRPC, asks for the engine's estimate, computes
// its persistent homology, follows the job and prints the persistence
// intervals as Ripser does, the Betti numbers and the trace id.
//
//	go run . --gateway 127.0.0.1:50070 --max-dim 2 ../data/torus_800.csv
//
// The stubs are the Go code that gateway/rest/build.sh generates from proto/
// (module tda-mesh/gateway/rest, wired in with a replace directive).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	commonv1 "tda-mesh/gateway/rest/gen/tda/common/v1"
	gatewayv1 "tda-mesh/gateway/rest/gen/tda/gateway/v1"
	jobsv1 "tda-mesh/gateway/rest/gen/tda/jobs/v1"
	uploadv1 "tda-mesh/gateway/rest/gen/tda/upload/v1"
)

const chunkBytes = 1 << 20

var formats = map[string]uploadv1.DataFormat{
	".csv": uploadv1.DataFormat_DATA_FORMAT_CSV, ".tsv": uploadv1.DataFormat_DATA_FORMAT_TSV,
	".txt": uploadv1.DataFormat_DATA_FORMAT_WHITESPACE, ".dat": uploadv1.DataFormat_DATA_FORMAT_WHITESPACE,
	".xyz": uploadv1.DataFormat_DATA_FORMAT_WHITESPACE, ".json": uploadv1.DataFormat_DATA_FORMAT_JSON,
	".npy": uploadv1.DataFormat_DATA_FORMAT_NPY, ".off": uploadv1.DataFormat_DATA_FORMAT_OFF,
	".ply": uploadv1.DataFormat_DATA_FORMAT_PLY,
}

type options struct {
	gateway, apiKey, algorithm string
	maxDim                     uint
	threshold                  float64
	file                       string
}

func main() {
	var o options
	flag.StringVar(&o.gateway, "gateway", "127.0.0.1:50070", "gateway gRPC address")
	flag.StringVar(&o.apiKey, "api-key", os.Getenv("TDA_API_KEY"), "API key (x-api-key), when the gateway wants one")
	flag.StringVar(&o.algorithm, "algorithm", "rips", "rips or alpha")
	flag.UintVar(&o.maxDim, "max-dim", 1, "highest homological dimension")
	flag.Float64Var(&o.threshold, "threshold", math.Inf(1), "Rips: leave out longer edges (default: none)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: go-client [flags] FILE")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 || (o.algorithm != "rips" && o.algorithm != "alpha") {
		flag.Usage()
		os.Exit(2)
	}
	o.file = flag.Arg(0)
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "go-client:", explain(err))
		os.Exit(1)
	}
}

// session holds the stub and the metadata every call carries: the API key
// and our own W3C traceparent, so the whole run is one trace.
type session struct {
	client   gatewayv1.TdaServiceClient
	md       metadata.MD
	traceID  string
	gateways string // the trace id the gateway reported
}

func newSession(conn *grpc.ClientConn, apiKey string) *session {
	var tid, sid [16]byte
	_, _ = rand.Read(tid[:])
	_, _ = rand.Read(sid[:8])
	s := &session{client: gatewayv1.NewTdaServiceClient(conn), traceID: hex.EncodeToString(tid[:])}
	s.md = metadata.Pairs("traceparent", fmt.Sprintf("00-%s-%s-01", s.traceID, hex.EncodeToString(sid[:8])))
	if apiKey != "" {
		s.md.Set("x-api-key", apiKey)
	}
	return s
}

func (s *session) ctx(parent context.Context) context.Context {
	return metadata.NewOutgoingContext(parent, s.md)
}

// note keeps the x-trace-id the gateway sends back in its response headers.
func (s *session) note(h metadata.MD) {
	if v := h.Get("x-trace-id"); len(v) > 0 && v[0] != "" {
		s.gateways = v[0]
	}
}

func run(o options) error {
	conn, err := grpc.NewClient(o.gateway, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		return err
	}
	defer conn.Close()
	s := newSession(conn, o.apiKey)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()

	ds, err := upload(ctx, s, o.file)
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	fmt.Printf("uploaded %s: dataset %s, %d points of dimension %d\n", filepath.Base(o.file), ds.GetDatasetId(), ds.GetN(), ds.GetDim())

	params := paramsOf(o)
	var hdr metadata.MD
	est, err := s.client.EstimateJob(s.ctx(ctx), &gatewayv1.EstimateJobRequest{DatasetId: ds.GetDatasetId(), Params: params}, grpc.Header(&hdr))
	if err != nil {
		return fmt.Errorf("estimate: %w", err)
	}
	s.note(hdr)
	fmt.Printf("engine estimate: %.1f MiB of %.1f MiB allowed, about %.2f s\n",
		float64(est.GetMemoryBytes())/(1<<20), float64(est.GetMemoryLimitBytes())/(1<<20), est.GetSeconds())

	started := time.Now()
	job, err := submit(ctx, s, ds.GetDatasetId(), o)
	if err != nil {
		return fmt.Errorf("submit: %w", err)
	}
	fmt.Printf("%s, max_dim %d: job %s\n", map[string]string{"rips": "Vietoris-Rips", "alpha": "Alpha complex"}[o.algorithm], o.maxDim, job.GetJobId())
	if err := watch(ctx, s, job.GetJobId(), started); err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	res, err := s.client.GetResult(s.ctx(ctx), &gatewayv1.GetResultRequest{JobId: job.GetJobId()})
	if err != nil {
		return fmt.Errorf("result: %w", err)
	}
	fmt.Printf("done in %.2f s%s\n", time.Since(started).Seconds(), map[bool]string{true: " (cache hit)"}[res.GetCacheHit()])
	printResult(res.GetResult(), uint32(o.maxDim))
	fmt.Printf("trace id: %s\n", firstNonEmpty(s.gateways, s.traceID))
	return nil
}

func paramsOf(o options) *commonv1.ComputeParams {
	p := &commonv1.ComputeParams{Algorithm: commonv1.Algorithm_ALGORITHM_RIPS, MaxDim: uint32(o.maxDim)}
	if o.algorithm == "alpha" {
		p.Algorithm = commonv1.Algorithm_ALGORITHM_ALPHA
	} else if !math.IsInf(o.threshold, 1) {
		p.Threshold = &o.threshold
	}
	return p
}

// upload streams the file: a header, then chunks of 1 MiB (gRPC flow control
// paces the sends).
func upload(ctx context.Context, s *session, path string) (*uploadv1.Dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	format, ok := formats[strings.ToLower(filepath.Ext(path))]
	if !ok {
		format = uploadv1.DataFormat_DATA_FORMAT_AUTO
	}
	stream, err := s.client.UploadData(s.ctx(ctx))
	if err != nil {
		return nil, err
	}
	header := &uploadv1.UploadHeader{Name: filepath.Base(path), Format: format, TotalBytes: uint64(st.Size())}
	if err := stream.Send(&gatewayv1.UploadDataRequest{Msg: &gatewayv1.UploadDataRequest_Header{Header: header}}); err != nil {
		return nil, sendError(stream, err)
	}
	buf := make([]byte, chunkBytes)
	for {
		n, rerr := io.ReadFull(f, buf)
		if n > 0 {
			chunk := append([]byte(nil), buf[:n]...)
			if err := stream.Send(&gatewayv1.UploadDataRequest{Msg: &gatewayv1.UploadDataRequest_Chunk{Chunk: chunk}}); err != nil {
				return nil, sendError(stream, err)
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return nil, rerr
		}
	}
	res, err := stream.CloseAndRecv()
	if err != nil {
		return nil, err
	}
	if h, herr := stream.Header(); herr == nil {
		s.note(h)
	}
	return res.GetDataset(), nil
}

// sendError: a Send that fails with io.EOF means the server already answered
// (an error); the status comes from CloseAndRecv.
func sendError(stream gatewayv1.TdaService_UploadDataClient, err error) error {
	if errors.Is(err, io.EOF) {
		_, rerr := stream.CloseAndRecv()
		return rerr
	}
	return err
}

func submit(ctx context.Context, s *session, datasetID string, o options) (*jobsv1.Job, error) {
	if o.algorithm == "alpha" {
		res, err := s.client.ComputeAlphaComplex(s.ctx(ctx), &gatewayv1.ComputeAlphaComplexRequest{DatasetId: datasetID, MaxDim: uint32(o.maxDim)})
		return res.GetJob(), err
	}
	req := &gatewayv1.ComputeVietorisRipsRequest{DatasetId: datasetID, MaxDim: uint32(o.maxDim)}
	if !math.IsInf(o.threshold, 1) {
		req.Threshold = &o.threshold
	}
	res, err := s.client.ComputeVietorisRips(s.ctx(ctx), req)
	return res.GetJob(), err
}

// watch follows WatchJob until the job ends, printing each state or stage change.
func watch(ctx context.Context, s *session, jobID string, started time.Time) error {
	stream, err := s.client.WatchJob(s.ctx(ctx), &gatewayv1.WatchJobRequest{JobId: jobID})
	if err != nil {
		return err
	}
	last := ""
	var final *jobsv1.JobUpdate
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		u := msg.GetUpdate()
		final = u
		line := strings.TrimSpace(fmt.Sprintf("%-9s %s", strings.TrimPrefix(u.GetState().String(), "JOB_STATE_"), describe(u.GetProgress())))
		if line != last {
			last = line
			extra := ""
			if u.GetErrorCode() != "" {
				extra = fmt.Sprintf("  %s: %s", u.GetErrorCode(), u.GetMessage())
			}
			fmt.Printf("  %6.2fs  %s%s\n", time.Since(started).Seconds(), line, extra)
		}
	}
	if final == nil || final.GetState() != jobsv1.JobState_JOB_STATE_COMPLETED {
		state := "without an update"
		if final != nil {
			state = final.GetState().String() + " " + final.GetErrorCode() + " " + final.GetMessage()
		}
		return fmt.Errorf("job %s ended %s", jobID, strings.TrimSpace(state))
	}
	return nil
}

func describe(p *commonv1.Progress) string {
	stage := strings.ToLower(strings.TrimPrefix(p.GetStage().String(), "STAGE_"))
	switch stage {
	case "unspecified", "queued", "done":
		return ""
	}
	if p.GetStage() == commonv1.Stage_STAGE_REDUCTION {
		stage = fmt.Sprintf("%s dim %d", stage, p.GetDimension())
	}
	if p.GetFraction() > 0 {
		return fmt.Sprintf("%s %.0f%%", stage, p.GetFraction()*100)
	}
	return stage
}

// printResult prints the intervals as Ripser does (" [birth,death)", an empty
// death for an essential class) and the Betti numbers.
func printResult(r *commonv1.PersistenceResult, maxDim uint32) {
	for _, d := range r.GetDiagrams() {
		if d.GetDimension() > maxDim {
			continue
		}
		fmt.Printf("persistence intervals in dim %d:\n", d.GetDimension())
		for _, iv := range d.GetIntervals() {
			death := " "
			if !math.IsInf(iv.GetDeath(), 1) {
				death = fmt.Sprintf("%g", iv.GetDeath())
			}
			fmt.Printf(" [%g,%s)\n", iv.GetBirth(), death)
		}
	}
	parts := make([]string, len(r.GetBettiNumbers()))
	for i, b := range r.GetBettiNumbers() {
		parts[i] = fmt.Sprintf("b%d = %d", i, b)
	}
	fmt.Printf("Betti numbers: %s\n", strings.Join(parts, ", "))
}

// explain renders a gRPC error with its google.rpc details.
func explain(err error) string {
	st, ok := status.FromError(errors.Unwrap(err))
	if !ok {
		if st, ok = status.FromError(err); !ok {
			return err.Error()
		}
	}
	lines := []string{fmt.Sprintf("%v (gRPC %s)", err, st.Code())}
	for _, d := range st.Details() {
		switch v := d.(type) {
		case *errdetails.BadRequest:
			for _, fv := range v.GetFieldViolations() {
				lines = append(lines, fmt.Sprintf("  %s: %s", fv.GetField(), fv.GetDescription()))
			}
		case *errdetails.ErrorInfo:
			lines = append(lines, "  reason: "+v.GetReason())
		}
	}
	return strings.Join(lines, "\n")
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
