import { createLogger } from "@tda/common";
import { loadConfig, startUploadServer } from "@tda/upload";

// The real upload service, started in this process on an ephemeral port.

export interface UploadForTest {
  address: string;
  close(): Promise<void>;
}

/** `port`: 0 for an ephemeral one; `env`: more settings (UPLOAD_*). */
export async function startUploadForTest(dataDir: string, redisUrl: string, port = 0, env: Record<string, string> = {}): Promise<UploadForTest> {
  const config = loadConfig({ REDIS_URL: redisUrl, UPLOAD_PORT: String(port), TDA_DATA_DIR: dataDir, UPLOAD_SHUTDOWN_GRACE_MS: "1000", ...env });
  const server = await startUploadServer(config, { log: createLogger("upload-test", process.env.TEST_LOG_LEVEL ?? "silent") });
  return { address: server.address, close: () => server.close() };
}
