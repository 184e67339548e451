import { join } from "node:path";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { spawnSync } from "node:child_process";
import { credentials, Metadata, status as GrpcStatus, type ChannelCredentials, type ServiceError } from "@grpc/grpc-js";
import {
  channelOptions,
  checkHealth,
  clientCredentials,
  createHealthClient,
  healthClientWith,
  meshChannelOptions,
  pbJobs,
  pbUpload,
  ServingStatus,
  setTenant,
} from "@tda/common";
import { ENGINE_BIN, FIXTURES, makeMeshCerts, startMesh, type Mesh } from "../helpers/mesh";
import { api, gatewayClient, uploadFile, watchJob, type Gateway } from "../helpers/client";
import { barcodeOf, runRipser } from "../helpers/barcodes";

// Mutual TLS between the mesh processes: a job still runs end to end through the
// gateway (whose public port is the edge), while the internal ports (engine,
// upload, scheduler) take no caller without a certificate from the mesh's CA:
// not a plaintext one, not one with no certificate, not one whose certificate
// another CA signed, even with a valid-looking tenant header.

jest.setTimeout(180_000);

let mesh: Mesh;
let gw: Gateway;
let otherCa: string;

beforeAll(async () => {
  mesh = await startMesh({ tls: true, redisDb: 7 });
  gw = gatewayClient(mesh.gateway);
  otherCa = mkdtempSync(join(tmpdir(), "tda-other-ca-"));
});

afterAll(async () => {
  gw?.close();
  await mesh?.stop();
  if (otherCa) rmSync(otherCa, { recursive: true, force: true });
});

const internal = (): [string, string][] => [
  ["engine", mesh.engines[0]!],
  ["upload", mesh.upload],
  ["scheduler", mesh.scheduler],
];

/** The standard health check of `address` with these credentials: "SERVING" or the error. */
function healthWith(address: string, creds: ChannelCredentials): Promise<"SERVING" | ServiceError> {
  const probe = healthClientWith(address, creds, meshChannelOptions(mesh.tls!.peer, channelOptions));
  return new Promise((resolve) => {
    probe.check({ service: "" }, new Metadata(), { deadline: Date.now() + 3000 }, (err, res) => {
      probe.close();
      resolve(err ?? (res?.status === ServingStatus.SERVING ? "SERVING" : (Object.assign(new Error(`status ${res?.status}`), { code: -1 }) as ServiceError)));
    });
  });
}

test("with mutual TLS on every hop, a Rips job through the gateway equals ripser's barcode", async () => {
  for (const name of ["engine-0", "upload", "scheduler", "gateway"]) {
    const log = readFileSync(join(mesh.logDir, `${name}.log`), "utf8");
    expect(log).toMatch(/mutual TLS on/);
    expect(log).not.toMatch(/TLS IS OFF/);
  }
  const file = join(FIXTURES, "sphere_3_192_points.dat");
  const up = await uploadFile(gw, file, pbUpload.DataFormat.DATA_FORMAT_WHITESPACE);
  const submitted = await api(gw).computeVietorisRips({
    datasetId: up.dataset!.datasetId,
    maxDim: 1,
    modulus: 0,
    priority: 0,
    idempotencyKey: "",
    deadlineSeconds: 0,
    threads: 0,
  });
  const updates = await watchJob(gw, submitted.job!.jobId);
  expect(updates.at(-1)?.state).toBe(pbJobs.JobState.JOB_STATE_COMPLETED);
  const res = await api(gw).getResult({ jobId: submitted.job!.jobId });
  const ref = runRipser(["--format", "point-cloud", "--dim", "1", file]);
  const ours = barcodeOf(res.result!.diagrams);
  for (const d of [0, 1]) expect(ours.get(d)).toEqual(ref.get(d));
});

test("a caller with the mesh's certificate gets in (the control for the refusals below)", async () => {
  for (const [, address] of internal()) {
    expect(await healthWith(address, clientCredentials(mesh.tls!.peer))).toBe("SERVING");
    expect(await checkHealth(createHealthClient(address, channelOptions, mesh.tls!.peer), "", 3000)).toBe(true);
  }
});

test("plaintext, certificate-less and foreign-CA callers are refused by engine, upload and scheduler", async () => {
  const peer = mesh.tls!.peer;
  // a complete mesh-like identity from another CA
  const foreign = makeMeshCerts(otherCa).identity("gateway");
  const callers: [string, ChannelCredentials][] = [
    ["plaintext", credentials.createInsecure()],
    ["TLS without a client certificate", credentials.createSsl(peer.ca)],
    ["a certificate from another CA", credentials.createSsl(peer.ca, foreign.key, foreign.cert)],
  ];
  for (const [name, address] of internal()) {
    for (const [who, creds] of callers) {
      const got = await healthWith(address, creds);
      expect({ service: name, caller: who, refused: got !== "SERVING" }).toEqual({ service: name, caller: who, refused: true });
      expect((got as ServiceError).code).toBe(GrpcStatus.UNAVAILABLE);
    }
  }
  // and the data itself: a plaintext ListDatasets with a tenant header learns nothing
  const Upload = pbUpload.UploadServiceClient;
  const plain = new Upload(mesh.upload, credentials.createInsecure(), channelOptions);
  const md = new Metadata();
  setTenant(md, "default");
  const err = await new Promise<ServiceError | undefined>((resolve) =>
    plain.listDatasets({ pageSize: 10, pageToken: "" }, md, { deadline: Date.now() + 3000 }, (e) => resolve(e ?? undefined)),
  );
  plain.close();
  expect(err?.code).toBe(GrpcStatus.UNAVAILABLE);
});

test("an engine given only part of the TLS settings refuses to start, naming what is missing", () => {
  const r = spawnSync(ENGINE_BIN, ["serve", "--port", "0", "--tls-ca", join(mesh.tls!.dir, "ca.crt")], { encoding: "utf8", timeout: 10_000 });
  expect(r.status).not.toBe(0);
  expect(r.stdout + r.stderr).toMatch(/--tls-cert/);
  // and a mesh process without any says so loudly
  const plainLog = spawnSync(ENGINE_BIN, ["serve", "--port", "0", "--help"], { encoding: "utf8", timeout: 10_000 });
  expect(plainLog.stdout + plainLog.stderr).toMatch(/--tls-ca FILE/);
});
