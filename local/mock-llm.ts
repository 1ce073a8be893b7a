// An embedded mock LLM provider on loopback: OpenAI-compatible chat completions
// (/compatible-mode/v1/chat/completions, /v1/chat/completions) and DashScope native text
// generation (/api/v1/services/aigc/text-generation/generation), JSON and SSE; and, to try the
// other API shapes the filter reads (docs/api-shapes.md): the OpenAI Responses API
// (/v1/responses), Gemini (/v1beta/models/{model}:generateContent, :streamGenerateContent with
// or without ?alt=sse), Anthropic Messages (/v1/messages), Bedrock Converse and InvokeModel (/model/{id}/converse, /invoke; the
// binary converse-stream is answered 501) and DashScope applications (/api/v1/apps/{id}/completion).
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
// The mock checks `authorization: Bearer <key>` (401 otherwise) and requires a model (400
// otherwise): a 200 proves the filter injected both.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { EventEmitter } from "node:events";

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
  | "dashscope-apps";
export function mockShape(path: string): { shape: MockShape; model?: string; stream?: boolean } | undefined {
  if (path === "/v1/responses" || path === "/openai/v1/responses") return { shape: "responses" };
  if (path === "/v1/messages") return { shape: "anthropic" };
  let m = /\/models\/([^/:]+):(generateContent|streamGenerateContent)$/.exec(path);
  if (m) return { shape: "gemini", model: decodeURIComponent(m[1]), stream: m[2] === "streamGenerateContent" };
  m = /^\/model\/([^/]+)\/(converse|converse-stream|invoke)$/.exec(path);
  if (m)
    return {
      shape: m[2] === "converse" ? "bedrock-converse" : m[2] === "invoke" ? "bedrock-invoke" : "bedrock-converse-stream",
      model: decodeURIComponent(m[1]),
    };
  if (/^\/api\/v1\/apps\/[^/]+\/completion$/.test(path)) return { shape: "dashscope-apps", model: "qwen-plus" };
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
        const text = JSON.stringify(obj);
        res.writeHead(status, { "content-type": "application/json", "content-length": String(Buffer.byteLength(text)), ...headers });
        res.end(text);
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

  /** The shapes beyond OpenAI chat and DashScope native, from the providers' documented formats. */
  private otherShape(
    req: IncomingMessage,
    res: ServerResponse,
    rec: MockRequest,
    body: Record<string, unknown>,
    at: { shape: MockShape; model?: string; stream?: boolean },
    bodyModel: string,
    requestId: string,
    send: (status: number, obj: unknown) => void,
  ): void {
    const bad = (message: string) =>
      send(400, { error: { message, type: "invalid_request_error", code: "invalid_parameter_error" }, request_id: requestId });
    const model = at.model ?? bodyModel;
    if (model === "") return bad("Model not specified");
    if (at.shape === "bedrock-converse-stream") {
      send(501, {
        message:
          "mock LLM: converse-stream answers in the binary application/vnd.amazon.eventstream framing, which the mock does not produce",
      });
      return;
    }
    const text = inputText(at.shape, body);
    if (text === undefined) return bad("no input text");
    const p = promptTokens(model, text);
    const { words } = reply(model, text);
    const n = words.length;
    // A mock prompt cache: a quarter of the prompt counts as cached, to show the cached-token
    // numbers; "reasoning" is a tenth of the reply.
    const cached = Math.floor(p / 4);
    const reasoning = Math.floor(n / 10);
    const created = Math.floor(Date.now() / 1000);
    const sseHeaders = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" };
    const shaped: ShapeReply = { req, res, rec, body, at, model, requestId, send, p, words, n, cached, reasoning, created, sseHeaders };
    switch (at.shape) {
      case "responses":
        return this.answerResponses(shaped);
      case "gemini":
        return this.answerGemini(shaped);
      case "bedrock-converse":
        return this.answerBedrockConverse(shaped);
      case "anthropic":
        return this.answerAnthropic(shaped);
      case "bedrock-invoke":
        return this.answerBedrockInvoke(shaped);
      case "dashscope-apps":
        return this.answerDashscopeApps(shaped);
    }
  }

  /** responses: the provider's documented response, streamed when asked. */
  private answerResponses(r: ShapeReply): void {
    const { res, rec, body, model, requestId, send, p, words, n, cached, reasoning, created, sseHeaders } = r;
    const usage = {
      input_tokens: p,
      input_tokens_details: { cached_tokens: cached },
      output_tokens: n,
      output_tokens_details: { reasoning_tokens: reasoning },
      total_tokens: p + n,
    };
    const response = (status: string, u: unknown, output: unknown[]) => ({
      id: `resp_${requestId}`,
      object: "response",
      created_at: created,
      status,
      error: null,
      model,
      output,
      usage: u,
    });
    const message = {
      type: "message",
      id: `msg_${requestId}`,
      status: "completed",
      role: "assistant",
      content: [{ type: "output_text", text: words.join(" "), annotations: [] }],
    };
    if (body.stream !== true) return send(200, response("completed", usage, [message]));
    const events = [
      ["response.created", { type: "response.created", sequence_number: 0, response: response("in_progress", null, []) }],
      ...words.map((w, i) => [
        "response.output_text.delta",
        {
          type: "response.output_text.delta",
          sequence_number: i + 1,
          item_id: message.id,
          output_index: 0,
          content_index: 0,
          delta: (i ? " " : "") + w,
        },
      ]),
      ["response.completed", { type: "response.completed", sequence_number: n + 1, response: response("completed", usage, [message]) }],
    ] as [string, unknown][];
    return this.stream(
      res,
      rec,
      events.map(([e, d]) => `event: ${e}\ndata: ${JSON.stringify(d)}\n\n`),
      sseHeaders,
      requestId,
    );
  }

  /** gemini: the provider's documented response, streamed when asked. */
  private answerGemini(r: ShapeReply): void {
    const { req, res, rec, model, requestId, send, p, words, n, cached, reasoning, sseHeaders, at } = r;
    const chunk = (t: string, done: number, last: boolean) => ({
      candidates: [{ content: { parts: [{ text: t }], role: "model" }, ...(last ? { finishReason: "STOP" } : {}), index: 0 }],
      usageMetadata: {
        promptTokenCount: p,
        candidatesTokenCount: done,
        totalTokenCount: p + done + (last ? reasoning : 0),
        cachedContentTokenCount: cached,
        ...(last ? { thoughtsTokenCount: reasoning } : {}),
      },
      modelVersion: model,
      responseId: requestId,
    });
    if (!at.stream) return send(200, chunk(words.join(" "), n, true));
    const parts = words.map((w, i) => chunk((i ? " " : "") + w, i + 1, i === n - 1));
    if (parts.length === 0) parts.push(chunk("", 0, true));
    const alt = new URL(req.url ?? "/", "http://x").searchParams.get("alt") === "sse";
    if (alt)
      return this.stream(
        res,
        rec,
        parts.map((c) => `data: ${JSON.stringify(c)}\r\n\r\n`),
        sseHeaders,
        requestId,
      );
    // without alt=sse: one JSON array, written an element at a time
    return this.stream(
      res,
      rec,
      parts.map((c, i) => (i === 0 ? "[" : ",\r\n") + JSON.stringify(c) + (i === parts.length - 1 ? "]" : "")),
      { "content-type": "application/json; charset=UTF-8" },
      requestId,
    );
  }

  /** bedrock-converse: the provider's documented response, streamed when asked. */
  private answerBedrockConverse(r: ShapeReply): void {
    const { send, p, words, n, cached } = r;
    return send(200, {
      output: { message: { role: "assistant", content: [{ text: words.join(" ") }] } },
      stopReason: "end_turn",
      usage: { inputTokens: p - cached, outputTokens: n, totalTokens: p + n, cacheReadInputTokens: cached, cacheWriteInputTokens: 0 },
      metrics: { latencyMs: 5 },
    });
  }

  /** anthropic: the provider's documented response, streamed when asked. */
  private answerAnthropic(r: ShapeReply): void {
    const { res, rec, body, model, requestId, send, p, words, n, cached, sseHeaders } = r;
    const usage = { input_tokens: p - cached, cache_creation_input_tokens: 0, cache_read_input_tokens: cached, output_tokens: n };
    if (body.stream !== true) {
      return send(200, {
        id: `msg_${requestId}`,
        type: "message",
        role: "assistant",
        model,
        content: [{ type: "text", text: words.join(" ") }],
        stop_reason: "end_turn",
        stop_sequence: null,
        usage,
      });
    }
    const events = [
      [
        "message_start",
        {
          type: "message_start",
          message: {
            id: `msg_${requestId}`,
            type: "message",
            role: "assistant",
            model,
            content: [],
            stop_reason: null,
            usage: { ...usage, output_tokens: 1 },
          },
        },
      ],
      ["content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }],
      ...words.map((w, i) => [
        "content_block_delta",
        { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: (i ? " " : "") + w } },
      ]),
      ["content_block_stop", { type: "content_block_stop", index: 0 }],
      ["message_delta", { type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: n } }],
      ["message_stop", { type: "message_stop" }],
    ] as [string, unknown][];
    return this.stream(
      res,
      rec,
      events.map(([e, d]) => `event: ${e}\ndata: ${JSON.stringify(d)}\n\n`),
      sseHeaders,
      requestId,
    );
  }

  /** bedrock-invoke: the provider's documented response, streamed when asked. */
  private answerBedrockInvoke(r: ShapeReply): void {
    const { model, requestId, send, p, words, n, cached } = r;
    return send(200, {
      id: `msg_bdrk_${requestId}`,
      type: "message",
      role: "assistant",
      model,
      content: [{ type: "text", text: words.join(" ") }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: { input_tokens: p - cached, cache_creation_input_tokens: 0, cache_read_input_tokens: cached, output_tokens: n },
    });
  }

  /** dashscope-apps: the provider's documented response, streamed when asked. */
  private answerDashscopeApps(r: ShapeReply): void {
    const { req, res, rec, model, requestId, send, p, words, n } = r;
    // an app that called two models: a planner (qwen-turbo, 20 tokens out) and the answerer
    const planner = { model_id: "qwen-turbo", input_tokens: p, output_tokens: 20 };
    const event = (k: number, last: boolean) => ({
      output: { finish_reason: last ? "stop" : "null", session_id: requestId, text: words.slice(0, k).join(" ") },
      usage: { models: [planner, { model_id: model, input_tokens: p + 20, output_tokens: k }] },
      request_id: requestId,
    });
    const sse = req.headers["x-dashscope-sse"] === "enable" || /text\/event-stream/.test(String(req.headers.accept ?? ""));
    if (!sse) return send(200, event(n, true));
    const events = words.map(
      (_, i) => `id:${i + 1}\nevent:result\n:HTTP_STATUS/200\ndata:${JSON.stringify(event(i + 1, i === n - 1))}\n\n`,
    );
    return this.stream(res, rec, events, { "content-type": "text/event-stream;charset=UTF-8", "cache-control": "no-cache" }, requestId);
  }

  private stream(res: ServerResponse, rec: MockRequest, events: string[], headers: Record<string, string>, requestId: string): void {
    rec.status = 200;
    this.record(rec);
    res.writeHead(200, { ...headers, "x-request-id": requestId });
    res.flushHeaders();
    const delay = this.options.streamDelayMs ?? 0;
    let i = 0;
    let closed = false;
    res.on("close", () => (closed = true));
    const next = () => {
      if (closed) return;
      if (i >= events.length) {
        res.end();
        return;
      }
      const index = i++;
      res.write(events[index]);
      this.emit("sse", { id: requestId, index, last: i === events.length });
      if (delay > 0) setTimeout(next, delay);
      else setImmediate(next);
    };
    next();
  }
}

