import { parseNumber } from "./number";

const b = (s: string) => Buffer.from(s, "latin1");
const parse = (s: string) => parseNumber(b(s), 0, s.length);

describe("parseNumber", () => {
  it("parses the usual spellings", () => {
    expect(parse("0")).toBe(0);
    expect(parse("-0")).toBe(0);
    expect(Object.is(parse("-0.0"), 0)).toBe(true);
    expect(parse("1.5")).toBe(1.5);
    expect(parse("+2")).toBe(2);
    expect(parse(".5")).toBe(0.5);
    expect(parse("5.")).toBe(5);
    expect(parse("-1e3")).toBe(-1000);
    expect(parse("1E-2")).toBe(0.01);
    expect(parse("2.08167e-17")).toBe(2.08167e-17);
    expect(parse("0.1")).toBe(0.1);
    expect(parse("1e400")).toBe(Infinity);
  });

  it("is exact on both sides of the 15-digit fast path", () => {
    for (const t of [
      "123456789012345",
      "1234567890123456",
      "0.123456789012345",
      "0.1234567890123456",
      "999999999999999.9",
      "99999999999999.9",
      "-0.000000000000001",
      "0.0000000000000001",
      "9007199254740993",
      "-12.500000000000",
      "000000000000001.5",
      "1.7976931348623157",
      "4.9406564584124654",
    ]) {
      expect(parse(t)).toBe(Number(t) === 0 ? 0 : Number(t));
    }
    // the end of the number is where the digits stop
    expect(parse("12.5x")).toBeNaN();
    expect(parse("1.5e")).toBeNaN();
    expect(parse("1.5e2")).toBe(150);
  });

  it("rejects what is not a decimal number", () => {
    for (const s of ["", "-", "+", ".", "e5", "1e", "1e+", "0x10", "1.2.3", "nan", "inf", "Infinity", "1,5", "1 5", "--1", "1-", "١"]) {
      expect(parse(s)).toBeNaN();
    }
  });

  it("agrees with Number() on many random spellings", () => {
    let seed = 12345;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const bad: string[] = [];
    const check = (s: string, got: number, want: number) => {
      if (!Object.is(got, want)) bad.push(`${s}: got ${got}, want ${want}`);
    };
    const digits = (n: number) => Array.from({ length: n }, () => String(Math.floor(rnd() * 10))).join("");
    for (let i = 0; i < 20000; i++) {
      const sign = rnd() < 0.3 ? "-" : rnd() < 0.1 ? "+" : "";
      const int = digits(Math.floor(rnd() * 20));
      const frac = rnd() < 0.7 ? `.${digits(Math.floor(rnd() * 22))}` : "";
      const exp = rnd() < 0.3 ? `e${rnd() < 0.5 ? "-" : ""}${Math.floor(rnd() * 330)}` : "";
      const s = sign + int + frac + exp;
      const want = Number(s);
      const ok = /\d/.test(int + frac);
      const got = parse(s);
      check(s, got, ok ? (want === 0 ? 0 : want) : NaN);
    }
    for (let i = 0; i < 20000; i++) {
      const v = (rnd() - 0.5) * 10 ** Math.floor(rnd() * 40 - 20);
      const w = v === 0 ? 0 : v;
      check(String(v), parse(String(v)), w);
      check(v.toExponential(), parse(v.toExponential()), w);
    }
    expect(bad.slice(0, 10)).toEqual([]);
  });
});
