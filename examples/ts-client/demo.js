#!/usr/bin/env node
// @ts-check
// tda-mesh demo client: uploads a point cloud through the gateway, computes its
// persistent homology (Vietoris–Rips; Alpha too with --algorithms rips,alpha),
// follows each job to the end and prints the persistence diagram (Ripser's
// layout), the Betti numbers and the trace id that ties every hop together.
//
//   node examples/ts-client/demo.js examples/data/torus_800.csv --max-dim 2 --gateway 127.0.0.1:50070
//
// Options: --gateway host:port (env TDA_GATEWAY, default 127.0.0.1:50070),
//          --max-dim N (default 1), --threshold T (Rips only),
//          --algorithms rips[,alpha] (default rips), --api-key KEY (env TDA_API_KEY),
//          --max-bars N (bars printed per dimension; default all).
// Uses the generated clients of @tda/common (built by `npm run build`).
"use strict";

const { randomBytes } = require("node:crypto");
const { readFileSync } = require("node:fs");
const { basename, extname } = require("node:path");
const { Metadata, status } = require("@grpc/grpc-js");
const { channelOptions, decodeDetails, insecure, pbCommon, pbGateway, pbJobs, pbUpload } = require("@tda/common");

const { JobState } = pbJobs;
const { DataFormat } = pbUpload;
const CHUNK_BYTES = 1 << 20;

function usage(message) {
  if (message) console.error(`demo: ${message}`);
  console.error("usage: demo.js FILE [--gateway host:port] [--max-dim N] [--threshold T] [--algorithms rips,alpha] [--api-key KEY] [--max-bars N]");
  process.exit(2);
}

function parseArgs(argv) {
  const opts = {
    file: "",
    gateway: process.env.TDA_GATEWAY || "127.0.0.1:50070",
    maxDim: 1,
    threshold: /** @type {number | undefined} */ (undefined),
    algorithms: ["rips"],
    apiKey: process.env.TDA_API_KEY || "",
    maxBars: Infinity,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return /** @type {string} */ (v);
    };
    const number = (name, v, integer) => {
      const n = Number(v);
      if (v.trim() === "" || !Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n)))
        usage(`${name} must be a non-negative ${integer ? "integer" : "number"}`);
      return n;
    };
    if (a === "--gateway") opts.gateway = value();
    else if (a === "--max-dim") opts.maxDim = number("--max-dim", value(), true);
    else if (a === "--threshold") opts.threshold = number("--threshold", value(), false);
    else if (a === "--algorithms")
      opts.algorithms = value()
        .split(",")
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean);
    else if (a === "--api-key") opts.apiKey = value();
    else if (a === "--max-bars") opts.maxBars = number("--max-bars", value(), true);
    else if (a === "-h" || a === "--help") usage();
    else if (a.startsWith("--")) usage(`unknown option ${a}`);
    else if (opts.file === "") opts.file = a;
    else usage(`unexpected argument ${a}`);
  }
  if (opts.file === "") usage("no input file");
  for (const alg of opts.algorithms) if (alg !== "rips" && alg !== "alpha") usage(`unknown algorithm ${alg}`);
  return opts;
}

/** The upload format for a file name; the upload service sniffs anything else. */
function formatOf(file) {
  switch (extname(file).toLowerCase()) {
    case ".csv":
      return DataFormat.DATA_FORMAT_CSV;
    case ".tsv":
      return DataFormat.DATA_FORMAT_TSV;
    case ".txt":
    case ".dat":
    case ".xyz":
      return DataFormat.DATA_FORMAT_WHITESPACE;
    case ".json":
      return DataFormat.DATA_FORMAT_JSON;
    case ".npy":
      return DataFormat.DATA_FORMAT_NPY;
    case ".off":
      return DataFormat.DATA_FORMAT_OFF;
    case ".ply":
      return DataFormat.DATA_FORMAT_PLY;
    default:
      return DataFormat.DATA_FORMAT_AUTO;
  }
}

/** Numbers the way Ripser prints them (C++ stream defaults: %g, 6 significant digits). */
function fmt(x) {
  if (x === 0) return "0";
  const exp = Math.floor(Math.log10(Math.abs(x)));
  if (exp < -4 || exp >= 6) {
    const [mant, e] = x.toExponential(5).split("e");
    const m = mant.includes(".") ? mant.replace(/0+$/, "").replace(/\.$/, "") : mant;
    const n = Number(e);
    return `${m}e${n < 0 ? "-" : "+"}${String(Math.abs(n)).padStart(2, "0")}`;
  }
  return String(Number(x.toPrecision(6)));
}

