// A job's trace id. Every process that works on a job records spans under
// this id; the console will draw them once the API serves them (the trace
// store's query API through the REST proxy). Until then, the id is shown so it
// can be looked up in the trace viewer.

export function TraceView({ traceId }: { traceId: string }) {
  return (
    <section class="card" aria-labelledby="trace-title">
      <h2 id="trace-title">Trace</h2>
      <p>
        trace id <code data-testid="trace-id">{traceId || "—"}</code>
      </p>
      <p class="muted">Look this id up in the trace viewer to see the spans of every process that worked on the job.</p>
    </section>
  );
}
