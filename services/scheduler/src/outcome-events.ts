import { pbCommon, type PublishInput, type pbJobs } from "@tda/common";
import type { JobFailure } from "./failure";

// The events about a job's outcome besides its lifecycle on tda_jobs:
// tda_results (compacted, key = job id) and tda_errors. The lifecycle
// (lifecycle.ts) stores them with the complete and fail transitions.

/** The tda_results event of a completed job. */
export function resultSummaryEvent(job: pbJobs.Job, result: pbCommon.PersistenceResult): PublishInput {
  return {
    topic: "tda_results",
    key: job.jobId,
    eventType: "result.summary",
    data: {
      $case: "result",
      value: {
        jobId: job.jobId,
        datasetId: job.datasetId,
        owner: job.owner,
        algorithm: job.params?.algorithm ?? pbCommon.Algorithm.ALGORITHM_UNSPECIFIED,
        bettiNumbers: result.bettiNumbers,
        barCounts: result.diagrams.map((d) => d.intervals.length),
        elapsedSeconds: result.stats?.elapsedSeconds ?? 0,
        cacheHit: job.cacheHit,
      },
    },
  };
}

/** The tda_errors event of a job that finally failed. */
export function errorEvent(jobId: string, f: JobFailure): PublishInput {
  return {
    topic: "tda_errors",
    key: jobId,
    eventType: `error.${f.category}`,
    data: {
      $case: "error",
      value: { jobId, uploadId: "", errorCode: f.errorCode, message: f.message, suggestions: f.suggestions, retryable: f.retryable },
    },
  };
}
