"use strict";
// Process helpers shared by the bench scripts (Linux /proc).
const { spawn } = require("node:child_process");
const { createWriteStream, readFileSync } = require("node:fs");
const net = require("node:net");
const path = require("node:path");

/** A free TCP port on the loopback interface. */
function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/** CPU seconds (user + system) a process has used so far; NaN once it is gone. */
function cpuSeconds(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = f.slice(f.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, USER_HZ=100
  } catch {
    return NaN;
  }
}

/** Starts `cmd` with `env` added, its stdout and stderr in `<logDir>/<name>.log`. */
function start(name, cmd, args, env, logDir) {
  const out = createWriteStream(path.join(logDir, `${name}.log`));
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.pipe(out);
  child.stderr.pipe(out);
  return { name, child };
}

module.exports = { freePort, cpuSeconds, start };
