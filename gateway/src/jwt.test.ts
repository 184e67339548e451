import { Metadata, status } from "@grpc/grpc-js";
import { TdaError } from "@tda/common";
import { makeTestKeys, signToken, trustedJwks, trustedPem } from "../../test/helpers/jwt";
import { createAuthenticator, looksLikeJwt, parseApiKeys } from "./auth";
import { createJwtVerifier } from "./jwt";

function bearer(token: string): Metadata {
  const m = new Metadata();
  m.set("authorization", `Bearer ${token}`);
  return m;
}

async function rejection(p: Promise<unknown>): Promise<TdaError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof TdaError) return err;
    throw err;
  }
  throw new Error("expected a rejection");
}

const keys = makeTestKeys();

describe("JWT authentication (PEM keys)", () => {
  const verifier = createJwtVerifier({
    keys: trustedPem(keys),
    issuer: "https://issuer.test",
    audience: "tda-mesh",
    tenantClaim: "tenant",
    clockToleranceSeconds: 5,
    maxLifetimeSeconds: 3600,
  });
  const auth = createAuthenticator(parseApiKeys("key1:tenantA"), verifier);
  const base = { issuer: "https://issuer.test", audience: "tda-mesh" };

  it("accepts RS256 and ES256 tokens and takes the tenant claim, else sub", async () => {
    await expect(auth.authenticate(bearer(await signToken(keys, { ...base, claims: { tenant: "acme" } })))).resolves.toBe("acme");
    await expect(auth.authenticate(bearer(await signToken(keys, { ...base, alg: "ES256", claims: { tenant: "globex" } })))).resolves.toBe("globex");
    await expect(auth.authenticate(bearer(await signToken(keys, { ...base, subject: "initech" })))).resolves.toBe("initech");
  });

  it("still accepts API keys next to JWTs", async () => {
    const m = new Metadata();
    m.set("x-api-key", "key1");
    await expect(auth.authenticate(m)).resolves.toBe("tenantA");
  });

  it("refuses expired, wrongly signed, wrong-issuer and wrong-audience tokens with UNAUTHENTICATED", async () => {
    const cases: [string, RegExp][] = [
      [await signToken(keys, { ...base, claims: { tenant: "acme" }, expiresIn: -60 }), /expired/],
      [await signToken(keys, { ...base, claims: { tenant: "acme" }, key: keys.stranger.privateKey }), /signature/],
      [await signToken(keys, { issuer: "https://evil.test", audience: "tda-mesh", claims: { tenant: "acme" } }), /"iss"/],
      [await signToken(keys, { issuer: "https://issuer.test", audience: "other", claims: { tenant: "acme" } }), /"aud"/],
    ];
    for (const [token, message] of cases) {
      const e = await rejection(auth.authenticate(bearer(token)));
      expect(e.code).toBe(status.UNAUTHENTICATED);
      expect(e.message).toMatch(message);
    }
  });

  it("refuses a token that never expires or lives longer than the configured lifetime", async () => {
    const cases: [string, RegExp][] = [
      [await signToken(keys, { ...base, claims: { tenant: "acme" }, expiresIn: null }), /no "exp" claim/],
      [await signToken(keys, { ...base, claims: { tenant: "acme" }, expiresIn: 2 * 24 * 3600 }), /lives too long/],
      [await signToken(keys, { ...base, claims: { tenant: "acme" }, expiresIn: 600, issuedAt: -7200 }), /lives too long/],
      [await signToken(keys, { ...base, claims: { tenant: "acme" }, expiresIn: 2 * 24 * 3600, issuedAt: null }), /lives too long/],
    ];
    for (const [token, message] of cases) {
      const e = await rejection(auth.authenticate(bearer(token)));
      expect(e.code).toBe(status.UNAUTHENTICATED);
      expect(e.message).toMatch(message);
    }
    await expect(auth.authenticate(bearer(await signToken(keys, { ...base, claims: { tenant: "acme" }, expiresIn: 3000, issuedAt: null })))).resolves.toBe(
      "acme",
    );
  });

  it('refuses the tenant "default" (what callers stored while authentication was off) in tokens and API keys', async () => {
    const e = await rejection(auth.authenticate(bearer(await signToken(keys, { ...base, claims: { tenant: "default" } }))));
    expect([e.code, e.message]).toEqual([status.UNAUTHENTICATED, 'the tenant "default" is reserved for callers without authentication']);
    expect((await rejection(auth.authenticate(bearer(await signToken(keys, { ...base, subject: "default" }))))).code).toBe(status.UNAUTHENTICATED);
    expect(() => parseApiKeys("k1:acme,k2:default")).toThrow(/reserved/);
  });

  it("refuses a token without a usable tenant, and a tampered payload", async () => {
    const noTenant = await signToken(keys, { ...base });
    expect((await rejection(auth.authenticate(bearer(noTenant)))).message).toMatch(/tenant/);
    const good = await signToken(keys, { ...base, claims: { tenant: "acme" } });
    const [h, , sig] = good.split(".");
    const forged = Buffer.from(JSON.stringify({ tenant: "victim", iss: base.issuer, aud: base.audience, exp: Math.floor(Date.now() / 1000) + 300 })).toString(
      "base64url",
    );
    expect((await rejection(auth.authenticate(bearer(`${h}.${forged}.${sig}`)))).code).toBe(status.UNAUTHENTICATED);
  });

  it("refuses HS256 and alg=none tokens", async () => {
    const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const payload = enc({ tenant: "acme", iss: base.issuer, aud: base.audience, exp: Math.floor(Date.now() / 1000) + 300 });
    for (const alg of ["none", "HS256"]) {
      const token = `${enc({ alg, typ: "JWT" })}.${payload}.${alg === "none" ? "" : "c2ln"}`;
      expect(looksLikeJwt(token)).toBe(true);
      expect((await rejection(auth.authenticate(bearer(token)))).code).toBe(status.UNAUTHENTICATED);
    }
  });
});

describe("JWT authentication (JWKS)", () => {
  it("picks the key by kid", async () => {
    const verifier = createJwtVerifier({ keys: await trustedJwks(keys), tenantClaim: "org", clockToleranceSeconds: 0, maxLifetimeSeconds: 3600 });
    await expect(verifier.verify(await signToken(keys, { kid: "ec-1", alg: "ES256", claims: { org: "acme" } }))).resolves.toBe("acme");
    await expect(verifier.verify(await signToken(keys, { kid: "rsa-1", claims: { org: "acme" } }))).resolves.toBe("acme");
    expect((await rejection(verifier.verify(await signToken(keys, { kid: "rsa-1", key: keys.stranger.privateKey, claims: { org: "acme" } })))).code).toBe(
      status.UNAUTHENTICATED,
    );
  });

  it("refuses unusable key material at construction", () => {
    expect(() =>
      createJwtVerifier({
        keys: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
        tenantClaim: "tenant",
        clockToleranceSeconds: 0,
        maxLifetimeSeconds: 3600,
      }),
    ).toThrow();
    expect(() =>
      createJwtVerifier({
        keys: JSON.stringify({ keys: [{ kty: "oct", k: "c2VjcmV0" }] }),
        tenantClaim: "tenant",
        clockToleranceSeconds: 0,
        maxLifetimeSeconds: 3600,
      }),
    ).toThrow(/symmetric/);
  });
});
