import { Metadata, type ClientReadableStream } from "@grpc/grpc-js";
import type { Context } from "@opentelemetry/api";
import { channelOptions, insecure, metadataWithTrace, pbUpload, TENANT_KEY } from "@tda/common";

// The scheduler's view of the upload service: the canonical float64 values of
// a dataset, on behalf of the job's owner. (Its metadata the scheduler reads
// from the record the upload service keeps in Redis: see job-service.ts.)

export interface UploadClient {
  /** Server stream of little-endian float64 chunks. */
  readPoints(owner: string, datasetId: string, ctx: Context, deadline: number): ClientReadableStream<pbUpload.ReadPointsResponse>;
  close(): void;
}

function tenantMetadata(owner: string, ctx: Context): Metadata {
  const md = new Metadata();
  md.set(TENANT_KEY, owner);
  return metadataWithTrace(md, ctx);
}

export function createUploadClient(address: string): UploadClient {
  const client = new pbUpload.UploadServiceClient(address, insecure(), channelOptions);
  return {
    readPoints(owner, datasetId, ctx, deadline) {
      return client.readPoints({ datasetId, chunkBytes: 1 << 20 }, tenantMetadata(owner, ctx), { deadline });
    },
    close() {
      client.close();
    },
  };
}
