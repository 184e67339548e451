// A dataset's id is part of the contract (the upload service derives it from
// the content's sha256); where and how datasets are stored is the upload
// service's own business (services/upload/src/dataset-records.ts).

export const DATASET_ID_RE = /^ds_[0-9a-f]{32}$/;

export function datasetIdOf(sha256: string): string {
  return `ds_${sha256.slice(0, 32)}`;
}
