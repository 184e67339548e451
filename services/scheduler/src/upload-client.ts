import { Metadata, status as GrpcStatus, type ClientReadableStream, type ServiceError } from "@grpc/grpc-js";
import type { Context } from "@opentelemetry/api";
import {
  channelOptions,
  clientCredentials,
  DATASET_ID_RE,
  fromServiceError,
  meshChannelOptions,
  metadataWithTrace,
  notFound,
  pbUpload,
  setTenant,
  unavailable,
  type MeshTls,
} from "@tda/common";

// The scheduler's view of the upload service, which owns datasets: their
// metadata (GetDataset, asked at every submit and estimate: a deleted dataset
// is not found by the next submit) and their canonical float64 values
// (ReadPoints), both on behalf of the job's owner.

export interface UploadClient {
  /** The owner's dataset; NOT_FOUND when it does not exist or is another tenant's. */
  getDataset(owner: string, datasetId: string, ctx: Context, timeoutMs: number): Promise<pbUpload.Dataset>;
  /** Server stream of little-endian float64 chunks. */
  readPoints(owner: string, datasetId: string, ctx: Context, deadline: number): ClientReadableStream<pbUpload.ReadPointsResponse>;
  close(): void;
}

function tenantMetadata(owner: string, ctx: Context): Metadata {
  const md = new Metadata();
  setTenant(md, owner);
  return metadataWithTrace(md, ctx);
}

export function createUploadClient(address: string, tls?: MeshTls): UploadClient {
  const client = new pbUpload.UploadServiceClient(address, clientCredentials(tls), meshChannelOptions(tls, channelOptions));
  return {
    getDataset(owner, datasetId, ctx, timeoutMs) {
      // another tenant's dataset is indistinguishable from one that does not exist
      if (!DATASET_ID_RE.test(datasetId)) return Promise.reject(notFound(`dataset "${datasetId}"`));
      return new Promise((resolve, reject) => {
        client.getDataset(
          { datasetId },
          tenantMetadata(owner, ctx),
          { deadline: Date.now() + timeoutMs },
          (err: ServiceError | null, res?: pbUpload.GetDatasetResponse) => {
            if (!err && res?.dataset) return resolve(res.dataset);
            if (!err || err.code === GrpcStatus.NOT_FOUND) return reject(notFound(`dataset "${datasetId}"`));
            if (err.code === GrpcStatus.UNAVAILABLE || err.code === GrpcStatus.DEADLINE_EXCEEDED)
              return reject(unavailable("the upload service is unavailable", err));
            reject(fromServiceError(err));
          },
        );
      });
    },
    readPoints(owner, datasetId, ctx, deadline) {
      return client.readPoints({ datasetId, chunkBytes: 1 << 20 }, tenantMetadata(owner, ctx), { deadline });
    },
    close() {
      client.close();
    },
  };
}
