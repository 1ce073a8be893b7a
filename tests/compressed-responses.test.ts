// Compressed responses in the TypeScript host: for every API shape, a gzip'd, zlib-deflated or
// raw-deflated answer cut anywhere (inside the gzip header too) publishes exactly the filter
// state and counters of the same answer in identity, and the client receives the compressed
// bytes as the upstream sent them. accept-encoding on LLM calls: narrowed (default), kept, or
// identity, as `acceptEncoding` says.
import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { configure, sidecar, type Sidecar } from "./helpers/sidecar";
import { byApi, cuts, positions, type Case } from "./helpers/gen";
import { cut, snap, STATE } from "./helpers/harness";
import { compress, type Encoding } from "./helpers/compressed";
import { openaiJson, JSON_HEADERS } from "./helpers/bodies";
import type { Exchange } from "../host";

const RUNS = Number(process.env.PROPERTY_RUNS ?? 60);
const ENCODINGS: Encoding[] = ["gzip", "deflate", "deflate-raw"];

function exchange(c: Case, responseHeaders: [string, string][], body: Uint8Array[]): Exchange {
  return {
    request: { method: "POST", path: c.path, authority: "api.example.com", headers: c.requestHeaders, body: [c.request] },
    response: { status: c.status, headers: responseHeaders, body },
  };
}

describe("compressed responses are counted as their identity form", () => {
  let s: Sidecar;
  beforeAll(async () => {
    s = await sidecar();
  });

  for (const [api, arb] of Object.entries(byApi)) {
    it(`${api}: gzip / deflate (zlib and raw), any level, any split = identity`, () => {
      fc.assert(
        fc.property(arb, fc.constantFrom(...ENCODINGS), fc.integer({ min: 0, max: 9 }), cuts, (c, encoding, level, rs) => {
          const identity = snap(s, exchange(c, c.responseHeaders, [c.response]));
          const body = compress(encoding, c.response, { level });
          const headers: [string, string][] = [...c.responseHeaders, ["content-encoding", encoding === "gzip" ? "gzip" : "deflate"]];
          // A split in the first ten bytes lands inside the gzip header (or the zlib header).
          const at = [...positions(rs, body.length), Math.min(body.length, 1 + (rs.length % 9))];
          const compressed = snap(s, exchange(c, headers, cut(body, at)));
          expect(compressed.failed, compressed.trap).toBe(false);
          expect(compressed.filterState).toEqual(identity.filterState);
          expect(compressed.counters).toEqual(identity.counters);
          expect(Buffer.from(compressed.downstreamBody, "latin1").equals(body)).toBe(true);
        }),
        { numRuns: RUNS },
      );
    });
  }

  it("bit-flipped gzip and zlib answers through the VM: no trap, bytes passed on, counted as identity or refused (malformed)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...Object.values(byApi)).chain((a) => a),
        fc.constantFrom<Encoding>("gzip", "deflate"),
        fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 3 }),
        cuts,
        (c, encoding, flips, rs) => {
          const identity = snap(s, exchange(c, c.responseHeaders, [c.response]));
          const body = compress(encoding, c.response);
          for (const [f, bit] of flips) body[Math.floor(f * body.length) % body.length] ^= 1 << bit;
          const r = snap(s, exchange(c, [...c.responseHeaders, ["content-encoding", encoding]], cut(body, positions(rs, body.length))));
          expect(r.failed, r.trap).toBe(false);
          expect(Buffer.from(r.downstreamBody, "latin1").equals(body)).toBe(true);
          if (r.filterState[STATE + "usage_skipped"] !== "malformed") expect(r.filterState).toEqual(identity.filterState);
        },
      ),
      { numRuns: RUNS * 4 },
    );
  });

  it("a response that inflates past the cap, or is cut short, publishes nothing: malformed", async () => {
    const usage = openaiJson("gpt-4o-mini", { prompt: 3, completion: 4 });
    const gz = compress("gzip", Buffer.from(usage));
    const t = snap(s, {
      request: {
        method: "POST",
        path: "/v1/chat/completions",
        authority: "api.openai.com",
        headers: JSON_HEADERS,
        body: ['{"model":"m"}'],
      },
      response: { status: 200, headers: [...JSON_HEADERS, ["content-encoding", "gzip"]], body: [gz.subarray(0, gz.length - 3)] },
    });
    expect(t.filterState[STATE + "usage_skipped"]).toBe("malformed");
    expect(t.filterState[STATE + "request_prompt_tokens"]).toBeUndefined();
    // 64 MiB of blanks and then the usage: inflated up to the cap, then refused.
    const bomb = compress("gzip", Buffer.concat([Buffer.alloc(65 << 20, 0x20), Buffer.from(usage)]), { level: 9 });
    const b = snap(s, {
      request: {
        method: "POST",
        path: "/v1/chat/completions",
        authority: "api.openai.com",
        headers: JSON_HEADERS,
        body: ['{"model":"m"}'],
      },
      response: { status: 200, headers: [...JSON_HEADERS, ["content-encoding", "gzip"]], body: [bomb] },
    });
    expect(b.failed).toBe(false);
    expect(b.filterState[STATE + "usage_skipped"]).toBe("malformed");
    expect(b.filterState[STATE + "request_prompt_tokens"]).toBeUndefined();
  });
});

