import { createPublicKey, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { createLocalJWKSet, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { unauthenticated } from "@tda/common";
import { DEFAULT_TENANT } from "./auth";

// JWT bearer authentication. Tokens are verified with the configured public
// keys (RS256 / ES256 only: no HMAC secrets, no "none"), the issuer and
// audience when configured, and exp/nbf with a small clock tolerance. Every
// token must expire (`exp` is required) within GATEWAY_JWT_MAX_LIFETIME_S of
// now (and of its `iat`, when present): a leaked token is not a key for ever.
// The tenant is a claim of the token (GATEWAY_JWT_TENANT_CLAIM, default
// "tenant", falling back to "sub"); "default" is reserved (auth off).

export const JWT_ALGORITHMS = ["RS256", "ES256"] as const;

const TENANT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface JwtSettings {
  /** PEM text (one or more public keys / certificates) or a JWKS document. */
  keys: string;
  issuer?: string;
  audience?: string;
  tenantClaim: string;
  clockToleranceSeconds: number;
  /** Longest lifetime accepted: exp - now, and exp - iat when iat is present. */
  maxLifetimeSeconds: number;
}

export interface JwtVerifier {
  /** Verifies `token` and returns its tenant; rejects with UNAUTHENTICATED. */
  verify(token: string): Promise<string>;
}

/** The key material of GATEWAY_JWT_PUBLIC_KEYS: inline PEM / JWKS JSON, or a path to a file holding either. */
export function readKeyMaterial(spec: string): string {
  const t = spec.trim();
  if (t.startsWith("-----BEGIN") || t.startsWith("{")) return t;
  return readFileSync(t, "utf8");
}

type KeySource = { kind: "pem"; keys: KeyObject[] } | { kind: "jwks"; get: JWTVerifyGetKey };

function parseKeys(material: string): KeySource {
  const t = material.trim();
  if (t.startsWith("{")) {
    const jwks = JSON.parse(t) as JSONWebKeySet;
    if (!Array.isArray(jwks.keys) || jwks.keys.length === 0) throw new Error("the JWKS has no keys");
    if (jwks.keys.some((k) => k.kty === "oct")) throw new Error("symmetric (oct) keys are not accepted");
    return { kind: "jwks", get: createLocalJWKSet(jwks) };
  }
  const blocks = t.match(/-----BEGIN [A-Z ]+-----[\s\S]+?-----END [A-Z ]+-----/g) ?? [];
  if (blocks.length === 0) throw new Error("no PEM block found");
  const keys = blocks.map((b) => {
    const k = createPublicKey(b);
    if (k.asymmetricKeyType !== "rsa" && k.asymmetricKeyType !== "ec") throw new Error(`unsupported key type ${k.asymmetricKeyType ?? "?"} (RSA or EC P-256)`);
    return k;
  });
  return { kind: "pem", keys };
}

/** Builds a verifier; throws (at configuration time) on unusable key material. */
export function createJwtVerifier(s: JwtSettings): JwtVerifier {
  const source = parseKeys(s.keys);
  const options = {
    algorithms: [...JWT_ALGORITHMS],
    issuer: s.issuer,
    audience: s.audience,
    clockTolerance: s.clockToleranceSeconds,
    requiredClaims: ["exp"],
  };

  async function payloadOf(token: string): Promise<JWTPayload> {
    if (source.kind === "jwks") return (await jwtVerify(token, source.get, options)).payload;
    // PEM keys carry no kid: try each key of the type the token's algorithm needs.
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw new joseErrors.JWSInvalid("the token header cannot be read");
    }
    const type = alg === "RS256" ? "rsa" : alg === "ES256" ? "ec" : undefined;
    if (type === undefined) throw new joseErrors.JOSEAlgNotAllowed("algorithm not allowed");
    const candidates = source.keys.filter((k) => k.asymmetricKeyType === type);
    if (candidates.length === 0) throw new joseErrors.JWKSNoMatchingKey();
    let last: unknown;
    for (const key of candidates) {
      try {
        return (await jwtVerify(token, key, options)).payload;
      } catch (err) {
        last = err;
        // Only a failed signature depends on the key; expiry, issuer... do not.
        if (!(err instanceof joseErrors.JWSSignatureVerificationFailed)) throw err;
      }
    }
    throw last;
  }

  return {
    async verify(token) {
      let payload: JWTPayload;
      try {
        payload = await payloadOf(token);
      } catch (err) {
        throw unauthenticated(describe(err));
      }
      const exp = payload.exp!; // required, a number (checked by jwtVerify)
      const now = Math.floor(Date.now() / 1000);
      const longest = s.maxLifetimeSeconds + s.clockToleranceSeconds;
      if (exp - now > longest || (typeof payload.iat === "number" && exp - payload.iat > longest)) {
        throw unauthenticated(`the token lives too long: at most ${s.maxLifetimeSeconds} s from its issue are accepted (GATEWAY_JWT_MAX_LIFETIME_S)`);
      }
      const raw = payload[s.tenantClaim] ?? payload.sub;
      if (typeof raw !== "string" || !TENANT_PATTERN.test(raw)) {
        throw unauthenticated(`the token has no usable "${s.tenantClaim}" (or "sub") claim naming the tenant`);
      }
      if (raw === DEFAULT_TENANT) throw unauthenticated(`the tenant "${DEFAULT_TENANT}" is reserved for callers without authentication`);
      return raw;
    },
  };
}

function describe(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return "the token has expired";
  if (err instanceof joseErrors.JWTClaimValidationFailed && err.claim === "exp" && err.reason === "missing")
    return 'the token has no "exp" claim: tokens must expire';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `the token's "${err.claim}" claim is not acceptable`;
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return "the token's signature is not valid";
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return `the token's algorithm is not accepted (${JWT_ALGORITHMS.join(", ")})`;
  if (err instanceof joseErrors.JWKSNoMatchingKey) return "no configured key matches the token";
  return "the token is not valid";
}
