import { createHmac, timingSafeEqual } from "node:crypto";
import type { Metadata } from "@grpc/grpc-js";
import { unauthenticated } from "./errors";

// The tenant on the hops between mesh processes. The gateway authenticates the
// caller and mints a short-lived token naming the tenant, signed with a key
// the mesh processes share (TDA_MESH_KEY); upload and scheduler take the tenant
// only from a token that verifies. Whoever reaches their ports without the key
// cannot name a tenant. Without a key (a single-machine dev mesh that chose
// so) the bare `x-tenant-id` is trusted, and each service says so loudly.
//
// Token: `v1.<base64url tenant>.<expiry, unix seconds>.<base64url HMAC-SHA256 of the first three parts>`.

export const TENANT_TOKEN_HEADER = "x-tenant-token";
/** The bare tenant header, trusted only when no mesh key is configured. */
export const TENANT_KEY = "x-tenant-id";
/** Lifetime of a minted token: one call (streams check it once, at their start). */
export const TENANT_TOKEN_TTL_SECONDS = 120;
/** Shortest mesh key accepted (bytes of text). */
export const MIN_MESH_KEY_LENGTH = 32;

let meshKey: Buffer | undefined;

/** Sets (or clears) the key of this process; called once at start from the service's config. */
export function setMeshKey(key: string | undefined): void {
  if (key !== undefined && key.length < MIN_MESH_KEY_LENGTH) throw new Error(`TDA_MESH_KEY must be at least ${MIN_MESH_KEY_LENGTH} characters`);
  meshKey = key === undefined ? undefined : Buffer.from(key, "utf8");
}

export function meshKeyConfigured(): boolean {
  return meshKey !== undefined;
}

function sign(key: Buffer, body: string): string {
  return createHmac("sha256", key).update(body).digest("base64url");
}

/** A token naming `tenant`, valid for `ttlSeconds`, signed with `key` (default: this process's key). */
export function mintTenantToken(tenant: string, ttlSeconds = TENANT_TOKEN_TTL_SECONDS, key: string | Buffer | undefined = meshKey, nowMs = Date.now()): string {
  if (key === undefined) throw new Error("no mesh key configured");
  const body = `v1.${Buffer.from(tenant, "utf8").toString("base64url")}.${Math.floor(nowMs / 1000) + ttlSeconds}`;
  return `${body}.${sign(typeof key === "string" ? Buffer.from(key, "utf8") : key, body)}`;
}

/** The tenant a token names; throws UNAUTHENTICATED when it is malformed, forged or expired. */
export function verifyTenantToken(token: string, key: Buffer, nowMs = Date.now()): string {
  const parts = token.split(".");
  if (parts.length !== 4 || parts[0] !== "v1") throw unauthenticated("the tenant token is malformed");
  const body = parts.slice(0, 3).join(".");
  const want = Buffer.from(sign(key, body));
  const got = Buffer.from(parts[3]!);
  if (want.length !== got.length || !timingSafeEqual(want, got)) throw unauthenticated("the tenant token's signature is not valid");
  const exp = Number(parts[2]);
  if (!Number.isInteger(exp) || exp * 1000 < nowMs) throw unauthenticated("the tenant token has expired");
  const tenant = Buffer.from(parts[1]!, "base64url").toString("utf8");
  if (tenant.length === 0) throw unauthenticated("the tenant token names no tenant");
  return tenant;
}

/** Puts `tenant` on outgoing metadata: a minted token when this process has the mesh key, else the bare header. */
export function setTenant(md: Metadata, tenant: string): Metadata {
  if (meshKey) md.set(TENANT_TOKEN_HEADER, mintTenantToken(tenant));
  else md.set(TENANT_KEY, tenant);
  return md;
}

/**
 * The tenant as fields of a message (for lookups carried on one long-lived
 * stream, each on behalf of its own tenant): like setTenant, a minted token
 * when this process has the mesh key, else the bare tenant.
 */
export function tenantFields(tenant: string): { tenantToken: string; tenant: string } {
  return meshKey ? { tenantToken: mintTenantToken(tenant), tenant: "" } : { tenantToken: "", tenant };
}

/** The tenant named by message fields (tenantFields); checked exactly as tenantOf checks a call's metadata. */
export function tenantOfFields(f: { tenantToken: string; tenant: string }): string {
  return tenantFrom(f.tenantToken, f.tenant);
}

/** With a mesh key only a valid token names the tenant; without one the bare tenant does ("default" when absent). */
function tenantFrom(token: unknown, bare: unknown): string {
  if (meshKey) {
    if (typeof token !== "string" || token.length === 0) throw unauthenticated("this service is reached through the gateway only: no tenant token");
    return verifyTenantToken(token, meshKey);
  }
  return typeof bare === "string" && bare.length > 0 ? bare : "default";
}

/**
 * The tenant of an incoming call. With a mesh key: only from a valid tenant
 * token (UNAUTHENTICATED otherwise; a bare `x-tenant-id` is ignored). Without:
 * the bare header, "default" when absent.
 */
export function tenantOf(md: Metadata): string {
  return tenantFrom(md.get(TENANT_TOKEN_HEADER)[0], md.get(TENANT_KEY)[0]);
}

/** Sets this process's mesh key from its config; without one, says loudly that the tenant header is trusted as sent. */
export function applyMeshKey(key: string | undefined, log: { warn(obj: object, msg: string): void }): void {
  setMeshKey(key);
  if (key === undefined) {
    log.warn(
      { tenantAuth: "off" },
      "TDA_MESH_KEY IS UNSET: the tenant on internal calls is the bare x-tenant-id header, so anyone who reaches this port can act as any tenant. Set the same TDA_MESH_KEY on every mesh process",
    );
  }
}
