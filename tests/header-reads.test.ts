// What the host-call cuts must not change (bench/RESULTS-envoy-host-calls.md says what each call
// costs): the request's and the response's headers are read in one call each, into a block lent
// to the host's malloc, with a managed buffer past it; `:method` is compared in a small lent
// block; the labels and the metric series of the last call are remembered. Each case here is one
// those shortcuts could get wrong.
import { beforeAll, describe, expect, it } from "vitest";
import { sidecar, type Sidecar } from "./helpers/sidecar";
import { openaiJson, JSON_HEADERS } from "./helpers/bodies";

const PROMPT = "wasm.asm.llmproxy.request_prompt_tokens";

function chat(
  s: Sidecar,
  opts: {
    model?: string;
    answerModel?: string;
    authority?: string;
    method?: string;
    headers?: [string, string][];
    responseHeaders?: [string, string][];
  } = {},
) {
  const model = opts.model ?? "gpt-4o";
  return s.call({
    request: {
      method: opts.method ?? "POST",
      path: "/v1/chat/completions",
      authority: opts.authority ?? "api.openai.com",
      headers: opts.headers ?? JSON_HEADERS,
      body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
    },
    response: {
      status: 200,
      headers: opts.responseHeaders ?? JSON_HEADERS,
      body: openaiJson(opts.answerModel ?? model, { prompt: 3, completion: 4 }),
    },
  });
}

/** The prompt-token counter of each (destination, model) series, from the Prometheus text. */
function promptSeries(s: Sidecar): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of s.prometheus(/^asm_llm_proxy_prompt_tokens\{/)) {
    const dest = /llmproxy_destination_service="([^"]*)"/.exec(line)?.[1];
    const model = /llmproxy_model="([^"]*)"/.exec(line)?.[1];
    out[`${dest} ${model}`] = Number(line.split(" ").pop());
  }
  return out;
}

describe("headers read in one call, labels and series remembered", () => {
  let s: Sidecar;
  beforeAll(async () => {
    s = await sidecar();
  });

  it("a request whose headers pass the lent block (40 KiB of cookie) is read as any other", () => {
    const headers: [string, string][] = [["cookie", "c=" + "x".repeat(40 * 1024)], ...JSON_HEADERS];
    const r = chat(s, { headers });
    expect(r.filterState[PROMPT]).toBe("3");
    expect(s.vm.failed).toBe(false);
    // and the next, small, request is read from the lent block again
    expect(chat(s).filterState[PROMPT]).toBe("3");
  });

  it("a header named twice: its first value counts, as Envoy's single read answers (x-dashscope-sse)", () => {
    // content-type would not do: Envoy merges an inline header's repeats into one value
    const stream = (values: string[]) =>
      s.call({
        request: {
          method: "POST",
          path: "/api/v1/services/aigc/text-generation/generation",
          authority: "dashscope.aliyuncs.com",
          headers: [...JSON_HEADERS, ...values.map((v): [string, string] => ["x-dashscope-sse", v])],
          body: JSON.stringify({ model: "qwen-turbo", input: { prompt: "hi" } }),
        },
        response: { status: 200, headers: JSON_HEADERS, body: "{}" },
      }).filterState["wasm.asm.llmproxy.request_stream"];
    expect(stream(["enable", "disable"])).toBe("true");
    expect(stream(["disable", "enable"])).toBe("false");
  });

  it("response headers past the lent block: status and content type still read", () => {
    const r = chat(s, { responseHeaders: [["set-cookie", "y".repeat(20 * 1024)], ...JSON_HEADERS] });
    expect(r.filterState[PROMPT]).toBe("3");
  });

  it("only an exact POST is an LLM call: a long method past the small block, a lower-case one", () => {
    expect(chat(s, { method: "POST" + "X".repeat(100) }).filterState[PROMPT]).toBeUndefined();
    expect(chat(s, { method: "post" }).filterState[PROMPT]).toBeUndefined();
    expect(chat(s, { method: "POS" }).filterState[PROMPT]).toBeUndefined();
    expect(s.vm.failed).toBe(false);
  });

  it("alternating models and hosts: each call lands in its own series (A, B, A, C on two hosts)", () => {
    const before = promptSeries(s);
    const calls: [string, string][] = [
      ["api.openai.com", "memo-a"],
      ["api.openai.com", "memo-b"],
      ["api.openai.com", "memo-a"],
      ["llm.internal", "memo-a"],
      ["llm.internal", "memo-c"],
      ["api.openai.com", "memo-a"],
    ];
    for (const [authority, model] of calls) chat(s, { authority, model });
    const after = promptSeries(s);
    const added = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
    expect(added("api.openai.com memo-a")).toBe(9);
    expect(added("api.openai.com memo-b")).toBe(3);
    expect(added("llm.internal memo-a")).toBe(3);
    expect(added("llm.internal memo-c")).toBe(3);
  });

  it("a model label is remembered by its bytes, not by the buffer that held them", () => {
    // The same length, different bytes, one after the other: a memo keyed by the scanner's
    // reused buffer would give the second the first one's label.
    const r1 = chat(s, { model: "same-len-1" });
    const r2 = chat(s, { model: "same-len-2" });
    expect(r1.filterState["wasm.asm.llmproxy.request_model_label"]).toBe("same-len-1");
    expect(r2.filterState["wasm.asm.llmproxy.request_model_label"]).toBe("same-len-2");
  });

  it("a request whose headers end the stream (a GET) costs no host call; a bodyless POST is no LLM call", () => {
    const counts = new Map<string, number>();
    s.vm.hostCallCounts = counts;
    try {
      s.call({
        request: { method: "GET", path: "/v1/models", authority: "api.openai.com", headers: [] },
        response: { status: 200, headers: JSON_HEADERS, body: "{}" },
      });
      expect([...counts.keys()]).toEqual([]);
      const empty = s.call({
        request: { method: "POST", path: "/v1/chat/completions", authority: "api.openai.com", headers: JSON_HEADERS },
        response: { status: 400, headers: JSON_HEADERS, body: '{"error":{"message":"empty body","type":"invalid_request_error"}}' },
      });
      expect(empty.filterState).toEqual({});
      expect([...counts.keys()]).toEqual([]);
    } finally {
      s.vm.hostCallCounts = undefined;
    }
  });

  it("with providers configured, a bodyless request is still routed (its headers are read)", async () => {
    const routed = await sidecar({ pluginConfig: { providers: [{ name: "p", hosts: ["llm.example"], api: "openai", apiKey: "sk-x" }] } });
    const r = routed.call({
      request: { method: "GET", path: "/v1/models", authority: "llm.example", headers: [] },
      response: { status: 200, headers: JSON_HEADERS, body: "{}" },
    });
    expect(r.upstreamRequest?.headers.find(([k]) => k === "authorization")?.[1]).toBe("Bearer sk-x");
  });
});
