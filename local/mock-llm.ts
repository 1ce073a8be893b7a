// An embedded mock LLM provider on loopback: OpenAI-compatible chat completions
// (/compatible-mode/v1/chat/completions, /v1/chat/completions) and DashScope native text
// generation (/api/v1/services/aigc/text-generation/generation), JSON and SSE; and, to try the
// other API shapes the filter reads (docs/api-shapes.md): the OpenAI Responses API
// (/v1/responses), Gemini (/v1beta/models/{model}:generateContent, :streamGenerateContent with
// or without ?alt=sse), Anthropic Messages (/v1/messages), Bedrock Converse and InvokeModel (/model/{id}/converse, /invoke,
// with the x-amzn-bedrock-*-token-count headers; /converse-stream and /invoke-with-response-stream in the binary
// application/vnd.amazon.eventstream framing), DashScope applications (/api/v1/apps/{id}/completion),
// Cohere v2 (/v2/chat, /v2/embed), Ollama (/api/chat, /api/generate, /api/embed; NDJSON
// streams), Hugging Face TGI (/generate, /generate_stream), Anthropic on Vertex AI
// (.../publishers/anthropic/models/{m}:rawPredict, :streamRawPredict) and Gemini embeddings
// (/v1beta/models/{m}:embedContent, :batchEmbedContents; Vertex .../publishers/google/models/{m}:predict),
// OpenAI images (/v1/images/generations, /v1/images/edits) and transcriptions
// (/v1/audio/transcriptions; multipart uploads: the mock reads only their `model` field).
//
// Token counts are deterministic functions of the input, so that they vary with the request:
//   prompt tokens     = whitespace-separated words of all message contents (or the prompt)
//                       + a per-model overhead (PROMPT_OVERHEAD)
//   completion tokens = words of the reply = REPLY_BASE[model] + (sum of the prompt's UTF-16
//                       code units mod 41), capped by max_tokens (finish_reason "length").
// With these tables the seed's request {"messages":[{"role":"user","content":"Please introduce
// yourself"}]} costs qwen-1.8b-chat 3 + 72 tokens and qwen-turbo 11 + 85, the values of the
// seed's Prometheus output.
//
// Like a provider, it answers brotli or gzip when the client accepts them (content-coding.ts).
//
// The mock checks `authorization: Bearer <key>` (401 otherwise) and requires a model (400
// otherwise): a 200 proves the filter injected both.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { EventEmitter } from "node:events";
import { chunkMessage, eventMessage } from "./aws-eventstream";
import { chooseCoding, encodeBody, encodeStream } from "./content-coding";

export const PROMPT_OVERHEAD: Record<string, number> = {
  "qwen-1.8b-chat": 0,
  "qwen-turbo": 8,
  "qwen-plus": 8,
  "qwen-max": 8,
};
export const DEFAULT_PROMPT_OVERHEAD = 5;

export const REPLY_BASE: Record<string, number> = {
  "qwen-1.8b-chat": 45,
  "qwen-turbo": 58,
  "qwen-plus": 70,
  "qwen-max": 90,
};
export const DEFAULT_REPLY_BASE = 50;
export const REPLY_SPREAD = 41;

const FILLER = (
  "I can answer questions, summarize documents, translate between languages, write and review " +
  "code, draft emails and reports, explain difficult ideas step by step, and help you plan your " +
  "work. This reply comes from a local mock provider, so every word here is a placeholder whose " +
  "only job is to be counted as one completion token by the mock and by the sidecar filter that " +
  "watches the traffic between your application and the model."
).split(" ");

export function countWords(text: string): number {
  const t = text.trim();
  return t === "" ? 0 : t.split(/\s+/).length;
}

function codeUnitSum(text: string): number {
  let s = 0;
  for (let i = 0; i < text.length; i++) s += text.charCodeAt(i);
  return s;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
}

/** The prompt tokens of `promptText` for `model`. */
export function promptTokens(model: string, promptText: string): number {
  return countWords(promptText) + (PROMPT_OVERHEAD[model] ?? DEFAULT_PROMPT_OVERHEAD);
}

/** The reply (its words are the completion tokens) and why it ended. */
export function reply(model: string, promptText: string, maxTokens?: number): { words: string[]; finishReason: "stop" | "length" } {
  const n = (REPLY_BASE[model] ?? DEFAULT_REPLY_BASE) + (codeUnitSum(promptText) % REPLY_SPREAD);
  const head = `Hello! I am ${model}, a mock large language model running next to your local sidecar.`.split(" ");
  const words: string[] = [];
  for (let i = 0; i < n; i++) words.push(i < head.length ? head[i] : FILLER[(i - head.length) % FILLER.length]);
  if (maxTokens !== undefined && maxTokens < n) return { words: words.slice(0, Math.max(0, maxTokens)), finishReason: "length" };
  return { words, finishReason: "stop" };
}

/** Text of an OpenAI/DashScope message content (string or array of parts). */
function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((p) =>
        typeof p === "string"
          ? p
          : p && typeof p === "object" && typeof (p as { text?: unknown }).text === "string"
            ? (p as { text: string }).text
            : "",
      )
      .filter((s) => s !== "")
      .join("\n");
  }
  return "";
}

