import { status } from "@grpc/grpc-js";
import { resourceExhausted, TdaError, type Logger, type pbJobs } from "@tda/common";

// Per-tenant limit on concurrent jobs: a submission is refused while the
// tenant already has `maxActive` jobs queued or running. The count comes from
// the scheduler itself (ListJobs, which is scoped to the caller's tenant, once
// for QUEUED and once for RUNNING, pages of maxActive), so it holds across
// gateway replicas without state here. Two submissions racing each other may
// both pass at the boundary: it is a capacity guard, not an exact quota.
//
// Refused: RESOURCE_EXHAUSTED, ErrorInfo{reason: TOO_MANY_ACTIVE_JOBS,
// metadata: {limit, active}}, and a RetryInfo suggesting when to try again.
// If the scheduler cannot be asked, the submission goes on (and meets the
// same outage there).

export interface JobLimiter {
  readonly enabled: boolean;
  /** Throws RESOURCE_EXHAUSTED when the tenant (whose metadata `list` sends) is at its limit. */
  check(list: (req: pbJobs.ListJobsRequest) => Promise<pbJobs.ListJobsResponse>, tenant: string): Promise<void>;
}

export const JOB_STATE_QUEUED = 1;
export const JOB_STATE_RUNNING = 2;

export function createJobLimiter(opts: { maxActive: number; retryAfterMs: number; log: Logger }): JobLimiter {
  const { maxActive, retryAfterMs, log } = opts;
  return {
    enabled: maxActive > 0,
    async check(list, tenant) {
      if (maxActive <= 0) return;
      let active = 0;
      try {
        for (const state of [JOB_STATE_RUNNING, JOB_STATE_QUEUED]) {
          const res = await list({ pageSize: maxActive, pageToken: "", state });
          active += res.jobs.length;
          if (active >= maxActive) break;
        }
      } catch (err) {
        log.warn({ err: (err as Error).message, tenant }, "active jobs not counted (scheduler unavailable); submission let through");
        return;
      }
      if (active >= maxActive) {
        const e = resourceExhausted(`this tenant already has ${active} jobs queued or running (limit ${maxActive}); wait for one to finish`, "TOO_MANY_ACTIVE_JOBS", {
          limit: String(maxActive),
          active: String(active),
        });
        throw new TdaError(status.RESOURCE_EXHAUSTED, e.message, { reason: e.reason, metadata: e.metadata, retryAfterMs, retryable: true });
      }
    },
  };
}
