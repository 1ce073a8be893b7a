// Every API shape of the registry (assembly/apis/), JSON and streaming, through the host in
// observe-only mode: model, prompt, completion, total, cached, cache-write and reasoning tokens
// as filter state and counters, the same under a split of the response at every byte, and the
// same as the independent reference model (tests/helpers/reference.ts).
import { beforeAll, describe, expect, it } from "vitest";
import { sidecar, type Sidecar } from "./helpers/sidecar";
import { checkAgainstReference, snap, STATE } from "./helpers/harness";
import type { Shape } from "./helpers/reference";
import {
  responsesJson,
  responsesSse,
  geminiJson,
  geminiSse,
  geminiArray,
  bedrockConverseJson,
  anthropicJson,
  anthropicSse,
  dashscopeAppJson,
  dashscopeAppSse,
  openaiVariantSse,
  openaiJson,
  type FullTokens,
  JSON_HEADERS,
  SSE_HEADERS,
} from "./helpers/bodies";
import { converseStreamBody, EVENTSTREAM_HEADERS, invokeStreamBody } from "./helpers/eventstream";

const enc = new TextEncoder();

interface ShapeCase {
  name: string;
  shape: Shape;
  path: string;
  request: string;
  requestHeaders?: [string, string][];
  responseHeaders: [string, string][];
  response: string;
  want: {
    requestModel?: string;
    responseModel?: string;
    stream: boolean;
    prompt?: number;
    completion?: number;
    total?: number;
    cached?: number;
    reasoning?: number;
    cacheWrite?: number;
    skip?: string;
  };
}

const T: FullTokens = { prompt: 1203, completion: 87, cached: 1024, reasoning: 64 };
const responsesReq = (stream: boolean) =>
  JSON.stringify({
    model: "gpt-5-mini",
    input: "Tell me a three sentence bedtime story about a unicorn.",
    ...(stream ? { stream: true } : {}),
  });
const geminiReq = JSON.stringify({ contents: [{ role: "user", parts: [{ text: "Explain how AI works in a few words" }] }] });
const converseReq = JSON.stringify({ messages: [{ role: "user", content: [{ text: "Hello" }] }], inferenceConfig: { maxTokens: 512 } });
const invokeReq = JSON.stringify({
  anthropic_version: "bedrock-2023-05-31",
  max_tokens: 256,
  messages: [{ role: "user", content: "Hello" }],
});
const appReq = JSON.stringify({ input: { prompt: "What is the weather in Hangzhou?" }, parameters: {}, debug: {} });
const chatReq = (model: string) =>
  JSON.stringify({ model, messages: [{ role: "user", content: "Hi" }], stream: true, stream_options: { include_usage: true } });
const APP_MODELS = [
  { model_id: "qwen-plus", input_tokens: 1203, output_tokens: 36 },
  { model_id: "qwen-max", input_tokens: 310, output_tokens: 58 },
];

