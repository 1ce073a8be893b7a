// An embedded mock LLM provider on loopback: OpenAI-compatible chat completions
// (/compatible-mode/v1/chat/completions, /v1/chat/completions) and DashScope native text
// generation (/api/v1/services/aigc/text-generation/generation), JSON and SSE.
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
      .map((p) => (typeof p === "string" ? p : p && typeof p === "object" && typeof (p as { text?: unknown }).text === "string" ? (p as { text: string }).text : ""))
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
    const server: Server = this.options.tls ? createTlsServer({ key: this.options.tls.key, cert: this.options.tls.cert }, handler) : createServer(handler);
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
      if (!dashscope && !OPENAI_PATHS.includes(path)) {
        send(404, { error: { message: `mock LLM: no API at ${path} (try ${OPENAI_PATHS.join(", ")} or ${DASHSCOPE_PATH})`, type: "invalid_request_error", code: "not_found" } });
        return;
      }
      if (req.method !== "POST") {
        send(405, { error: { message: `mock LLM: ${req.method} not allowed, use POST`, type: "invalid_request_error", code: "method_not_allowed" } });
        return;
      }
      if (req.headers.authorization !== `Bearer ${this.options.apiKey}`) {
        if (dashscope) send(401, { code: "InvalidApiKey", message: "Invalid API-key provided.", request_id: requestId });
        else send(401, { error: { message: "Incorrect API key provided.", type: "invalid_request_error", param: null, code: "invalid_api_key" }, request_id: requestId });
        return;
      }
      let parsed: Record<string, unknown>;
      try {
        const v = JSON.parse(body) as unknown;
        if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error("not an object");
        parsed = v as Record<string, unknown>;
      } catch {
        if (dashscope) send(400, { code: "InvalidParameter", message: "The request body is not valid JSON.", request_id: requestId });
        else send(400, { error: { message: "The request body is not valid JSON.", type: "invalid_request_error", param: null, code: "invalid_request_error" }, request_id: requestId });
        return;
      }
      const model = typeof parsed.model === "string" ? parsed.model : "";
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
    const bad = (message: string, param: string) => send(400, { error: { message, type: "invalid_request_error", param, code: "invalid_parameter_error" }, request_id: requestId });
    if (model === "") return bad("Model not specified", "model");
    const text = messagesText(body.messages);
    if (text === undefined) return bad("messages must be an array", "messages");
    const maxTokens = typeof body.max_tokens === "number" ? body.max_tokens : typeof body.max_completion_tokens === "number" ? body.max_completion_tokens : undefined;
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
      JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }], system_fingerprint: null, ...(includeUsage ? { usage: null } : {}), ...extra });
    const events: string[] = [chunk({ role: "assistant", content: "" }, null)];
    words.forEach((w, i) => events.push(chunk({ content: i === 0 ? w : " " + w }, null)));
    events.push(chunk({}, finishReason));
    if (includeUsage) events.push(JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [], system_fingerprint: null, usage }));
    events.push("[DONE]");
    this.stream(res, rec, events.map((e) => `data: ${e}\n\n`), { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" }, requestId);
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
      output: asMessage ? { choices: [{ message: { role: "assistant", content }, finish_reason: finish }] } : { text: content, finish_reason: finish },
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
      events.push(`id:${i + 1}\nevent:result\n:HTTP_STATUS/200\ndata:${JSON.stringify(event(content, i + 1, last ? finishReason : "null"))}\n\n`);
    }
    if (events.length === 0) events.push(`id:1\nevent:result\n:HTTP_STATUS/200\ndata:${JSON.stringify(event("", 0, finishReason))}\n\n`);
    this.stream(res, rec, events, { "content-type": "text/event-stream;charset=UTF-8", "cache-control": "no-cache", "x-dashscope-call-gateway": "true" }, requestId);
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

export async function startMockLlm(options: MockLlmOptions, port = 0): Promise<MockLlm> {
  return new MockLlm(options).listen(port);
}
