import { readFileSync } from "node:fs";
import { pbCommon, pbJobs, waitForHealthy } from "@tda/common";
import { procOf, type Mesh } from "../helpers/mesh";
import { startFaultMesh, type FaultMesh } from "../helpers/fault-mesh";
import { watchJob, type Gateway } from "../helpers/client";
import { getJob, isTerminalState, submitRips, waitFor, waitTerminal } from "../helpers/jobs";

// A job that kills every engine that runs it (as an engine OOM-killed by the
// job's own size would die) must not be handed from engine to engine until
// none is left: an engine that died running the job never gets it again, and
// the second death ends the job as ENGINE_CRASHED. Here each engine that
// computes the job is SIGKILLed by the test; the third of three engines must
// stay alive and never see the job.

jest.setTimeout(420_000);

const { JobState } = pbJobs;

let mesh: Mesh;
let gw: Gateway;
let sphere: string; // 192 points on S^2: Rips up to H3 without a threshold takes seconds of reduction

let faults: FaultMesh | undefined;

beforeAll(async () => {
  faults = await startFaultMesh({ engines: 3 });
  ({ mesh, gw, sphere } = faults);
});

afterAll(async () => {
  await faults?.stop();
});

const engineLog = (i: number) => readFileSync(procOf(mesh, `engine-${i}`).logFile, "utf8");

test("a job whose engine dies under it twice fails with ENGINE_CRASHED; the third engine is never handed it", async () => {
  const job = await submitRips(gw, sphere, { maxDim: 3 });
  const killed: string[] = [];
  for (let death = 1; death <= 2; death++) {
    // the job computing (past loading its input) on an engine that has not died yet
    const running = await waitFor(
      `attempt ${death} of job ${job.jobId} to compute`,
      async () => {
        const j = await getJob(gw, job.jobId);
        if (isTerminalState(j.state)) throw new Error(`the job ended before engine death ${death}: ${JobState[j.state]} ${j.errorCode}`);
        const computing = j.state === JobState.JOB_STATE_RUNNING && (j.progress?.stage ?? 0) >= pbCommon.Stage.STAGE_DISTANCES;
        return computing && j.engine !== "" && !killed.includes(j.engine) ? j : undefined;
      },
      180_000,
      100,
    );
    const victim = mesh.engines.indexOf(running.engine);
    expect(victim).toBeGreaterThanOrEqual(0);
    // the engine had taken the job: its log shows the admission
    expect(engineLog(victim)).toContain(`job ${job.jobId} admitted`);
    await procOf(mesh, `engine-${victim}`).stop("SIGKILL");
    killed.push(running.engine);
  }

  const [done] = await waitTerminal(gw, [job.jobId], 240_000);
  expect({ state: JobState[done!.state], error: done!.errorCode, crashed: done!.crashedEngines, attempts: done!.attempts }).toEqual({
    state: "JOB_STATE_FAILED",
    error: "ENGINE_CRASHED",
    crashed: killed,
    attempts: 2,
  });
  expect(done!.errorMessage).toMatch(/died 2 times/);

  // exactly two attempts; the first death was retried elsewhere, the second was final
  const updates = await watchJob(gw, job.jobId);
  expect(updates.filter((u) => u.eventType === "job.started").length).toBe(2);
  expect(updates.filter((u) => u.eventType === "job.queued" && u.errorCode === "ENGINE_UNAVAILABLE").length).toBe(1);
  expect(updates.at(-1)).toMatchObject({ eventType: "job.failed", errorCode: "ENGINE_CRASHED" });

  // the third engine was never handed the job, and is alive
  const third = mesh.engines.findIndex((e) => !killed.includes(e));
  const p = procOf(mesh, `engine-${third}`);
  expect({ exitCode: p.child.exitCode, signal: p.child.signalCode }).toEqual({ exitCode: null, signal: null });
  await waitForHealthy(mesh.engines[third]!, "", 5000);
  expect(engineLog(third)).not.toContain(job.jobId);
});