const CASES: ShapeCase[] = [
  {
    name: "Responses API, JSON",
    shape: "responses",
    path: "/v1/responses",
    request: responsesReq(false),
    responseHeaders: JSON_HEADERS,
    response: responsesJson("gpt-5-mini-2025-08-07", T),
    want: {
      requestModel: "gpt-5-mini",
      responseModel: "gpt-5-mini-2025-08-07",
      stream: false,
      prompt: 1203,
      completion: 87,
      total: 1290,
      cached: 1024,
      reasoning: 64,
    },
  },
  {
    name: "Responses API, SSE (usage in response.completed)",
    shape: "responses",
    path: "/v1/responses",
    request: responsesReq(true),
    responseHeaders: SSE_HEADERS,
    response: responsesSse("gpt-5-mini-2025-08-07", T, { words: 2 }),
    want: {
      requestModel: "gpt-5-mini",
      responseModel: "gpt-5-mini-2025-08-07",
      stream: true,
      prompt: 1203,
      completion: 87,
      total: 1290,
      cached: 1024,
      reasoning: 64,
    },
  },
  {
    name: "Responses API on Azure (/openai/v1/responses?api-version=), event: error mid-stream",
    shape: "responses",
    path: "/openai/v1/responses?api-version=preview",
    request: responsesReq(true),
    responseHeaders: SSE_HEADERS,
    response: responsesSse("gpt-4.1", T, { words: 1, error: true }),
    want: { requestModel: "gpt-5-mini", responseModel: "gpt-4.1", stream: true, skip: "provider_error" },
  },
  {
    name: "Gemini AI Studio generateContent, JSON",
    shape: "gemini",
    path: "/v1beta/models/gemini-2.5-flash:generateContent",
    request: geminiReq,
    responseHeaders: [["content-type", "application/json; charset=UTF-8"]],
    response: geminiJson("gemini-2.5-flash", T),
    want: {
      requestModel: "gemini-2.5-flash",
      responseModel: "gemini-2.5-flash",
      stream: false,
      prompt: 1203,
      completion: 87,
      total: 1203 + 87 + 64,
      cached: 1024,
      reasoning: 64,
    },
  },
  {
    name: "Gemini streamGenerateContent?alt=sse (CRLF, no [DONE], cumulative usage)",
    shape: "gemini",
    path: "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
    request: geminiReq,
    responseHeaders: SSE_HEADERS,
    response: geminiSse("gemini-2.5-pro", T),
    want: {
      requestModel: "gemini-2.5-pro",
      responseModel: "gemini-2.5-pro",
      stream: true,
      prompt: 1203,
      completion: 87,
      total: 1203 + 87 + 64,
      cached: 1024,
      reasoning: 64,
    },
  },
  {
    name: "Gemini on Vertex AI, streamGenerateContent without alt=sse (a JSON array)",
    shape: "gemini",
    path: "/v1/projects/my-project/locations/us-central1/publishers/google/models/gemini-2.0-flash-001:streamGenerateContent",
    request: geminiReq,
    responseHeaders: [["content-type", "application/json; charset=UTF-8"]],
    response: geminiArray("gemini-2.0-flash-001", { prompt: 9, completion: 40 }),
    want: {
      requestModel: "gemini-2.0-flash-001",
      responseModel: "gemini-2.0-flash-001",
      stream: true,
      prompt: 9,
      completion: 40,
      total: 49,
    },
  },
  {
    name: "Bedrock Converse, JSON (model id percent-encoded in the path)",
    shape: "bedrock-converse",
    path: "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse",
    request: converseReq,
    responseHeaders: JSON_HEADERS,
    response: bedrockConverseJson({ prompt: 30, completion: 628, cached: 1500, cacheWrite: 200 }),
    want: {
      requestModel: "anthropic.claude-3-5-sonnet-20240620-v1:0",
      stream: false,
      prompt: 30,
      completion: 628,
      total: 30 + 628 + 1500 + 200,
      cached: 1500,
      cacheWrite: 200,
    },
  },
  {
    name: "Bedrock converse-stream: binary event stream, the metadata event's usage",
    shape: "bedrock-converse",
    path: "/model/amazon.nova-pro-v1%3A0/converse-stream",
    request: converseReq,
    responseHeaders: EVENTSTREAM_HEADERS,
    response: converseStreamBody({ prompt: 30, completion: 628, cached: 1500, cacheWrite: 200 }).toString("latin1"),
    want: {
      requestModel: "amazon.nova-pro-v1:0",
      stream: true,
      prompt: 30,
      completion: 628,
      total: 30 + 628 + 1500 + 200,
      cached: 1500,
      cacheWrite: 200,
    },
  },
  {
    name: "Bedrock invoke-with-response-stream: base64 chunks of an Anthropic stream",
    shape: "bedrock-invoke",
    path: "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke-with-response-stream",
    request: invokeReq,
    responseHeaders: EVENTSTREAM_HEADERS,
    response: invokeStreamBody("claude-3-haiku-20240307", { prompt: 12, completion: 30, cached: 2048 }).toString("latin1"),
    want: {
      requestModel: "anthropic.claude-3-haiku-20240307-v1:0",
      responseModel: "claude-3-haiku-20240307",
      stream: true,
      prompt: 12,
      completion: 30,
      total: 42,
      cached: 2048,
    },
  },
  {
    name: "Bedrock InvokeModel with an Anthropic body",
    shape: "bedrock-invoke",
    path: "/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/invoke",
    request: invokeReq,
    responseHeaders: JSON_HEADERS,
    response: anthropicJson("claude-sonnet-4-20250514", { prompt: 12, completion: 30, cached: 2048, cacheWrite: 100 }),
    want: {
      requestModel: "us.anthropic.claude-sonnet-4-20250514-v1:0",
      responseModel: "claude-sonnet-4-20250514",
      stream: false,
      prompt: 12,
      completion: 30,
      total: 42,
      cached: 2048,
      cacheWrite: 100,
    },
  },
  {
    name: "Anthropic Messages SSE with prompt caching",
    shape: "anthropic",
    path: "/v1/messages",
    request: JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 64, stream: true, messages: [{ role: "user", content: "Hi" }] }),
    responseHeaders: SSE_HEADERS,
    response: anthropicSse("claude-sonnet-4-5-20250929", { prompt: 21, completion: 393, cached: 188086, cacheWrite: 12 }),
    want: {
      requestModel: "claude-sonnet-4-5",
      responseModel: "claude-sonnet-4-5-20250929",
      stream: true,
      prompt: 21,
      completion: 393,
      total: 414,
      cached: 188086,
      cacheWrite: 12,
    },
  },
  {
    name: "DashScope application, JSON (usage summed over usage.models[])",
    shape: "dashscope-apps",
    path: "/api/v1/apps/1f2e3d4c5b6a/completion",
    request: appReq,
    responseHeaders: JSON_HEADERS,
    response: dashscopeAppJson(APP_MODELS),
    want: { responseModel: "qwen-max", stream: false, prompt: 1203 + 310, completion: 36 + 58, total: 1203 + 310 + 36 + 58 },
  },
  {
    name: "DashScope application, SSE by header (running totals)",
    shape: "dashscope-apps",
    path: "/api/v1/apps/1f2e3d4c5b6a/completion",
    request: appReq,
    requestHeaders: [["x-dashscope-sse", "enable"]],
    responseHeaders: [["content-type", "text/event-stream;charset=UTF-8"]],
    response: dashscopeAppSse(APP_MODELS),
    want: { responseModel: "qwen-max", stream: true, prompt: 1203 + 310, completion: 36 + 58, total: 1203 + 310 + 36 + 58 },
  },
  ...(
    ["usage-on-finish", "usage-after-finish-with-choices", "usage-in-choices", "x-groq", "null-details", "openrouter-comments"] as const
  ).map(
    (variant): ShapeCase => ({
      name: `OpenAI-compatible stream: ${variant}`,
      shape: "openai",
      path: "/openai/v1/chat/completions",
      request: chatReq("llama-3.3-70b-versatile"),
      responseHeaders: SSE_HEADERS,
      response: openaiVariantSse("llama-3.3-70b-versatile", { prompt: 18, completion: 137 }, variant),
      want: {
        requestModel: "llama-3.3-70b-versatile",
        responseModel: "llama-3.3-70b-versatile",
        stream: true,
        prompt: 18,
        completion: 137,
        total: 155,
      },
    }),
  ),
  {
    name: "OpenAI-compatible stream with `event: error` mid-stream (OpenRouter)",
    shape: "openai",
    path: "/api/v1/chat/completions",
    request: chatReq("openai/gpt-4o"),
    responseHeaders: SSE_HEADERS,
    response:
      ": OPENROUTER PROCESSING\n\n" +
      openaiVariantSse("openai/gpt-4o", { prompt: 18, completion: 137 }, "usage-on-finish")
        .split("\n\n")
        .slice(0, 2)
        .map((e) => e + "\n\n")
        .join("") +
      'event: error\ndata: {"id":"gen-1","object":"chat.completion.chunk","created":1732550000,"model":"openai/gpt-4o","error":{"code":502,"message":"Provider disconnected"},"choices":[{"index":0,"delta":{"content":""},"finish_reason":"error"}]}\n\n',
    want: { requestModel: "openai/gpt-4o", responseModel: "openai/gpt-4o", stream: true, skip: "provider_error" },
  },
  {
    name: "Azure deployment path with api-version; empty model in the first chunk; cached and reasoning",
    shape: "openai",
    path: "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
    request: JSON.stringify({ messages: [{ role: "user", content: "Hi" }], stream: true }),
    responseHeaders: SSE_HEADERS,
    response: openaiVariantSse("gpt-4o-2024-11-20", { prompt: 2006, completion: 300, cached: 1920, reasoning: 192 }, "azure-empty-model"),
    want: { responseModel: "gpt-4o-2024-11-20", stream: true, prompt: 2006, completion: 300, total: 2306, cached: 1920, reasoning: 192 },
  },
  {
    name: "DeepSeek: prompt_cache_hit_tokens on the finish chunk",
    shape: "openai",
    path: "/chat/completions",
    request: chatReq("deepseek-chat"),
    responseHeaders: SSE_HEADERS,
    response: openaiVariantSse("deepseek-chat", { prompt: 1500, completion: 20, reasoning: 0 }, "deepseek-cache").replace(
      '"prompt_cache_hit_tokens":0',
      '"prompt_cache_hit_tokens":1472',
    ),
    want: {
      requestModel: "deepseek-chat",
      responseModel: "deepseek-chat",
      stream: true,
      prompt: 1500,
      completion: 20,
      total: 1520,
      cached: 1472,
      reasoning: 0,
    },
  },
  {
    name: "OpenAI JSON with cached and reasoning tokens",
    shape: "openai",
    path: "/v1/chat/completions",
    request: JSON.stringify({ model: "o4-mini", messages: [] }),
    responseHeaders: JSON_HEADERS,
    response: JSON.stringify({
      ...JSON.parse(openaiJson("o4-mini-2025-04-16", { prompt: 1117, completion: 46 })),
      usage: {
        prompt_tokens: 1117,
        completion_tokens: 46,
        total_tokens: 1163,
        prompt_tokens_details: { cached_tokens: 1024, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0 },
      },
    }),
    want: {
      requestModel: "o4-mini",
      responseModel: "o4-mini-2025-04-16",
      stream: false,
      prompt: 1117,
      completion: 46,
      total: 1163,
      cached: 1024,
      reasoning: 0,
    },
  },
];