/** gRPC call metadata: our trace context (so the whole run is one trace) and the API key. */
function metadata(ctx) {
  const md = new Metadata();
  md.set("traceparent", `00-${ctx.traceId}-${randomBytes(8).toString("hex")}-01`);
  if (ctx.apiKey) md.set("x-api-key", ctx.apiKey);
  return md;
}

/** Remembers the x-trace-id the gateway reports in its response headers. */
function watchTraceHeader(call, ctx) {
  call.on("metadata", (md) => {
    const v = md.get("x-trace-id")[0];
    if (typeof v === "string" && v) ctx.gatewayTraceId = v;
  });
  return call;
}

function unary(ctx, method, request) {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 60_000;
    const call = ctx.client[method](request, metadata(ctx), { deadline }, (err, res) => (err ? reject(err) : resolve(res)));
    watchTraceHeader(call, ctx);
  });
}

/** Streams the file to UploadData: a header, then 1 MiB chunks, waiting for 'drain' when asked to. */
function upload(ctx, file) {
  const data = readFileSync(file);
  return new Promise((resolve, reject) => {
    const stream = watchTraceHeader(
      ctx.client.uploadData(metadata(ctx), (err, res) => (err ? reject(err) : resolve(res))),
      ctx,
    );
    const header = { name: basename(file), format: formatOf(file), dim: 0, contentType: "", uploadId: "", resumeOffset: 0, totalBytes: data.length };
    /** @type {import("@tda/common").pbGateway.UploadDataRequest[]} */
    const messages = [{ msg: { $case: "header", value: header } }];
    for (let off = 0; off < data.length; off += CHUNK_BYTES) messages.push({ msg: { $case: "chunk", value: data.subarray(off, off + CHUNK_BYTES) } });
    let next = 0;
    const pump = () => {
      while (next < messages.length) {
        if (!stream.write(messages[next++])) return void stream.once("drain", pump);
      }
      stream.end();
    };
    pump();
  });
}

function stateName(state) {
  return pbJobs.jobStateToJSON(state).replace(/^JOB_STATE_/, "");
}

function describeProgress(p) {
  if (!p) return "";
  const stage = pbCommon
    .stageToJSON(p.stage)
    .replace(/^STAGE_/, "")
    .toLowerCase();
  if (stage === "unspecified" || stage === "queued" || stage === "done") return "";
  const where = p.stage === pbCommon.Stage.STAGE_REDUCTION ? `${stage} dim ${p.dimension}` : stage;
  return p.fraction > 0 ? `${where} ${(p.fraction * 100).toFixed(0)}%` : where;
}

/** Follows WatchJob to its end, printing each state change (and progress stage change). */
function watch(ctx, jobId, started) {
  return new Promise((resolve, reject) => {
    const stream = watchTraceHeader(ctx.client.watchJob({ jobId }, metadata(ctx)), ctx);
    let lastLine = "";
    let last;
    stream.on("data", (/** @type {any} */ res) => {
      const u = res.update;
      if (!u) return;
      last = u;
      const line = `${stateName(u.state).padEnd(9)} ${describeProgress(u.progress)}`.trimEnd();
      if (line === lastLine) return;
      lastLine = line;
      const at = ((Date.now() - started) / 1000).toFixed(2).padStart(6);
      const extra = u.errorCode ? `  ${u.errorCode}: ${u.message}` : "";
      console.log(`  ${at}s  ${line}${extra}`);
    });
    stream.on("error", reject);
    stream.on("end", () => resolve(last));
  });
}

