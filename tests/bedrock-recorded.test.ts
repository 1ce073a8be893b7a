// Recorded Bedrock exchanges (tests/testdata/bedrock-converse/, bedrock-invoke/; format in
// issue 19 and tests/testdata/README.md once merged) through the host: Converse JSON,
// ConverseStream event streams, InvokeModel JSON with the token-count headers and
// InvokeModelWithResponseStream event streams, as Bedrock sent them (nock recordings of
// Arize-ai/openinference's Bedrock instrumentation tests). Each must publish exactly the
// recorded usage (the expected file), agree with the reference model, keep both bodies
// unchanged, and give the same split at every byte (small bodies) or at random places.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { sidecar, type Sidecar } from "./helpers/sidecar";
import { checkAgainstReference, cut, snap, STATE, TOKEN_STATE } from "./helpers/harness";
import type { Shape } from "./helpers/reference";

const ROOT = join(__dirname, "testdata");
const SHAPES: Shape[] = ["bedrock-converse", "bedrock-invoke"];
const SPLIT_EVERY_BYTE_BELOW = 4096;
const KEYS = ["prompt", "completion", "cached", "cacheWrite", "reasoning"] as const;

interface Recorded {
  shape: Shape;
  name: string;
  exchange: {
    source: Record<string, string>;
    request: { method: string; path: string; headers: Record<string, string>; body: string };
    response: { status: number; headers: Record<string, string>; body?: string; bodyBase64?: string };
  };
  expected: Record<string, string | number>;
  body: Buffer;
}

function load(): Recorded[] {
  const out: Recorded[] = [];
  for (const shape of SHAPES) {
    for (const f of readdirSync(join(ROOT, shape))
      .filter((n) => n.endsWith(".exchange.json"))
      .sort()) {
      const name = f.slice(0, -".exchange.json".length);
      const exchange = JSON.parse(readFileSync(join(ROOT, shape, f), "utf8"));
      const expected = JSON.parse(readFileSync(join(ROOT, shape, `${name}.expected.json`), "utf8"));
      const r = exchange.response;
      const body = r.bodyBase64 !== undefined ? Buffer.from(r.bodyBase64, "base64") : Buffer.from(r.body, "utf8");
      out.push({ shape, name, exchange, expected, body });
    }
  }
  return out;
}

const CASES = load();

function ex(c: Recorded, chunks: Uint8Array[]) {
  const rq = c.exchange.request;
  const headers = Object.entries(rq.headers).filter(([k]) => k !== "host") as [string, string][];
  return {
    request: { method: rq.method, path: rq.path, authority: rq.headers.host, headers, body: rq.body },
    response: {
      status: c.exchange.response.status,
      headers: Object.entries(c.exchange.response.headers) as [string, string][],
      body: chunks,
    },
  };
}

function published(fs: Record<string, string>) {
  const out: Record<string, string | number | undefined> = { model: fs[STATE + "response_model"] ?? fs[STATE + "request_model"] };
  for (const k of KEYS) out[k] = fs[STATE + TOKEN_STATE[k]] === undefined ? undefined : Number(fs[STATE + TOKEN_STATE[k]]);
  return out;
}

function wanted(e: Record<string, string | number>) {
  const out: Record<string, string | number | undefined> = { model: e.model };
  for (const k of KEYS) out[k] = e[k];
  return out;
}

describe("recorded Bedrock exchanges", () => {
  let s: Sidecar;
  beforeAll(async () => {
    s = await sidecar();
  });

  it("every Bedrock kind is recorded at least 3 times, each naming its source", () => {
    const kinds = new Map<string, number>();
    for (const c of CASES) {
      const kind = c.exchange.request.path.split("/").pop()!;
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      const src = c.exchange.source;
      expect(src.repository ?? src.url).toBeTruthy();
      expect(src.path && (src.commit ?? src.date) && src.licence).toBeTruthy();
    }
    for (const kind of ["converse", "converse-stream", "invoke", "invoke-with-response-stream"])
      expect(kinds.get(kind) ?? 0).toBeGreaterThanOrEqual(3);
  });

  for (const c of CASES) {
    it(`${c.shape}/${c.name}`, () => {
      const whole = snap(s, ex(c, [c.body]));
      expect(whole.failed, whole.trap).toBe(false);
      expect(published(whole.filterState)).toEqual(wanted(c.expected));
      const response = {
        status: c.exchange.response.status,
        headers: Object.entries(c.exchange.response.headers) as [string, string][],
        body: c.body,
      };
      expect(checkAgainstReference(whole, c.shape, Buffer.from(c.exchange.request.body), response, c.exchange.request.path)).toEqual([]);
      expect(whole.downstreamBody).toBe(c.body.toString("latin1"));
      expect(whole.upstreamBody).toBe(Buffer.from(c.exchange.request.body).toString("latin1"));
      const want = published(whole.filterState);
      if (c.body.length < SPLIT_EVERY_BYTE_BELOW) {
        for (let at = 1; at < c.body.length; at++)
          expect([at, published(snap(s, ex(c, cut(c.body, [at]))).filterState)]).toEqual([at, want]);
      } else {
        // larger bodies: every 13th byte, and in 1..40-byte pieces
        for (let at = 1; at < c.body.length; at += 13)
          expect([at, published(snap(s, ex(c, cut(c.body, [at]))).filterState)]).toEqual([at, want]);
        const cuts: number[] = [];
        for (let at = 0, k = 1; at < c.body.length; at += ((k * 7) % 40) + 1, k++) cuts.push(at);
        expect(published(snap(s, ex(c, cut(c.body, cuts))).filterState)).toEqual(want);
      }
    });
  }
});
