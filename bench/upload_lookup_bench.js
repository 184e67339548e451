#!/usr/bin/env node
// CPU per dataset lookup, the scheduler's question at every submit: unary
// GetDataset (one HTTP/2 call each) vs the LookupDatasets stream (the
// scheduler's upload client), against one upload process of this checkout.
//
// Usage (after `npm run gen && npx tsc -b`; Redis at REDIS_URL, Kafka at KAFKA_BROKERS):
//   node bench/upload_lookup_bench.js [LOOKUPS=3000] [CONCURRENCY=16]
// Prints, alternating the two ways three times: wall time, the upload process's CPU
// and this (calling) process's CPU per lookup.
"use strict";
const { mkdtempSync, rmSync } = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const grpc = require("@grpc/grpc-js");
const { ROOT_CONTEXT } = require("@opentelemetry/api");

const ROOT = path.resolve(__dirname, "..");
const common = require(path.join(ROOT, "services/common/dist/index.js"));
const { createUploadClient } = require(path.join(ROOT, "services/scheduler/dist/upload-client.js"));
const { freePort, start, cpuSeconds, closedLoop } = require("./proc-util");

const N = Number(process.argv[2] ?? 3000);
const C = Number(process.argv[3] ?? 16);
const TENANT = "lookup-bench";

async function main() {
  const work = mkdtempSync(path.join(os.tmpdir(), "tda-lookup-bench-"));
  const port = await freePort();
  const up = start(
    "upload",
    process.execPath,
    [path.join(ROOT, "services/upload/dist/main.js")],
    { UPLOAD_PORT: String(port), TDA_DATA_DIR: work, UPLOAD_METRICS_PORT: "0", LOG_LEVEL: "warn" },
    work,
  );
  const address = `127.0.0.1:${port}`;
  try {
    await common.waitForHealthy(address, "", 30000);
    const uc = new common.pbUpload.UploadServiceClient(address, grpc.credentials.createInsecure(), common.channelOptions);
    const md = () => common.metadataWithTrace(common.setTenant(new grpc.Metadata(), TENANT), ROOT_CONTEXT);
    const datasetId = await new Promise((resolve, reject) => {
      const s = uc.upload(md(), (e, r) => (e ? reject(e) : resolve(r.dataset.datasetId)));
      const data = Buffer.from(`${Array.from({ length: 50 }, () => [Math.random(), Math.random(), Math.random()].join(",")).join("\n")}\n`);
      s.write({
        msg: {
          $case: "header",
          value: {
            name: "b.csv",
            format: common.pbUpload.DataFormat.DATA_FORMAT_CSV,
            dim: 0,
            contentType: "",
            uploadId: "",
            resumeOffset: 0,
            totalBytes: data.length,
          },
        },
      });
      s.write({ msg: { $case: "chunk", value: data } });
      s.end();
    });
    const client = createUploadClient(address);
    const ways = {
      unary: () =>
        new Promise((resolve, reject) => uc.getDataset({ datasetId }, md(), { deadline: Date.now() + 10000 }, (e, r) => (e ? reject(e) : resolve(r)))),
      stream: () => client.getDataset(TENANT, datasetId, ROOT_CONTEXT, 10000),
    };
    for (let round = 0; round < 3; round++) {
      for (const way of round % 2 ? ["stream", "unary"] : ["unary", "stream"]) {
        const c0 = process.cpuUsage();
        const u0 = cpuSeconds(up.child.pid);
        const secs = await closedLoop(N, C, ways[way]);
        const c = process.cpuUsage(c0);
        const u = cpuSeconds(up.child.pid) - u0;
        console.log(
          `${way.padEnd(6)} ${N} lookups (concurrency ${C}) in ${(secs * 1000).toFixed(0)} ms; CPU per lookup: upload ${((u * 1000) / N).toFixed(3)} ms, caller ${((c.user + c.system) / 1000 / N).toFixed(3)} ms`,
        );
      }
    }
    client.close();
    uc.close();
  } finally {
    up.child.kill("SIGTERM");
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
