import { randomUUID } from "node:crypto";
import { once } from "node:events";
import net from "node:net";
import { coalesceWrites, createRedis } from "./redis";
import { createLogger } from "./logger";

const REDIS_URL = process.env.REDIS_URL || "redis://127.0.0.1:6390";
const log = createLogger("test", "silent");
const turn = (): Promise<void> => new Promise((res) => setImmediate(res));

describe("coalesceWrites", () => {
  let server: net.Server;
  let received: Buffer[];
  let socket: net.Socket;

  beforeEach(async () => {
    received = [];
    server = net.createServer((s) => s.on("data", (d: Buffer) => received.push(d)));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    socket = net.connect((server.address() as net.AddressInfo).port, "127.0.0.1");
    await once(socket, "connect");
  });

  afterEach(async () => {
    socket.destroy();
    await new Promise((res) => server.close(res));
  });

  test("the writes of one event-loop turn leave in one writev, in order, and the next turn's in another", async () => {
    const s = socket as net.Socket & { _writev: (...a: unknown[]) => void; _write: (...a: unknown[]) => void };
    const writev = jest.spyOn(s, "_writev");
    const write = jest.spyOn(s, "_write");
    coalesceWrites(socket);
    coalesceWrites(socket); // a second call does not wrap twice
    socket.write("a");
    socket.write(Buffer.from("b"));
    socket.write("c", () => undefined);
    expect(writev).not.toHaveBeenCalled();
    expect(write).not.toHaveBeenCalled();
    await turn();
    expect(writev).toHaveBeenCalledTimes(1);
    expect((writev.mock.calls[0]![0] as unknown[]).length).toBe(3);
    socket.write("d");
    socket.write("e");
    await turn();
    expect(writev).toHaveBeenCalledTimes(2);
    expect(write).not.toHaveBeenCalled();
    for (let i = 0; i < 50 && Buffer.concat(received).length < 5; i++) await new Promise((res) => setTimeout(res, 10));
    expect(Buffer.concat(received).toString()).toBe("abcde");
  });
});

test("a Redis connection answers pipelines and commands issued in one turn, each with its own reply, and again after a reconnect", async () => {
  const redis = createRedis(REDIS_URL, log);
  try {
    // keys of this test's own (no other suite's data is touched)
    const k1 = `tda-test:coalesce:${randomUUID()}:1`;
    const k2 = `tda-test:coalesce:${randomUUID()}:2`;
    await redis.del(k1, k2);
    // each call's own reply
    const replies = [
      [
        [null, "OK"],
        [null, 2],
      ],
      "OK",
      [
        [null, "x"],
        [null, 1],
      ],
      "lua",
    ];
    // the four calls leave in one writev: nothing is written until the turn ends
    const run = (): Promise<unknown[]> => {
      const stream = redis.stream as typeof redis.stream & { _writev: (...a: unknown[]) => void; _write: (...a: unknown[]) => void };
      const writev = jest.spyOn(stream, "_writev");
      const write = jest.spyOn(stream, "_write");
      const pending = Promise.all([
        redis.pipeline().set(k1, "1").incr(k1).exec(),
        redis.set(k2, "x"),
        redis.pipeline().get(k2).exists(k1).exec(),
        redis.eval("return ARGV[1]", 0, "lua"),
      ]);
      expect(writev).not.toHaveBeenCalled();
      expect(write).not.toHaveBeenCalled();
      return pending.finally(() => {
        expect(writev).toHaveBeenCalledTimes(1);
        expect(write).not.toHaveBeenCalled();
        writev.mockRestore();
        write.mockRestore();
      });
    };
    expect(await run()).toEqual(replies);
    // a new socket after a drop is coalesced too (and still works)
    const before = redis.stream;
    redis.disconnect(true);
    await once(redis, "ready");
    expect(redis.stream).not.toBe(before);
    expect(await run()).toEqual(replies);
    await redis.del(k1, k2);
  } finally {
    redis.disconnect();
  }
});
