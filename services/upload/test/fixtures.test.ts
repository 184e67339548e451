import path from "node:path";
import { readFileSync, readdirSync } from "node:fs";
import { pbUpload } from "@tda/common";
import { cleanupTenants, newTenant, readPoints, startService, upload, useRedis, type RedisHandle, type ServiceHandle } from "./helpers";

// The real data files of test/fixtures (GUDHI .off point sets, Ripser's
// examples in its point-cloud, lower- and upper-distance formats) uploaded
// through the service: counts checked against the files' own numbers, values
// read back.

const F = pbUpload.DataFormat;
const FIXTURES = path.resolve(__dirname, "../../../test/fixtures");

let rh: RedisHandle;
let svc: ServiceHandle;

beforeAll(async () => {
  rh = await useRedis();
  svc = await startService();
});

afterAll(async () => {
  await svc?.stop();
  if (rh) await cleanupTenants(rh.redis);
  await rh?.stop();
});

const fixture = (name: string) => readFileSync(path.join(FIXTURES, name));

/** Splits a file into uneven chunks, as a client streaming it would. */
function chunks(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let o = 0; o < buf.length; o += size) out.push(buf.subarray(o, o + size));
  return out;
}

/** Numbers in a text (for counting entries independently of the service's parser). */
const numbersIn = (text: string) => text.match(/[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?/g) ?? [];

describe("fixture files through the service", () => {
  it.each(["tore3D_300.off", "grid_10_10_10_in_0_1.off", "alphacomplexdoc.off"])("stores the OFF file %s (format sniffed)", async (name) => {
    const buf = fixture(name);
    const lines = buf
      .toString("latin1")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#"));
    expect(lines[0]).toBe("OFF");
    const nVertices = Number(lines[1]!.split(/\s+/)[0]);
    const first = lines[2]!.split(/\s+/).map(Number);
    const tenant = newTenant();
    const res = await upload(svc.client, tenant, { name, format: F.DATA_FORMAT_AUTO }, chunks(buf, 997));
    expect([res.dataset!.n, res.dataset!.dim, res.dataset!.format]).toEqual([nVertices, 3, F.DATA_FORMAT_OFF]);
    const { data } = await readPoints(svc.client, tenant, res.dataset!.datasetId);
    expect(data.length).toBe(nVertices * 3 * 8);
    expect(Array.from(new Float64Array(data.buffer, data.byteOffset, 3))).toEqual(first);
  });

  it("stores Ripser's point-cloud files (whitespace and tab separated)", async () => {
    for (const [name, n, dim] of [
      ["sphere_3_192_points.dat", 192, 3],
      ["o3_1024.txt", 1024, 9],
    ] as const) {
      const buf = fixture(name);
      expect(numbersIn(buf.toString("latin1")).length).toBe(n * dim);
      const res = await upload(svc.client, newTenant(), { name, format: F.DATA_FORMAT_WHITESPACE }, chunks(buf, 4096));
      expect([name, res.dataset!.n, res.dataset!.dim, res.dataset!.kind]).toEqual([name, n, dim, pbUpload.DatasetKind.DATASET_KIND_POINT_CLOUD]);
    }
  });

  it("stores every Ripser lower-distance example; n follows from the entry count", async () => {
    const names = [
      "sphere_3_192.lower_distance_matrix",
      "random16.lower_distance_matrix",
      "projective_plane.lower_distance_matrix",
      ...readdirSync(path.join(FIXTURES, "dev-branch-tests"))
        .filter((f) => f.endsWith(".lower_distance_matrix"))
        .map((f) => `dev-branch-tests/${f}`),
    ];
    expect(names.length).toBeGreaterThanOrEqual(9);
    for (const name of names) {
      const buf = fixture(name);
      const entries = numbersIn(buf.toString("latin1")).length;
      const n = Math.round((1 + Math.sqrt(1 + 8 * entries)) / 2); // entries = n(n-1)/2
      expect((n * (n - 1)) / 2).toBe(entries);
      const res = await upload(svc.client, newTenant(), { name, format: F.DATA_FORMAT_LOWER_DISTANCE_MATRIX }, chunks(buf, 333));
      expect([name, res.dataset!.n, res.dataset!.dim, res.dataset!.kind]).toEqual([name, n, 0, pbUpload.DatasetKind.DATASET_KIND_DISTANCE_MATRIX]);
      expect(res.dataset!.sizeBytes).toBe(entries * 8);
    }
  });

  it("stores Ripser's upper-distance examples transposed into the lower triangle, and the full matrix", async () => {
    const tenant = newTenant();
    for (const name of ["test", "test2"]) {
      // Ripser reads the values in order as the strict upper triangle by rows (line breaks do not matter)
      const buf = fixture(`dev-branch-tests/${name}.upper_distance_matrix`);
      const upperValues = numbersIn(buf.toString("latin1")).map(Number);
      const n = Math.round((1 + Math.sqrt(1 + 8 * upperValues.length)) / 2);
      expect((n * (n - 1)) / 2).toBe(upperValues.length);
      const d = (i: number, j: number) => upperValues[i * n - (i * (i + 1)) / 2 + (j - i - 1)]!; // i < j
      const expected: number[] = [];
      for (let i = 1; i < n; i++) for (let j = 0; j < i; j++) expected.push(d(j, i));
      const upper = await upload(svc.client, tenant, { name: `${name}.upper`, format: F.DATA_FORMAT_UPPER_DISTANCE_MATRIX }, chunks(buf, 5));
      expect([upper.dataset!.n, upper.dataset!.kind]).toEqual([n, pbUpload.DatasetKind.DATASET_KIND_DISTANCE_MATRIX]);
      const data = (await readPoints(svc.client, tenant, upper.dataset!.datasetId)).data;
      expect(Array.from(new Float64Array(data.buffer, data.byteOffset, data.length / 8))).toEqual(expected);
    }
    const full = await upload(svc.client, tenant, { name: "pp.csv", format: F.DATA_FORMAT_DISTANCE_MATRIX }, chunks(fixture("projective_plane.csv"), 64));
    const lower = await upload(svc.client, tenant, { name: "pp.lower", format: F.DATA_FORMAT_LOWER_DISTANCE_MATRIX }, [
      fixture("projective_plane.lower_distance_matrix"),
    ]);
    expect(full.dataset!.n).toBe(13);
    expect(lower.dataset!.datasetId).toBe(full.dataset!.datasetId);
    expect(lower.deduplicated).toBe(true);
  });
});
