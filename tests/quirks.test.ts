// Provider quirks seen in real traffic (issue 19), each through the host in observe-only mode,
// whole and split at every byte: the numbers are the provider's own, read once, never summed,
// never invented. The bodies follow the providers' wire formats; docs/api-shapes.md says how
// each provider's definition differs.
import { beforeAll, describe, expect, it } from "vitest";
import { sidecar, type Sidecar } from "./helpers/sidecar";
import { snap, STATE, TOKEN_STATE, cut } from "./helpers/harness";

interface Quirk {
  name: string;
  path: string;
  request: object;
  status?: number;
  contentType: string;
  body: string;
  want: { model?: string; prompt?: number; completion?: number; cached?: number; reasoning?: number; cacheWrite?: number; skip?: string };
}

const sse = (events: object[]) => events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join("") + "data: [DONE]\n\n";
const chunk = (model: string, extra: object) => ({ id: "chatcmpl-1", object: "chat.completion.chunk", created: 1, model, ...extra });
const delta = (model: string, content: string) => chunk(model, { choices: [{ index: 0, delta: { content }, finish_reason: null }] });

const QUIRKS: Quirk[] = [
  {
    // Some vLLM-derived servers put the usage inside the choice.
    name: "usage inside choices[i]",
    path: "/v1/chat/completions",
    request: { model: "m", messages: [], stream: true },
    contentType: "text/event-stream",
    body: sse([
      delta("m", "Hi"),
      chunk("m", {
        choices: [{ index: 0, delta: {}, finish_reason: "stop", usage: { prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 } }],
      }),
    ]),
    want: { model: "m", prompt: 9, completion: 4 },
  },
  {
    // OpenAI-compatible embedding servers (e.g. some TEI/infinity deployments) report only
    // usage.total_tokens: for embeddings that total is the prompt.
    name: "embeddings server with only usage.total_tokens",
    path: "/v1/embeddings",
    request: { model: "bge-m3", input: ["hello", "world"] },
    contentType: "application/json",
    body: JSON.stringify({
      object: "list",
      data: [{ object: "embedding", index: 0, embedding: [0.1] }],
      model: "bge-m3",
      usage: { total_tokens: 6 },
    }),
    want: { model: "bge-m3", prompt: 6 },
  },
  {
    // ...but a chat completion's total is never taken for its prompt.
    name: "chat completion with only usage.total_tokens: no prompt invented",
    path: "/v1/chat/completions",
    request: { model: "m", messages: [] },
    contentType: "application/json",
    body: JSON.stringify({ model: "m", choices: [], usage: { total_tokens: 6 } }),
    want: { model: "m", skip: "no_usage" },
  },
  {
    // xAI: completion_tokens EXCLUDES reasoning_tokens (completion 12 + reasoning 230 = 242
    // billed output); the filter reports what the provider reports, reasoning separately.
    name: "xAI: completion excludes reasoning, reported as the provider says",
    path: "/v1/chat/completions",
    request: { model: "grok-3-mini", messages: [] },
    contentType: "application/json",
    body: JSON.stringify({
      id: "x",
      object: "chat.completion",
      model: "grok-3-mini",
      choices: [{ index: 0, message: { role: "assistant", content: "4" }, finish_reason: "stop" }],
      usage: {
        prompt_tokens: 14,
        completion_tokens: 12,
        total_tokens: 256,
        prompt_tokens_details: { text_tokens: 14, cached_tokens: 6 },
        completion_tokens_details: { reasoning_tokens: 230 },
      },
    }),
    want: { model: "grok-3-mini", prompt: 14, completion: 12, cached: 6, reasoning: 230 },
  },
  {
    // Groq: the last chunk carries x_groq.usage and the same numbers again as usage: one count.
    name: "Groq: usage and x_groq.usage in one chunk are never summed",
    path: "/openai/v1/chat/completions",
    request: { model: "llama-3.3-70b-versatile", messages: [], stream: true },
    contentType: "text/event-stream",
    body: sse([
      delta("llama-3.3-70b-versatile", "Hi"),
      chunk("llama-3.3-70b-versatile", {
        choices: [{ index: 0, delta: {}, finish_reason: "stop" }],
        x_groq: { id: "req_1", usage: { queue_time: 0.02, prompt_tokens: 18, completion_tokens: 137, total_tokens: 155 } },
        usage: { queue_time: 0.02, prompt_tokens: 18, completion_tokens: 137, total_tokens: 155 },
      }),
    ]),
    want: { model: "llama-3.3-70b-versatile", prompt: 18, completion: 137 },
  },
  {
    // Azure OpenAI: the first chunk is the prompt filter's, with model "" and choices [].
    name: "Azure: first chunk with empty model and choices: []",
    path: "/openai/deployments/gpt-4o/chat/completions",
    request: { messages: [], stream: true, stream_options: { include_usage: true } },
    contentType: "text/event-stream",
    body: sse([
      { choices: [], created: 0, id: "", model: "", object: "", prompt_filter_results: [{ prompt_index: 0, content_filter_results: {} }] },
      delta("gpt-4o-2024-11-20", "Hi"),
      chunk("gpt-4o-2024-11-20", { choices: [], usage: { prompt_tokens: 21, completion_tokens: 2, total_tokens: 23 } }),
    ]),
    want: { model: "gpt-4o-2024-11-20", prompt: 21, completion: 2 },
  },
  {
    // Mistral, DeepSeek: "usage": null on every chunk, then the usage on the finish chunk itself.
    name: "usage on the finish chunk, usage: null before it",
    path: "/v1/chat/completions",
    request: { model: "deepseek-chat", messages: [], stream: true },
    contentType: "text/event-stream",
    body: sse([
      chunk("deepseek-chat", { choices: [{ index: 0, delta: { content: "Hi" }, finish_reason: null }], usage: null }),
      chunk("deepseek-chat", {
        choices: [{ index: 0, delta: { content: "" }, finish_reason: "stop" }],
        usage: { prompt_tokens: 10, completion_tokens: 3, total_tokens: 13, prompt_cache_hit_tokens: 8, prompt_cache_miss_tokens: 2 },
      }),
    ]),
    want: { model: "deepseek-chat", prompt: 10, completion: 3, cached: 8 },
  },
  {
    // OpenRouter pads a non-streamed answer with blank lines while the model works.
    name: "OpenRouter: whitespace padding before the JSON",
    path: "/api/v1/chat/completions",
    request: { model: "openai/gpt-4o", messages: [] },
    contentType: "application/json",
    body: `\n\n         \n\n${JSON.stringify({ id: "gen-1", model: "openai/gpt-4o", choices: [], usage: { prompt_tokens: 7, completion_tokens: 5, total_tokens: 12 } })}`,
    want: { model: "openai/gpt-4o", prompt: 7, completion: 5 },
  },
  {
    // Gemini without ?alt=sse: one JSON array; separators mix CRLF and LF; the first element has
    // no candidatesTokenCount yet.
    name: "Gemini: streamed JSON array, mixed CRLF/LF, first element without candidatesTokenCount",
    path: "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
    request: { contents: [] },
    contentType: "application/json; charset=UTF-8",
    body:
      `[{"candidates": [{"content": {"parts": [{"text": "Hi"}],"role": "model"}}],"usageMetadata": {"promptTokenCount": 8,"totalTokenCount": 8},"modelVersion": "gemini-2.5-flash"}\r\n` +
      `,\n{"candidates": [{"content": {"parts": [{"text": " there"}],"role": "model"},"finishReason": "STOP"}],"usageMetadata": {"promptTokenCount": 8,"candidatesTokenCount": 2,"totalTokenCount": 40,"thoughtsTokenCount": 30},"modelVersion": "gemini-2.5-flash"}\n]`,
    want: { model: "gemini-2.5-flash", prompt: 8, completion: 2, reasoning: 30 },
  },
  {
    // Gemini answers a bad ?alt=sse request 400 with content-type text/event-stream and a plain
    // JSON error body: nothing is read, nothing traps.
    name: "Gemini: 400 with text/event-stream and a plain JSON error body",
    path: "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
    request: { contents: [] },
    status: 400,
    contentType: "text/event-stream",
    body: JSON.stringify({ error: { code: 400, message: "Invalid JSON payload received.", status: "INVALID_ARGUMENT" } }, null, 2),
    want: { model: "gemini-2.5-flash", skip: "error_status" },
  },
  {
    // Anthropic with server tools: message_delta's usage repeats input_tokens (and the cache
    // counts), superseding message_start's.
    name: "Anthropic: message_delta's input count supersedes message_start's",
    path: "/v1/messages",
    request: { model: "claude-sonnet-4-5", max_tokens: 64, stream: true, messages: [] },
    contentType: "text/event-stream",
    body: [
      [
        "message_start",
        {
          type: "message_start",
          message: { model: "claude-sonnet-4-5-20250929", usage: { input_tokens: 2679, cache_read_input_tokens: 0, output_tokens: 3 } },
        },
      ],
      ["content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hi" } }],
      [
        "message_delta",
        {
          type: "message_delta",
          delta: { stop_reason: "end_turn" },
          usage: {
            input_tokens: 10682,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: 0,
            output_tokens: 510,
            server_tool_use: { web_search_requests: 1 },
          },
        },
      ],
      ["message_stop", { type: "message_stop" }],
    ]
      .map(([e, d]) => `event: ${e}\ndata: ${JSON.stringify(d)}\n\n`)
      .join(""),
    want: { model: "claude-sonnet-4-5-20250929", prompt: 10682, completion: 510, cached: 0, cacheWrite: 0 },
  },
];

