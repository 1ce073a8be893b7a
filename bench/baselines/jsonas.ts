// Benchmark baseline: the same extraction as the filter (request model; response model and
// token usage, per SSE event for streams), built the conventional way on json-as full parsing.
// Every body chunk is appended to a growing buffer in wasm memory and let through (Continue);
// at end of stream the buffer is decoded (UTF-8 → the UTF-16 string json-as parses) and
// JSON.parse'd into @json classes holding only the fields we read — the most favourable json-as
// configuration (unknown keys are skipped by its value-end scan, nothing else is materialized).
// Outputs mirror the filter's: the same filter-state keys and tagged token counters.
//
// NOT for production: json-as reports malformed input by `throw`, which AssemblyScript compiles
// to abort() → proc_exit → a trap, and a trapped VM fails every later stream on the worker.
export * from "@solo-io/proxy-runtime/assembly/proxy";
import {
  RootContext, Context, registerRootContext, FilterHeadersStatusValues, FilterDataStatusValues,
} from "@solo-io/proxy-runtime/assembly";
import { JSON } from "json-as";
import {
  Buffer, HeaderMap, getBuffer, getHeader, setFilterState, defineMetric, MetricType, incrementCounter,
} from "../../assembly/envoy";

// ---- schemas ------------------------------------------------------------------------------

@json
class ChatRequest {
  @optional model: string = "";
  @optional stream: bool = false;
}

@json
class OpenAIUsage {
  @optional prompt_tokens: i64 = -1;
  @optional completion_tokens: i64 = -1;
  @optional total_tokens: i64 = -1;
}

@json
class OpenAIResponse {
  @optional model: string = "";
  @optional usage: OpenAIUsage | null = null;
}

@json
class DashScopeUsage {
  @optional input_tokens: i64 = -1;
  @optional output_tokens: i64 = -1;
  @optional total_tokens: i64 = -1;
}

@json
class DashScopeResponse {
  @optional usage: DashScopeUsage | null = null;
}

@json
class AnthropicMessage {
  @optional model: string = "";
  @optional usage: DashScopeUsage | null = null;
}

@json
class AnthropicEvent {
  @optional model: string = "";
  @optional message: AnthropicMessage | null = null;
  @optional usage: DashScopeUsage | null = null;
}

// ---- a growing byte buffer in linear memory -----------------------------------------------

class ByteBuf {
  data: ArrayBuffer = new ArrayBuffer(0);
  length: i32 = 0;

  append(src: usize, n: i32): void {
    const need = this.length + n;
    if (need > this.data.byteLength) {
      let cap = max(this.data.byteLength << 1, 1024);
      while (cap < need) cap <<= 1;
      const grown = new ArrayBuffer(cap);
      memory.copy(changetype<usize>(grown), changetype<usize>(this.data), <usize>this.length);
      this.data = grown;
    }
    memory.copy(changetype<usize>(this.data) + <usize>this.length, src, <usize>n);
    this.length = need;
  }

  get ptr(): usize {
    return changetype<usize>(this.data);
  }
}

// ---- the filter ---------------------------------------------------------------------------

const enum Shape { None = 0, OpenAI = 1, DashScope = 2, Anthropic = 3 }

class Tokens {
  model: string = "";
  prompt: i64 = -1;
  completion: i64 = -1;
  total: i64 = -1;
}

class JsonAsRoot extends RootContext {
  ids: Map<string, u32> = new Map<string, u32>();

  createContext(context_id: u32): Context {
    return new JsonAsStream(context_id, this);
  }

  count(name: string, amount: i64): void {
    if (amount <= 0) return;
    let id: u32;
    if (this.ids.has(name)) id = this.ids.get(name);
    else {
      const defined = defineMetric(MetricType.Counter, name);
      if (defined < 0) return;
      id = <u32>defined;
      this.ids.set(name, id);
    }
    incrementCounter(id, amount);
  }
}

