import { startService, newTenant, tenantMd, outboxEvents, filesUnder, useRedis } from "./helpers";
import pino from "pino";
it("debug", async () => {
  const rh = await useRedis();
  const svc = await startService({ LOG_LEVEL: "debug" });
  const tenant = newTenant();
  await new Promise<unknown>((resolve) => {
    const call = svc.client.upload(tenantMd(tenant), (e, r) => resolve(e ?? r));
    call.write({ msg: { $case: "header", value: { name: "c", format: 2, dim: 0, contentType: "", uploadId: "", resumeOffset: 0, totalBytes: 0 } } });
    call.write({ msg: { $case: "chunk", value: Buffer.from("1,2\n3,4\n") } });
    setTimeout(() => { console.log("tmp before cancel", filesUnder(svc.dataDir)); call.cancel(); }, 300);
  });
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setTimeout(r, 300));
    console.log(i, filesUnder(svc.dataDir), (await outboxEvents(rh.redis, svc.eventSource)).map((e) => e.type));
  }
  await svc.stop(); await rh.stop();
});