function messagesText(messages: unknown): string | undefined {
  if (!Array.isArray(messages)) return undefined;
  return messages.map((m) => contentText((m as { content?: unknown } | null)?.content)).join("\n");
}

export interface MockRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  status: number;
}

export interface MockLlmOptions {
  /** Accepted API key (`authorization: Bearer <key>`). */
  apiKey: string;
  /** Delay between SSE events, ms (0 = as fast as possible). */
  streamDelayMs?: number;
  /** Serve HTTPS with this key and certificate (PEM) instead of HTTP. */
  tls?: { key: string | Buffer; cert: string | Buffer };
}

export const OPENAI_PATHS = ["/compatible-mode/v1/chat/completions", "/v1/chat/completions"];
export const DASHSCOPE_PATH = "/api/v1/services/aigc/text-generation/generation";

/** The other shapes the mock speaks, by path. */
export type MockShape =
  | "responses"
  | "anthropic"
  | "gemini"
  | "bedrock-converse"
  | "bedrock-converse-stream"
  | "bedrock-invoke"
  | "bedrock-invoke-stream"
  | "dashscope-apps"
  | "cohere"
  | "ollama"
  | "tgi"
  | "vertex-anthropic"
  | "gemini-embed"
  | "openai-images"
  | "openai-audio";
export function mockShape(path: string): { shape: MockShape; model?: string; stream?: boolean } | undefined {
  if (path === "/v1/responses" || path === "/openai/v1/responses") return { shape: "responses" };
  if (path === "/v1/messages") return { shape: "anthropic" };
  if (path === "/v2/chat" || path === "/v2/embed") return { shape: "cohere" };
  if (/\/images\/(generations|edits)$/.test(path)) return { shape: "openai-images" };
  if (/\/audio\/transcriptions$/.test(path)) return { shape: "openai-audio" };
  if (path === "/api/chat" || path === "/api/generate" || path === "/api/embed") return { shape: "ollama" };
  if (path === "/generate" || path === "/generate_stream") return { shape: "tgi", model: "tgi", stream: path === "/generate_stream" };
  let m = /\/publishers\/anthropic\/models\/([^/:]+):(rawPredict|streamRawPredict)$/.exec(path);
  if (m) return { shape: "vertex-anthropic", model: decodeURIComponent(m[1]), stream: m[2] === "streamRawPredict" };
  m = /\/models\/([^/:]+):(embedContent|batchEmbedContents)$/.exec(path) ?? /\/publishers\/google\/models\/([^/:]+):(predict)$/.exec(path);
  if (m) return { shape: "gemini-embed", model: decodeURIComponent(m[1]) };
  m = /\/models\/([^/:]+):(generateContent|streamGenerateContent)$/.exec(path);
  if (m) return { shape: "gemini", model: decodeURIComponent(m[1]), stream: m[2] === "streamGenerateContent" };
  m = /^\/model\/([^/]+)\/(converse|converse-stream|invoke|invoke-with-response-stream)$/.exec(path);
  if (m) {
    const shapes: Record<string, MockShape> = {
      converse: "bedrock-converse",
      "converse-stream": "bedrock-converse-stream",
      invoke: "bedrock-invoke",
      "invoke-with-response-stream": "bedrock-invoke-stream",
    };
    return { shape: shapes[m[2]], model: decodeURIComponent(m[1]) };
  }
  if (/^\/api\/v1\/apps\/[^/]+\/completion$/.test(path)) return { shape: "dashscope-apps", model: "qwen-plus" };
  return undefined;
}

/** A prompt given as a string or a list of strings (Ollama, Cohere embed, TGI). */
function inputText(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v.join("\n");
  return undefined;
}

/** The texts of a Gemini embedding request: `content`, `requests[].content`, or Vertex `instances[].content`. */
function embedText(body: Record<string, unknown>): string | undefined {
  const one = (c: unknown) => partsText([c]);
  if (body.content !== undefined) return one(body.content);
  if (Array.isArray(body.requests)) return body.requests.map((r) => one((r as { content?: unknown } | null)?.content) ?? "").join("\n");
  if (Array.isArray(body.instances))
    return body.instances.map((r) => String((r as { content?: unknown } | null)?.content ?? "")).join("\n");
  return undefined;
}

/** Input text of a Responses API `input` (a string or a list of messages). */
function responsesInputText(input: unknown): string | undefined {
  if (typeof input === "string") return input;
  return messagesText(input);
}

/** Input text of Gemini `contents` / Bedrock `messages` (parts with a `text`). */
function partsText(list: unknown): string | undefined {
  if (!Array.isArray(list)) return undefined;
  return list
    .map((c) => {
      const parts = (c as { parts?: unknown; content?: unknown } | null)?.parts ?? (c as { content?: unknown } | null)?.content;
      if (typeof parts === "string") return parts;
      return Array.isArray(parts)
        ? parts.map((p) => (typeof (p as { text?: unknown })?.text === "string" ? (p as { text: string }).text : "")).join(" ")
        : "";
    })
    .join("\n");
}

// ---------------------------------------------------------------- the other shapes' answers

