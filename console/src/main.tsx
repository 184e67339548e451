// The tda-mesh web console: one page, hash routes.
//   #/               upload + compute
//   #/jobs, #/jobs/ID   the tenant's jobs, one job live
//   #/datasets       the tenant's datasets
//   #/streams, #/streams/ID   the tenant's streams, one stream live
// The interactive API reference is a separate page at /docs.

import { render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { onUnauthorized, request } from "./api";
import { credential, setCredential } from "./auth";
import { JobView } from "./views/job";
import { DatasetsView, JobsView } from "./views/lists";
import { NewJobView } from "./views/new-job";
import { StreamsView } from "./views/streams";
import "./style.css";

interface Route {
  page: "new" | "jobs" | "job" | "datasets" | "streams";
  id: string;
  query: URLSearchParams;
}

export function parseRoute(hash: string): Route {
  const [path = "", qs = ""] = hash.replace(/^#/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const query = new URLSearchParams(qs);
  if (parts[0] === "jobs" && parts[1]) return { page: "job", id: parts[1], query };
  if (parts[0] === "jobs") return { page: "jobs", id: "", query };
  if (parts[0] === "datasets") return { page: "datasets", id: "", query };
  if (parts[0] === "streams") return { page: "streams", id: parts[1] ?? "", query };
  return { page: "new", id: "", query };
}

function useRoute(): [Route, (hash: string) => void] {
  const [hash, setHash] = useState(window.location.hash);
  useEffect(() => {
    const on = () => setHash(window.location.hash);
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return [parseRoute(hash), (h) => (window.location.hash = h)];
}

const NAV: [Route["page"], string, string][] = [
  ["new", "#/", "New job"],
  ["jobs", "#/jobs", "Jobs"],
  ["datasets", "#/datasets", "Datasets"],
  ["streams", "#/streams", "Streams"],
];

function App() {
  const [route, navigate] = useRoute();
  const [askKey, setAskKey] = useState(false);
  const [signedIn, setSignedIn] = useState(credential() !== "");
  const [epoch, setEpoch] = useState(0);
  useEffect(() => onUnauthorized(() => setAskKey(true)), []);
  // One cheap call at start: a 401 opens the key dialog before anything else fails.
  useEffect(() => {
    request("GET", "/api/v1/tda/jobs?page_size=1").catch(() => undefined);
  }, []);
  const main = useRef<HTMLElement>(null);
  useEffect(() => main.current?.focus({ preventScroll: true }), [route.page, route.id]);
  const active = route.page === "job" ? "jobs" : route.page;
  return (
    <>
      <a
        class="skip"
        href="#main"
        onClick={(e) => {
          e.preventDefault();
          main.current?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="top">
        <span class="brand">tda-mesh</span>
        <nav aria-label="main">
          {NAV.map(([page, href, label]) => (
            <a key={page} href={href} aria-current={active === page ? "page" : undefined}>
              {label}
            </a>
          ))}
          <a href="/docs/">API docs</a>
        </nav>
        <button type="button" class="key-button" onClick={() => setAskKey(true)}>
          {signedIn ? "Change key" : "API key"}
        </button>
      </header>
      <main id="main" ref={main} tabIndex={-1} key={epoch}>
        {route.page === "new" && <NewJobView preselect={route.query.get("dataset") ?? ""} navigate={navigate} />}
        {route.page === "jobs" && <JobsView />}
        {route.page === "job" && <JobView id={route.id} />}
        {route.page === "datasets" && <DatasetsView />}
        {route.page === "streams" && <StreamsView id={route.id} navigate={navigate} />}
      </main>
      {askKey && (
        <KeyDialog
          onClose={(changed) => {
            setAskKey(false);
            if (changed) {
              setSignedIn(credential() !== "");
              setEpoch((e) => e + 1);
            }
          }}
        />
      )}
    </>
  );
}

function KeyDialog({ onClose }: { onClose: (changed: boolean) => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [value, setValue] = useState(credential());
  const [remember, setRemember] = useState(false);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);
  return (
    <dialog ref={ref} class="key-dialog" aria-labelledby="key-title" onCancel={() => onClose(false)}>
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          setCredential(value, remember);
          onClose(true);
        }}
      >
        <h2 id="key-title">Authenticate</h2>
        <p>
          This API needs an API key or a JWT (sent as <code>authorization: Bearer …</code>).
        </p>
        <label>
          API key or token
          <input
            type="password"
            autoComplete="off"
            value={value}
            onInput={(e) => setValue((e.currentTarget as HTMLInputElement).value)}
            data-testid="key-input"
            autoFocus
          />
        </label>
        <label class="inline">
          <input type="checkbox" checked={remember} onChange={(e) => setRemember((e.currentTarget as HTMLInputElement).checked)} /> remember on this device
        </label>
        <div class="dialog-buttons">
          <button type="button" onClick={() => onClose(false)}>
            cancel
          </button>
          <button type="submit" class="primary">
            use this key
          </button>
        </div>
      </form>
    </dialog>
  );
}

render(<App />, document.getElementById("app")!);
