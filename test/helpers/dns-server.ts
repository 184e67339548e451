import { createSocket, type RemoteInfo, type Socket } from "node:dgram";

// A small authoritative DNS server on UDP loopback for tests: it answers A and
// SRV questions from a table the test changes while it runs (engines joining and
// leaving behind one name), NXDOMAIN for names it does not know, and an empty
// answer (NODATA) for other record types of known names. Only what a resolver
// asking one question per query needs (RFC 1035 wire format, no EDNS, no TCP).

export interface SrvTarget {
  target: string;
  port: number;
  priority?: number;
  weight?: number;
}

export interface DnsZone {
  a?: string[];
  srv?: SrvTarget[];
}

export interface TestDnsServer {
  /** "127.0.0.1:PORT", for ENGINE_DNS_SERVERS. */
  address: string;
  /** Sets (or with undefined removes) the records of `name`. */
  set(name: string, zone: DnsZone | undefined): void;
  /** Questions answered so far. */
  queries(): number;
  close(): Promise<void>;
}

const TYPE_A = 1;
const TYPE_SRV = 33;
const CLASS_IN = 1;
const TTL_SECONDS = 1;

interface Question {
  id: number;
  name: string;
  type: number;
  /** The question section as received (echoed in the answer). */
  raw: Buffer;
}

function readQuestion(msg: Buffer): Question | undefined {
  if (msg.length < 12 || msg.readUInt16BE(4) !== 1) return undefined;
  const labels: string[] = [];
  let at = 12;
  while (at < msg.length) {
    const len = msg[at]!;
    if (len === 0) break;
    if (len > 63 || at + 1 + len > msg.length) return undefined;
    labels.push(msg.subarray(at + 1, at + 1 + len).toString("ascii"));
    at += 1 + len;
  }
  if (at + 5 > msg.length) return undefined;
  const type = msg.readUInt16BE(at + 1);
  return { id: msg.readUInt16BE(0), name: labels.join(".").toLowerCase(), type, raw: msg.subarray(12, at + 5) };
}

function encodeName(name: string): Buffer {
  const parts = name.split(".").filter((p) => p.length > 0);
  return Buffer.concat([...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, "ascii")])), Buffer.from([0])]);
}

function record(type: number, rdata: Buffer): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
  head.writeUInt16BE(type, 2);
  head.writeUInt16BE(CLASS_IN, 4);
  head.writeUInt32BE(TTL_SECONDS, 6);
  head.writeUInt16BE(rdata.length, 10);
  return Buffer.concat([head, rdata]);
}

function answersFor(q: Question, zone: DnsZone): Buffer[] {
  if (q.type === TYPE_A) return (zone.a ?? []).map((ip) => record(TYPE_A, Buffer.from(ip.split(".").map(Number))));
  if (q.type !== TYPE_SRV) return [];
  return (zone.srv ?? []).map((s) => {
    const fixed = Buffer.alloc(6);
    fixed.writeUInt16BE(s.priority ?? 0, 0);
    fixed.writeUInt16BE(s.weight ?? 1, 2);
    fixed.writeUInt16BE(s.port, 4);
    return record(TYPE_SRV, Buffer.concat([fixed, encodeName(s.target)]));
  });
}

function reply(q: Question, zone: DnsZone | undefined): Buffer {
  const answers = zone ? answersFor(q, zone) : [];
  const head = Buffer.alloc(12);
  head.writeUInt16BE(q.id, 0);
  // QR, AA, RD, RA; RCODE 3 (NXDOMAIN) for an unknown name
  head.writeUInt16BE(0x8580 | (zone ? 0 : 3), 2);
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(answers.length, 6);
  return Buffer.concat([head, q.raw, ...answers]);
}

export async function startTestDnsServer(): Promise<TestDnsServer> {
  const zones = new Map<string, DnsZone>();
  let count = 0;
  const socket: Socket = createSocket("udp4");
  socket.on("message", (msg: Buffer, from: RemoteInfo) => {
    const q = readQuestion(msg);
    if (!q) return;
    count++;
    socket.send(reply(q, zones.get(q.name)), from.port, from.address);
  });
  await new Promise<void>((res) => socket.bind(0, "127.0.0.1", () => res()));
  const port = socket.address().port;
  return {
    address: `127.0.0.1:${port}`,
    set(name, zone) {
      if (zone) zones.set(name.toLowerCase(), zone);
      else zones.delete(name.toLowerCase());
    },
    queries: () => count,
    close: () => new Promise<void>((res) => socket.close(() => res())),
  };
}
