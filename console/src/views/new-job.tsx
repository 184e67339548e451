// The start page: upload a file, then compute on it (or on an earlier dataset).

import { useEffect, useState } from "preact/hooks";
import { api, type Dataset } from "../api";
import { Compute } from "./compute";
import { Upload } from "./upload";
import { ErrorBox } from "./widgets";

export function NewJobView({ preselect, navigate }: { preselect: string; navigate: (hash: string) => void }) {
  const [datasets, setDatasets] = useState<Dataset[]>([]);
  const [selected, setSelected] = useState(preselect);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    api.listDatasets().then((r) => setDatasets(r.datasets), setError);
  }, []);
  useEffect(() => setSelected(preselect), [preselect]);
  const uploaded = (d: Dataset) => {
    setDatasets((list) => [d, ...list.filter((x) => x.dataset_id !== d.dataset_id)]);
    setSelected(d.dataset_id);
  };
  return (
    <>
      <Upload onUploaded={uploaded} />
      <ErrorBox error={error} />
      <Compute datasets={datasets} selected={selected} onSelect={setSelected} onSubmitted={(id) => navigate(`#/jobs/${encodeURIComponent(id)}`)} />
    </>
  );
}
