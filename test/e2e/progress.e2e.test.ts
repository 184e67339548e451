import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pbCommon, pbGateway, pbJobs, pbUpload } from "@tda/common";
import { startMesh, FIXTURES, type Mesh } from "../helpers/mesh";
import { api, gatewayClient, uploadBytes, type Gateway } from "../helpers/client";
import { ndjson } from "../helpers/rest";

// Progress a person can trust on a run of a few seconds: an engine on one
// thread, tore3D_1307 up to H2 below 0.75 (edge collapse, dimension 1, then the
// assembly and the reduction of dimension 2). The fraction never goes back and
// moves at least every 1.5 s through every stage, the memory in use is the job's
// real figure during the reduction, and the watch carries an estimated time
// remaining that counts down and is in the right range (within a factor 4 of the
// real remaining time at the half-way mark; the machine may be loaded, so no
// finer accuracy is asked). The REST watch carries the same fields.

jest.setTimeout(300_000);

let mesh: Mesh;
let gw: Gateway;

/** tore3D_1307.off as whitespace rows (the OFF header dropped). */
function torus(): Buffer {
  const rows = readFileSync(join(FIXTURES, "tore3D_1307.off"), "utf8").split("\n").slice(2);
  return Buffer.from(rows.filter((l) => l.trim() !== "").join("\n") + "\n");
}

interface Seen {
  at: number; // ms since the submission
  update: pbJobs.JobUpdate;
}

/** Follows WatchJob to its end, with the time each update arrived. */
function watchTimed(jobId: string, t0: number): Promise<Seen[]> {
  return new Promise((resolve, reject) => {
    const seen: Seen[] = [];
    const s = gw.watchJob({ jobId });
    s.on("data", (r: pbGateway.WatchJobResponse) => r.update && seen.push({ at: Date.now() - t0, update: r.update }));
    s.on("error", reject);
    s.on("end", () => resolve(seen));
  });
}

beforeAll(async () => {
  mesh = await startMesh({
    redisDb: 9,
    rest: true,
    engineEnv: { TDA_ENGINE_THREADS: "1" },
    env: { SCHEDULER_PROGRESS_INTERVAL_MS: "250" },
  });
  gw = gatewayClient(mesh.gateway);
});

afterAll(async () => {
  gw?.close();
  await mesh?.stop();
});

test("a long Rips job's progress moves steadily, reports real memory and an ETA that counts down", async () => {
  const up = await uploadBytes(gw, "tore3D_1307.txt", pbUpload.DataFormat.DATA_FORMAT_WHITESPACE, torus());
  expect(up.dataset?.n).toBe(1307);
  const t0 = Date.now();
  const submitted = await api(gw).computeVietorisRips({
    datasetId: up.dataset!.datasetId,
    maxDim: 2,
    threshold: 0.75,
    modulus: 0,
    priority: 0,
    idempotencyKey: "",
    deadlineSeconds: 0,
    threads: 1,
  });
  const jobId = submitted.job!.jobId;
  const [seen, rest] = await Promise.all([watchTimed(jobId, t0), ndjson(`${mesh.rest}/api/v1/tda/jobs/${jobId}/watch`, {}, 240_000)]);
  expect(seen.at(-1)?.update.state).toBe(pbJobs.JobState.JOB_STATE_COMPLETED);
  const end = seen.at(-1)!.at;

  // the computation's updates: running, with the engine's progress
  const running = seen.filter((s) => s.update.state === pbJobs.JobState.JOB_STATE_RUNNING && s.update.progress);
  const computing = running.filter((s) => (s.update.progress!.stage ?? 0) >= pbCommon.Stage.STAGE_DISTANCES);
  expect(computing.length).toBeGreaterThan(5);
  const span = end - computing[0]!.at;
  // (the test needs a run of a few seconds to say anything: this one takes ~3 s on a
  // quiet machine since the Rips reduction got faster, 2.96 s in one run, and longer
  // under load; H3 or a larger threshold would add tens of seconds or lose the collapse)
  expect(span).toBeGreaterThanOrEqual(2000);

  // the fraction never decreases, and the stages that take time here reported
  // (the scheduler samples every 250 ms: the short ones may pass unseen)
  const fractions = running.map((s) => s.update.progress!.fraction);
  for (let i = 1; i < fractions.length; i++) expect(fractions[i]).toBeGreaterThanOrEqual(fractions[i - 1]!);
  const stages = new Set(computing.map((s) => `${s.update.progress!.stage}/${s.update.progress!.dimension}`));
  expect(stages).toContain(`${pbCommon.Stage.STAGE_COLLAPSE}/1`);
  expect(stages).toContain(`${pbCommon.Stage.STAGE_ASSEMBLY}/2`);
  expect(stages).toContain(`${pbCommon.Stage.STAGE_REDUCTION}/2`);

  // it moves at least every 1.5 s, through to the end
  const changes: number[] = [computing[0]!.at];
  for (let i = 1; i < computing.length; i++)
    if (computing[i]!.update.progress!.fraction > computing[i - 1]!.update.progress!.fraction) changes.push(computing[i]!.at);
  changes.push(end);
  const gaps = changes.slice(1).map((t, i) => t - changes[i]!);
  expect(Math.max(...gaps)).toBeLessThan(1500);

  // the job's memory, not zero, while it reduces
  const reducing = computing.filter((s) => [pbCommon.Stage.STAGE_ASSEMBLY, pbCommon.Stage.STAGE_REDUCTION].includes(s.update.progress!.stage));
  expect(reducing.length).toBeGreaterThan(0);
  for (const s of reducing) expect(s.update.progress!.bytesInUse).toBeGreaterThan(0);

  // the ETA: absent at first, present on the later messages, counting down overall
  const withEta = computing.filter((s) => s.update.progress!.etaSeconds !== undefined);
  expect(withEta.length).toBeGreaterThan(3);
  expect(computing[0]!.update.progress!.etaSeconds).toBeUndefined();
  const later = computing.slice(Math.floor(computing.length / 2));
  for (const s of later) expect(s.update.progress!.etaSeconds).toBeDefined();
  const etas = withEta.map((s) => s.update.progress!.etaSeconds!);
  expect(etas.at(-1)!).toBeLessThan(Math.max(...etas.slice(0, Math.ceil(etas.length / 2))));
  for (const s of withEta) expect(s.update.progress!.elapsedSeconds).toBeGreaterThan(0);
  // at the half-way mark: within a factor 4 of the time that was really left
  const half = withEta.find((s) => s.update.progress!.fraction >= 0.5) ?? withEta.at(-1)!;
  const left = Math.max(1, (end - half.at) / 1000);
  const eta = Math.max(1, half.update.progress!.etaSeconds!);
  expect(eta).toBeLessThanOrEqual(4 * left);
  expect(eta).toBeGreaterThanOrEqual(left / 4);

  // the REST watch carries the same fields (proto names)
  type RestLine = { result?: { update?: { state?: string; progress?: { eta_seconds?: number; elapsed_seconds?: number; fraction?: number } } } };
  const restUpdates = (rest.lines as RestLine[]).map((l) => l.result?.update);
  expect(restUpdates.at(-1)?.state).toBe("JOB_STATE_COMPLETED");
  expect(restUpdates.some((u) => u?.state === "JOB_STATE_RUNNING" && typeof u.progress?.eta_seconds === "number")).toBe(true);
});