const TOKENS = ["prompt", "completion", "total", "cached", "reasoning", "cacheWrite"] as const;
const STATE_KEY = {
  prompt: "request_prompt_tokens",
  completion: "request_completion_tokens",
  total: "request_total_tokens",
  cached: "request_cached_tokens",
  reasoning: "request_reasoning_tokens",
  cacheWrite: "request_cache_write_tokens",
};

function exchange(c: ShapeCase, body: Uint8Array[]) {
  return {
    request: {
      method: "POST",
      path: c.path,
      authority: "llm.example.com",
      headers: [["content-type", "application/json"], ...(c.requestHeaders ?? [])] as [string, string][],
      body: c.request,
    },
    response: { status: 200, headers: c.responseHeaders, body },
  };
}

function published(fs: Record<string, string>) {
  const out: Record<string, unknown> = {
    requestModel: fs[STATE + "request_model"],
    responseModel: fs[STATE + "response_model"],
    stream: fs[STATE + "request_stream"] === "true",
    skip: fs[STATE + "usage_skipped"],
  };
  for (const k of TOKENS) out[k] = fs[STATE + STATE_KEY[k]] === undefined ? undefined : Number(fs[STATE + STATE_KEY[k]]);
  return out;
}

function wanted(c: ShapeCase) {
  const out: Record<string, unknown> = {
    requestModel: c.want.requestModel,
    responseModel: c.want.responseModel,
    stream: c.want.stream,
    skip: c.want.skip,
  };
  for (const k of TOKENS) out[k] = c.want[k];
  return out;
}

