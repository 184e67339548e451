#!/usr/bin/env node
// Upload throughput: the parser alone, and end to end over gRPC (client and
// service in this process, Redis from REDIS_URL), for CSV with 6-digit values,
// CSV with shortest round-trip (17-digit) values, and raw float64.
// Usage: node services/upload/bench/upload-throughput.js [MB=64]   (after `npx tsc -b`)
const { mkdtempSync, rmSync } = require("node:fs");
const { tmpdir, loadavg } = require("node:os");
const path = require("node:path");
const pino = require("pino");
const { pbUpload, insecure, channelOptions } = require("@tda/common");
const { loadConfig, startUploadServer, UploadParser } = require("../dist/index.js");

const MB = Number(process.argv[2] || 64);
const F = pbUpload.DataFormat;

function csv(bytes, repr) {
  const parts = [];
  let n = 0;
  let s = 1;
  const rnd = () => ((s = (s * 16807) % 2147483647) / 2147483647) * 2 - 1;
  while (n < bytes) {
    const line = repr ? `${rnd()},${rnd()},${rnd()}\n` : `${rnd().toFixed(6)},${rnd().toFixed(6)},${rnd().toFixed(6)}\n`;
    parts.push(line);
    n += line.length;
  }
  return Buffer.from(parts.join(""));
}

function parseOnly(buf, format, dim) {
  const t = process.hrtime.bigint();
  const p = new UploadParser(format, { maxPoints: 1e12, maxDim: 1000, maxTokenBytes: 512, declaredDim: dim });
  for (let o = 0; o < buf.length; o += 1 << 20) {
    p.push(buf.subarray(o, o + (1 << 20)));
    p.sink.take();
  }
  p.finish();
  p.sink.take(true);
  p.sink.sha256();
  return buf.length / 1e6 / (Number(process.hrtime.bigint() - t) / 1e9);
}

function uploadOnce(client, buf, format, dim) {
  return new Promise((resolve, reject) => {
    const t = process.hrtime.bigint();
    const call = client.upload((err, res) => (err ? reject(err) : resolve({ mbps: buf.length / 1e6 / (Number(process.hrtime.bigint() - t) / 1e9), res })));
    call.write({ msg: { $case: "header", value: { name: "bench", format, dim, contentType: "", uploadId: "", resumeOffset: 0, totalBytes: buf.length } } });
    let o = 0;
    const pump = () => {
      while (o < buf.length) {
        const chunk = buf.subarray(o, o + (1 << 20));
        o += chunk.length;
        if (!call.write({ msg: { $case: "chunk", value: chunk } })) return void call.once("drain", pump);
      }
      call.end();
    };
    pump();
  });
}

async function main() {
  const dataDir = mkdtempSync(path.join(tmpdir(), "tda-upload-bench-"));
  const config = loadConfig({ ...process.env, TDA_DATA_DIR: dataDir, UPLOAD_PORT: "0", KAFKA_BROKERS: "127.0.0.1:9", UPLOAD_MAX_BYTES: "8G" });
  const srv = await startUploadServer(config, { log: pino({ level: "silent" }), eventSource: `upload-bench-${process.pid}` });
  const client = new pbUpload.UploadServiceClient(srv.address, insecure(), channelOptions);
  const inputs = [
    ["CSV 6 digits", csv(MB * 1e6, false), F.DATA_FORMAT_CSV, 0],
    ["CSV repr (17 digits)", csv(MB * 1e6, true), F.DATA_FORMAT_CSV, 0],
  ];
  const f = new Float64Array(Math.floor((MB * 1e6) / 8 / 3) * 3);
  for (let i = 0; i < f.length; i++) f[i] = Math.sin(i);
  inputs.push(["RAW_FLOAT64", Buffer.from(f.buffer), F.DATA_FORMAT_RAW_FLOAT64, 3]);
  console.log(
    `load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(" ")}; ${MB} MB inputs`,
  );
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
  const baseRss = process.memoryUsage().rss;
  for (const [name, buf, format, dim] of inputs) {
    const parse = Math.max(parseOnly(buf, format, dim), parseOnly(buf, format, dim));
    const up = await uploadOnce(client, buf, format, dim);
    const up2 = await uploadOnce(client, buf, format, dim);
    console.log(
      `${name.padEnd(22)} parser ${parse.toFixed(0).padStart(5)} MB/s   gRPC upload ${Math.max(up.mbps, up2.mbps).toFixed(0).padStart(5)} MB/s   n=${up.res.dataset.n}`,
    );
  }
  clearInterval(sampler);
  console.log(`RSS before ${(baseRss / 2 ** 20).toFixed(0)} MiB (inputs held by the bench), peak ${(peakRss / 2 ** 20).toFixed(0)} MiB`);
  client.close();
  for (const key of await srv.redis.keys("tda:dataset:default:*")) {
    if ((await srv.redis.hget(key, "name")) === "bench") {
      const sha = await srv.redis.hget(key, "sha256");
      const id = key.slice(key.lastIndexOf(":") + 1);
      await srv.redis.zrem("tda:datasets:default", `${await srv.redis.hget(key, "createdMs")}`.padStart(13, "0") + `:${id}`);
      await srv.redis.srem(`tda:blob-refs:${sha}`, `default:${id}`);
      await srv.redis.del(key);
    }
  }
  await srv.redis.del(`tda:outbox:upload-bench-${process.pid}`);
  await srv.close();
  rmSync(dataDir, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
