import type { pbUpload } from "@tda/common";

type Dataset = pbUpload.Dataset;

// Dataset metadata in Redis, scoped by owner (tenant). Only the upload service
// reads and writes it: the scheduler asks for a dataset with
// LookupDatasets (GetDataset on a long-lived stream).
//   tda:dataset:<owner>:<dataset_id>  hash with the Dataset fields
//   tda:datasets:<owner>              sorted set (all scores 0) of "<created ms, 13 digits>:<dataset_id>",
//                                     listed newest first by lexicographic range (stable cursor paging)
//   tda:blob-refs:<sha256>            set of "<owner>:<dataset_id>" referencing the blob
//   tda:blob-lock:<sha256>            short lock serialising blob put/delete against ref changes
// Owners are URI-encoded in keys so a ':' in a tenant id cannot collide.

const enc = (owner: string) => encodeURIComponent(owner);
export const datasetKeys = {
  dataset: (owner: string, id: string) => `tda:dataset:${enc(owner)}:${id}`,
  index: (owner: string) => `tda:datasets:${enc(owner)}`,
  refs: (sha: string) => `tda:blob-refs:${sha}`,
  lock: (sha: string) => `tda:blob-lock:${sha}`,
  /** Member of a blob's reference set. */
  refMember: (owner: string, id: string) => `${enc(owner)}:${id}`,
};

export interface StoredDataset extends Dataset {
  uploadId: string;
  contentType: string;
}

export function datasetCreatedMs(d: Dataset): number {
  return d.createdAt ? d.createdAt.seconds * 1000 + Math.floor(d.createdAt.nanos / 1e6) : 0;
}

export function datasetToHash(d: StoredDataset): Record<string, string> {
  return {
    datasetId: d.datasetId,
    name: d.name,
    format: String(d.format),
    kind: String(d.kind),
    n: String(d.n),
    dim: String(d.dim),
    minBounds: JSON.stringify(d.minBounds),
    maxBounds: JSON.stringify(d.maxBounds),
    sha256: d.sha256,
    sizeBytes: String(d.sizeBytes),
    owner: d.owner,
    createdMs: String(datasetCreatedMs(d)),
    sourceBytes: String(d.sourceBytes),
    uploadId: d.uploadId,
    contentType: d.contentType,
  };
}

export function datasetFromHash(h: Record<string, string>): StoredDataset {
  const ms = Number(h.createdMs ?? 0);
  return {
    datasetId: h.datasetId ?? "",
    name: h.name ?? "",
    format: Number(h.format ?? 0),
    kind: Number(h.kind ?? 0),
    n: Number(h.n ?? 0),
    dim: Number(h.dim ?? 0),
    minBounds: JSON.parse(h.minBounds ?? "[]") as number[],
    maxBounds: JSON.parse(h.maxBounds ?? "[]") as number[],
    sha256: h.sha256 ?? "",
    sizeBytes: Number(h.sizeBytes ?? 0),
    owner: h.owner ?? "",
    createdAt: { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 },
    sourceBytes: Number(h.sourceBytes ?? 0),
    uploadId: h.uploadId ?? "",
    contentType: h.contentType ?? "",
  };
}

/** Strips the storage-only fields. */
export function publicDataset(d: StoredDataset): Dataset {
  const { uploadId: _u, contentType: _c, ...rest } = d;
  return rest;
}