/** The prompt text of a request in `shape`, where that provider puts it; undefined: there is none. */
function shapeInputText(shape: MockShape, body: Record<string, unknown>): string | undefined {
  switch (shape) {
    case "responses":
      return responsesInputText(body.input);
    case "gemini":
      return partsText(body.contents);
    case "dashscope-apps":
      return typeof (body.input as { prompt?: unknown } | undefined)?.prompt === "string"
        ? (body.input as { prompt: string }).prompt
        : undefined;
    case "anthropic":
    case "vertex-anthropic":
    case "cohere":
    case "ollama":
      return messagesText(body.messages) ?? inputText(body.prompt ?? body.input ?? body.texts);
    case "tgi":
      return inputText(body.inputs);
    case "gemini-embed":
      return embedText(body);
    case "openai-images":
    case "openai-audio":
      return inputText(body.prompt ?? "an uploaded file");
    case "bedrock-converse":
    case "bedrock-converse-stream":
    case "bedrock-invoke":
    case "bedrock-invoke-stream":
      return partsText(body.messages);
  }
}

/** What a shape's answer is made of: the request, and the counts every shape reports. */
interface ShapeCall {
  /** The shape, and the model and streaming its path named. */
  at: { shape: MockShape; model?: string; stream?: boolean };
  body: Record<string, unknown>;
  /** For what some shapes read off the request line and headers (the path, ?alt=sse, x-dashscope-sse). */
  req: IncomingMessage;
  model: string;
  requestId: string;
  /** The reply: its words are the completion tokens. */
  words: string[];
  /** Prompt and completion tokens. */
  p: number;
  n: number;
  /** The mock prompt cache's share of `p`, and the reply's "reasoning" share of `n`. */
  cached: number;
  reasoning: number;
  /** Unix seconds. */
  created: number;
}

/** One JSON body (with extra headers), or events the mock writes one at a time. */
type ShapeAnswer =
  | { json: unknown; headers?: Record<string, string> }
  | { events: (string | Uint8Array)[]; headers: Record<string, string> };

const SSE_HEADERS = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" };
const BEDROCK_STREAM_HEADERS = { "content-type": "application/vnd.amazon.eventstream", "x-amzn-bedrock-content-type": "application/json" };

/** SSE with named events (`event: NAME`, then `data: JSON`), as OpenAI's Responses API, Anthropic and Cohere send. */
function namedSse(events: [string, unknown][]): ShapeAnswer {
  return { events: events.map(([e, d]) => `event: ${e}\ndata: ${JSON.stringify(d)}\n\n`), headers: SSE_HEADERS };
}

/** The path without the query (shapes that serve more than one path tell them apart by it). */
function pathOf(req: IncomingMessage): string {
  return (req.url ?? "/").split("?")[0];
}

/** The reply's words as text deltas: a space before every word but the first. */
function deltas(words: string[]): string[] {
  return words.map((w, i) => (i ? " " : "") + w);
}

/** OpenAI Responses API: one response object, or response.created, text deltas, response.completed. */
function responsesAnswer(c: ShapeCall): ShapeAnswer {
  const { p, n } = c;
  const usage = {
    input_tokens: p,
    input_tokens_details: { cached_tokens: c.cached },
    output_tokens: n,
    output_tokens_details: { reasoning_tokens: c.reasoning },
    total_tokens: p + n,
  };
  const response = (status: string, u: unknown, output: unknown[]) => ({
    id: `resp_${c.requestId}`,
    object: "response",
    created_at: c.created,
    status,
    error: null,
    model: c.model,
    output,
    usage: u,
  });
  const message = {
    type: "message",
    id: `msg_${c.requestId}`,
    status: "completed",
    role: "assistant",
    content: [{ type: "output_text", text: c.words.join(" "), annotations: [] }],
  };
  if (c.body.stream !== true) return { json: response("completed", usage, [message]) };
  return namedSse([
    ["response.created", { type: "response.created", sequence_number: 0, response: response("in_progress", null, []) }],
    ...deltas(c.words).map((delta, i): [string, unknown] => [
      "response.output_text.delta",
      { type: "response.output_text.delta", sequence_number: i + 1, item_id: message.id, output_index: 0, content_index: 0, delta },
    ]),
    ["response.completed", { type: "response.completed", sequence_number: n + 1, response: response("completed", usage, [message]) }],
  ]);
}

/** Gemini generateContent; streamed, SSE with ?alt=sse, else one JSON array written an element at a time. */
function geminiAnswer(c: ShapeCall): ShapeAnswer {
  const { p, n, reasoning } = c;
  const chunk = (t: string, done: number, last: boolean) => ({
    candidates: [{ content: { parts: [{ text: t }], role: "model" }, ...(last ? { finishReason: "STOP" } : {}), index: 0 }],
    usageMetadata: {
      promptTokenCount: p,
      candidatesTokenCount: done,
      totalTokenCount: p + done + (last ? reasoning : 0),
      cachedContentTokenCount: c.cached,
      ...(last ? { thoughtsTokenCount: reasoning } : {}),
    },
    modelVersion: c.model,
    responseId: c.requestId,
  });
  if (!c.at.stream) return { json: chunk(c.words.join(" "), n, true) };
  const parts = deltas(c.words).map((t, i) => chunk(t, i + 1, i === n - 1));
  if (parts.length === 0) parts.push(chunk("", 0, true));
  const alt = new URL(c.req.url ?? "/", "http://x").searchParams.get("alt") === "sse";
  if (alt) return { events: parts.map((x) => `data: ${JSON.stringify(x)}\r\n\r\n`), headers: SSE_HEADERS };
  return {
    events: parts.map((x, i) => (i === 0 ? "[" : ",\r\n") + JSON.stringify(x) + (i === parts.length - 1 ? "]" : "")),
    headers: { "content-type": "application/json; charset=UTF-8" },
  };
}

