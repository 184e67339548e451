import { Metadata, type ChannelOptions } from "@grpc/grpc-js";
import { HealthClient, HealthCheckResponse_ServingStatus as ServingStatus } from "./gen/grpc/health/v1/health";
import { channelOptions, insecure } from "./grpc";

export { ServingStatus };

/** One standard gRPC health check; resolves false on any failure. */
export function checkHealth(client: HealthClient, service = "", timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    client.check({ service }, new Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
      resolve(!err && res?.status === ServingStatus.SERVING);
    });
  });
}

export function createHealthClient(address: string, options: ChannelOptions = channelOptions): HealthClient {
  return new HealthClient(address, insecure(), options);
}

/** Polls the health check until SERVING or the timeout passes. */
export async function waitForHealthy(address: string, service = "", timeoutMs = 30000): Promise<void> {
  const client = createHealthClient(address);
  const end = Date.now() + timeoutMs;
  try {
    while (Date.now() < end) {
      if (await checkHealth(client, service, 1000)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${address} did not become healthy within ${timeoutMs} ms`);
  } finally {
    client.close();
  }
}
