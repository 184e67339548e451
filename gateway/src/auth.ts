import { timingSafeEqual } from "node:crypto";
import type { Metadata } from "@grpc/grpc-js";
import { unauthenticated } from "@tda/common";
import type { JwtVerifier } from "./jwt";

// Minimal API-key authentication. Keys come from configuration as
// "key1:tenantA,key2:tenantB"; a caller presents one in `x-api-key` or as
// `authorization: Bearer <key>`. With authentication off (GATEWAY_AUTH_DISABLED,
// local development only) every caller is the tenant "default"; that name is
// reserved, so no key or token can ever reach what was stored while auth was off.

export type ApiKeys = ReadonlyMap<string, string>;

export const DEFAULT_TENANT = "default";

const TENANT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Parses "key:tenant,key:tenant". Throws on a malformed entry or a key listed twice. */
export function parseApiKeys(spec: string): ApiKeys {
  const keys = new Map<string, string>();
  for (const rawEntry of spec.split(",")) {
    const entry = rawEntry.trim();
    if (entry === "") continue;
    const colon = entry.lastIndexOf(":");
    if (colon <= 0 || colon === entry.length - 1) {
      throw new Error(`entry "${redact(entry)}" must be key:tenant`);
    }
    const key = entry.slice(0, colon).trim();
    const tenant = entry.slice(colon + 1).trim();
    if (/\s/.test(key)) throw new Error(`key "${redact(key)}" contains blanks`);
    if (!TENANT_PATTERN.test(tenant)) {
      throw new Error(`tenant "${tenant}" must be 1-64 characters of letters, digits, '.', '_' or '-'`);
    }
    if (tenant === DEFAULT_TENANT) throw new Error(`tenant "${DEFAULT_TENANT}" is reserved for callers without authentication`);
    if (keys.has(key)) throw new Error(`key "${redact(key)}" is listed twice`);
    keys.set(key, tenant);
  }
  return keys;
}

/** The key presented in the call's metadata, if any. */
export function presentedKey(md: Metadata): string | undefined {
  const apiKey = firstString(md, "x-api-key");
  if (apiKey !== undefined && apiKey.trim() !== "") return apiKey.trim();
  const auth = firstString(md, "authorization");
  if (auth !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth.trim());
    if (m) return m[1];
  }
  return undefined;
}

export interface Authenticator {
  readonly enabled: boolean;
  /**
   * The caller's tenant; rejects with UNAUTHENTICATED when authentication is
   * on and no valid API key or JWT was presented.
   */
  authenticate(md: Metadata): Promise<string>;
}

/** Three base64url segments: a compact JWS. */
export function looksLikeJwt(s: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(s);
}

/**
 * API keys and/or JWTs. A bearer credential shaped like a JWT goes to the JWT
 * verifier (when one is configured); anything else is looked up as an API key.
 */
export function createAuthenticator(keys: ApiKeys, jwt?: JwtVerifier): Authenticator {
  const entries = [...keys].map(([key, tenant]) => ({ key: Buffer.from(key), tenant }));
  const enabled = entries.length > 0 || jwt !== undefined;
  return {
    enabled,
    async authenticate(md) {
      if (!enabled) return DEFAULT_TENANT;
      const presented = presentedKey(md);
      if (presented === undefined) {
        throw unauthenticated(
          jwt
            ? "credentials are required: send a JWT as authorization: Bearer <token>, or an API key in x-api-key"
            : "an API key is required: send it in x-api-key or as authorization: Bearer <key>",
        );
      }
      if (jwt && looksLikeJwt(presented)) return jwt.verify(presented);
      if (entries.length === 0) throw unauthenticated("the bearer token is not a JWT");
      const candidate = Buffer.from(presented);
      // Compare against every key in constant time per key, so timing tells nothing about which matched.
      let tenant: string | undefined;
      for (const e of entries) {
        if (e.key.length === candidate.length && timingSafeEqual(e.key, candidate)) tenant = e.tenant;
      }
      if (tenant === undefined) throw unauthenticated("the API key is not valid");
      return tenant;
    },
  };
}

function firstString(md: Metadata, key: string): string | undefined {
  const v = md.get(key)[0];
  if (v === undefined) return undefined;
  return typeof v === "string" ? v : v.toString("utf8");
}

function redact(s: string): string {
  return s.length <= 4 ? "****" : `${s.slice(0, 2)}…${s.slice(-2)}`;
}