/** Anthropic Messages: one message, or message_start, a text block's deltas, message_delta (output tokens). */
function anthropicAnswer(c: ShapeCall): ShapeAnswer {
  const { p, n, cached, model } = c;
  const usage = { input_tokens: p - cached, cache_creation_input_tokens: 0, cache_read_input_tokens: cached, output_tokens: n };
  const id = `msg_${c.requestId}`;
  if (c.body.stream !== true) {
    const content = [{ type: "text", text: c.words.join(" ") }];
    return { json: { id, type: "message", role: "assistant", model, content, stop_reason: "end_turn", stop_sequence: null, usage } };
  }
  const start = { id, type: "message", role: "assistant", model, content: [], stop_reason: null, usage: { ...usage, output_tokens: 1 } };
  return namedSse([
    ["message_start", { type: "message_start", message: start }],
    ["content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }],
    ...deltas(c.words).map((text): [string, unknown] => [
      "content_block_delta",
      { type: "content_block_delta", index: 0, delta: { type: "text_delta", text } },
    ]),
    ["content_block_stop", { type: "content_block_stop", index: 0 }],
    ["message_delta", { type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: n } }],
    ["message_stop", { type: "message_stop" }],
  ]);
}

/** Anthropic on Vertex AI (rawPredict, streamRawPredict): the Messages API's body; the model came from the path. */
function vertexAnthropicAnswer(c: ShapeCall): ShapeAnswer {
  const { p, n, cached } = c;
  const usage = { input_tokens: p - cached, cache_creation_input_tokens: 0, cache_read_input_tokens: cached, output_tokens: n };
  const message = {
    id: `msg_vrtx_${c.requestId}`,
    type: "message",
    role: "assistant",
    model: c.model,
    stop_reason: "end_turn",
    stop_sequence: null,
  };
  if (!c.at.stream) return { json: { ...message, content: [{ type: "text", text: c.words.join(" ") }], usage } };
  return namedSse([
    [
      "message_start",
      { type: "message_start", message: { ...message, content: [], stop_reason: null, usage: { ...usage, output_tokens: 1 } } },
    ],
    ...deltas(c.words).map((text): [string, unknown] => [
      "content_block_delta",
      { type: "content_block_delta", index: 0, delta: { type: "text_delta", text } },
    ]),
    ["message_delta", { type: "message_delta", delta: { stop_reason: "end_turn" }, usage: { output_tokens: n } }],
    ["message_stop", { type: "message_stop" }],
  ]);
}

/** Bedrock Converse: the usage in the body, the prompt cache's reads apart from the input. */
function bedrockConverseAnswer(c: ShapeCall): ShapeAnswer {
  const { p, n, cached } = c;
  return {
    json: {
      output: { message: { role: "assistant", content: [{ text: c.words.join(" ") }] } },
      stopReason: "end_turn",
      usage: { inputTokens: p - cached, outputTokens: n, totalTokens: p + n, cacheReadInputTokens: cached, cacheWriteInputTokens: 0 },
      metrics: { latencyMs: 5 },
    },
  };
}

/** Bedrock ConverseStream: AWS event stream frames, one message per event; usage in the closing metadata event. */
function bedrockConverseStreamAnswer(c: ShapeCall): ShapeAnswer {
  const { p, n, cached } = c;
  const frames = [
    eventMessage("messageStart", { p: "abcdefgh", role: "assistant" }),
    ...deltas(c.words).map((text) => eventMessage("contentBlockDelta", { contentBlockIndex: 0, delta: { text }, p: "abcd" })),
    eventMessage("contentBlockStop", { contentBlockIndex: 0, p: "abcdefghijkl" }),
    eventMessage("messageStop", { p: "abcdef", stopReason: "end_turn" }),
    eventMessage("metadata", {
      metrics: { latencyMs: 5 },
      p: "abc",
      usage: { inputTokens: p - cached, outputTokens: n, totalTokens: p + n, cacheReadInputTokens: cached, cacheWriteInputTokens: 0 },
    }),
  ];
  return { events: frames, headers: BEDROCK_STREAM_HEADERS };
}

