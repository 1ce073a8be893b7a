// Compressed answers through real Envoy (both pinned versions) and the TypeScript host,
// observe-only: every API shape's JSON and SSE answer in gzip, zlib-deflate and raw deflate,
// written in several TCP pieces (the first cut inside the gzip or zlib header), is counted
// exactly as its identity form, and the client receives the upstream's bytes unchanged. A
// client asking for `gzip, deflate, br` of an upstream that prefers brotli gets gzip (the
// filter narrowed accept-encoding) and is counted; with acceptEncoding `keep` the request is
// untouched and the brotli answer is counted as `compressed`.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import zlib from "node:zlib";
import { positions, stratifiedCases, type Case } from "./helpers/gen";
import { cut } from "./helpers/harness";
import { compress, type Encoding } from "./helpers/compressed";
import { openaiSse, SSE_HEADERS } from "./helpers/bodies";
import { ScriptedUpstream, type ReceivedRequest, type ScriptedResponse } from "./helpers/scripted-upstream";
import {
  ENVOYS,
  OBSERVED_AUTHORITY as AUTHORITY,
  accessLogsAfter,
  filterState,
  llmproxyLines,
  send,
  startProxy,
  type ProxyUnderTest,
} from "./helpers/envoy";

// Stratified: a fixed number of cases from each shape's generator.
const CASES = stratifiedCases(20261207, 3);
const ENCODINGS: (Encoding | "identity")[] = ["identity", "gzip", "deflate", "deflate-raw"];

let upstream: ScriptedUpstream;
let answer: (req: ReceivedRequest) => ScriptedResponse = () => ({ status: 500, headers: [], pieces: [] });
const observe: ProxyUnderTest[] = [];
const keep: ProxyUnderTest[] = [];
const logged = new Map<ProxyUnderTest, number>();

beforeAll(async () => {
  upstream = await new ScriptedUpstream((req) => answer(req)).listen();
  for (const which of [...ENVOYS, "node"]) {
    observe.push(await startProxy(which, { upstream: new URL(upstream.url), pluginConfig: "{}" }));
    keep.push(await startProxy(which, { upstream: new URL(upstream.url), pluginConfig: '{"acceptEncoding":"keep"}' }));
  }
});

afterAll(async () => {
  for (const p of [...observe, ...keep]) await p.close();
  await upstream?.close();
});

/** The filter state of the proxy's next access-log line. */
async function nextState(p: ProxyUnderTest): Promise<Record<string, unknown>> {
  const n = (logged.get(p) ?? 0) + 1;
  logged.set(p, n);
  return filterState((await accessLogsAfter(p, n))[n - 1]);
}

function body(c: Case, encoding: Encoding | "identity"): Buffer {
  return encoding === "identity" ? Buffer.from(c.response) : compress(encoding, c.response);
}

