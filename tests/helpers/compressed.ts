// Compressed bodies for the tests: gzip (with any header fields), zlib and raw deflate made
// by node:zlib, random splits, and the fuzz loop that checks the inflater against node:zlib.
import zlib from "node:zlib";
import { type InflateProbe, Wrap } from "./inflate-probe";
import { prng } from "../../bench/workloads";

/** The seeded PRNG (mulberry32) the benchmark workloads use: the same seed, the same cases. */
export { prng };

export type Encoding = "gzip" | "deflate" | "deflate-raw";

export interface Options {
  level?: number;
  strategy?: number;
}

/** The body as sent with content-encoding `gzip` or `deflate` (zlib-wrapped, or raw). */
export function compress(encoding: Encoding, body: Uint8Array, o: Options = {}): Buffer {
  const opts = { level: o.level ?? 6, strategy: o.strategy ?? zlib.constants.Z_DEFAULT_STRATEGY };
  if (encoding === "gzip") return zlib.gzipSync(body, opts);
  if (encoding === "deflate") return zlib.deflateSync(body, opts);
  return zlib.deflateRawSync(body, opts);
}

/** What the inflater is told the encoding is (raw deflate arrives as `deflate`). */
export const wrapOf = (e: Encoding): Wrap => (e === "gzip" ? Wrap.Gzip : Wrap.Deflate);

export interface GzipFields {
  extra?: Uint8Array;
  name?: string;
  comment?: string;
  headerCrc?: boolean;
}

/** A gzip member with the optional header fields node:zlib never writes (RFC 1952 2.3). */
export function gzipWithFields(body: Uint8Array, f: GzipFields, o: Options = {}): Buffer {
  let flags = 0;
  const parts: Buffer[] = [];
  if (f.extra) {
    flags |= 4;
    const len = Buffer.alloc(2);
    len.writeUInt16LE(f.extra.length);
    parts.push(len, Buffer.from(f.extra));
  }
  if (f.name !== undefined) {
    flags |= 8;
    parts.push(Buffer.from(f.name, "latin1"), Buffer.from([0]));
  }
  if (f.comment !== undefined) {
    flags |= 16;
    parts.push(Buffer.from(f.comment, "latin1"), Buffer.from([0]));
  }
  if (f.headerCrc) flags |= 2;
  let header = Buffer.concat([Buffer.from([0x1f, 0x8b, 8, flags, 1, 2, 3, 4, 0, 3]), ...parts]);
  if (f.headerCrc) {
    const crc = Buffer.alloc(2);
    crc.writeUInt16LE(zlib.crc32(header) & 0xffff);
    header = Buffer.concat([header, crc]);
  }
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(zlib.crc32(body));
  trailer.writeUInt32LE(body.length >>> 0, 4);
  return Buffer.concat([header, compress("deflate-raw", body, o), trailer]);
}

/** Chunk sizes that cut `length` bytes at `count` random places (sizes for InflateProbe.inflate). */
export function randomSplits(rand: () => number, length: number, count: number): number[] {
  const at = new Set<number>();
  for (let i = 0; i < count && length > 1; i++) at.add(1 + Math.floor(rand() * (length - 1)));
  const cuts = [...at].sort((a, b) => a - b);
  return cuts.map((c, i) => c - (i === 0 ? 0 : cuts[i - 1]));
}

/** Cuts a body at the given chunk sizes (for the filter's body chunks). */
export function chunksOf(body: Uint8Array, sizes: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  for (const n of sizes) {
    if (at >= body.length) break;
    out.push(body.subarray(at, at + n));
    at += n;
  }
  if (at < body.length) out.push(body.subarray(at));
  return out;
}

const WORDS = ["data: ", '{"id":"x","usage":{"prompt_tokens":', "}\n\n", "hello", " world", "\u00e9", "[DONE]", "\n", "0123456789"];

/** Something to compress: random bytes, words (JSON/SSE-like text), long runs, or a mix. */
export function randomBody(rand: () => number, max: number): Buffer {
  const n = Math.floor(rand() * rand() * max);
  const kind = Math.floor(rand() * 4);
  const out = Buffer.alloc(n);
  let i = 0;
  while (i < n) {
    const k = kind === 3 ? Math.floor(rand() * 3) : kind;
    if (k === 0) {
      out[i++] = Math.floor(rand() * 256);
    } else if (k === 1) {
      const w = Buffer.from(WORDS[Math.floor(rand() * WORDS.length)]);
      i += w.copy(out, i);
    } else {
      const b = Math.floor(rand() * 256);
      const run = Math.min(n - i, 1 + Math.floor(rand() * 600));
      out.fill(b, i, i + run);
      i += run;
    }
  }
  return out;
}

const STRATEGIES = [
  zlib.constants.Z_DEFAULT_STRATEGY,
  zlib.constants.Z_FIXED,
  zlib.constants.Z_HUFFMAN_ONLY,
  zlib.constants.Z_RLE,
  zlib.constants.Z_FILTERED,
];

export interface FuzzReport {
  roundTrips: number;
  multiMember: number;
  headerFields: number;
  corrupted: number;
  corruptedAccepted: number;
  truncated: number;
  garbage: number;
  failures: string[];
}