/** Bedrock InvokeModel: the Messages API's body, and Bedrock's own counts in headers (sent for every model). */
function bedrockInvokeAnswer(c: ShapeCall): ShapeAnswer {
  const { p, n, cached } = c;
  return {
    json: {
      id: `msg_bdrk_${c.requestId}`,
      type: "message",
      role: "assistant",
      model: c.model,
      content: [{ type: "text", text: c.words.join(" ") }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: { input_tokens: p - cached, cache_creation_input_tokens: 0, cache_read_input_tokens: cached, output_tokens: n },
    },
    headers: {
      "x-amzn-bedrock-input-token-count": String(p - cached),
      "x-amzn-bedrock-output-token-count": String(n),
      "x-amzn-bedrock-cache-read-input-token-count": String(cached),
      "x-amzn-bedrock-cache-write-input-token-count": "0",
    },
  };
}

/** Bedrock InvokeModelWithResponseStream: the Messages API's events, base64 in `chunk` events; Bedrock's metrics on the last. */
function bedrockInvokeStreamAnswer(c: ShapeCall): ShapeAnswer {
  const { p, n, cached } = c;
  const usage = { input_tokens: p - cached, cache_creation_input_tokens: 0, cache_read_input_tokens: cached, output_tokens: 1 };
  const message = {
    id: `msg_bdrk_${c.requestId}`,
    type: "message",
    role: "assistant",
    model: c.model,
    content: [],
    stop_reason: null,
    usage,
  };
  const frames = [
    chunkMessage({ type: "message_start", message }),
    chunkMessage({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }),
    ...deltas(c.words).map((text) => chunkMessage({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text } })),
    chunkMessage({ type: "content_block_stop", index: 0 }),
    chunkMessage({ type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: n } }),
    chunkMessage({
      type: "message_stop",
      "amazon-bedrock-invocationMetrics": {
        inputTokenCount: p - cached,
        outputTokenCount: n,
        invocationLatency: 5,
        firstByteLatency: 1,
        cacheReadInputTokenCount: cached,
        cacheWriteInputTokenCount: 0,
      },
    }),
  ];
  return { events: frames, headers: BEDROCK_STREAM_HEADERS };
}

/** DashScope applications: an app that called two models, a planner (qwen-turbo, 20 tokens out) and the answerer. */
function dashscopeAppsAnswer(c: ShapeCall): ShapeAnswer {
  const { p, n, words, requestId } = c;
  const planner = { model_id: "qwen-turbo", input_tokens: p, output_tokens: 20 };
  const event = (k: number, last: boolean) => ({
    output: { finish_reason: last ? "stop" : "null", session_id: requestId, text: words.slice(0, k).join(" ") },
    usage: { models: [planner, { model_id: c.model, input_tokens: p + 20, output_tokens: k }] },
    request_id: requestId,
  });
  const sse = c.req.headers["x-dashscope-sse"] === "enable" || /text\/event-stream/.test(String(c.req.headers.accept ?? ""));
  if (!sse) return { json: event(n, true) };
  return {
    events: words.map((_, i) => `id:${i + 1}\nevent:result\n:HTTP_STATUS/200\ndata:${JSON.stringify(event(i + 1, i === n - 1))}\n\n`),
    headers: { "content-type": "text/event-stream;charset=UTF-8", "cache-control": "no-cache" },
  };
}

/** Cohere v2: /v2/embed (billed input tokens), /v2/chat (one message, or message-start, deltas, message-end). */
function cohereAnswer(c: ShapeCall): ShapeAnswer {
  const { p, n, requestId } = c;
  if (pathOf(c.req) === "/v2/embed")
    return {
      json: {
        id: requestId,
        texts: c.body.texts,
        embeddings: { float: [[0.016, -0.008]] },
        meta: { api_version: { version: "2" }, billed_units: { input_tokens: p } },
      },
    };
  // Cohere bills no prompt template: billed input is the words alone.
  const usage = {
    billed_units: { input_tokens: Math.max(0, p - 5), output_tokens: n },
    tokens: { input_tokens: p, output_tokens: n },
    cached_tokens: c.cached,
  };
  if (c.body.stream !== true) {
    const message = { role: "assistant", content: [{ type: "text", text: c.words.join(" ") }] };
    return { json: { id: requestId, message, finish_reason: "COMPLETE", usage } };
  }
  return namedSse([
    ["message-start", { type: "message-start", id: requestId, delta: { message: { role: "assistant" } } }],
    ...deltas(c.words).map((text): [string, unknown] => [
      "content-delta",
      { type: "content-delta", index: 0, delta: { message: { content: { text } } } },
    ]),
    ["message-end", { type: "message-end", delta: { finish_reason: "COMPLETE", usage } }],
  ]);
}

/** Ollama: /api/embed, and /api/chat or /api/generate as one object or NDJSON (streaming unless "stream": false). */
function ollamaAnswer(c: ShapeCall): ShapeAnswer {
  const { p, n, model } = c;
  const path = pathOf(c.req);
  if (path === "/api/embed") return { json: { model, embeddings: [[0.01, -0.0017]], total_duration: 14143917, prompt_eval_count: p } };
  const chat = path === "/api/chat";
  const part = (w: string, done: boolean) => ({
    model,
    created_at: new Date().toISOString(),
    ...(chat ? { message: { role: "assistant", content: w } } : { response: w }),
    done,
    ...(done ? { done_reason: "stop", total_duration: 4883583458, prompt_eval_count: p, eval_count: n } : {}),
  });
  if (c.body.stream === false) return { json: part(c.words.join(" "), true) };
  const lines = [...deltas(c.words).map((w) => part(w, false)), part("", true)].map((o) => `${JSON.stringify(o)}\n`);
  return { events: lines, headers: { "content-type": "application/x-ndjson" } };
}

/** Hugging Face TGI: /generate (generated_text and details), /generate_stream (token events; details on the last). */
function tgiAnswer(c: ShapeCall): ShapeAnswer {
  const { n, words } = c;
  const details = { finish_reason: "eos_token", generated_tokens: n, seed: null };
  if (!c.at.stream) return { json: { generated_text: words.join(" "), details: { ...details, prefill: [], tokens: [] } } };
  const events = deltas(words).map((text, i) => {
    const last = i === n - 1;
    const ev = {
      index: i + 1,
      token: { id: i, text, logprob: -0.5, special: false },
      generated_text: last ? words.join(" ") : null,
      details: last ? details : null,
    };
    return `data:${JSON.stringify(ev)}\n\n`;
  });
  return { events, headers: SSE_HEADERS };
}