class JsonAsStream extends Context {
  shape: Shape = Shape.None;
  request: ByteBuf | null = null;
  response: ByteBuf | null = null;
  sse: bool = false;
  requestModel: string = "";
  destination: string = "";

  constructor(context_id: u32, public owner: JsonAsRoot) {
    super(context_id, owner);
  }

  onRequestHeaders(_headers: u32, end_of_stream: bool): FilterHeadersStatusValues {
    const method = getHeader(HeaderMap.Request, ":method");
    const path = getHeader(HeaderMap.Request, ":path");
    const authority = getHeader(HeaderMap.Request, ":authority");
    this.destination = authority !== null ? authority : "unknown";
    if (method === null || method != "POST" || path === null) return FilterHeadersStatusValues.Continue;
    if (path.endsWith("/chat/completions") || path.endsWith("/completions")) this.shape = Shape.OpenAI;
    else if (path.endsWith("/generation")) this.shape = Shape.DashScope;
    else if (path.endsWith("/messages")) this.shape = Shape.Anthropic;
    else return FilterHeadersStatusValues.Continue;
    if (!end_of_stream) this.request = new ByteBuf();
    return FilterHeadersStatusValues.Continue;
  }

  onRequestBody(body_buffer_length: usize, end_of_stream: bool): FilterDataStatusValues {
    const buf = this.request;
    if (buf === null) return FilterDataStatusValues.Continue;
    if (body_buffer_length > 0) {
      const chunk = getBuffer(Buffer.RequestBody, 0, <u32>body_buffer_length);
      buf.append(changetype<usize>(chunk), chunk.byteLength);
    }
    if (end_of_stream) {
      this.request = null;
      const req = JSON.parse<ChatRequest>(String.UTF8.decodeUnsafe(buf.ptr, <usize>buf.length));
      this.requestModel = req.model;
      if (req.model.length > 0) setFilterState("asm.llmproxy.request_model", String.UTF8.encode(req.model));
      setFilterState("asm.llmproxy.request_stream", String.UTF8.encode(req.stream ? "true" : "false"));
    }
    return FilterDataStatusValues.Continue;
  }

  onResponseHeaders(_headers: u32, end_of_stream: bool): FilterHeadersStatusValues {
    if (this.shape == Shape.None) return FilterHeadersStatusValues.Continue;
    const status = getHeader(HeaderMap.Response, ":status");
    if (status === null || status != "200") return FilterHeadersStatusValues.Continue;
    const ct = getHeader(HeaderMap.Response, "content-type");
    this.sse = ct !== null && ct.includes("text/event-stream");
    if (!end_of_stream) this.response = new ByteBuf();
    return FilterHeadersStatusValues.Continue;
  }

  onResponseBody(body_buffer_length: usize, end_of_stream: bool): FilterDataStatusValues {
    const buf = this.response;
    if (buf === null) return FilterDataStatusValues.Continue;
    if (body_buffer_length > 0) {
      const chunk = getBuffer(Buffer.ResponseBody, 0, <u32>body_buffer_length);
      buf.append(changetype<usize>(chunk), chunk.byteLength);
    }
    if (end_of_stream) {
      this.response = null;
      const t = new Tokens();
      if (this.sse) parseSse(buf, this.shape, t);
      else parseDocument(buf.ptr, buf.length, this.shape, t);
      this.publish(t);
    }
    return FilterDataStatusValues.Continue;
  }

  private publish(t: Tokens): void {
    if (t.model.length > 0) setFilterState("asm.llmproxy.response_model", String.UTF8.encode(t.model));
    if (t.prompt >= 0) setFilterState("asm.llmproxy.request_prompt_tokens", String.UTF8.encode(t.prompt.toString()));
    if (t.completion >= 0) setFilterState("asm.llmproxy.request_completion_tokens", String.UTF8.encode(t.completion.toString()));
    if (t.total >= 0) setFilterState("asm.llmproxy.request_total_tokens", String.UTF8.encode(t.total.toString()));
    const model = this.requestModel.length > 0 ? this.requestModel : t.model;
    const tags = "|llmproxy_destination_service=" + this.destination + "|llmproxy_model=" + model;
    this.owner.count("asm_llm_proxy_prompt_tokens" + tags, t.prompt);
    this.owner.count("asm_llm_proxy_completion_tokens" + tags, t.completion);
  }
}

