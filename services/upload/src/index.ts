export { loadConfig, type UploadConfig } from "./config";
export { createUploadService, type UploadServiceDeps } from "./upload-service";
export { startUploadServer, SERVICE_NAME, type UploadServer, type StartOptions } from "./server";
export { createFsBlobStore, type BlobStore } from "./blob-store";
export { createDatasetRepo, datasetIdOf, type DatasetRepo } from "./dataset-repo";
export { datasetKeys } from "./dataset-records";
export { UploadParser, sniffFormat, kindOf } from "./parse/formats";
export { CanonicalSink } from "./parse/sink";