/** OpenAI images: gpt-image-1's usage; dall-e models report none. */
function openaiImagesAnswer(c: ShapeCall): ShapeAnswer {
  const { p } = c;
  const usage = {
    input_tokens: p,
    input_tokens_details: { text_tokens: p, image_tokens: 0 },
    output_tokens: 272,
    total_tokens: p + 272,
  };
  return { json: { created: c.created, data: [{ b64_json: "iVBORw0KGgo=" }], ...(c.model.startsWith("dall-e") ? {} : { usage }) } };
}

/** OpenAI transcriptions: whisper-1 bills by duration (seconds, not tokens); gpt-4o-transcribe by tokens. */
function openaiAudioAnswer(c: ShapeCall): ShapeAnswer {
  const { p, n } = c;
  return {
    json: {
      text: c.words.join(" "),
      usage:
        c.model === "whisper-1"
          ? { type: "duration", seconds: 7 }
          : { type: "tokens", input_tokens: p, output_tokens: n, total_tokens: p + n },
    },
  };
}

/** Gemini embeddings: Vertex :predict (token counts per instance); AI Studio reports no token counts. */
function geminiEmbedAnswer(c: ShapeCall): ShapeAnswer {
  const path = pathOf(c.req);
  const body = c.body;
  if (path.endsWith(":predict")) {
    const instances = Array.isArray(body.instances) ? body.instances : [];
    return {
      json: {
        predictions: instances.map((x) => ({
          embeddings: {
            statistics: { token_count: countWords(String((x as { content?: unknown } | null)?.content ?? "")), truncated: false },
            values: [0.01, -0.02],
          },
        })),
        metadata: { billableCharacterCount: JSON.stringify(instances).length },
      },
    };
  }
  if (path.endsWith(":batchEmbedContents"))
    return { json: { embeddings: (Array.isArray(body.requests) ? body.requests : []).map(() => ({ values: [0.01, -0.02] })) } };
  return { json: { embedding: { values: [0.01, -0.02] } } };
}

/** Each shape's answer, from the providers' documented formats. */
const SHAPE_ANSWERS: Record<MockShape, (c: ShapeCall) => ShapeAnswer> = {
  responses: responsesAnswer,
  anthropic: anthropicAnswer,
  gemini: geminiAnswer,
  "bedrock-converse": bedrockConverseAnswer,
  "bedrock-converse-stream": bedrockConverseStreamAnswer,
  "bedrock-invoke": bedrockInvokeAnswer,
  "bedrock-invoke-stream": bedrockInvokeStreamAnswer,
  "dashscope-apps": dashscopeAppsAnswer,
  cohere: cohereAnswer,
  ollama: ollamaAnswer,
  tgi: tgiAnswer,
  "vertex-anthropic": vertexAnthropicAnswer,
  "gemini-embed": geminiEmbedAnswer,
  "openai-images": openaiImagesAnswer,
  "openai-audio": openaiAudioAnswer,
};

/**
 * Events: "request" (MockRequest, when the mock has answered or started streaming), "sse"
 * ({ id, index, last }) after each SSE event is written.
 */
export class MockLlm extends EventEmitter {
  private server?: Server;
  private seq = 0;
  /** The last 100 requests. */
  readonly requests: MockRequest[] = [];
  private readonly sockets = new Set<import("node:net").Socket>();

  constructor(readonly options: MockLlmOptions) {
    super();
  }

  get port(): number {
    const address = this.server?.address() as AddressInfo | undefined;
    if (!address) throw new Error("mock LLM: not listening");
    return address.port;
  }

  get url(): string {
    return `${this.options.tls ? "https" : "http"}://127.0.0.1:${this.port}`;
  }