function printDiagram(result, maxDim, maxBars) {
  for (const d of result.diagrams) {
    if (d.dimension > maxDim) continue;
    console.log(`persistence intervals in dim ${d.dimension}:`);
    // all bars in the engine's order; when truncated, the most persistent ones
    const bars = Number.isFinite(maxBars) ? [...d.intervals].sort((a, b) => b.death - b.birth - (a.death - a.birth)) : d.intervals;
    for (const iv of bars.slice(0, maxBars)) {
      console.log(` [${fmt(iv.birth)},${Number.isFinite(iv.death) ? fmt(iv.death) : " "})`);
    }
    if (bars.length > maxBars) console.log(` … ${bars.length - maxBars} shorter bars not shown`);
  }
  const betti = result.bettiNumbers.map((b, d) => `b${d} = ${b}`).join(", ");
  console.log(`Betti numbers: ${betti}`);
  const s = result.stats;
  if (s) {
    const peak = s.peakBytes > 0 ? `, peak ${(s.peakBytes / 2 ** 20).toFixed(1)} MiB` : "";
    console.log(`(${s.points} points, ${s.edges} edges, ${s.columnsReduced} columns reduced, ${s.elapsedSeconds.toFixed(3)} s on the engine${peak})`);
  }
}

async function compute(ctx, algorithm, datasetId, opts) {
  const common = { datasetId, maxDim: opts.maxDim, priority: 0, idempotencyKey: "", deadlineSeconds: 0 };
  const started = Date.now();
  const res =
    algorithm === "rips"
      ? await unary(ctx, "computeVietorisRips", { ...common, threshold: opts.threshold, modulus: 0, threads: 0 })
      : await unary(ctx, "computeAlphaComplex", { ...common, radius: false, maxAlpha: undefined });
  const job = res.job;
  const title = algorithm === "rips" ? "Vietoris–Rips" : "Alpha complex";
  console.log(`\n${title}, max_dim ${opts.maxDim}: job ${job.jobId}${job.cacheHit ? " (cached result)" : ""}`);
  const last = await watch(ctx, job.jobId, started);
  const final = (await unary(ctx, "getJob", { jobId: job.jobId })).job;
  if (final.state !== JobState.JOB_STATE_COMPLETED) {
    const why = final.errorCode ? `${final.errorCode}: ${final.errorMessage}` : last?.message || "no reason given";
    throw new Error(`job ${job.jobId} ended ${stateName(final.state)} (${why})`);
  }
  const result = await unary(ctx, "getResult", { jobId: job.jobId });
  console.log(`done in ${((Date.now() - started) / 1000).toFixed(2)} s${result.cacheHit ? " (cache hit)" : ""}`);
  printDiagram(result.result, opts.maxDim, opts.maxBars);
}

function explain(err) {
  if (err && typeof err.code === "number" && "metadata" in err) {
    const name = Object.keys(status).find((k) => status[k] === err.code) ?? String(err.code);
    const lines = [`gRPC ${name}: ${err.details}`];
    const d = decodeDetails(err);
    if (d.errorInfo?.reason) lines.push(`  reason: ${d.errorInfo.reason}`);
    for (const v of d.badRequest?.fieldViolations ?? []) lines.push(`  ${v.field}: ${v.description}`);
    if (d.retryInfo?.retryDelay) lines.push(`  retry after ${d.retryInfo.retryDelay.seconds} s`);
    return lines.join("\n");
  }
  return err instanceof Error ? err.message : String(err);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const ctx = {
    client: new pbGateway.TdaServiceClient(opts.gateway, insecure(), channelOptions),
    traceId: randomBytes(16).toString("hex"),
    gatewayTraceId: "",
    apiKey: opts.apiKey,
  };
  let failed = false;
  try {
    console.log(`gateway ${opts.gateway}`);
    const up = await upload(ctx, opts.file);
    const ds = up.dataset;
    console.log(`dataset ${ds.datasetId}: ${ds.n} points in R^${ds.dim} from ${basename(opts.file)}${up.deduplicated ? " (already stored)" : ""}`);
    for (const alg of opts.algorithms) {
      try {
        await compute(ctx, alg, ds.datasetId, opts);
      } catch (err) {
        failed = true;
        console.error(`${alg}: ${explain(err)}`);
      }
    }
  } catch (err) {
    failed = true;
    console.error(explain(err));
  } finally {
    ctx.client.close();
  }
  // The gateway continues our trace; it reports the id back in x-trace-id.
  console.log(`\ntrace id: ${ctx.gatewayTraceId || ctx.traceId}`);
  if (ctx.gatewayTraceId && ctx.gatewayTraceId !== ctx.traceId) console.log(`(client trace ${ctx.traceId})`);
  process.exitCode = failed ? 1 : 0;
}

void main();
