// Errors and finish reasons in real Envoy (both pinned versions) and the TypeScript host:
// provider error answers of every API shape (tests/helpers/provider-errors.ts) each add one to
// asm_llm_proxy_errors with the right llmproxy_error_type, finish reasons of every shape to
// asm_llm_proxy_finish_reasons with the right llmproxy_finish_reason, and nothing else; a
// client that goes away mid-stream is client_cancel (Envoy's DC response flag). Bodies reach
// the sidecar split across TCP writes; the client gets every byte unchanged.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cut } from "./helpers/harness";
import { ScriptedUpstream, type ScriptedResponse } from "./helpers/scripted-upstream";
import { ENVOYS, send, startProxy, type ProxyUnderTest } from "./helpers/envoy";
import { scrape } from "./helpers/local";
import { ERROR_CASES, FINISH_CASES, type ClassifiedCase } from "./helpers/provider-errors";
import { openaiSse, SSE_HEADERS } from "./helpers/bodies";

let upstream: ScriptedUpstream;
const proxies: ProxyUnderTest[] = [];
let answer: () => ScriptedResponse;

beforeAll(async () => {
  upstream = await new ScriptedUpstream(() => answer()).listen();
  for (const which of [...ENVOYS, "node"]) proxies.push(await startProxy(which, { upstream: new URL(upstream.url), pluginConfig: "{}" }));
});

afterAll(async () => {
  for (const p of proxies) await p.close();
  await upstream?.close();
});

/** Sums of a counter by one tag, over every series. */
async function byTag(p: ProxyUnderTest, name: string, tag: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const s of await scrape(p.adminUrl)) if (s.name === name) out[s.labels[tag]] = (out[s.labels[tag]] ?? 0) + s.value;
  return out;
}

function delta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (v !== (before[k] ?? 0)) out[k] = v - (before[k] ?? 0);
  return out;
}

async function settled(p: ProxyUnderTest, name: string, tag: string, want: Record<string, number>, before: Record<string, number>) {
  // The access log (and so the counter) may trail the response by a moment.
  const deadline = Date.now() + 3000;
  for (;;) {
    const got = delta(before, await byTag(p, name, tag));
    if (JSON.stringify(got) === JSON.stringify(want) || Date.now() > deadline) return got;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function run(c: ClassifiedCase) {
  const body = Buffer.from(c.response, "latin1");
  const third = Math.max(1, Math.floor(body.length / 3));
  answer = () => ({ status: c.status, headers: c.responseHeaders, pieces: cut(body, [third, 2 * third]), gapMs: 2 });
  for (const p of proxies) {
    const errors = await byTag(p, "asm_llm_proxy_errors", "llmproxy_error_type");
    const finishes = await byTag(p, "asm_llm_proxy_finish_reasons", "llmproxy_finish_reason");
    const res = await send(p.proxyUrl, {
      authority: c.authority,
      path: c.path,
      headers: { "content-type": "application/json" },
      body: [c.request],
    });
    expect(res.status, `${p.name}: ${c.name}`).toBe(c.status);
    expect(res.body.toString("latin1"), `${p.name}: ${c.name}`).toBe(c.response);
    const wantErrors = c.error ? { [c.error]: 1 } : {};
    const wantFinish = c.finish ? { [c.finish]: 1 } : {};
    expect(await settled(p, "asm_llm_proxy_errors", "llmproxy_error_type", wantErrors, errors), `${p.name}: ${c.name}`).toEqual(wantErrors);
    expect(
      await settled(p, "asm_llm_proxy_finish_reasons", "llmproxy_finish_reason", wantFinish, finishes),
      `${p.name}: ${c.name}`,
    ).toEqual(wantFinish);
  }
}

describe("errors and finish reasons through Envoy and the TypeScript host", () => {
  it(`${ERROR_CASES.length} provider error answers of every shape: one asm_llm_proxy_errors each, by class`, async () => {
    for (const c of ERROR_CASES) await run(c);
  });

  it(`${FINISH_CASES.length} finished responses of every shape: one asm_llm_proxy_finish_reasons each, normalised`, async () => {
    for (const c of FINISH_CASES) await run(c);
  });

  it("a client that goes away mid-stream: client_cancel (Envoy's DC flag), no finish reason", async () => {
    const stream = openaiSse("gpt-4o", { prompt: 3, completion: 4 }, { words: 40 });
    answer = () => ({ status: 200, headers: SSE_HEADERS, pieces: cut(Buffer.from(stream), [300, 600, 900, 1200, 1500]), gapMs: 150 });
    for (const p of proxies) {
      const errors = await byTag(p, "asm_llm_proxy_errors", "llmproxy_error_type");
      const finishes = await byTag(p, "asm_llm_proxy_finish_reasons", "llmproxy_finish_reason");
      const res = await send(p.proxyUrl, {
        authority: "api.openai.com",
        path: "/v1/chat/completions",
        headers: { "content-type": "application/json" },
        body: [JSON.stringify({ model: "gpt-4o", stream: true, messages: [] })],
        abortAfterBytes: 200,
      });
      expect(res.aborted, p.name).toBe(true);
      expect(await settled(p, "asm_llm_proxy_errors", "llmproxy_error_type", { client_cancel: 1 }, errors), p.name).toEqual({
        client_cancel: 1,
      });
      expect(delta(finishes, await byTag(p, "asm_llm_proxy_finish_reasons", "llmproxy_finish_reason")), p.name).toEqual({});
    }
  });
});
