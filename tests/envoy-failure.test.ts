// Failure behaviour in real Envoy (both pinned versions) and the TypeScript host, compared:
// a trapping module under FAIL_OPEN and FAIL_CLOSE, clients that go away mid-stream, and
// request bodies above Envoy's buffer limit, observed only and with a rewrite configured.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { openaiJson, openaiRequest, openaiSse, JSON_HEADERS, SSE_HEADERS } from "./helpers/bodies";
import { probeWasmFile } from "./host-fixtures";
import { ScriptedUpstream, type ScriptedResponse } from "./helpers/scripted-upstream";
import { ENVOYS, accessLogsAfter, filterState, llmproxyLines, send, startProxy, type ProxyUnderTest } from "./helpers/envoy";

const ALL = [...ENVOYS, "node"];
let upstream: ScriptedUpstream;
let answer: ScriptedResponse = { status: 200, headers: JSON_HEADERS, pieces: [openaiJson("gpt-4o-mini", { prompt: 7, completion: 9 })] };

beforeAll(async () => {
  upstream = await new ScriptedUpstream(() => answer).listen();
});
afterAll(async () => upstream?.close());

async function withProxies<T>(cfg: Parameters<typeof startProxy>[1], f: (p: ProxyUnderTest) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (const which of ALL) {
    const p = await startProxy(which, cfg);
    try {
      out.push(await f(p));
    } finally {
      await p.close();
    }
  }
  return out;
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex").slice(0, 16);

describe("a module that traps (the probe filter trapping in on_request_headers), one worker", () => {
  for (const failStrategy of ["FAIL_OPEN", "FAIL_CLOSE"] as const) {
    it(`${failStrategy}: the same statuses in Envoy and the TypeScript host`, async () => {
      const wasmFile = await probeWasmFile();
      answer = { status: 200, headers: JSON_HEADERS, pieces: ['{"ok":true}'] };
      const runs = await withProxies(
        { upstream: new URL(upstream.url), wasmFile, rootId: "probe", pluginConfig: "request_headers|trap", failStrategy, concurrency: 1 },
        async (p) => {
          const statuses: number[] = [];
          for (let i = 0; i < 4; i++) statuses.push((await send(p.proxyUrl, { authority: "a.example", path: "/x", body: ["{}"] })).status);
          return { name: p.name, statuses };
        },
      );
      // The stream that trapped gets a 503 in both strategies; afterwards FAIL_OPEN drops the
      // filter and FAIL_CLOSE answers 503 for every stream.
      const want = failStrategy === "FAIL_OPEN" ? [503, 200, 200, 200] : [503, 503, 503, 503];
      for (const r of runs) expect(r.statuses, r.name).toEqual(want);
    });
  }
});

describe("clients that disconnect mid-stream", () => {
  it("no trap, every stream logged, the next request counted, in every proxy", async () => {
    const sse = openaiSse("gpt-4o-mini", { prompt: 5, completion: 40 }, { words: 40 });
    const events = sse.split(/(?<=\n\n)/);
    const runs = await withProxies({ upstream: new URL(upstream.url) }, async (p) => {
      answer = { status: 200, headers: SSE_HEADERS, pieces: events, gapMs: 3 };
      for (let i = 0; i < 4; i++) {
        const r = await send(p.proxyUrl, {
          authority: "api.openai.com",
          path: "/v1/chat/completions",
          headers: { "content-type": "application/json" },
          body: [openaiRequest("gpt-4o-mini", { stream: true })],
          abortAfterBytes: 300,
        });
        expect(r.aborted).toBe(true);
      }
      answer = { status: 200, headers: JSON_HEADERS, pieces: [openaiJson("gpt-4o-mini", { prompt: 7, completion: 9 })] };
      const ok = await send(p.proxyUrl, {
        authority: "api.openai.com",
        path: "/v1/chat/completions",
        headers: { "content-type": "application/json" },
        body: [openaiRequest("gpt-4o-mini")],
      });
      expect(ok.status, p.name).toBe(200);
      const logs = await accessLogsAfter(p, 5);
      expect(filterState(logs[4]), p.name).toMatchObject({
        request_model: "gpt-4o-mini",
        request_prompt_tokens: "7",
        request_completion_tokens: "9",
      });
      // A trap would fail the VM: its error line, and 503s afterwards.
      expect(
        p.filterLines().filter((l) => /failed|trap|unreachable|abort/i.test(l)),
        p.name,
      ).toEqual([]);
      return { name: p.name, completed: (await llmproxyLines(p)).filter((l) => l.startsWith("asm_llm_proxy_completion_tokens{")) };
    });
    for (const r of runs)
      expect(
        r.completed.some((l) => l.endsWith(" 9") || / \d+$/.test(l)),
        r.name,
      ).toBe(true);
  });
});

describe("request bodies above Envoy's 1 MiB buffer limit", () => {
  const big = (n: number, model?: string) => {
    const filler = "x".repeat(n);
    return Buffer.from(openaiRequest(model, { metadata: { note: filler } }));
  };

  it("observe-only: no 413, the body reaches the upstream whole, the model is read", async () => {
    answer = { status: 200, headers: JSON_HEADERS, pieces: [openaiJson("gpt-4o-mini", { prompt: 700000, completion: 3 })] };
    const body = big(3 << 20, "gpt-4o-mini");
    const runs = await withProxies({ upstream: new URL(upstream.url) }, async (p) => {
      const r = await send(p.proxyUrl, {
        authority: "api.openai.com",
        path: "/v1/chat/completions",
        headers: { "content-type": "application/json" },
        body: [body.subarray(0, 1 << 20), body.subarray(1 << 20)],
      });
      const up = upstream.received.at(-1)!;
      const log = (await accessLogsAfter(p, 1))[0];
      return { name: p.name, status: r.status, upstreamBody: sha(up.body), state: filterState(log) };
    });
    expect(runs[0]).toMatchObject({
      status: 200,
      upstreamBody: sha(body),
      state: { request_model: "gpt-4o-mini", request_prompt_tokens: "700000" },
    });
    for (const r of runs.slice(1)) expect({ ...r, name: "" }, r.name).toEqual({ ...runs[0], name: "" });
  });

  // With a Content-Length over the bound the filter never holds the body. (Chunked bodies over
  // the bound: tests/envoy-rewrite-chunked.test.ts.)
  it("with a rewrite configured: over the rewrite bound the body goes unchanged (no 413) and is counted; under it, the default model is injected", async () => {
    answer = { status: 200, headers: JSON_HEADERS, pieces: [openaiJson("qwen-1.8b-chat", { prompt: 3, completion: 4 })] };
    const over = big(2 << 20);
    const under = big(200 << 10);
    const runs = await withProxies({ upstream: new URL(upstream.url), vmEnv: { DASHSCOPE_API_KEY: "sk-test" } }, async (p) => {
      const out = [];
      for (const body of [over, under]) {
        const r = await send(p.proxyUrl, {
          authority: "dashscope.aliyuncs.com",
          path: "/",
          headers: { "content-type": "application/json", "content-length": String(body.length) },
          body: [body],
        });
        const up = upstream.received.at(-1)!;
        out.push({
          status: r.status,
          path: up.path,
          model: (JSON.parse(up.body.toString()) as { model?: string }).model,
          same: up.body.equals(body),
        });
      }
      const skipped = (await llmproxyLines(p)).filter((l) => l.startsWith("asm_llm_proxy_rewrite_skipped"));
      return { name: p.name, out, skipped };
    });
    expect(runs[0].out).toEqual([
      { status: 200, path: "/compatible-mode/v1/chat/completions", model: undefined, same: true },
      { status: 200, path: "/compatible-mode/v1/chat/completions", model: "qwen-1.8b-chat", same: false },
    ]);
    expect(runs[0].skipped.length).toBe(1);
    expect(runs[0].skipped[0]).toMatch(/ 1$/);
    for (const r of runs.slice(1)) expect({ ...r, name: "" }, r.name).toEqual({ ...runs[0], name: "" });
  });
});
