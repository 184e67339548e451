export { createGateway, GATEWAY_SERVICE, STREAM_EVENT_TYPE, STREAM_TOPIC, TRACE_ID_HEADER, type GatewayDeps } from "./service";
export { startGatewayServer, type RunningGateway } from "./server";
export { loadConfig, SERVICE_NAME, type GatewayConfig } from "./config";
export { createAuthenticator, parseApiKeys, presentedKey, DEFAULT_TENANT, type ApiKeys, type Authenticator } from "./auth";
export { createHealthMonitor, type HealthMonitor } from "./health-monitor";
export { createStreamStats, streamKey, type StreamStats } from "./stream-stats";
export { upstreamError, type RequestContext } from "./upstream";
export { alphaViolations, ripsViolations, parseStreamBatch } from "./validation";
export { createRateLimiter, rateKey, type RateLimiter } from "./rate-limit";