describe("compressed answers through Envoy and the TypeScript host (observe-only)", () => {
  it(`${CASES.length} generated exchanges x identity, gzip, deflate (zlib), deflate (raw): counted as identity, bytes unchanged`, async () => {
    const apis = new Set<string>();
    for (const [index, [c, fractions]] of CASES.entries()) {
      for (const p of observe) {
        let identity: Record<string, unknown> | undefined;
        for (const encoding of ENCODINGS) {
          const sent = body(c, encoding);
          const headers: [string, string][] =
            encoding === "identity"
              ? c.responseHeaders
              : [...c.responseHeaders, ["content-encoding", encoding === "gzip" ? "gzip" : "deflate"]];
          // The first piece ends inside the gzip (10-byte) or zlib (2-byte) header.
          const pieces = cut(sent, [1 + (index % 9), ...positions(fractions, sent.length)]).filter((x) => x.length > 0);
          answer = () => ({ status: c.status, headers, pieces, gapMs: 2 });
          const res = await send(p.proxyUrl, {
            authority: AUTHORITY[c.api],
            path: c.path,
            headers: Object.fromEntries(c.requestHeaders),
            body: [c.request],
          });
          const what = `${p.name} case ${index} (${c.api}) ${encoding}`;
          expect(res.status, what).toBe(c.status);
          expect(res.body.equals(sent), `${what}: bytes to the client`).toBe(true);
          const state = await nextState(p);
          if (encoding === "identity") identity = state;
          else expect(state, what).toEqual(identity);
        }
      }
      apis.add(`${c.api}/${c.responseHeaders[0]?.[1]?.includes("event-stream") ? "sse" : "json"}`);
    }
    expect([...apis]).toEqual(
      expect.arrayContaining(["openai/json", "openai/sse", "anthropic/sse", "gemini/sse", "responses/sse", "dashscope/sse"]),
    );
    const reference = await llmproxyLines(observe[0]);
    expect(reference.some((l) => l.startsWith("asm_llm_proxy_prompt_tokens{"))).toBe(true);
    expect(reference.filter((l) => l.includes('llmproxy_reason="compressed"'))).toEqual([]);
    for (const p of observe.slice(1)) expect(await llmproxyLines(p), p.name).toEqual(reference);
  });
});

describe("a client asking for gzip, deflate, br of an upstream that prefers brotli", () => {
  const stream = openaiSse("gpt-4o-mini", { prompt: 21, completion: 12 }, { words: 12 });
  // Like a provider: brotli when offered, else gzip, else identity.
  const negotiate = (req: ReceivedRequest): ScriptedResponse => {
    const offered = String(req.headers["accept-encoding"] ?? "");
    const [coding, bytes] = /\bbr\b/.test(offered)
      ? ["br", zlib.brotliCompressSync(stream)]
      : /\bgzip\b/.test(offered)
        ? ["gzip", zlib.gzipSync(stream)]
        : ["identity", Buffer.from(stream)];
    const pieces = cut(bytes, [3, bytes.length >> 1]).filter((x) => x.length > 0);
    return { status: 200, headers: [...SSE_HEADERS, ["content-encoding", coding]], pieces, gapMs: 2 };
  };
  const request = {
    authority: "api.openai.com",
    path: "/v1/chat/completions",
    headers: { "content-type": "application/json", "accept-encoding": "gzip, deflate, br" },
    body: ['{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[]}'],
  };

  it("narrow (default): the upstream is offered gzip, deflate, answers gzip, and the answer is counted", async () => {
    answer = negotiate;
    for (const p of observe) {
      const res = await send(p.proxyUrl, request);
      const up = upstream.received.at(-1)!;
      expect(up.headers["accept-encoding"], p.name).toBe("gzip, deflate");
      expect(res.headers["content-encoding"], p.name).toBe("gzip");
      expect(res.body.equals(zlib.gzipSync(stream)), p.name).toBe(true);
      const state = await nextState(p);
      expect([Number(state.request_prompt_tokens), Number(state.request_completion_tokens)], p.name).toEqual([21, 12]);
    }
  });

  it("keep: the request's accept-encoding is untouched; the brotli answer is passed on and counted as compressed", async () => {
    answer = negotiate;
    for (const p of keep) {
      const res = await send(p.proxyUrl, request);
      expect(upstream.received.at(-1)!.headers["accept-encoding"], p.name).toBe("gzip, deflate, br");
      expect(res.headers["content-encoding"], p.name).toBe("br");
      expect(res.body.equals(zlib.brotliCompressSync(stream)), p.name).toBe(true);
      const state = await nextState(p);
      expect([null, undefined, "-"], p.name).toContain(state.request_prompt_tokens);
      const compressed = (await llmproxyLines(p)).filter((l) => l.includes('llmproxy_reason="compressed"'));
      expect(compressed.length, p.name).toBe(1);
      expect(compressed[0].endsWith(" 1"), compressed[0]).toBe(true);
    }
  });
});
