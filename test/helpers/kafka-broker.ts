import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Socket } from "node:net";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { Kafka, logLevel } from "kafkajs";
import { ensureTopicsFromFile } from "@tda/common";
import { freePort, ROOT } from "./mesh";

// A private single-node KRaft Kafka for suites that stop and restart the
// broker (the shared one of deploy/local must stay up for the other suites).
// Uses the jars deploy/local/install.sh cached (same lookup as deploy/local/lib.sh).

export const TOPICS_FILE = join(ROOT, "deploy/kafka/topics.dev.json");

export function kafkaHome(): string {
  if (process.env.TDA_KAFKA_HOME) return process.env.TDA_KAFKA_HOME;
  const cache = process.env.TDA_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? homedir(), ".cache"), "tda-mesh");
  return join(cache, `kafka-${process.env.KAFKA_VERSION ?? "4.3.1"}`);
}

export interface PrivateKafka {
  brokers: string;
  dir: string;
  logFile: string;
  /** Stops the broker (SIGTERM waits for a clean shutdown; SIGKILL does not). */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same ports and data directory; resolves when it answers. */
  start(): Promise<void>;
  /** Stops it and deletes its directory. */
  destroy(): Promise<void>;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = new Socket();
    const done = (ok: boolean) => {
      s.destroy();
      res(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
    s.connect(port, "127.0.0.1");
  });
}

export async function startPrivateKafka(opts: { createTopics?: boolean; prefix?: string } = {}): Promise<PrivateKafka> {
  const home = kafkaHome();
  if (!existsSync(join(home, ".complete"))) throw new Error(`Kafka jars not found in ${home}: run deploy/local/install.sh`);
  const dir = mkdtempSync(join(tmpdir(), "tda-kafka-test-"));
  const data = join(dir, "data");
  mkdirSync(data);
  const [port, controllerPort] = [await freePort(), await freePort()];
  const props = join(dir, "server.properties");
  writeFileSync(
    props,
    [
      "process.roles=broker,controller",
      "node.id=1",
      `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
      `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
      "inter.broker.listener.name=PLAINTEXT",
      "controller.listener.names=CONTROLLER",
      "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
      `log.dirs=${data}`,
      "num.partitions=1",
      "default.replication.factor=1",
      "min.insync.replicas=1",
      "offsets.topic.replication.factor=1",
      "offsets.topic.num.partitions=1",
      "transaction.state.log.replication.factor=1",
      "transaction.state.log.min.isr=1",
      "share.coordinator.state.topic.replication.factor=1",
      "share.coordinator.state.topic.min.isr=1",
      "group.initial.rebalance.delay.ms=0",
      "broker.heartbeat.interval.ms=1000",
      "broker.session.timeout.ms=6000",
      "auto.create.topics.enable=false",
      "num.network.threads=2",
      "num.io.threads=2",
      "",
    ].join("\n"),
  );
  const cp = join(home, "lib", "*");
  const log4j = `-Dlog4j2.configurationFile=${join(ROOT, "deploy/kafka/log4j2.properties")}`;
  // cluster id in the form kafka-storage random-uuid prints (base64url, not starting with '-')
  let clusterId = "-";
  while (clusterId.startsWith("-")) clusterId = randomBytes(16).toString("base64url");
  const fmt = spawnSync(
    "java",
    [
      "-Xmx256m",
      "-XX:+UseSerialGC",
      "-XX:TieredStopAtLevel=1",
      log4j,
      "-Dtda.kafka.log.level=WARN",
      "-cp",
      cp,
      "kafka.tools.StorageTool",
      "format",
      "-t",
      clusterId,
      "-c",
      props,
      "--ignore-formatted",
    ],
    { encoding: "utf8", timeout: 120_000 },
  );
  if (fmt.status !== 0) throw new Error(`kafka storage format failed: ${fmt.stderr || fmt.stdout}`);

  const logFile = join(dir, "kafka.log");
  const brokers = `127.0.0.1:${port}`;
  let child: ChildProcess | undefined;

  async function start(): Promise<void> {
    const out = createWriteStream(logFile, { flags: "a" });
    const c = spawn("java", ["-Xmx384m", "-XX:+UseSerialGC", "-Djava.awt.headless=true", log4j, `-Dkafka.logs.dir=${dir}`, "-cp", cp, "kafka.Kafka", props], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    c.stdout?.pipe(out);
    c.stderr?.pipe(out);
    child = c;
    const kafka = new Kafka({ clientId: "test-kafka-probe", brokers: [brokers], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
    const end = Date.now() + 180_000;
    for (;;) {
      if (c.exitCode !== null) throw new Error(`private kafka exited during start-up (log: ${logFile})`);
      if (Date.now() > end) throw new Error(`private kafka did not answer on ${brokers} (log: ${logFile})`);
      if (await portOpen(port)) {
        const admin = kafka.admin();
        try {
          await admin.connect();
          await admin.listTopics();
          return;
        } catch {
          // registered with the controller not yet
        } finally {
          await admin.disconnect().catch(() => undefined);
        }
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  function stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
    return new Promise((res) => {
      const t = setTimeout(() => c.kill("SIGKILL"), 30_000);
      c.once("exit", () => {
        clearTimeout(t);
        res();
      });
      c.kill(signal);
    });
  }

  try {
    await start();
    if (opts.createTopics ?? true) {
      const kafka = new Kafka({ clientId: "test-topics", brokers: [brokers], logLevel: logLevel.NOTHING });
      await ensureTopicsFromFile(kafka, TOPICS_FILE, opts.prefix ?? "", 60_000);
    }
  } catch (err) {
    await stop("SIGKILL");
    throw err;
  }
  return {
    brokers,
    dir,
    logFile,
    stop,
    start,
    async destroy() {
      await stop();
      if (!process.env.KEEP_TEST_LOGS) rmSync(dir, { recursive: true, force: true });
    },
  };
}
