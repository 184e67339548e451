import { Metadata, status } from "@grpc/grpc-js";
import { TdaError } from "@tda/common";
import { createAuthenticator, DEFAULT_TENANT, parseApiKeys, presentedKey } from "./auth";
import { loadConfig } from "./config";

function md(entries: Record<string, string>): Metadata {
  const m = new Metadata();
  for (const [k, v] of Object.entries(entries)) m.set(k, v);
  return m;
}

describe("parseApiKeys", () => {
  it("reads key:tenant pairs, trimming blanks and skipping empty entries", () => {
    const keys = parseApiKeys(" key1:tenantA , key2:tenantB,, ");
    expect([...keys]).toEqual([
      ["key1", "tenantA"],
      ["key2", "tenantB"],
    ]);
  });

  it("is empty for an empty string (auth off)", () => {
    expect(parseApiKeys("").size).toBe(0);
  });

  it("splits at the last colon, so keys may hold colons", () => {
    expect(parseApiKeys("a:b:c:tenant").get("a:b:c")).toBe("tenant");
  });

  it.each([["justakey"], [":tenant"], ["key:"], ["key:bad tenant"], ["key:ten/ant"], ["k y:tenant"]])("rejects the malformed entry %p", (spec) => {
    expect(() => parseApiKeys(spec)).toThrow();
  });

  it("rejects a key listed twice", () => {
    expect(() => parseApiKeys("key1:a,key1:b")).toThrow(/twice/);
  });

  it("does not echo a whole key in its error messages", () => {
    for (const spec of ["supersecretvalue", "supersecretvalue:a,supersecretvalue:b"]) {
      let message = "";
      try {
        parseApiKeys(spec);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).not.toBe("");
      expect(message).not.toContain("supersecretvalue");
    }
  });
});

describe("presentedKey", () => {
  it("prefers x-api-key", () => {
    expect(presentedKey(md({ "x-api-key": "k1", authorization: "Bearer k2" }))).toBe("k1");
  });
  it("accepts a bearer token in any case", () => {
    expect(presentedKey(md({ authorization: "bearer   k2 " }))).toBe("k2");
  });
  it("ignores other authorization schemes and blank keys", () => {
    expect(presentedKey(md({ authorization: "Basic abc" }))).toBeUndefined();
    expect(presentedKey(md({ "x-api-key": "  " }))).toBeUndefined();
  });
});

async function authRejection(p: Promise<unknown>): Promise<TdaError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof TdaError) return err;
    throw err;
  }
  throw new Error("expected an error");
}

describe("createAuthenticator", () => {
  it("lets everyone in as the default tenant when no keys are configured", async () => {
    const auth = createAuthenticator(parseApiKeys(""));
    expect(auth.enabled).toBe(false);
    await expect(auth.authenticate(md({}))).resolves.toBe(DEFAULT_TENANT);
    await expect(auth.authenticate(md({ "x-api-key": "whatever" }))).resolves.toBe(DEFAULT_TENANT);
  });

  const auth = createAuthenticator(parseApiKeys("key1:tenantA,key2:tenantB"));

  it("maps each key to its tenant", async () => {
    await expect(auth.authenticate(md({ "x-api-key": "key1" }))).resolves.toBe("tenantA");
    await expect(auth.authenticate(md({ authorization: "Bearer key2" }))).resolves.toBe("tenantB");
  });

  it("refuses a missing key with UNAUTHENTICATED", async () => {
    const e = await authRejection(auth.authenticate(md({})));
    expect(e.code).toBe(status.UNAUTHENTICATED);
    expect(e.message).toMatch(/x-api-key/);
  });

  it("refuses an unknown key, a prefix of a key and a longer key", async () => {
    for (const k of ["key3", "key", "key10"]) {
      expect((await authRejection(auth.authenticate(md({ "x-api-key": k })))).code).toBe(status.UNAUTHENTICATED);
    }
  });

  it("ignores a client-supplied x-tenant-id", async () => {
    await expect(auth.authenticate(md({ "x-api-key": "key1", "x-tenant-id": "tenantB" }))).resolves.toBe("tenantA");
  });
});

describe("loadConfig: authentication is on by default", () => {
  it("refuses to start with no credentials unless GATEWAY_AUTH_DISABLED=true, and not with both", () => {
    expect(() => loadConfig({})).toThrow(/no credentials configured/);
    expect(loadConfig({ GATEWAY_AUTH_DISABLED: "true" }).authDisabled).toBe(true);
    expect(loadConfig({ GATEWAY_API_KEYS: "k1:acme" }).authDisabled).toBe(false);
    expect(() => loadConfig({ GATEWAY_API_KEYS: "k1:acme", GATEWAY_AUTH_DISABLED: "true" })).toThrow(/choose one/);
    expect(() => loadConfig({ GATEWAY_API_KEYS: "k1:default" })).toThrow(/reserved/);
  });
});
