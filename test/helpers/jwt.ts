import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { SignJWT, exportJWK } from "jose";

// Key pairs and tokens for JWT tests: real RS256 / ES256 signatures made with jose.

export interface TestKeys {
  rsa: { publicKey: KeyObject; privateKey: KeyObject };
  ec: { publicKey: KeyObject; privateKey: KeyObject };
  /** A second RSA pair the gateway does not know (for "wrongly signed"). */
  stranger: { publicKey: KeyObject; privateKey: KeyObject };
}

export function makeTestKeys(): TestKeys {
  return {
    rsa: generateKeyPairSync("rsa", { modulusLength: 2048 }),
    ec: generateKeyPairSync("ec", { namedCurve: "P-256" }),
    stranger: generateKeyPairSync("rsa", { modulusLength: 2048 }),
  };
}

/** PEM text of the public keys the gateway should trust (RSA and EC). */
export function trustedPem(k: TestKeys): string {
  return [k.rsa.publicKey, k.ec.publicKey].map((p) => p.export({ type: "spki", format: "pem" }).toString()).join("\n");
}

/** A JWKS of the trusted keys, with kids. */
export async function trustedJwks(k: TestKeys): Promise<string> {
  const rsa = { ...(await exportJWK(k.rsa.publicKey)), kid: "rsa-1", alg: "RS256", use: "sig" };
  const ec = { ...(await exportJWK(k.ec.publicKey)), kid: "ec-1", alg: "ES256", use: "sig" };
  return JSON.stringify({ keys: [rsa, ec] });
}

export interface TokenOptions {
  alg?: "RS256" | "ES256";
  key?: KeyObject;
  kid?: string;
  claims?: Record<string, unknown>;
  issuer?: string;
  audience?: string;
  /** Seconds from now; negative: already expired; null: no `exp` claim at all. */
  expiresIn?: number | null;
  /** Seconds from now of `iat` (default -5); null: no `iat` claim. */
  issuedAt?: number | null;
  subject?: string;
}

export async function signToken(k: TestKeys, o: TokenOptions = {}): Promise<string> {
  const alg = o.alg ?? "RS256";
  const key = o.key ?? (alg === "RS256" ? k.rsa.privateKey : k.ec.privateKey);
  const now = Math.floor(Date.now() / 1000);
  let jwt = new SignJWT(o.claims ?? {}).setProtectedHeader({ alg, ...(o.kid ? { kid: o.kid } : {}) });
  if (o.issuedAt !== null) jwt = jwt.setIssuedAt(now + (o.issuedAt ?? -5));
  if (o.expiresIn !== null) jwt = jwt.setExpirationTime(now + (o.expiresIn ?? 300));
  if (o.issuer) jwt = jwt.setIssuer(o.issuer);
  if (o.audience) jwt = jwt.setAudience(o.audience);
  if (o.subject) jwt = jwt.setSubject(o.subject);
  return jwt.sign(key);
}