  async listen(port = 0): Promise<this> {
    const handler = (req: IncomingMessage, res: ServerResponse) => this.handle(req, res);
    const server: Server = this.options.tls
      ? createTlsServer({ key: this.options.tls.key, cert: this.options.tls.cert }, handler)
      : createServer(handler);
    server.on(this.options.tls ? "secureConnection" : "connection", (s: import("node:net").Socket) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.server = server;
    return this;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private record(r: MockRequest): void {
    this.requests.push(r);
    if (this.requests.length > 100) this.requests.shift();
    this.emit("request", r);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const path = (req.url ?? "/").split("?")[0];
      const rec: MockRequest = { method: req.method ?? "GET", path, headers: req.headers, body, status: 0 };
      const send = (status: number, obj: unknown, headers: Record<string, string> = {}) => {
        rec.status = status;
        this.record(rec);
        const coding = chooseCoding(req.headers["accept-encoding"]);
        const bytes = encodeBody(coding, JSON.stringify(obj));
        const encoded: Record<string, string> = coding === "identity" ? {} : { "content-encoding": coding, vary: "accept-encoding" };
        res.writeHead(status, { "content-type": "application/json", "content-length": String(bytes.length), ...encoded, ...headers });
        res.end(bytes);
      };
      const id = ++this.seq;
      const requestId = `mock-${id}`;
      const dashscope = path === DASHSCOPE_PATH;
      const other = mockShape(path);
      if (!dashscope && !other && !OPENAI_PATHS.includes(path)) {
        send(404, {
          error: {
            message: `mock LLM: no API at ${path} (try ${OPENAI_PATHS.join(", ")}, ${DASHSCOPE_PATH}, /v1/responses, /v1beta/models/{model}:generateContent, /model/{id}/converse, /api/v1/apps/{id}/completion)`,
            type: "invalid_request_error",
            code: "not_found",
          },
        });
        return;
      }
      if (req.method !== "POST") {
        send(405, {
          error: { message: `mock LLM: ${req.method} not allowed, use POST`, type: "invalid_request_error", code: "method_not_allowed" },
        });
        return;
      }
      // Bearer everywhere (Bedrock API keys are bearer tokens too); Gemini's x-goog-api-key and
      // Anthropic's x-api-key as well.
      const keyOk =
        req.headers.authorization === `Bearer ${this.options.apiKey}` ||
        (other?.shape === "gemini" && req.headers["x-goog-api-key"] === this.options.apiKey) ||
        (other?.shape === "anthropic" && req.headers["x-api-key"] === this.options.apiKey);
      if (!keyOk) {
        if (dashscope) send(401, { code: "InvalidApiKey", message: "Invalid API-key provided.", request_id: requestId });
        else
          send(401, {
            error: { message: "Incorrect API key provided.", type: "invalid_request_error", param: null, code: "invalid_api_key" },
            request_id: requestId,
          });
        return;
      }
      let parsed: Record<string, unknown>;
      const form = /^multipart\/form-data/i.test(String(req.headers["content-type"] ?? ""));
      if (form && (other?.shape === "openai-images" || other?.shape === "openai-audio")) {
        // A form upload: only its text fields matter here.
        const field = (name: string) => new RegExp(`name="${name}"\\r\\n\\r\\n([^\\r]*)`).exec(body)?.[1];
        const fields = { model: field("model") ?? "", prompt: field("prompt") ?? "an uploaded file", form: true };
        return this.otherShape(req, res, rec, fields, other, fields.model, requestId, send);
      }
      try {
        const v = JSON.parse(body) as unknown;
        if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error("not an object");
        parsed = v as Record<string, unknown>;
      } catch {
        if (dashscope) send(400, { code: "InvalidParameter", message: "The request body is not valid JSON.", request_id: requestId });
        else
          send(400, {
            error: {
              message: "The request body is not valid JSON.",
              type: "invalid_request_error",
              param: null,
              code: "invalid_request_error",
            },
            request_id: requestId,
          });
        return;
      }
      const model = typeof parsed.model === "string" ? parsed.model : "";
      if (other) return this.otherShape(req, res, rec, parsed, other, model, requestId, send);
      if (dashscope) this.dashscope(req, res, rec, parsed, model, requestId, send);
      else this.openai(res, rec, parsed, model, requestId, send);
    });
  }

