// A priced mixed run over every API shape, for the host and the real-Envoy cost tests: a price
// table, one exchange per shape (bodies from tests/helpers/bodies.ts, the providers' documented
// formats), and each exchange's cost computed here, independently of the filter, from the
// provider's published billing formula on the provider's own usage fields, in exact BigInt
// pico-units (10^-12 of the currency).
import {
  anthropicJson,
  anthropicSse,
  bedrockConverseJson,
  dashscopeAppJson,
  geminiJson,
  geminiSse,
  JSON_HEADERS,
  openaiJson,
  openaiSse,
  responsesJson,
  responsesSse,
  SSE_HEADERS,
} from "./bodies";

/** Prices in currency units per million tokens, as decimal strings (so the test's arithmetic
 *  is exact): [input, cached input, cache write, output]. */
const PRICES: [string, [string, string, string, string]][] = [
  ["gpt-4o-mini*", ["0.15", "0.075", "0.15", "0.6"]],
  ["gpt-4o*", ["2.5", "1.25", "2.5", "10"]],
  ["o4-mini", ["1.1", "0.275", "1.1", "4.4"]],
  ["gpt-5-mini*", ["0.25", "0.025", "0.25", "2"]],
  ["claude-sonnet-4-5*", ["3", "0.3", "3.75", "15"]],
  ["gemini-2.5-flash", ["0.3", "0.03", "0.3", "2.5"]],
  ["gemini-2.5-pro*", ["1.25", "0.125", "1.25", "10"]],
  ["anthropic.claude-3-5-sonnet-20240620-v1:0", ["3", "0.3", "3.75", "15"]],
  ["us.anthropic.claude-sonnet-4-*", ["3.3", "0.33", "4.125", "16.5"]],
  ["qwen-plus", ["0.4", "0.08", "0.4", "1.2"]],
  ["qwen-max", ["1.6", "0.32", "1.6", "6.4"]],
];

export const CURRENCY = "USD";

/** The pluginConfig `pricing` section of PRICES. */
export const PRICING = {
  currency: CURRENCY,
  models: PRICES.map(([model, [input, cachedInput, cacheWrite, output]]) => ({
    model,
    input: Number(input),
    cachedInput: Number(cachedInput),
    cacheWrite: Number(cacheWrite),
    output: Number(output),
  })),
};

/** "0.075" per Mtok -> 75000n micro-units per Mtok (= pico-units per token). */
function micros(decimal: string): bigint {
  const [whole, frac = ""] = decimal.split(".");
  return BigInt(whole) * 1_000_000n + BigInt((frac + "000000").slice(0, 6));
}

interface Price {
  input: bigint;
  cached: bigint;
  write: bigint;
  output: bigint;
}

/** First match wins; `x*` is a prefix. */
export function priceOf(model: string): Price | undefined {
  for (const [pattern, p] of PRICES) {
    const hit = pattern.endsWith("*") ? model.startsWith(pattern.slice(0, -1)) : model === pattern;
    if (hit) return { input: micros(p[0]), cached: micros(p[1]), write: micros(p[2]), output: micros(p[3]) };
  }
  return undefined;
}

const n = (x: number | undefined) => BigInt(x ?? 0);

// The providers' formulas, on their own field names.
/** OpenAI chat/completions and Responses: prompt_tokens / input_tokens INCLUDE cached_tokens,
 *  billed at the cached-input price; reasoning tokens are inside completion_tokens. */
export function openaiFormula(u: { prompt: number; cached?: number; completion: number }, p: Price): bigint {
  return (n(u.prompt) - n(u.cached)) * p.input + n(u.cached) * p.cached + n(u.completion) * p.output;
}
/** Anthropic Messages (and Bedrock Converse, same semantics): input_tokens EXCLUDES
 *  cache_read_input_tokens and cache_creation_input_tokens, each with its own price. */
