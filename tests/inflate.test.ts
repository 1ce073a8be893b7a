// The inflater (assembly/compress/inflate.ts) alone, against node:zlib: every block type, every
// gzip header field, several members, zlib and raw deflate, any chunking; broken input of any
// kind is refused (never a trap, never a wrong byte accepted). A bounded fuzz runs here
// (INFLATE_FUZZ_CASES); scripts/inflate-fuzz.ts runs it for as many cases as asked.
import { beforeAll, describe, expect, it } from "vitest";
import zlib from "node:zlib";
import { InflateProbe, Wrap } from "./helpers/inflate-probe";
import { compress, fuzzInflater, gzipWithFields, prng, randomBody } from "./helpers/compressed";

const CASES = Number(process.env.INFLATE_FUZZ_CASES ?? 1500);
const SSE = Buffer.from(
  Array.from({ length: 200 }, (_, i) => `data: {"id":"chatcmpl-1","choices":[{"delta":{"content":"tok${i}"}}]}\n\n`).join("") +
    'data: {"id":"chatcmpl-1","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":200}}\n\ndata: [DONE]\n\n',
);

let probe: InflateProbe;
beforeAll(async () => {
  probe = await InflateProbe.load();
});

describe("inflate: what node:zlib compresses comes back byte for byte", () => {
  it("gzip, zlib and raw deflate at every level, and the fixed, Huffman-only and RLE strategies", () => {
    for (const level of [0, 1, 6, 9]) {
      for (const strategy of [
        zlib.constants.Z_DEFAULT_STRATEGY,
        zlib.constants.Z_FIXED,
        zlib.constants.Z_HUFFMAN_ONLY,
        zlib.constants.Z_RLE,
      ]) {
        for (const [enc, wrap] of [
          ["gzip", Wrap.Gzip],
          ["deflate", Wrap.Deflate],
          ["deflate-raw", Wrap.Deflate],
        ] as const) {
          const c = compress(enc, SSE, { level, strategy });
          const r = probe.inflate(wrap, c);
          expect(r.ok, `${enc} ${level} ${strategy}`).toBe(true);
          expect(r.output.equals(SSE)).toBe(true);
        }
      }
    }
  });

  it("cut at every byte (one split anywhere: inside the gzip header, mid-symbol, in the trailer), and one byte at a time", () => {
    const body = SSE.subarray(0, 3000);
    for (const c of [
      gzipWithFields(body, { extra: Buffer.from("ab"), name: "x.json", comment: "hi", headerCrc: true }),
      compress("deflate", body),
      compress("deflate-raw", body, { level: 0 }),
    ]) {
      const wrap = c[0] === 0x1f ? Wrap.Gzip : Wrap.Deflate;
      for (let at = 1; at < c.length; at++) {
        const r = probe.inflate(wrap, c, [at]);
        expect(r.ok, `split at ${at}`).toBe(true);
        expect(r.output.equals(body), `split at ${at}`).toBe(true);
      }
      const bytewise = probe.inflate(wrap, c, Array(c.length).fill(1));
      expect(bytewise.ok && bytewise.output.equals(body)).toBe(true);
    }
  });

  it("gzip header fields (FEXTRA, FNAME, FCOMMENT, FHCRC) in every combination, and several members", () => {
    const body = Buffer.from('{"usage":{"prompt_tokens":1}}');
    for (let m = 0; m < 16; m++) {
      const c = gzipWithFields(body, {
        extra: m & 1 ? Buffer.alloc(70000 & 0xffff, 1) : undefined,
        name: m & 2 ? "n" : undefined,
        comment: m & 4 ? "" : undefined,
        headerCrc: (m & 8) !== 0,
      });
      expect(probe.inflate(Wrap.Gzip, c, [5, 11, 3]).output.equals(body), `flags ${m}`).toBe(true);
    }
    const bad = gzipWithFields(body, { name: "n", headerCrc: true });
    bad[bad.indexOf(0) + 1] ^= 1; // the header CRC
    expect(probe.inflate(Wrap.Gzip, bad).ok).toBe(false);
    const members = Buffer.concat([compress("gzip", body), compress("gzip", Buffer.alloc(0)), compress("gzip", SSE, { level: 0 })]);
    const r = probe.inflate(Wrap.Gzip, members, [25, 1, 1, 30]);
    expect(r.ok).toBe(true);
    expect(r.output.equals(Buffer.concat([body, SSE]))).toBe(true);
  });

  it("an empty body is no error; a stored block and a dynamic block across the 32 KiB window", () => {
    expect(probe.inflate(Wrap.Gzip, Buffer.alloc(0))).toEqual({ ok: true, output: Buffer.alloc(0) });
    const rand = prng(7);
    const big = Buffer.concat([randomBody(rand, 200000), SSE, randomBody(rand, 200000), SSE]);
    for (const level of [0, 9]) {
      const c = compress("gzip", big, { level });
      const r = probe.inflate(Wrap.Gzip, c, [1, 2, 3, 40000, 7]);
      expect(r.ok && r.output.equals(big)).toBe(true);
    }
  });
});

