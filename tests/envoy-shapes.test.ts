// Every supported API shape, JSON and SSE, through real Envoy (both pinned versions) and the
// TypeScript host: realistic generated exchanges (tests/helpers/gen.ts, fixed seed) whose
// response bodies reach the sidecar in several TCP writes, so that Envoy's body callbacks see
// SSE events and JSON split at arbitrary bytes. Each answer is checked against the reference
// model, and the three proxies must agree on every byte and every number.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { positions, stratifiedCases, type Case } from "./helpers/gen";
import { cut } from "./helpers/harness";
import { expected } from "./helpers/reference";
import { ScriptedUpstream } from "./helpers/scripted-upstream";
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
const CASES = stratifiedCases(20261202, 12);

let upstream: ScriptedUpstream;
const proxies: ProxyUnderTest[] = [];
let current: { c: Case; pieces: Uint8Array[] } | undefined;

beforeAll(async () => {
  upstream = await new ScriptedUpstream(() => ({
    status: current!.c.status,
    headers: current!.c.responseHeaders,
    pieces: current!.pieces,
    gapMs: 2,
  })).listen();
  for (const which of [...ENVOYS, "node"]) proxies.push(await startProxy(which, { upstream: new URL(upstream.url) }));
});

afterAll(async () => {
  for (const p of proxies) await p.close();
  await upstream?.close();
});

const num = (v: unknown) => (v === null || v === undefined || v === "-" ? undefined : Number(v));

describe("API shapes through Envoy and the TypeScript host", () => {
  it(`${CASES.length} generated exchanges, responses split across TCP writes: right numbers, same bytes, same state`, async () => {
    const apis = new Set<string>();
    for (const [index, [c, fractions]] of CASES.entries()) {
      current = { c, pieces: cut(c.response, positions(fractions, c.response.length)).filter((p) => p.length > 0) };
      const results = [];
      for (const p of proxies) {
        const res = await send(p.proxyUrl, {
          authority: AUTHORITY[c.api],
          path: c.path,
          headers: Object.fromEntries(c.requestHeaders),
          body: cut(c.request, [c.request.length >> 1]),
        });
        const up = upstream.received.at(-1)!;
        const log = (await accessLogsAfter(p, index + 1))[index];
        results.push({
          name: p.name,
          status: res.status,
          body: res.body.toString("latin1"),
          upstreamPath: up.path,
          upstreamBody: up.body.toString("latin1"),
          state: filterState(log),
        });
      }
      const what = `case ${index} (${c.api}, ${c.responseHeaders[0]?.[1]})`;
      // Observe-only: both directions pass unchanged.
      expect(results[0].status, what).toBe(c.status);
      expect(results[0].body, what).toBe(Buffer.from(c.response).toString("latin1"));
      expect(results[0].upstreamBody, what).toBe(Buffer.from(c.request).toString("latin1"));
      // The reference model's numbers, where the input is valid.
      const exp = expected(c.shape, c.request, { status: c.status, headers: c.responseHeaders, body: c.response }, c.path);
      if (exp.exact) {
        expect(num(results[0].state.request_prompt_tokens), what).toBe(exp.tokens.prompt);
        expect(num(results[0].state.request_completion_tokens), what).toBe(exp.tokens.completion);
        expect(num(results[0].state.request_total_tokens), what).toBe(exp.tokens.total);
        expect(num(results[0].state.request_cached_tokens), what).toBe(exp.tokens.cached);
        expect(num(results[0].state.request_reasoning_tokens), what).toBe(exp.tokens.reasoning);
      }
      for (const r of results.slice(1))
        expect({ ...r, name: "" }, `${what}: ${r.name} vs ${results[0].name}`).toEqual({ ...results[0], name: "" });
      const ct = c.responseHeaders[0]?.[1] ?? "";
      apis.add(`${c.api}/${ct.includes("event-stream") ? "sse" : ct.includes("ndjson") ? "ndjson" : "json"}`);
    }
    // The sample covers every shape, streamed and not.
    expect([...apis].sort()).toEqual(
      expect.arrayContaining([
        "anthropic/json",
        "anthropic/sse",
        "dashscope/json",
        "dashscope/sse",
        "openai/json",
        "openai/sse",
        "embeddings/json",
        "responses/json",
        "responses/sse",
        "gemini/json",
        "gemini/sse",
        "bedrock-converse/json",
        "dashscope-apps/json",
        "cohere/json",
        "cohere/sse",
        "ollama/json",
        "ollama/ndjson",
        "tgi/json",
        "tgi/sse",
        "vertex-anthropic/json",
        "vertex-anthropic/sse",
        "gemini-embed/json",
        "openai-images/json",
        "openai-images/sse",
        "openai-audio/json",
        "openai-audio/sse",
      ]),
    );
    const reference = await llmproxyLines(proxies[0]);
    expect(reference.some((l) => l.startsWith("asm_llm_proxy_prompt_tokens{"))).toBe(true);
    for (const p of proxies.slice(1)) expect(await llmproxyLines(p), p.name).toEqual(reference);
  });
});