export function anthropicFormula(u: { input: number; cacheRead?: number; cacheCreation?: number; output: number }, p: Price): bigint {
  return n(u.input) * p.input + n(u.cacheRead) * p.cached + n(u.cacheCreation) * p.write + n(u.output) * p.output;
}
/** Gemini: promptTokenCount INCLUDES cachedContentTokenCount; output is billed "including
 *  thinking tokens", and candidatesTokenCount EXCLUDES thoughtsTokenCount. */
export function geminiFormula(u: { prompt: number; cached?: number; candidates: number; thoughts?: number }, p: Price): bigint {
  return (n(u.prompt) - n(u.cached)) * p.input + n(u.cached) * p.cached + (n(u.candidates) + n(u.thoughts)) * p.output;
}
/** DashScope: input_tokens INCLUDES prompt_tokens_details.cached_tokens. */
export function dashscopeFormula(u: { input: number; cached?: number; output: number }, p: Price): bigint {
  return (n(u.input) - n(u.cached)) * p.input + n(u.cached) * p.cached + n(u.output) * p.output;
}

export interface PricedCase {
  name: string;
  authority: string;
  path: string;
  request: string;
  requestHeaders?: Record<string, string>;
  responseHeaders: [string, string][];
  response: string;
  /** The llmproxy_model label of its series. */
  model: string;
  /** Exact cost in pico-units, or "unpriced". */
  cost: bigint | "unpriced";
}

const chat = (model: string, stream = false) =>
  JSON.stringify({
    model,
    messages: [{ role: "user", content: "Hi" }],
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
  });

function priced(model: string, formula: (p: Price) => bigint): bigint | "unpriced" {
  const p = priceOf(model);
  return p === undefined ? "unpriced" : formula(p);
}