function published(fs: Record<string, string>) {
  const n = (k: keyof typeof TOKEN_STATE) => (fs[STATE + TOKEN_STATE[k]] === undefined ? undefined : Number(fs[STATE + TOKEN_STATE[k]]));
  return {
    model: fs[STATE + "response_model"] ?? fs[STATE + "request_model"],
    prompt: n("prompt"),
    completion: n("completion"),
    cached: n("cached"),
    reasoning: n("reasoning"),
    cacheWrite: n("cacheWrite"),
    skip: fs[STATE + "usage_skipped"],
  };
}

function exchange(q: Quirk, body: Uint8Array[]) {
  return {
    request: {
      method: "POST",
      path: q.path,
      authority: "llm.example.com",
      headers: [["content-type", "application/json"]] as [string, string][],
      body: JSON.stringify(q.request),
    },
    response: { status: q.status ?? 200, headers: [["content-type", q.contentType]] as [string, string][], body },
  };
}

describe("provider quirks", () => {
  let s: Sidecar;
  beforeAll(async () => {
    s = await sidecar();
  });

  for (const q of QUIRKS) {
    it(`${q.name}: the provider's numbers, whole and split at every byte`, () => {
      const body = new TextEncoder().encode(q.body);
      const want = {
        model: undefined,
        prompt: undefined,
        completion: undefined,
        cached: undefined,
        reasoning: undefined,
        cacheWrite: undefined,
        skip: undefined,
        ...q.want,
      };
      const whole = snap(s, exchange(q, [body]));
      expect(whole.failed, whole.trap).toBe(false);
      expect(published(whole.filterState)).toEqual(want);
      expect(whole.downstreamBody).toBe(Buffer.from(body).toString("latin1"));
      for (let at = 1; at < body.length; at++) {
        const r = snap(s, exchange(q, cut(body, [at])));
        expect([at, published(r.filterState)]).toEqual([at, want]);
      }
    });
  }
});