/** The request's input text where each shape puts it, or undefined when there is none. */
function inputText(shape: MockShape, body: Record<string, unknown>): string | undefined {
  return shape === "responses"
    ? responsesInputText(body.input)
    : shape === "gemini"
      ? partsText(body.contents)
      : shape === "dashscope-apps"
        ? typeof (body.input as { prompt?: unknown } | undefined)?.prompt === "string"
          ? (body.input as { prompt: string }).prompt
          : undefined
        : shape === "anthropic"
          ? messagesText(body.messages)
          : partsText(body.messages);
}

/** What every shape's answer is made from (MockLlm.otherShape computes it once). */
interface ShapeReply {
  req: IncomingMessage;
  res: ServerResponse;
  rec: MockRequest;
  body: Record<string, unknown>;
  at: { shape: MockShape; model?: string; stream?: boolean };
  model: string;
  requestId: string;
  send: (status: number, obj: unknown) => void;
  /** prompt tokens, reply words and their count, cached and reasoning tokens */
  p: number;
  words: string[];
  n: number;
  cached: number;
  reasoning: number;
  created: number;
  sseHeaders: Record<string, string>;
}

export async function startMockLlm(options: MockLlmOptions, port = 0): Promise<MockLlm> {
  return new MockLlm(options).listen(port);
}
