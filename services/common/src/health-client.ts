import { Metadata, type ChannelCredentials, type ChannelOptions } from "@grpc/grpc-js";
import { HealthClient, HealthCheckResponse_ServingStatus as ServingStatus } from "./gen/grpc/health/v1/health";
import { channelOptions } from "./grpc";
import { clientCredentials, meshChannelOptions, type MeshTls } from "./tls";

export { ServingStatus };

/** One standard gRPC health check; resolves false on any failure. */
export function checkHealth(client: HealthClient, service = "", timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    client.check({ service }, new Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
      resolve(!err && res?.status === ServingStatus.SERVING);
    });
  });
}

export function createHealthClient(address: string, options: ChannelOptions = channelOptions, tls?: MeshTls): HealthClient {
  return new HealthClient(address, clientCredentials(tls), meshChannelOptions(tls, options));
}

/** A health client with explicit credentials (e.g. a test's deliberately wrong ones). */
export function healthClientWith(address: string, creds: ChannelCredentials, options: ChannelOptions = channelOptions): HealthClient {
  return new HealthClient(address, creds, options);
}

/** Polls the health check until SERVING or the timeout passes. */
export async function waitForHealthy(address: string, service = "", timeoutMs = 30000, tls?: MeshTls): Promise<void> {
  const client = createHealthClient(address, channelOptions, tls);
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
