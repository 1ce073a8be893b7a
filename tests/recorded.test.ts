// Recorded traffic (tests/testdata/<shape>/, format in tests/testdata/README.md): every real
// exchange taken from a provider's SDK repository or documentation, replayed through the
// TypeScript host (whole, and split at every byte when the body is under 4 KiB; and gzip'd and
// deflated, split inside the header) and through
// real Envoy at both pinned versions (the body in several TCP writes). The filter must publish
// exactly the model and numbers the recorded usage states, and pass both bodies unchanged.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sidecar, type Sidecar } from "./helpers/sidecar";
import { compress } from "./helpers/compressed";
import { snap, STATE, TOKEN_STATE, cut } from "./helpers/harness";
import { ScriptedUpstream } from "./helpers/scripted-upstream";
import { ENVOYS, accessLogsAfter, send, startProxy, type ProxyUnderTest } from "./helpers/envoy";
import {
  EXPECTED_KEYS,
  authority,
  recordedCases,
  requestHeaders,
  responseHeaders,
  type RecordedCase,
  type RecordedExpected,
} from "./helpers/recorded";

const CASES = recordedCases();
const SPLIT_EVERY_BYTE_BELOW = 4096;

type Published = Record<string, string | number | undefined>;

/** The expected values as the filter would publish them (absent keys: nothing published). */
function want(e: RecordedExpected, keys: readonly string[] = EXPECTED_KEYS): Published {
  const out: Published = { model: e.model ?? undefined };
  for (const k of keys) out[k] = e[k as keyof RecordedExpected] as number | undefined;
  return out;
}

/** From the host's filter state: the answering model (else the request's) and the counts. */
function fromFilterState(fs: Record<string, string>): Published {
  const out: Published = { model: fs[STATE + "response_model"] ?? fs[STATE + "request_model"] };
  for (const k of EXPECTED_KEYS) {
    const v = fs[STATE + (k === "audioSeconds" ? "request_audio_seconds" : TOKEN_STATE[k])];
    out[k] = v === undefined ? undefined : Number(v);
  }
  return out;
}

function exchange(c: RecordedCase, body: Uint8Array[]) {
  return {
    request: {
      method: c.exchange.request.method,
      path: c.exchange.request.path,
      authority: authority(c),
      headers: requestHeaders(c),
      body: c.requestBody,
    },
    response: { status: c.exchange.response.status, headers: responseHeaders(c), body },
  };
}

describe("recorded exchanges through the TypeScript host", () => {
  let s: Sidecar;
  beforeAll(async () => {
    s = await sidecar();
  });

  it("there are recordings of every kind the test needs (JSON and SSE, several shapes)", () => {
    const shapes = new Set(CASES.map((c) => c.shape));
    expect(shapes.size).toBeGreaterThanOrEqual(3);
    expect(CASES.some((c) => (c.exchange.response.headers["content-type"] ?? "").includes("event-stream"))).toBe(true);
    expect(CASES.some((c) => c.expected.prompt !== undefined)).toBe(true);
  });

  for (const c of CASES) {
    it(`${c.shape}/${c.name}: the recorded usage, whole and split at every byte`, () => {
      const whole = snap(s, exchange(c, [c.responseBody]));
      expect(whole.failed, whole.trap).toBe(false);
      expect(fromFilterState(whole.filterState)).toEqual(want(c.expected));
      expect(whole.downstreamBody).toBe(Buffer.from(c.responseBody).toString("latin1"));
      expect(whole.upstreamBody).toBe(Buffer.from(c.requestBody).toString("latin1"));
      if (c.responseBody.length >= SPLIT_EVERY_BYTE_BELOW) return;
      for (let at = 1; at < c.responseBody.length; at++) {
        const r = snap(s, exchange(c, cut(c.responseBody, [at])));
        expect([at, fromFilterState(r.filterState)]).toEqual([at, want(c.expected)]);
      }
    });

    it(`${c.shape}/${c.name}: gzip'd and deflated as providers send it, the same usage`, () => {
      for (const encoding of ["gzip", "deflate"] as const) {
        const sent = compress(encoding, c.responseBody);
        const headers: [string, string][] = [...responseHeaders(c), ["content-encoding", encoding]];
        // whole, and cut inside the gzip/zlib header and at a few places in the stream
        for (const cuts of [[], [1, 5, Math.floor(sent.length / 2)], [3, 11, 17, 29].filter((n) => n < sent.length)]) {
          const ex = exchange(c, cut(sent, cuts));
          const r = snap(s, { ...ex, response: { ...ex.response, headers } });
          expect(r.failed, r.trap).toBe(false);
          expect([encoding, cuts, fromFilterState(r.filterState)]).toEqual([encoding, cuts, want(c.expected)]);
          expect(r.downstreamBody).toBe(sent.toString("latin1"));
        }
      }
    });
  }
});

// The access log prints no cache-write count or audio seconds (manifests/mesh-config.yaml), so
// Envoy is checked on the rest.
const LOGGED = ["prompt", "completion", "cached", "reasoning"] as const;
const LOG_FIELD = {
  prompt: "request_prompt_tokens",
  completion: "request_completion_tokens",
  cached: "request_cached_tokens",
  reasoning: "request_reasoning_tokens",
} as const;

function fromAccessLog(line: Record<string, unknown>): Published {
  const v = (k: string) => (line[k] === null || line[k] === undefined || line[k] === "-" ? undefined : line[k]);
  const out: Published = { model: (v("response_model") ?? v("request_model")) as string | undefined };
  for (const k of LOGGED) out[k] = v(LOG_FIELD[k]) === undefined ? undefined : Number(v(LOG_FIELD[k]));
  return out;
}

describe("recorded exchanges through real Envoy", () => {
  let upstream: ScriptedUpstream;
  const proxies: ProxyUnderTest[] = [];
  let current: RecordedCase | undefined;

  beforeAll(async () => {
    upstream = await new ScriptedUpstream(() => {
      const body = current!.responseBody;
      const n = body.length;
      return {
        status: current!.exchange.response.status,
        headers: responseHeaders(current!),
        // three TCP writes at uneven offsets, so events and documents cross Envoy's body callbacks
        pieces: cut(body, [Math.floor(n / 7), Math.floor((n * 3) / 5)]).filter((p) => p.length > 0),
        gapMs: 2,
      };
    }).listen();
    for (const which of ENVOYS) proxies.push(await startProxy(which, { upstream: new URL(upstream.url) }));
  });

  afterAll(async () => {
    for (const p of proxies) await p.close();
    await upstream?.close();
  });

  it(`${CASES.length} recorded exchanges: the recorded usage in the access log, bodies unchanged`, async () => {
    for (const p of proxies) {
      for (const [index, c] of CASES.entries()) {
        current = c;
        const res = await send(p.proxyUrl, {
          method: c.exchange.request.method,
          authority: authority(c),
          path: c.exchange.request.path,
          headers: Object.fromEntries(requestHeaders(c)),
          body: [c.requestBody],
        });
        const what = `${p.name}: ${c.shape}/${c.name}`;
        expect(res.status, what).toBe(c.exchange.response.status);
        expect(res.body.toString("latin1"), what).toBe(Buffer.from(c.responseBody).toString("latin1"));
        expect(upstream.received.at(-1)!.body.toString("latin1"), what).toBe(Buffer.from(c.requestBody).toString("latin1"));
        const log = (await accessLogsAfter(p, index + 1))[index];
        expect(fromAccessLog(log), what).toEqual(want(c.expected, LOGGED));
      }
    }
  });
});
