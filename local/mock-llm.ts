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

  /** The shapes beyond OpenAI chat and DashScope native, from the providers' documented formats. */
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
    const text =
      at.shape === "responses"
        ? responsesInputText(body.input)
        : at.shape === "gemini"
          ? partsText(body.contents)
          : at.shape === "dashscope-apps"
            ? typeof (body.input as { prompt?: unknown } | undefined)?.prompt === "string"
              ? (body.input as { prompt: string }).prompt
              : undefined
            : at.shape === "anthropic" || at.shape === "vertex-anthropic" || at.shape === "cohere" || at.shape === "ollama"
              ? (messagesText(body.messages) ?? inputText(body.prompt ?? body.input ?? body.texts))
              : at.shape === "tgi"
                ? inputText(body.inputs)
                : at.shape === "gemini-embed"
                  ? embedText(body)
                  : at.shape === "openai-images" || at.shape === "openai-audio"
                    ? inputText(body.prompt ?? "an uploaded file")
                    : partsText(body.messages);
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
    switch (at.shape) {
      case "responses": {
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
      case "gemini": {
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
      case "bedrock-converse":
        return send(200, {
          output: { message: { role: "assistant", content: [{ text: words.join(" ") }] } },
          stopReason: "end_turn",
          usage: { inputTokens: p - cached, outputTokens: n, totalTokens: p + n, cacheReadInputTokens: cached, cacheWriteInputTokens: 0 },
          metrics: { latencyMs: 5 },
        });
      case "anthropic": {
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
          [
            "message_delta",
            { type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: n } },
          ],
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
      case "bedrock-converse-stream": {
        // AWS event stream frames, one message per event; usage in the closing metadata event
        const frames = [
          eventMessage("messageStart", { p: "abcdefgh", role: "assistant" }),
          ...words.map((w, i) =>
            eventMessage("contentBlockDelta", { contentBlockIndex: 0, delta: { text: (i ? " " : "") + w }, p: "abcd" }),
          ),
          eventMessage("contentBlockStop", { contentBlockIndex: 0, p: "abcdefghijkl" }),
          eventMessage("messageStop", { p: "abcdef", stopReason: "end_turn" }),
          eventMessage("metadata", {
            metrics: { latencyMs: 5 },
            p: "abc",
            usage: { inputTokens: p - cached, outputTokens: n, totalTokens: p + n, cacheReadInputTokens: cached, cacheWriteInputTokens: 0 },
          }),
        ];
        return this.stream(res, rec, frames, BEDROCK_STREAM_HEADERS, requestId);
      }
      case "bedrock-invoke-stream": {
        // the Messages API's events, base64 in `chunk` events; Bedrock's metrics on the last
        const usage = { input_tokens: p - cached, cache_creation_input_tokens: 0, cache_read_input_tokens: cached, output_tokens: 1 };
        const message = { id: `msg_bdrk_${requestId}`, type: "message", role: "assistant", model, content: [], stop_reason: null, usage };
        const frames = [
          chunkMessage({ type: "message_start", message }),
          chunkMessage({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }),
          ...words.map((w, i) =>
            chunkMessage({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: (i ? " " : "") + w } }),
          ),
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
        return this.stream(res, rec, frames, BEDROCK_STREAM_HEADERS, requestId);
      }
      case "bedrock-invoke":
        return send(
          200,
          {
            id: `msg_bdrk_${requestId}`,
            type: "message",
            role: "assistant",
            model,
            content: [{ type: "text", text: words.join(" ") }],
            stop_reason: "end_turn",
            stop_sequence: null,
            usage: { input_tokens: p - cached, cache_creation_input_tokens: 0, cache_read_input_tokens: cached, output_tokens: n },
          },
          // Bedrock's own counts, sent for every model's InvokeModel answer
          {
            "x-amzn-bedrock-input-token-count": String(p - cached),
            "x-amzn-bedrock-output-token-count": String(n),
            "x-amzn-bedrock-cache-read-input-token-count": String(cached),
            "x-amzn-bedrock-cache-write-input-token-count": "0",
          },
        );
      case "vertex-anthropic":
      case "cohere":
      case "ollama":
      case "tgi":
      case "gemini-embed":
      case "openai-images":
      case "openai-audio":
        return this.moreShapes(req, res, rec, body, at, model, { p, n, cached, words, requestId }, send);
      case "dashscope-apps": {
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
    }
  }

  /** Cohere v2, Ollama, TGI, Anthropic on Vertex AI and Gemini embeddings. */
  private moreShapes(
    req: IncomingMessage,
    res: ServerResponse,
    rec: MockRequest,
    body: Record<string, unknown>,
    at: { shape: MockShape; model?: string; stream?: boolean },
    model: string,
    u: { p: number; n: number; cached: number; words: string[]; requestId: string },
    send: (status: number, obj: unknown) => void,
  ): void {
    const { p, n, cached, words, requestId } = u;
    const path = (req.url ?? "/").split("?")[0];
    const sseHeaders = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" };
    switch (at.shape) {
      case "vertex-anthropic": {
        // The Messages API's body, as Vertex returns it; the model came from the path.
        const usage = { input_tokens: p - cached, cache_creation_input_tokens: 0, cache_read_input_tokens: cached, output_tokens: n };
        const message = {
          id: `msg_vrtx_${requestId}`,
          type: "message",
          role: "assistant",
          model,
          stop_reason: "end_turn",
          stop_sequence: null,
        };
        if (!at.stream) return send(200, { ...message, content: [{ type: "text", text: words.join(" ") }], usage });
        const events = [
          [
            "message_start",
            { type: "message_start", message: { ...message, content: [], stop_reason: null, usage: { ...usage, output_tokens: 1 } } },
          ],
          ...words.map((w, i) => [
            "content_block_delta",
            { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: (i ? " " : "") + w } },
          ]),
          ["message_delta", { type: "message_delta", delta: { stop_reason: "end_turn" }, usage: { output_tokens: n } }],
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
      case "cohere": {
        if (path === "/v2/embed")
          return send(200, {
            id: requestId,
            texts: body.texts,
            embeddings: { float: [[0.016, -0.008]] },
            meta: { api_version: { version: "2" }, billed_units: { input_tokens: p } },
          });
        // Cohere bills no prompt template: billed input is the words alone.
        const usage = {
          billed_units: { input_tokens: Math.max(0, p - 5), output_tokens: n },
          tokens: { input_tokens: p, output_tokens: n },
          cached_tokens: cached,
        };
        if (body.stream !== true)
          return send(200, {
            id: requestId,
            message: { role: "assistant", content: [{ type: "text", text: words.join(" ") }] },
            finish_reason: "COMPLETE",
            usage,
          });
        const events = [
          ["message-start", { type: "message-start", id: requestId, delta: { message: { role: "assistant" } } }],
          ...words.map((w, i) => [
            "content-delta",
            { type: "content-delta", index: 0, delta: { message: { content: { text: (i ? " " : "") + w } } } },
          ]),
          ["message-end", { type: "message-end", delta: { finish_reason: "COMPLETE", usage } }],
        ] as [string, unknown][];
        return this.stream(
          res,
          rec,
          events.map(([e, d]) => `event: ${e}\ndata: ${JSON.stringify(d)}\n\n`),
          sseHeaders,
          requestId,
        );
      }
      case "ollama": {
        if (path === "/api/embed")
          return send(200, { model, embeddings: [[0.01, -0.0017]], total_duration: 14143917, prompt_eval_count: p });
        const chat = path === "/api/chat";
        const part = (w: string, done: boolean) => ({
          model,
          created_at: new Date().toISOString(),
          ...(chat ? { message: { role: "assistant", content: w } } : { response: w }),
          done,
          ...(done ? { done_reason: "stop", total_duration: 4883583458, prompt_eval_count: p, eval_count: n } : {}),
        });
        if (body.stream === false) return send(200, part(words.join(" "), true));
        const lines = [...words.map((w, i) => part((i ? " " : "") + w, false)), part("", true)].map((o) => `${JSON.stringify(o)}\n`);
        return this.stream(res, rec, lines, { "content-type": "application/x-ndjson" }, requestId);
      }
      case "tgi": {
        const details = { finish_reason: "eos_token", generated_tokens: n, seed: null };
        if (!at.stream) return send(200, { generated_text: words.join(" "), details: { ...details, prefill: [], tokens: [] } });
        const events = words.map((w, i) => {
          const last = i === n - 1;
          const ev = {
            index: i + 1,
            token: { id: i, text: (i ? " " : "") + w, logprob: -0.5, special: false },
            generated_text: last ? words.join(" ") : null,
            details: last ? details : null,
          };
          return `data:${JSON.stringify(ev)}\n\n`;
        });
        return this.stream(res, rec, events, sseHeaders, requestId);
      }
      case "openai-images": {
        // gpt-image-1's usage; dall-e models report none.
        const usage = {
          input_tokens: p,
          input_tokens_details: { text_tokens: p, image_tokens: 0 },
          output_tokens: 272,
          total_tokens: p + 272,
        };
        return send(200, {
          created: Math.floor(Date.now() / 1000),
          data: [{ b64_json: "iVBORw0KGgo=" }],
          ...(model.startsWith("dall-e") ? {} : { usage }),
        });
      }
      case "openai-audio":
        // whisper-1 bills by duration (seconds, not tokens); gpt-4o-transcribe by tokens.
        return send(200, {
          text: words.join(" "),
          usage:
            model === "whisper-1"
              ? { type: "duration", seconds: 7 }
              : { type: "tokens", input_tokens: p, output_tokens: n, total_tokens: p + n },
        });
      case "gemini-embed": {
        if (path.endsWith(":predict")) {
          const instances = Array.isArray(body.instances) ? body.instances : [];
          return send(200, {
            predictions: instances.map((x) => ({
              embeddings: {
                statistics: { token_count: countWords(String((x as { content?: unknown } | null)?.content ?? "")), truncated: false },
                values: [0.01, -0.02],
              },
            })),
            metadata: { billableCharacterCount: JSON.stringify(instances).length },
          });
        }
        // AI Studio reports no token counts for embeddings.
        if (path.endsWith(":batchEmbedContents"))
          return send(200, { embeddings: (Array.isArray(body.requests) ? body.requests : []).map(() => ({ values: [0.01, -0.02] })) });
        return send(200, { embedding: { values: [0.01, -0.02] } });
      }
    }
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

const BEDROCK_STREAM_HEADERS = { "content-type": "application/vnd.amazon.eventstream", "x-amzn-bedrock-content-type": "application/json" };

export async function startMockLlm(options: MockLlmOptions, port = 0): Promise<MockLlm> {
  return new MockLlm(options).listen(port);
}
