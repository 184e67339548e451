#!/usr/bin/python3
"""tda-mesh from Python: upload a point cloud, compute its persistent homology,
watch the job and print the persistence diagram, Betti numbers and trace id.

    /usr/bin/python3 examples/python-client/client.py examples/data/torus_800.csv --max-dim 2

Needs Debian's python3-grpcio and protoc (with grpc_python_plugin). The gRPC
stubs are generated from proto/ into a temporary directory at every run, so
they always match the contracts; google/api and google/rpc come from
build/proto-deps (written by `npm run gen`).
"""

import argparse
import atexit
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHUNK_BYTES = 1 << 20
FORMATS = {
    ".csv": "DATA_FORMAT_CSV",
    ".tsv": "DATA_FORMAT_TSV",
    ".txt": "DATA_FORMAT_WHITESPACE",
    ".dat": "DATA_FORMAT_WHITESPACE",
    ".xyz": "DATA_FORMAT_WHITESPACE",
    ".json": "DATA_FORMAT_JSON",
    ".npy": "DATA_FORMAT_NPY",
    ".off": "DATA_FORMAT_OFF",
    ".ply": "DATA_FORMAT_PLY",
}


def generate_stubs():
    """Runs protoc over proto/ into a temp dir and puts it on sys.path."""
    deps = os.path.join(ROOT, "build", "proto-deps")
    if not os.path.isdir(os.path.join(deps, "google", "api")):
        deps = os.path.join(ROOT, "node_modules", "google-proto-files")
    if not os.path.isdir(os.path.join(deps, "google", "api")):
        sys.exit("client: google/api protos not found; run `npm run gen` (or `make build`) first")
    out = tempfile.mkdtemp(prefix="tda-py-stubs-")
    atexit.register(shutil.rmtree, out, True)
    protos = [
        os.path.join(dirpath, f)
        for dirpath, _, files in os.walk(os.path.join(ROOT, "proto", "tda"))
        for f in files
        if f.endswith(".proto")
    ]
    protos += [os.path.join(deps, "google", *p) for p in (("api", "annotations.proto"), ("api", "http.proto"), ("api", "httpbody.proto"),
                                                         ("rpc", "status.proto"), ("rpc", "error_details.proto"))]
    cmd = ["protoc", "-I", os.path.join(ROOT, "proto"), "-I", deps,
           f"--python_out={out}", f"--grpc_out={out}",
           "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin", *sorted(protos)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"client: protoc failed:\n{done.stderr}")
    sys.path.insert(0, out)


generate_stubs()

import grpc  # noqa: E402  (after the stubs exist)
from google.rpc import error_details_pb2, status_pb2  # noqa: E402
from tda.gateway.v1 import gateway_pb2, gateway_pb2_grpc  # noqa: E402
from tda.jobs.v1 import jobs_pb2  # noqa: E402
from tda.upload.v1 import upload_pb2  # noqa: E402
from tda.common.v1 import common_pb2  # noqa: E402


class Session:
    """One run against the gateway: the stub, our trace id and the API key."""

    def __init__(self, address, api_key):
        self.channel = grpc.insecure_channel(address, options=[
            ("grpc.max_receive_message_length", 64 << 20),
            ("grpc.max_send_message_length", 64 << 20),
        ])
        self.stub = gateway_pb2_grpc.TdaServiceStub(self.channel)
        self.trace_id = secrets.token_hex(16)
        self.gateway_trace_id = ""
        self.api_key = api_key

    def metadata(self):
        # Sending our own traceparent makes every call of the run one trace.
        md = [("traceparent", f"00-{self.trace_id}-{secrets.token_hex(8)}-01")]
        if self.api_key:
            md.append(("x-api-key", self.api_key))
        return md

    def note_trace(self, call):
        for key, value in call.initial_metadata() or ():
            if key == "x-trace-id" and value:
                self.gateway_trace_id = value

    def unary(self, method, request, timeout=60):
        response, call = getattr(self.stub, method).with_call(request, metadata=self.metadata(), timeout=timeout)
        self.note_trace(call)
        return response


def upload(session, path):
    """Streams the file: a header first, then chunks of 1 MiB (gRPC applies flow control)."""
    fmt = FORMATS.get(os.path.splitext(path)[1].lower(), "DATA_FORMAT_AUTO")
    size = os.path.getsize(path)

    def requests():
        header = upload_pb2.UploadHeader(name=os.path.basename(path), format=upload_pb2.DataFormat.Value(fmt),
                                         total_bytes=size)
        yield gateway_pb2.UploadDataRequest(header=header)
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK_BYTES):
                yield gateway_pb2.UploadDataRequest(chunk=chunk)

    response, call = session.stub.UploadData.with_call(requests(), metadata=session.metadata(), timeout=600)
    session.note_trace(call)
    return response


