import type { Context } from "@opentelemetry/api";
import type { EventBus, Logger, pbEvents } from "@tda/common";

export type UploadEventType = "upload.started" | "upload.progress" | "upload.validated" | "upload.completed" | "upload.failed";

export type UploadEventFields = Partial<pbEvents.UploadEventData>;

/**
 * Publishes the events of one upload in order (keyed by upload id). Progress
 * events are rate-limited and do not hold up the data path; every publish is
 * chained so the outbox keeps their order.
 */
export class UploadEvents {
  private chain: Promise<void> = Promise.resolve();
  private lastProgressMs = 0;
  private lastProgressBytes = 0;

  constructor(
    private readonly bus: EventBus,
    private readonly log: Logger,
    private readonly base: pbEvents.UploadEventData,
    private readonly ctx: Context,
    private readonly progressIntervalMs: number,
    private readonly progressBytes: number,
  ) {
    this.lastProgressMs = Date.now();
  }

  /** Queues an event; `await` the result only where the event must be durable first. */
  emit(type: UploadEventType, fields: UploadEventFields = {}): Promise<void> {
    const data: pbEvents.UploadEventData = { ...this.base, ...fields };
    this.chain = this.chain.then(async () => {
      try {
        await this.bus.publish({ topic: "tda_uploads", key: data.uploadId, eventType: type, data: { $case: "upload", value: data } }, this.ctx);
      } catch (err) {
        this.log.warn({ err, uploadId: data.uploadId, type }, "could not publish upload event");
      }
    });
    return this.chain;
  }

  progress(bytes: number): void {
    const now = Date.now();
    if (now - this.lastProgressMs < this.progressIntervalMs && bytes - this.lastProgressBytes < this.progressBytes) return;
    this.lastProgressMs = now;
    this.lastProgressBytes = bytes;
    void this.emit("upload.progress", { bytes });
  }

  /** Waits for every queued event. */
  settled(): Promise<void> {
    return this.chain;
  }
}
