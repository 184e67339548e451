import { Kafka, logLevel } from "kafkajs";
import { inConsumerSpan, pbEvents } from "@tda/common";

// Reads lifecycle events from Kafka as a consumer would: from the beginning,
// de-duplicated by event_id, grouped by message key (job id) in arrival order.

export interface KeyedEvents {
  /** key → envelopes in the order they were consumed (duplicates removed). */
  byKey: Map<string, pbEvents.EventEnvelope[]>;
  /** Messages that repeated an event_id already seen. */
  duplicates: number;
}

/** A partition of a topic and an offset in it (a string, as kafkajs gives and takes offsets). */
export interface PartitionOffset {
  partition: number;
  offset: string;
}

/** Where each partition of `topic` ends now (its high watermarks). */
export async function endOffsets(brokers: string, topic: string): Promise<PartitionOffset[]> {
  const kafka = new Kafka({ clientId: "e2e-offsets", brokers: brokers.split(","), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).map((p) => ({ partition: p.partition, offset: p.high }));
  } finally {
    await admin.disconnect();
  }
}

/**
 * Consumes `topic` from the beginning (or from the offsets `from`, e.g. its
 * endOffsets taken before the test produced anything: a broker that earlier
 * suites and benches filled can hold more events than a test has time to read)
 * up to the end offsets it has when the call starts (so call it once the
 * producers are done), or until `done` says so. `spanFor` picks the messages
 * (by key) that get a CONSUMER span: a topic that earlier suites filled holds
 * thousands of events, more than a batch span processor's queue keeps, so a
 * trace test names the keys it looks for.
 */
export async function collectEvents(
  brokers: string,
  topic: string,
  done: (ev: KeyedEvents) => boolean = () => false,
  timeoutMs = 60000,
  spanFor: (key: string) => boolean = () => true,
  from: PartitionOffset[] = [],
): Promise<KeyedEvents> {
  const kafka = new Kafka({ clientId: "e2e-collector", brokers: brokers.split(","), logLevel: logLevel.NOTHING });
  const ends = new Map((await endOffsets(brokers, topic)).map((p) => [p.partition, Number(p.offset)]));
  const start = new Map(from.map((p) => [p.partition, Number(p.offset)]));
  const reached = new Map<number, number>([...ends.keys()].map((p) => [p, start.get(p) ?? 0]));
  const atEnd = () => [...ends].every(([p, high]) => (reached.get(p) ?? 0) >= high);
  const groupId = `e2e-collect-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const consumer = kafka.consumer({ groupId, sessionTimeout: 30000 });
  const ev: KeyedEvents = { byKey: new Map(), duplicates: 0 };
  const seen = new Set<string>();
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const progress = () => [...ends].map(([p, high]) => `p${p} ${reached.get(p)}/${high}`).join(", ");
      const timer = setTimeout(
        () => reject(new Error(`timed out collecting ${topic}: ${seen.size} events for ${ev.byKey.size} keys (${progress()})`)),
        timeoutMs,
      );
      let finished = false;
      const finish = () => {
        finished = true;
        clearTimeout(timer);
        resolve();
      };
      if (atEnd()) return finish();
      consumer
        .run({
          eachMessage: async ({ topic: from, message, partition }) => {
            if (finished) return;
            // a CONSUMER span linked to the event's producer span (no-op unless the test registered a tracer)
            if (spanFor(message.key?.toString() ?? "")) await inConsumerSpan({ topic: from, partition, message }, groupId, async () => undefined);
            reached.set(partition, Math.max(reached.get(partition) ?? 0, Number(message.offset) + 1));
            if (!message.value) {
              if (atEnd()) finish();
              return;
            }
            const env = pbEvents.EventEnvelope.decode(message.value);
            if (seen.has(env.eventId)) {
              ev.duplicates++;
              if (atEnd()) finish();
              return;
            }
            seen.add(env.eventId);
            const key = message.key?.toString() ?? "";
            const list = ev.byKey.get(key) ?? [];
            list.push(env);
            ev.byKey.set(key, list);
            if (atEnd() || done(ev)) finish();
          },
        })
        .catch(reject);
      for (const p of from) consumer.seek({ topic, partition: p.partition, offset: p.offset });
    });
  } finally {
    await consumer.disconnect();
  }
  return ev;
}

/** The JobEventData of a tda_jobs envelope. */
export function jobData(env: pbEvents.EventEnvelope): pbEvents.JobEventData {
  if (env.data?.$case !== "job") throw new Error(`event ${env.eventId} (${env.eventType}) carries no job data`);
  return env.data.value;
}