  private openai(
    res: ServerResponse,
    rec: MockRequest,
    body: Record<string, unknown>,
    model: string,
    requestId: string,
    send: (status: number, obj: unknown) => void,
  ): void {
    const bad = (message: string, param: string) =>
      send(400, { error: { message, type: "invalid_request_error", param, code: "invalid_parameter_error" }, request_id: requestId });
    if (model === "") return bad("Model not specified", "model");
    const text = messagesText(body.messages);
    if (text === undefined) return bad("messages must be an array", "messages");
    const maxTokens =
      typeof body.max_tokens === "number"
        ? body.max_tokens
        : typeof body.max_completion_tokens === "number"
          ? body.max_completion_tokens
          : undefined;
    const p = promptTokens(model, text);
    const { words, finishReason } = reply(model, text, maxTokens);
    const usage = { prompt_tokens: p, completion_tokens: words.length, total_tokens: p + words.length };
    const id = `chatcmpl-${requestId}`;
    const created = Math.floor(Date.now() / 1000);
    if (body.stream !== true) {
      send(200, {
        id,
        object: "chat.completion",
        created,
        model,
        choices: [{ index: 0, message: { role: "assistant", content: words.join(" ") }, finish_reason: finishReason, logprobs: null }],
        usage,
        system_fingerprint: null,
      });
      return;
    }
    const so = body.stream_options as { include_usage?: unknown } | undefined;
    const includeUsage = so !== null && typeof so === "object" && so.include_usage === true;
    const chunk = (delta: object, finish: string | null, extra: object = {}) =>
      JSON.stringify({
        id,
        object: "chat.completion.chunk",
        created,
        model,
        choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
        system_fingerprint: null,
        ...(includeUsage ? { usage: null } : {}),
        ...extra,
      });
    const events: string[] = [chunk({ role: "assistant", content: "" }, null)];
    words.forEach((w, i) => events.push(chunk({ content: i === 0 ? w : " " + w }, null)));
    events.push(chunk({}, finishReason));
    if (includeUsage)
      events.push(JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [], system_fingerprint: null, usage }));
    events.push("[DONE]");
    this.stream(
      res,
      rec,
      events.map((e) => `data: ${e}\n\n`),
      { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" },
      requestId,
    );
  }

  private dashscope(
    req: IncomingMessage,
    res: ServerResponse,
    rec: MockRequest,
    body: Record<string, unknown>,
    model: string,
    requestId: string,
    send: (status: number, obj: unknown) => void,
  ): void {
    const bad = (message: string) => send(400, { code: "InvalidParameter", message, request_id: requestId });
    if (model === "") return bad("Model not exist.");
    const input = (body.input ?? {}) as { messages?: unknown; prompt?: unknown };
    const text = typeof input.prompt === "string" ? input.prompt : messagesText(input.messages);
    if (text === undefined) return bad("input.messages or input.prompt is required");
    const params = (body.parameters ?? {}) as { result_format?: unknown; incremental_output?: unknown; max_tokens?: unknown };
    const asMessage = params.result_format === "message";
    const incremental = params.incremental_output === true;
    const p = promptTokens(model, text);
    const { words, finishReason } = reply(model, text, typeof params.max_tokens === "number" ? params.max_tokens : undefined);
    const event = (content: string, n: number, finish: string) => ({
      output: asMessage
        ? { choices: [{ message: { role: "assistant", content }, finish_reason: finish }] }
        : { text: content, finish_reason: finish },
      usage: { input_tokens: p, output_tokens: n, total_tokens: p + n },
      request_id: requestId,
    });
    const sse = req.headers["x-dashscope-sse"] === "enable" || /text\/event-stream/.test(String(req.headers.accept ?? ""));
    if (!sse) {
      send(200, event(words.join(" "), words.length, finishReason));
      return;
    }
    const events: string[] = [];
    for (let i = 0; i < words.length; i++) {
      const last = i === words.length - 1;
      const content = incremental ? (i === 0 ? words[i] : " " + words[i]) : words.slice(0, i + 1).join(" ");
      events.push(
        `id:${i + 1}\nevent:result\n:HTTP_STATUS/200\ndata:${JSON.stringify(event(content, i + 1, last ? finishReason : "null"))}\n\n`,
      );
    }
    if (events.length === 0) events.push(`id:1\nevent:result\n:HTTP_STATUS/200\ndata:${JSON.stringify(event("", 0, finishReason))}\n\n`);
    this.stream(
      res,
      rec,
      events,
      { "content-type": "text/event-stream;charset=UTF-8", "cache-control": "no-cache", "x-dashscope-call-gateway": "true" },
      requestId,
    );
  }

  /** The shapes beyond OpenAI chat and DashScope native: the model and the prompt checked, the
   *  counts made, then the shape's answer (SHAPE_ANSWERS) sent whole or streamed. */
  private otherShape(
    req: IncomingMessage,
    res: ServerResponse,
    rec: MockRequest,
    body: Record<string, unknown>,
    at: { shape: MockShape; model?: string; stream?: boolean },
    bodyModel: string,
    requestId: string,
    send: (status: number, obj: unknown, headers?: Record<string, string>) => void,
  ): void {
    const bad = (message: string) =>
      send(400, { error: { message, type: "invalid_request_error", code: "invalid_parameter_error" }, request_id: requestId });
    const model = at.model ?? bodyModel;
    if (model === "") return bad("Model not specified");
    const text = shapeInputText(at.shape, body);
    if (text === undefined) return bad("no input text");
    const p = promptTokens(model, text);
    const { words } = reply(model, text);
    const n = words.length;
    // A mock prompt cache: a quarter of the prompt counts as cached, to show the cached-token
    // numbers; "reasoning" is a tenth of the reply.
    const cached = Math.floor(p / 4);
    const reasoning = Math.floor(n / 10);
    const created = Math.floor(Date.now() / 1000);
    const answer = SHAPE_ANSWERS[at.shape]({ at, body, req, model, requestId, words, p, n, cached, reasoning, created });
    if ("events" in answer) return this.stream(res, rec, answer.events, answer.headers, requestId);
    return send(200, answer.json, answer.headers);
  }

  private stream(
    res: ServerResponse,
    rec: MockRequest,
    events: (string | Uint8Array)[],
    headers: Record<string, string>,
    requestId: string,
  ): void {
    rec.status = 200;
    this.record(rec);
    const coding = chooseCoding(rec.headers["accept-encoding"]);
    const encoder = encodeStream(coding);
    const encoded: Record<string, string> = coding === "identity" ? {} : { "content-encoding": coding, vary: "accept-encoding" };
    res.writeHead(200, { ...headers, ...encoded, "x-request-id": requestId });
    res.flushHeaders();
    if (encoder !== null) encoder.pipe(res);
    const out = {
      write(event: string | Uint8Array) {
        if (encoder === null) res.write(event);
        else {
          encoder.write(event);
          encoder.flush();
        }
      },
      end() {
        if (encoder === null) res.end();
        else encoder.end();
      },
    };
    const delay = this.options.streamDelayMs ?? 0;
    let i = 0;
    let closed = false;
    res.on("close", () => (closed = true));
    const next = () => {
      if (closed) return;
      if (i >= events.length) {
        out.end();
        return;
      }
      const index = i++;
      out.write(events[index]);
      this.emit("sse", { id: requestId, index, last: i === events.length });
      if (delay > 0) setTimeout(next, delay);
      else setImmediate(next);
    };
    next();
  }
}

export async function startMockLlm(options: MockLlmOptions, port = 0): Promise<MockLlm> {
  return new MockLlm(options).listen(port);
}
