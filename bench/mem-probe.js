"use strict";
// A memory probe for the Node processes of a bench mesh, loaded only by the bench with
//   NODE_OPTIONS="--require bench/mem-probe.js" TDA_MEM_PROBE_DIR=<dir>
// (never by deploy/ or the services). Every TDA_MEM_PROBE_MS (default 5000) it appends one JSON
// line to <dir>/<pid>.jsonl: process.memoryUsage() (rss, heapTotal, heapUsed, external,
// arrayBuffers), V8's heap spaces (size = reserved, used, physical), /proc/self/status
// (anonymous and file-backed RSS), the malloc [heap] mapping, and the garbage collections since
// the last line (minor / major count, and heapUsed right after the newest major one: the live
// heap, which does not depend on where a sample falls in the collector's cycle).
const dir = process.env.TDA_MEM_PROBE_DIR;
if (dir) {
  const fs = require("node:fs");
  const path = require("node:path");
  const v8 = require("node:v8");
  const { PerformanceObserver, constants } = require("node:perf_hooks");
  const every = Number(process.env.TDA_MEM_PROBE_MS) || 5000;
  const file = path.join(dir, `${process.pid}.jsonl`);
  let minor = 0;
  let major = 0;
  let liveAfterMajor = NaN;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = e.detail?.kind ?? e.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
        major++;
        // the observer runs soon after the collection: close to the live heap
        liveAfterMajor = v8.getHeapStatistics().used_heap_size;
      } else if (kind === constants.NODE_PERFORMANCE_GC_MINOR) minor++;
    }
  });
  obs.observe({ entryTypes: ["gc"] });
  const kB = (re, text) => {
    const m = re.exec(text);
    return m ? Number(m[1]) * 1024 : NaN;
  };
  /** RSS of the malloc arena mapping ([heap]) from /proc/self/smaps. */
  function mallocHeap() {
    try {
      const s = fs.readFileSync("/proc/self/smaps", "utf8");
      const i = s.indexOf(" [heap]\n");
      return i < 0 ? 0 : kB(/\nRss:\s+(\d+) kB/, s.slice(i));
    } catch {
      return NaN;
    }
  }
  const sample = () => {
    let status = "";
    try {
      status = fs.readFileSync("/proc/self/status", "utf8");
    } catch {
      /* not Linux */
    }
    const spaces = {};
    for (const sp of v8.getHeapSpaceStatistics()) spaces[sp.space_name.replace(/_space$/, "")] = [sp.space_size, sp.space_used_size, sp.physical_space_size];
    const line = {
      at: Date.now(),
      ...process.memoryUsage(),
      anon: kB(/\nRssAnon:\s+(\d+) kB/, status),
      file: kB(/\nRssFile:\s+(\d+) kB/, status),
      malloc: mallocHeap(),
      minor,
      major,
      liveAfterMajor,
      spaces,
    };
    minor = 0;
    major = 0;
    try {
      fs.appendFileSync(file, JSON.stringify(line) + "\n");
    } catch {
      /* the bench's directory is gone: it has ended */
    }
  };
  fs.mkdirSync(dir, { recursive: true });
  setInterval(sample, every).unref();
}
