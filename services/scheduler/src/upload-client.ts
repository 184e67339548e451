import { Metadata, status as GrpcStatus, type ClientReadableStream, type ServiceError } from "@grpc/grpc-js";
import type { Context } from "@opentelemetry/api";
import { channelOptions, fromServiceError, insecure, invalidArgument,
  notFound, metadataWithTrace, pbUpload, TENANT_KEY, unavailable } from "@tda/common";

// The scheduler's view of the upload service: dataset metadata and the
// canonical float64 values, always on behalf of the job's owner.

export interface UploadClient {
  /** The owner's dataset; INVALID_ARGUMENT (field dataset_id) when it does not exist. */
  getDataset(owner: string, datasetId: string, ctx: Context): Promise<pbUpload.Dataset>;
  /** Server stream of little-endian float64 chunks. */
  readPoints(owner: string, datasetId: string, ctx: Context, deadline: number): ClientReadableStream<pbUpload.ReadPointsResponse>;
  close(): void;
}

function tenantMetadata(owner: string, ctx: Context): Metadata {
  const md = new Metadata();
  md.set(TENANT_KEY, owner);
  return metadataWithTrace(md, ctx);
}

export function createUploadClient(address: string, rpcTimeoutMs: number): UploadClient {
  const client = new pbUpload.UploadServiceClient(address, insecure(), channelOptions);
  return {
    getDataset(owner, datasetId, ctx) {
      return new Promise((resolve, reject) => {
        client.getDataset({ datasetId }, tenantMetadata(owner, ctx), { deadline: Date.now() + rpcTimeoutMs }, (err: ServiceError | null, res) => {
          if (!err && res?.dataset) return resolve(res.dataset);
          if (!err) return reject(unavailable("the upload service returned no dataset"));
          if (err.code === GrpcStatus.NOT_FOUND) {
            // another tenant's dataset is indistinguishable from one that does not exist
            return reject(notFound(`dataset "${datasetId}"`));
          }
          if (err.code === GrpcStatus.INVALID_ARGUMENT) {
            const up = fromServiceError(err);
            return reject(invalidArgument(up.message, up.violations.length > 0 ? up.violations : [{ field: "dataset_id", description: up.message }]));
          }
          if (err.code === GrpcStatus.UNAVAILABLE || err.code === GrpcStatus.DEADLINE_EXCEEDED) {
            return reject(unavailable("the upload service is unavailable", err));
          }
          return reject(fromServiceError(err));
        });
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
