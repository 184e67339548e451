import { ConfigError } from "@tda/common";
import { parseEngineTarget } from "./engine-discovery";

// Parsing only; resolution against a real DNS server and real engines is in
// test/e2e/engine-discovery.e2e.test.ts.
describe("engine targets", () => {
  it("tells addresses, names and SRV names apart", () => {
    expect(parseEngineTarget("10.1.2.3:50061")).toEqual({ kind: "static", spec: "10.1.2.3:50061", address: "10.1.2.3:50061" });
    expect(parseEngineTarget("[::1]:7")).toEqual({ kind: "static", spec: "[::1]:7", address: "[::1]:7" });
    expect(parseEngineTarget("tda-engine-headless.tda-mesh.svc.cluster.local:50061")).toMatchObject({
      kind: "host",
      host: "tda-engine-headless.tda-mesh.svc.cluster.local",
      port: 50061,
    });
    expect(parseEngineTarget("srv:_grpc._tcp.tda-engine-headless")).toMatchObject({ kind: "srv", name: "_grpc._tcp.tda-engine-headless" });
  });

  it.each(["engine", "engine:0", "engine:70000", "engine:x", "[zz]:1", "a b:1", "srv:", "http://engine:1", "1.2.3.4:"])("refuses %p", (spec) => {
    expect(() => parseEngineTarget(spec)).toThrow(ConfigError);
  });
});
