export { loadConfig, type SchedulerConfig } from "./config";
export { createJobService, newJobId, queuePriority, type JobServiceDeps } from "./job-service";
export { createJobStore, isTerminal, stateName, type JobRecord, type JobStore } from "./job-store";
export { createEnginePool, type Engine, type EnginePool, type EnginePoolOptions } from "./engine-pool";
export {
  createEngineDiscovery,
  createEngineResolver,
  parseEngineTarget,
  parseEngineTargets,
  type EngineDiscovery,
  type EngineResolver,
  type EngineTarget,
} from "./engine-discovery";
export { createUploadClient, type UploadClient } from "./upload-client";
export { createSubscriber, type Subscriber } from "./subscriber";
export { startWorker, type JobData, type SchedulerWorker, type WorkerDeps } from "./worker";
export { startSchedulerServer, SERVICE_NAME, type SchedulerServer } from "./server";
export { canonicalJson, canonicalParams, isPrime, paramsHash, validateParams } from "./params";
export { fromEngineError, fromUploadError, suggestionsFor, type JobFailure } from "./failure";
export { keys } from "./keys";