describe("inflate: broken input is refused, never trapped on", () => {
  it("every truncation of a gzip, zlib and raw stream is refused", () => {
    for (const [c, wrap] of [
      [compress("gzip", SSE.subarray(0, 500)), Wrap.Gzip],
      [compress("deflate", SSE.subarray(0, 500)), Wrap.Deflate],
      [compress("deflate-raw", SSE.subarray(0, 500)), Wrap.Deflate],
    ] as const) {
      for (let n = 1; n < c.length; n++) expect(probe.inflate(wrap, c.subarray(0, n)).ok, `${n}/${c.length}`).toBe(false);
    }
  });

  it("bad check values, a bad block type, trailing bytes, a distance before the start, a preset dictionary", () => {
    const g = compress("gzip", SSE);
    const crc = Buffer.from(g);
    crc[g.length - 6] ^= 0x10;
    expect(probe.inflate(Wrap.Gzip, crc).ok).toBe(false);
    const size = Buffer.from(g);
    size[g.length - 2] ^= 1;
    expect(probe.inflate(Wrap.Gzip, size).ok).toBe(false);
    const z = compress("deflate", SSE);
    const adler = Buffer.from(z);
    adler[z.length - 1] ^= 1;
    expect(probe.inflate(Wrap.Deflate, adler).ok).toBe(false);
    expect(probe.inflate(Wrap.Deflate, Buffer.concat([z, Buffer.from([0])])).ok).toBe(false);
    expect(probe.inflate(Wrap.Gzip, Buffer.concat([g, Buffer.from("x")])).ok).toBe(false);
    expect(probe.inflate(Wrap.Deflate, Buffer.from([0x07, 0x00])).ok).toBe(false); // block type 3
    // A fixed block whose first symbol is a match (length 3, distance 1) with no output before.
    expect(probe.inflate(Wrap.Deflate, Buffer.from([0x03, 0x02, 0x00, 0x00])).ok).toBe(false);
    expect(probe.inflate(Wrap.Deflate, Buffer.from([0x78, 0xbb, 0, 0, 0, 1, 0x03, 0x00])).ok).toBe(false); // FDICT
  });

  it("a compression bomb stops at the output cap (64 MiB) as a failed stream", () => {
    const bomb = compress("gzip", Buffer.alloc(70 << 20), { level: 9 });
    const r = probe.inflate(Wrap.Gzip, bomb, [], false);
    expect(r.ok).toBe(false);
    expect(probe.inflatedBytes).toBeLessThanOrEqual(64 << 20);
    expect(probe.inflatedBytes).toBeGreaterThan(60 << 20);
  });

  it(
    `fuzz against node:zlib: ${CASES} rounds of round trip + truncation + bit flips + garbage`,
    () => {
      const seed = Number(process.env.INFLATE_FUZZ_SEED ?? 20261207);
      const r = fuzzInflater(probe, seed, CASES);
      expect(r.failures).toEqual([]);
      expect(r.roundTrips).toBe(CASES);
      expect(r.multiMember + r.headerFields).toBeGreaterThan(0);
      // Accepted flips (raw deflate has no check value; a gzip header's MTIME/OS bytes are free)
      // were checked above to read exactly what node:zlib reads.
      console.log(`inflate fuzz: ${JSON.stringify({ ...r, failures: r.failures.length })}`);
    },
    Math.max(60_000, CASES * 10),
  );
});