function nodeInflate(wrap: Wrap, input: Buffer): Buffer | null {
  try {
    if (wrap === Wrap.Gzip) return zlib.gunzipSync(input);
    try {
      return zlib.inflateSync(input);
    } catch {
      return zlib.inflateRawSync(input);
    }
  } catch {
    return null;
  }
}

/** `cases` rounds of: a round trip (random level, strategy, wrap, splits), sometimes with several
 *  members or header fields, then the same input truncated, bit-flipped, and pure garbage. Any
 *  trap throws (the probe's RuntimeError); disagreements are listed in `failures`. */
export function fuzzInflater(probe: InflateProbe, seed: number, cases: number, maxBody = 20000): FuzzReport {
  const rand = prng(seed);
  const r: FuzzReport = {
    roundTrips: 0,
    multiMember: 0,
    headerFields: 0,
    corrupted: 0,
    corruptedAccepted: 0,
    truncated: 0,
    garbage: 0,
    failures: [],
  };
  const fail = (what: string) => {
    if (r.failures.length < 20) r.failures.push(`seed ${seed}: ${what}`);
  };
  const encodings: Encoding[] = ["gzip", "deflate", "deflate-raw"];
  for (let c = 0; c < cases; c++) {
    const body = randomBody(rand, maxBody);
    const o = { level: Math.floor(rand() * 10), strategy: STRATEGIES[Math.floor(rand() * STRATEGIES.length)] };
    const encoding = encodings[Math.floor(rand() * 3)];
    let input = compress(encoding, body, o);
    let expected: Buffer = body;
    /** A multi-member input cut between members is a complete gzip file: what it holds. */
    let boundary: [number, Buffer] | null = null;
    const variant = encoding === "gzip" ? rand() : 1;
    if (variant < 0.2) {
      const second = randomBody(rand, maxBody / 4);
      boundary = [input.length, body];
      input = Buffer.concat([input, compress("gzip", second, o)]);
      expected = Buffer.concat([body, second]);
      r.multiMember++;
    } else if (variant < 0.4) {
      input = gzipWithFields(
        body,
        {
          extra: rand() < 0.5 ? Buffer.alloc(Math.floor(rand() * 300), 7) : undefined,
          name: rand() < 0.5 ? "body.json" : undefined,
          comment: rand() < 0.5 ? "x".repeat(Math.floor(rand() * 200)) : undefined,
          headerCrc: rand() < 0.5,
        },
        o,
      );
      r.headerFields++;
    }
    const wrap = wrapOf(encoding);
    const splits = randomSplits(rand, input.length, Math.floor(rand() * 12));
    const got = probe.inflate(wrap, input, rand() < 0.05 ? Array(input.length).fill(1) : splits);
    r.roundTrips++;
    if (!got.ok || !got.output.equals(expected))
      fail(`round trip ${encoding} level ${o.level} strategy ${o.strategy} length ${body.length}: ok ${got.ok}`);

    // Truncated: never sound.
    if (input.length > 1) {
      const cut = 1 + Math.floor(rand() * (input.length - 1));
      const t = probe.inflate(wrap, input.subarray(0, cut), randomSplits(rand, cut, 3));
      r.truncated++;
      if (boundary !== null && cut === boundary[0]) {
        if (!t.ok || !t.output.equals(boundary[1])) fail(`gzip cut between members at ${cut} not read as the first member`);
      } else if (t.ok) fail(`truncated ${encoding} at ${cut}/${input.length} accepted`);
    }
    // Bit flips: if accepted, node:zlib accepts it too and agrees on every byte.
    const flipped = Buffer.from(input);
    const flips = 1 + Math.floor(rand() * 3);
    for (let i = 0; i < flips; i++) flipped[Math.floor(rand() * flipped.length)] ^= 1 << Math.floor(rand() * 8);
    const f = probe.inflate(wrap, flipped, randomSplits(rand, flipped.length, 4));
    r.corrupted++;
    if (f.ok) {
      r.corruptedAccepted++;
      const ref = nodeInflate(wrap, flipped);
      if (ref === null || !ref.equals(f.output))
        fail(`bit-flipped ${encoding} accepted but node:zlib ${ref === null ? "refuses it" : "reads other bytes"}`);
    }
    // Garbage, sometimes behind a valid gzip or zlib header.
    const g = Buffer.alloc(Math.floor(rand() * 2000));
    for (let i = 0; i < g.length; i++) g[i] = Math.floor(rand() * 256);
    const prefix = rand() < 0.5 ? Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]) : Buffer.from([0x78, 0x9c]);
    const garbage = rand() < 0.5 ? Buffer.concat([prefix, g]) : g;
    const gw = rand() < 0.5 ? Wrap.Gzip : Wrap.Deflate;
    const gr = probe.inflate(gw, garbage, randomSplits(rand, garbage.length, 3));
    r.garbage++;
    if (gr.ok && garbage.length > 0) {
      const ref = nodeInflate(gw, garbage);
      if (ref === null || !ref.equals(gr.output)) fail(`garbage accepted (${garbage.length} bytes)`);
    }
  }
  return r;
}
