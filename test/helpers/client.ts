import { readFileSync } from "node:fs";
import { Metadata, type ServiceError } from "@grpc/grpc-js";
import { channelOptions, insecure, pbGateway, pbUpload, pbJobs, pbCommon, writeWithDrain } from "@tda/common";

// A thin promise wrapper over the generated gateway client, as users would write.

export type Gateway = InstanceType<typeof pbGateway.TdaServiceClient>;

export function gatewayClient(address: string): Gateway {
  return new pbGateway.TdaServiceClient(address, insecure(), channelOptions);
}

export function md(apiKey?: string): Metadata {
  const m = new Metadata();
  if (apiKey) m.set("x-api-key", apiKey);
  return m;
}

type Callback<Res> = (err: ServiceError | null, res?: Res) => void;

function promised<Req, Res>(client: Gateway, fn: (req: Req, md: Metadata, cb: Callback<Res>) => unknown) {
  return (req: Req, meta = md()): Promise<Res> =>
    new Promise((resolve, reject) => fn.call(client, req, meta, (err, res) => (err ? reject(err) : resolve(res as Res))));
}

/** Promise form of the gateway's unary methods, as a user would wrap them. */
export function api(gw: Gateway) {
  return {
    computeVietorisRips: promised<pbGateway.ComputeVietorisRipsRequest, pbGateway.ComputeVietorisRipsResponse>(gw, gw.computeVietorisRips as never),
    computeAlphaComplex: promised<pbGateway.ComputeAlphaComplexRequest, pbGateway.ComputeAlphaComplexResponse>(gw, gw.computeAlphaComplex as never),
    getJob: promised<pbGateway.GetJobRequest, pbGateway.GetJobResponse>(gw, gw.getJob as never),
    listJobs: promised<pbGateway.ListJobsRequest, pbGateway.ListJobsResponse>(gw, gw.listJobs as never),
    cancelJob: promised<pbGateway.CancelJobRequest, pbGateway.CancelJobResponse>(gw, gw.cancelJob as never),
    getResult: promised<pbGateway.GetResultRequest, pbGateway.GetResultResponse>(gw, gw.getResult as never),
    getDataset: promised<pbGateway.GetDatasetRequest, pbGateway.GetDatasetResponse>(gw, gw.getDataset as never),
    listDatasets: promised<pbGateway.ListDatasetsRequest, pbGateway.ListDatasetsResponse>(gw, gw.listDatasets as never),
    deleteDataset: promised<pbGateway.DeleteDatasetRequest, pbGateway.DeleteDatasetResponse>(gw, gw.deleteDataset as never),
    publishStream: promised<pbGateway.PublishStreamRequest, pbGateway.PublishStreamResponse>(gw, gw.publishStream as never),
    configureStream: promised<pbGateway.ConfigureStreamRequest, pbGateway.ConfigureStreamResponse>(gw, gw.configureStream as never),
    getStreamStatus: promised<pbGateway.GetStreamStatusRequest, pbGateway.GetStreamStatusResponse>(gw, gw.getStreamStatus as never),
    listStreams: promised<pbGateway.ListStreamsRequest, pbGateway.ListStreamsResponse>(gw, gw.listStreams as never),
  };
}

export async function uploadBytes(
  gw: Gateway,
  name: string,
  format: pbUpload.DataFormat,
  data: Buffer,
  opts: { dim?: number; meta?: Metadata; chunk?: number } = {},
): Promise<pbGateway.UploadDataResponse> {
  return new Promise((resolve, reject) => {
    const stream = gw.uploadData(opts.meta ?? md(), (err, res) => (err ? reject(err) : resolve(res!)));
    (async () => {
      await writeWithDrain(stream, {
        msg: { $case: "header", value: { name, format, dim: opts.dim ?? 0, contentType: "", uploadId: "", resumeOffset: 0, totalBytes: data.length } },
      });
      const step = opts.chunk ?? 1 << 20;
      for (let off = 0; off < data.length; off += step) await writeWithDrain(stream, { msg: { $case: "chunk", value: data.subarray(off, off + step) } });
      stream.end();
    })().catch(reject);
  });
}

export function uploadFile(gw: Gateway, path: string, format: pbUpload.DataFormat, opts: { dim?: number; meta?: Metadata } = {}) {
  return uploadBytes(gw, path.split("/").pop()!, format, readFileSync(path), opts);
}

/** Follows WatchJob to the end; returns every update received. */
export function watchJob(gw: Gateway, jobId: string, meta = md()): Promise<pbJobs.JobUpdate[]> {
  return new Promise((resolve, reject) => {
    const updates: pbJobs.JobUpdate[] = [];
    const s = gw.watchJob({ jobId }, meta);
    s.on("data", (r: pbGateway.WatchJobResponse) => r.update && updates.push(r.update));
    s.on("error", reject);
    s.on("end", () => resolve(updates));
  });
}

export const { Algorithm } = pbCommon;