/** Parses one JSON document [ptr, ptr+len) and merges what it carries (later values win). */
function parseDocument(ptr: usize, len: i32, shape: Shape, t: Tokens): void {
  const text = String.UTF8.decodeUnsafe(ptr, <usize>len);
  if (shape == Shape.DashScope) {
    const r = JSON.parse<DashScopeResponse>(text);
    const u = r.usage;
    if (u !== null) {
      if (u.input_tokens >= 0) t.prompt = u.input_tokens;
      if (u.output_tokens >= 0) t.completion = u.output_tokens;
      if (u.total_tokens >= 0) t.total = u.total_tokens;
    }
  } else if (shape == Shape.Anthropic) {
    const r = JSON.parse<AnthropicEvent>(text);
    if (r.model.length > 0) t.model = r.model;
    const m = r.message;
    if (m !== null) {
      if (m.model.length > 0) t.model = m.model;
      mergeInputOutput(m.usage, t);
    }
    mergeInputOutput(r.usage, t);
  } else {
    const r = JSON.parse<OpenAIResponse>(text);
    if (r.model.length > 0) t.model = r.model;
    const u = r.usage;
    if (u !== null) {
      if (u.prompt_tokens >= 0) t.prompt = u.prompt_tokens;
      if (u.completion_tokens >= 0) t.completion = u.completion_tokens;
      if (u.total_tokens >= 0) t.total = u.total_tokens;
    }
  }
}

function mergeInputOutput(u: DashScopeUsage | null, t: Tokens): void {
  if (u === null) return;
  if (u.input_tokens >= 0) t.prompt = u.input_tokens;
  if (u.output_tokens >= 0) t.completion = u.output_tokens;
}

/** Splits the buffered SSE stream into events (LF or CRLF lines, blank line dispatches) and
 *  parses each event's data (single-line data, as every provider sends) except `[DONE]`. */
function parseSse(buf: ByteBuf, shape: Shape, t: Tokens): void {
  const base = buf.ptr;
  const end = base + <usize>buf.length;
  let p = base;
  let dataStart: usize = 0;
  let dataEnd: usize = 0;
  while (p < end) {
    let eol = p;
    while (eol < end && load<u8>(eol) != 0x0a) eol++;
    let lineEnd = eol;
    if (lineEnd > p && load<u8>(lineEnd - 1) == 0x0d) lineEnd--;
    if (lineEnd == p) {
      // blank line: dispatch
      if (dataEnd > dataStart) dispatch(dataStart, dataEnd, shape, t);
      dataStart = dataEnd = 0;
    } else if (lineEnd - p >= 5 && load<u32>(p) == 0x61746164 && load<u8>(p + 4) == 0x3a) { // "data:"
      let v = p + 5;
      if (v < lineEnd && load<u8>(v) == 0x20) v++;
      dataStart = v;
      dataEnd = lineEnd;
    }
    p = eol + 1;
  }
}

function dispatch(start: usize, end: usize, shape: Shape, t: Tokens): void {
  const n = <i32>(end - start);
  // "[DONE]"
  if (n == 6 && load<u32>(start) == 0x4e4f445b && load<u16>(start + 4) == 0x5d45) return;
  parseDocument(start, n, shape, t);
}

registerRootContext((context_id: u32): RootContext => new JsonAsRoot(context_id), "asm-llm-proxy");
registerRootContext((context_id: u32): RootContext => new JsonAsRoot(context_id), "");