export const PRICED_CASES: PricedCase[] = [
  {
    name: "OpenAI chat JSON, cached and reasoning tokens (o4-mini, exact row)",
    authority: "api.openai.com",
    path: "/v1/chat/completions",
    request: chat("o4-mini"),
    responseHeaders: JSON_HEADERS,
    response: JSON.stringify({
      ...JSON.parse(openaiJson("o4-mini-2025-04-16", { prompt: 1117, completion: 46 })),
      usage: {
        prompt_tokens: 1117,
        completion_tokens: 46,
        total_tokens: 1163,
        prompt_tokens_details: { cached_tokens: 1024, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 30, audio_tokens: 0 },
      },
    }),
    model: "o4-mini",
    cost: priced("o4-mini", (p) => openaiFormula({ prompt: 1117, cached: 1024, completion: 46 }, p)),
  },
  {
    name: "OpenAI chat SSE (gpt-4o-mini-2024-07-18: the prefix row before gpt-4o*)",
    authority: "api.openai.com",
    path: "/v1/chat/completions",
    request: chat("gpt-4o-mini-2024-07-18", true),
    responseHeaders: SSE_HEADERS,
    response: openaiSse("gpt-4o-mini-2024-07-18", { prompt: 19, completion: 250 }, { words: 3 }),
    model: "gpt-4o-mini-2024-07-18",
    cost: priced("gpt-4o-mini-2024-07-18", (p) => openaiFormula({ prompt: 19, completion: 250 }, p)),
  },
  {
    name: "OpenAI chat JSON (gpt-4o, a large request)",
    authority: "api.openai.com",
    path: "/v1/chat/completions",
    request: chat("gpt-4o"),
    responseHeaders: JSON_HEADERS,
    response: openaiJson("gpt-4o-2024-08-06", { prompt: 123457, completion: 4097 }),
    model: "gpt-4o",
    cost: priced("gpt-4o", (p) => openaiFormula({ prompt: 123457, completion: 4097 }, p)),
  },
  {
    name: "Responses API JSON",
    authority: "api.openai.com",
    path: "/v1/responses",
    request: JSON.stringify({ model: "gpt-5-mini", input: "Tell me a story." }),
    responseHeaders: JSON_HEADERS,
    response: responsesJson("gpt-5-mini-2025-08-07", { prompt: 1203, completion: 87, cached: 1024, reasoning: 64 }),
    model: "gpt-5-mini",
    cost: priced("gpt-5-mini", (p) => openaiFormula({ prompt: 1203, cached: 1024, completion: 87 }, p)),
  },
  {
    name: "Responses API SSE",
    authority: "api.openai.com",
    path: "/v1/responses",
    request: JSON.stringify({ model: "gpt-5-mini", input: "Tell me a story.", stream: true }),
    responseHeaders: SSE_HEADERS,
    response: responsesSse("gpt-5-mini-2025-08-07", { prompt: 333, completion: 777, cached: 256, reasoning: 500 }, { words: 2 }),
    model: "gpt-5-mini",
    cost: priced("gpt-5-mini", (p) => openaiFormula({ prompt: 333, cached: 256, completion: 777 }, p)),
  },
  {
    name: "Anthropic Messages SSE with cache read and cache write",
    authority: "api.anthropic.com",
    path: "/v1/messages",
    request: JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 64, stream: true, messages: [{ role: "user", content: "Hi" }] }),
    responseHeaders: SSE_HEADERS,
    response: anthropicSse("claude-sonnet-4-5-20250929", { prompt: 21, completion: 393, cached: 188086, cacheWrite: 12 }),
    model: "claude-sonnet-4-5",
    cost: priced("claude-sonnet-4-5", (p) => anthropicFormula({ input: 21, cacheRead: 188086, cacheCreation: 12, output: 393 }, p)),
  },
  {
    name: "Anthropic Messages JSON",
    authority: "api.anthropic.com",
    path: "/v1/messages",
    request: JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 64, messages: [{ role: "user", content: "Hi" }] }),
    responseHeaders: JSON_HEADERS,
    response: anthropicJson("claude-sonnet-4-5-20250929", { prompt: 1500, completion: 7, cached: 0, cacheWrite: 2048 }),
    model: "claude-sonnet-4-5",
    cost: priced("claude-sonnet-4-5", (p) => anthropicFormula({ input: 1500, cacheCreation: 2048, output: 7 }, p)),
  },
  {
    name: "Gemini generateContent JSON with cached and thought tokens",
    authority: "generativelanguage.googleapis.com",
    path: "/v1beta/models/gemini-2.5-flash:generateContent",
    request: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "Explain" }] }] }),
    responseHeaders: [["content-type", "application/json; charset=UTF-8"]],
    response: geminiJson("gemini-2.5-flash", { prompt: 1203, completion: 87, cached: 1024, reasoning: 64 }),
    model: "gemini-2.5-flash",
    cost: priced("gemini-2.5-flash", (p) => geminiFormula({ prompt: 1203, cached: 1024, candidates: 87, thoughts: 64 }, p)),
  },
  {
    name: "Gemini streamGenerateContent?alt=sse with thoughts",
    authority: "generativelanguage.googleapis.com",
    path: "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
    request: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "Explain" }] }] }),
    responseHeaders: SSE_HEADERS,
    response: geminiSse("gemini-2.5-pro", { prompt: 5001, completion: 333, reasoning: 1111 }),
    model: "gemini-2.5-pro",
    cost: priced("gemini-2.5-pro", (p) => geminiFormula({ prompt: 5001, candidates: 333, thoughts: 1111 }, p)),
  },
  {
    name: "Bedrock Converse JSON with cache read and write",
    authority: "bedrock-runtime.us-east-1.amazonaws.com",
    path: "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse",
    request: JSON.stringify({ messages: [{ role: "user", content: [{ text: "Hello" }] }] }),
    responseHeaders: JSON_HEADERS,
    response: bedrockConverseJson({ prompt: 30, completion: 628, cached: 1500, cacheWrite: 200 }),
    model: "anthropic.claude-3-5-sonnet-20240620-v1:0",
    cost: priced("anthropic.claude-3-5-sonnet-20240620-v1:0", (p) =>
      anthropicFormula({ input: 30, cacheRead: 1500, cacheCreation: 200, output: 628 }, p),
    ),
  },
  {
    name: "Bedrock InvokeModel, an Anthropic body",
    authority: "bedrock-runtime.us-east-1.amazonaws.com",
    path: "/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/invoke",
    request: JSON.stringify({ anthropic_version: "bedrock-2023-05-31", max_tokens: 256, messages: [{ role: "user", content: "Hello" }] }),
    responseHeaders: JSON_HEADERS,
    response: anthropicJson("claude-sonnet-4-20250514", { prompt: 12, completion: 30, cached: 2048, cacheWrite: 100 }),
    model: "us.anthropic.claude-sonnet-4-20250514-v1:0",
    cost: priced("us.anthropic.claude-sonnet-4-20250514-v1:0", (p) =>
      anthropicFormula({ input: 12, cacheRead: 2048, cacheCreation: 100, output: 30 }, p),
    ),
  },
  {
    name: "DashScope native JSON with cached tokens",
    authority: "dashscope.aliyuncs.com",
    path: "/api/v1/services/aigc/text-generation/generation",
    request: JSON.stringify({ model: "qwen-plus", input: { messages: [{ role: "user", content: "Hi" }] } }),
    responseHeaders: JSON_HEADERS,
    response: JSON.stringify({
      output: { choices: [{ finish_reason: "stop", message: { role: "assistant", content: "I am Qwen." } }] },
      usage: { total_tokens: 2100, output_tokens: 100, input_tokens: 2000, prompt_tokens_details: { cached_tokens: 1536 } },
      request_id: "d5a2c6b4-0b8e-9f1a-8c5e-3f2a1b0c9d8e",
    }),
    model: "qwen-plus",
    cost: priced("qwen-plus", (p) => dashscopeFormula({ input: 2000, cached: 1536, output: 100 }, p)),
  },
  {
    name: "DashScope application: usage summed over several models, not priced",
    authority: "dashscope.aliyuncs.com",
    path: "/api/v1/apps/1f2e3d4c5b6a/completion",
    request: JSON.stringify({ input: { prompt: "Weather?" }, parameters: {} }),
    responseHeaders: JSON_HEADERS,
    response: dashscopeAppJson([
      { model_id: "qwen-plus", input_tokens: 1203, output_tokens: 36 },
      { model_id: "qwen-max", input_tokens: 310, output_tokens: 58 },
    ]),
    model: "qwen-max",
    cost: "unpriced",
  },
  {
    name: "OpenAI chat JSON, a model with no row",
    authority: "api.openai.com",
    path: "/v1/chat/completions",
    request: chat("my-finetune-v2"),
    responseHeaders: JSON_HEADERS,
    response: openaiJson("my-finetune-v2", { prompt: 10, completion: 20 }),
    model: "my-finetune-v2",
    cost: priced("my-finetune-v2", () => 0n),
  },
];

/** "0.0012345": pico-units as currency units, as the filter's request_cost prints them. */
export function decimal(picos: bigint): string {
  const whole = picos / 1_000_000_000_000n;
  const frac = (picos % 1_000_000_000_000n).toString().padStart(12, "0").replace(/0+$/, "");
  return frac.length > 0 ? `${whole}.${frac}` : `${whole}`;
}

/** The counters a run of `cases` must leave, keyed `destination|model`: cost_micros is the
 *  floor of each series' exact sum (the filter carries sub-micro fractions over). */
export function expectedCounters(cases: PricedCase[]): { costMicros: Map<string, bigint>; unpriced: Map<string, number> } {
  const picos = new Map<string, bigint>();
  const unpriced = new Map<string, number>();
  for (const c of cases) {
    const key = `${c.authority}|${c.model}`;
    if (c.cost === "unpriced") unpriced.set(key, (unpriced.get(key) ?? 0) + 1);
    else picos.set(key, (picos.get(key) ?? 0n) + c.cost);
  }
  const costMicros = new Map<string, bigint>();
  for (const [k, v] of picos) if (v / 1_000_000n > 0n) costMicros.set(k, v / 1_000_000n);
  return { costMicros, unpriced };
}