def state_name(state):
    return jobs_pb2.JobState.Name(state).removeprefix("JOB_STATE_")


def describe_progress(p):
    stage = common_pb2.Stage.Name(p.stage).removeprefix("STAGE_").lower()
    if stage in ("unspecified", "queued", "done"):
        return ""
    where = f"{stage} dim {p.dimension}" if p.stage == common_pb2.STAGE_REDUCTION else stage
    return f"{where} {p.fraction * 100:.0f}%" if p.fraction > 0 else where


def watch(session, job_id, started):
    """Follows WatchJob until the job ends, printing each state (and stage) change."""
    stream = session.stub.WatchJob(gateway_pb2.WatchJobRequest(job_id=job_id), metadata=session.metadata())
    last_line = None
    for response in stream:
        u = response.update
        line = f"{state_name(u.state):<9} {describe_progress(u.progress)}".rstrip()
        if line != last_line:
            last_line = line
            extra = f"  {u.error_code}: {u.message}" if u.error_code else ""
            print(f"  {time.monotonic() - started:6.2f}s  {line}{extra}")
    session.note_trace(stream)


def print_result(result, max_dim):
    for diagram in result.diagrams:
        if diagram.dimension > max_dim:
            continue
        print(f"persistence intervals in dim {diagram.dimension}:")
        for bar in diagram.intervals:
            death = f"{bar.death:g}" if bar.death != float("inf") else " "
            print(f" [{bar.birth:g},{death})")
    print("Betti numbers: " + ", ".join(f"b{d} = {b}" for d, b in enumerate(result.betti_numbers)))


def compute(session, algorithm, dataset_id, args):
    started = time.monotonic()
    if algorithm == "rips":
        request = gateway_pb2.ComputeVietorisRipsRequest(dataset_id=dataset_id, max_dim=args.max_dim)
        if args.threshold is not None:
            request.threshold = args.threshold
        job = session.unary("ComputeVietorisRips", request).job
        title = "Vietoris–Rips"
    else:
        request = gateway_pb2.ComputeAlphaComplexRequest(dataset_id=dataset_id, max_dim=args.max_dim)
        job = session.unary("ComputeAlphaComplex", request).job
        title = "Alpha complex"
    print(f"\n{title}, max_dim {args.max_dim}: job {job.job_id}")
    watch(session, job.job_id, started)
    job = session.unary("GetJob", gateway_pb2.GetJobRequest(job_id=job.job_id)).job
    if job.state != jobs_pb2.JOB_STATE_COMPLETED:
        raise RuntimeError(f"job {job.job_id} ended {state_name(job.state)}: {job.error_code} {job.error_message}")
    response = session.unary("GetResult", gateway_pb2.GetResultRequest(job_id=job.job_id))
    print(f"done in {time.monotonic() - started:.2f} s{' (cache hit)' if response.cache_hit else ''}")
    print_result(response.result, args.max_dim)


def explain(err):
    """A gRPC error with its google.rpc details (field violations, reason)."""
    if not isinstance(err, grpc.RpcError):
        return str(err)
    lines = [f"gRPC {err.code().name}: {err.details()}"]
    for key, value in err.trailing_metadata() or ():
        if key != "grpc-status-details-bin":
            continue
        status = status_pb2.Status.FromString(value)
        for detail in status.details:
            if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                lines += [f"  {v.field}: {v.description}" for v in bad.field_violations]
            elif detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                lines.append(f"  reason: {info.reason}")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="point cloud: CSV, TSV or whitespace-separated text, one point per line")
    parser.add_argument("--gateway", default=os.environ.get("TDA_GATEWAY", "127.0.0.1:50070"))
    parser.add_argument("--max-dim", type=int, default=1)
    parser.add_argument("--threshold", type=float, help="Rips: leave out edges longer than this")
    parser.add_argument("--algorithms", default="rips", help="comma list of rips, alpha (default: rips)")
    parser.add_argument("--api-key", default=os.environ.get("TDA_API_KEY", ""))
    args = parser.parse_args()

    session = Session(args.gateway, args.api_key)
    failed = False
    try:
        dataset = upload(session, args.file)
        ds = dataset.dataset
        note = " (already stored)" if dataset.deduplicated else ""
        print(f"dataset {ds.dataset_id}: {ds.n} points in R^{ds.dim} from {os.path.basename(args.file)}{note}")
        for algorithm in (a.strip() for a in args.algorithms.split(",") if a.strip()):
            try:
                compute(session, algorithm, ds.dataset_id, args)
            except (grpc.RpcError, RuntimeError) as err:
                failed = True
                print(f"{algorithm}: {explain(err)}", file=sys.stderr)
    except grpc.RpcError as err:
        failed = True
        print(explain(err), file=sys.stderr)
    finally:
        session.channel.close()
    print(f"\ntrace id: {session.gateway_trace_id or session.trace_id}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