describe("API shapes: the numbers each provider reports", () => {
  let s: Sidecar;
  beforeAll(async () => {
    s = await sidecar();
  });

  for (const c of CASES) {
    it(`${c.name}: model and tokens; the reference model agrees`, () => {
      const body = Buffer.from(c.response, "latin1");
      const r = snap(s, exchange(c, [body]));
      expect(r.failed, r.trap).toBe(false);
      expect(published(r.filterState)).toEqual(wanted(c));
      expect(checkAgainstReference(r, c.shape, enc.encode(c.request), { status: 200, headers: c.responseHeaders, body }, c.path)).toEqual(
        [],
      );
      expect(r.downstreamBody).toBe(body.toString("latin1")); // observe-only: bytes unchanged
    });

    it(`${c.name}: split at every byte gives the same`, () => {
      const body = Buffer.from(c.response, "latin1");
      const whole = published(snap(s, exchange(c, [body])).filterState);
      for (let cut = 1; cut < body.length; cut++) {
        const r = snap(s, exchange(c, [body.subarray(0, cut), body.subarray(cut)]));
        expect([cut, published(r.filterState)]).toEqual([cut, whole]);
      }
    });
  }
});

describe("cached and reasoning tokens as counters", () => {
  it("asm_llm_proxy_cached_tokens and asm_llm_proxy_reasoning_tokens carry the four tags and add up", async () => {
    const t = await sidecar({ workload: "reviews-v1", namespace: "bookinfo" });
    const c = CASES.find((x) => x.shape === "responses" && !x.want.skip)!;
    for (let i = 0; i < 2; i++) t.call(exchange(c, [Buffer.from(c.response)]));
    const tags =
      'llmproxy_source_workload="reviews-v1",llmproxy_source_workload_namespace="bookinfo",llmproxy_destination_service="llm.example.com",llmproxy_model="gpt-5-mini"';
    expect(t.prometheus(/^asm_llm_proxy_(cached|reasoning)_tokens\{/)).toEqual([
      `asm_llm_proxy_cached_tokens{${tags}} ${2 * c.want.cached!}`,
      `asm_llm_proxy_reasoning_tokens{${tags}} ${2 * c.want.reasoning!}`,
    ]);
  });

  it("a zero count defines no series (Envoy refuses a zero increment)", async () => {
    const t = await sidecar();
    const c = CASES.find((x) => x.name.startsWith("DeepSeek"))!; // reasoning_tokens: 0
    t.call(exchange(c, [Buffer.from(c.response)]));
    expect(t.prometheus(/^asm_llm_proxy_reasoning_tokens\{/)).toEqual([]);
    expect(t.prometheus(/^asm_llm_proxy_cached_tokens\{/)).toHaveLength(1);
  });
});

describe("models in the URL path: odd and hostile paths", () => {
  it("malformed escapes stay as they are, bytes that are not UTF-8 are kept, a long one is capped; no trap", async () => {
    const s = await sidecar();
    const call = (path: string) => {
      const r = snap(s, {
        request: {
          method: "POST",
          path,
          authority: "bedrock-runtime.us-east-1.amazonaws.com",
          headers: [["content-type", "application/json"]],
          body: "{}",
        },
        response: { status: 200, headers: JSON_HEADERS, body: bedrockConverseJson({ prompt: 1, completion: 2 }) },
      });
      expect(r.failed, r.trap).toBe(false);
      return r;
    };
    expect(call("/model/a%ZZb%/converse").filterState[STATE + "request_model"]).toBe("a%ZZb%");
    expect(call("/model/%E2%82%AC-model/converse").filterState[STATE + "request_model"]).toBe("\u20ac-model");
    // raw bytes, as for a model in a body (filter state is bytes; the harness decodes it as UTF-8)
    expect(call("/model/x%FFy/converse").filterState[STATE + "request_model"]).toBe(Buffer.from([0x78, 0xff, 0x79]).toString());
    expect(call("/model/a%7Cllmproxy_model%3Dforged/converse").filterState[STATE + "request_model"]).toBe("a|llmproxy_model=forged");
    expect(s.prometheus(/^asm_llm_proxy_prompt_tokens\{/).some((l) => l.includes('llmproxy_model="a_llmproxy_model_forged"'))).toBe(true); // the label is sanitised
    const long = call(`/model/${"m".repeat(20_000)}/converse`);
    expect(long.filterState[STATE + "request_model"]).toBe("m".repeat(256));
    // no model segment at all: the response's (none for Converse), so "unknown"
    expect(call("/model//converse").filterState[STATE + "request_model"]).toBeUndefined();
  });
});