describe("accept-encoding on an LLM call", () => {
  const request = (acceptEncoding: string | null, path = "/v1/chat/completions") => ({
    method: "POST",
    path,
    authority: "api.openai.com",
    headers: [...JSON_HEADERS, ...(acceptEncoding === null ? [] : [["accept-encoding", acceptEncoding] as [string, string]])],
    body: ['{"model":"gpt-4o-mini","messages":[]}'],
  });
  const ok = { status: 200, headers: JSON_HEADERS, body: [openaiJson("gpt-4o-mini", { prompt: 1, completion: 2 })] };
  const sentEncoding = (s: Sidecar, ae: string | null, path?: string) =>
    new Map(s.call({ request: request(ae, path), response: ok }).upstreamRequest!.headers).get("accept-encoding");

  it("narrow (the default): only what the filter reads, q-values and exclusions kept, identity when nothing is left", async () => {
    const s = await sidecar();
    const cases: [string | null, string | undefined][] = [
      ["gzip, deflate, br, zstd", "gzip, deflate"], // Python httpx with brotli and zstandard installed
      ["gzip, deflate", "gzip, deflate"], // Node fetch, httpx: unchanged
      ["br", "identity"],
      ["br;q=1.0, gzip;q=0.8, *;q=0.1", "gzip;q=0.8, deflate;q=0.1"],
      ["*", "gzip, deflate"],
      ["gzip;q=0, br", "identity"],
      ["identity", "identity"],
      ["GZIP, BR", "GZIP"],
      ["br, identity, *;q=0", "identity, *;q=0"],
      [null, undefined], // none sent: none added
    ];
    for (const [ae, want] of cases) expect(sentEncoding(s, ae), String(ae)).toBe(want);
    // Not an LLM call: untouched.
    expect(sentEncoding(s, "gzip, br", "/v1/files")).toBe("gzip, br");
  });

  it("keep never touches the request; identity asks for identity; a bad value is refused naming the field", async () => {
    const keep = await sidecar({ pluginConfig: { acceptEncoding: "keep" } });
    expect(sentEncoding(keep, "gzip, deflate, br")).toBe("gzip, deflate, br");
    const identity = await sidecar({ pluginConfig: { acceptEncoding: "identity" } });
    expect(sentEncoding(identity, "gzip, deflate, br")).toBe("identity");
    expect(sentEncoding(identity, null)).toBe("identity");
    const bad = await configure({ acceptEncoding: "gzip" });
    expect(bad.ok).toBe(false);
    expect(bad.logs.join("\n")).toContain("acceptEncoding: expected one of narrow, keep, identity, got 'gzip'");
  });
});
