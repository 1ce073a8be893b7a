import { decodeStream } from "./eventstream";

// A reference model, in plain TypeScript, of what the filter should publish for one exchange.
// It is written independently of assembly/: a strict JSON parser (RFC 8259 structure, an
// iterative one so 100k levels of nesting cost no stack), the WHATWG SSE event interpretation,
// and the documented semantics of each API shape:
// - a token count is a JSON number written as digits only (no sign, fraction, exponent or
//   leading zero) of at most 9 digits; anything else is "no value";
// - for duplicate keys the last occurrence wins (as JSON.parse); where two paths fill the same
//   field (Anthropic's usage / message.usage) the one later in the document wins;
// - in a stream, each event's values replace earlier ones (running totals, never summed);
// - a JSON body publishes only when it is one complete object; an SSE stream when at least one
//   event parsed; a provider error object, or no token count at all, publishes no numbers.
// `expected()` returns `exact: false` when the input is not valid JSON/SSE by this strict
// reading; the filter's scanner is more lenient there, so tests then only check that every
// number published appears in the input under its key (never invented, never wrapped).

import zlib from "node:zlib";
export type Shape =
  | "openai"
  | "responses"
  | "dashscope"
  | "dashscope-apps"
  | "anthropic"
  | "gemini"
  | "bedrock-converse"
  | "bedrock-invoke"
  | "cohere"
  | "ollama"
  | "tgi"
  | "vertex-anthropic"
  | "gemini-embed"
  | "openai-images"
  | "openai-audio";

// A path segment "[]" is every element of an array there (a leading "[]" the elements of a root
// array); "sum" fields add their occurrences within one document (DashScope apps' usage.models[]).
const ANTHROPIC_RESPONSE: [string, Field][] = [
  ["model", "model"],
  ["message.model", "model"],
  ["usage.input_tokens", "prompt"],
  ["message.usage.input_tokens", "prompt"],
  ["usage.output_tokens", "completion"],
  ["message.usage.output_tokens", "completion"],
  ["usage.cache_read_input_tokens", "cached"],
  ["message.usage.cache_read_input_tokens", "cached"],
  ["usage.cache_creation_input_tokens", "cacheWrite"],
  ["message.usage.cache_creation_input_tokens", "cacheWrite"],
  ["error", "error"],
];
const GEMINI_DOC: [string, Field][] = [
  ["modelVersion", "model"],
  ["usageMetadata.promptTokenCount", "prompt"],
  ["usageMetadata.candidatesTokenCount", "completion"],
  ["usageMetadata.totalTokenCount", "total"],
  ["usageMetadata.cachedContentTokenCount", "cached"],
  ["usageMetadata.thoughtsTokenCount", "reasoning"],
  ["error", "error"],
];
const FIELDS: Record<Shape, [string, Field][]> = {
  openai: [
    ["model", "model"],
    ["x_groq.usage.prompt_tokens", "prompt"],
    ["x_groq.usage.completion_tokens", "completion"],
    ["x_groq.usage.total_tokens", "total"],
    ["choices.[].usage.prompt_tokens", "prompt"],
    ["choices.[].usage.completion_tokens", "completion"],
    ["choices.[].usage.total_tokens", "total"],
    ["usage.prompt_tokens", "prompt"],
    ["usage.completion_tokens", "completion"],
    ["usage.total_tokens", "total"],
    ["usage.prompt_cache_hit_tokens", "cached"],
    ["usage.prompt_tokens_details.cached_tokens", "cached"],
    ["usage.completion_tokens_details.reasoning_tokens", "reasoning"],
    ["error", "error"],
  ],
  responses: [
    ["model", "model"],
    ["response.model", "model"],
    ["usage.input_tokens", "prompt"],
    ["usage.output_tokens", "completion"],
    ["usage.total_tokens", "total"],
    ["usage.input_tokens_details.cached_tokens", "cached"],
    ["usage.output_tokens_details.reasoning_tokens", "reasoning"],
    ["response.usage.input_tokens", "prompt"],
    ["response.usage.output_tokens", "completion"],
    ["response.usage.total_tokens", "total"],
    ["response.usage.input_tokens_details.cached_tokens", "cached"],
    ["response.usage.output_tokens_details.reasoning_tokens", "reasoning"],
    ["error", "error"],
    ["response.error", "error"],
    ["code", "error"],
  ],
  dashscope: [
    ["usage.input_tokens", "prompt"],
    ["usage.output_tokens", "completion"],
    ["usage.total_tokens", "total"],
    ["usage.cached_tokens", "cached"],
    ["usage.prompt_tokens_details.cached_tokens", "cached"],
    ["usage.output_tokens_details.reasoning_tokens", "reasoning"],
    ["code", "error"],
  ],
  "dashscope-apps": [
    ["usage.models.[].model_id", "model"],
    ["usage.models.[].input_tokens", "prompt", "sum"],
    ["usage.models.[].output_tokens", "completion", "sum"],
    ["code", "error"],
  ] as [string, Field][],
  anthropic: ANTHROPIC_RESPONSE,
  gemini: [...GEMINI_DOC, ...GEMINI_DOC.map(([p, f]) => ["[]." + p, f] as [string, Field])],
  "bedrock-converse": [
    ["usage.inputTokens", "prompt"],
    ["usage.outputTokens", "completion"],
    ["usage.totalTokens", "total"],
    ["usage.cacheReadInputTokens", "cached"],
    ["usage.cacheWriteInputTokens", "cacheWrite"],
    ["message", "error"],
  ],
  "bedrock-invoke": [
    ...ANTHROPIC_RESPONSE,
    ["amazon-bedrock-invocationMetrics.inputTokenCount", "prompt"],
    ["amazon-bedrock-invocationMetrics.outputTokenCount", "completion"],
    ["amazon-bedrock-invocationMetrics.cacheReadInputTokenCount", "cached"],
    ["amazon-bedrock-invocationMetrics.cacheWriteInputTokenCount", "cacheWrite"],
  ],
  cohere: [
    ["usage.tokens.input_tokens", "prompt"],
    ["usage.tokens.output_tokens", "completion"],
    ["usage.cached_tokens", "cached"],
    ["delta.usage.tokens.input_tokens", "prompt"],
    ["delta.usage.tokens.output_tokens", "completion"],
    ["delta.usage.cached_tokens", "cached"],
    ["meta.billed_units.input_tokens", "prompt"],
    ["meta.tokens.input_tokens", "prompt"],
    ["delta.error", "error"],
  ],
  ollama: [
    ["model", "model"],
    ["prompt_eval_count", "prompt"],
    ["eval_count", "completion"],
    ["error", "error"],
  ],
  tgi: [
    ["details.generated_tokens", "completion"],
    ["error", "error"],
  ],
  "vertex-anthropic": ANTHROPIC_RESPONSE,
  "gemini-embed": [
    ["predictions.[].embeddings.statistics.token_count", "prompt", "sum"],
    ["error", "error"],
  ] as [string, Field][],
  "openai-images": [
    ["usage.input_tokens", "prompt"],
    ["usage.output_tokens", "completion"],
    ["usage.total_tokens", "total"],
    ["usage.input_tokens_details.cached_tokens", "cached"],
    ["error", "error"],
  ],
  "openai-audio": [
    ["usage.input_tokens", "prompt"],
    ["usage.output_tokens", "completion"],
    ["usage.total_tokens", "total"],
    ["usage.seconds", "seconds"],
    ["error", "error"],
  ],
};

/** Where each shape takes its request model from, and how it is recognised for streaming. */
export const SHAPE_INFO: Record<
  Shape,
  { modelInPath?: { after: string; stop: string }; rootArray?: boolean; readsBody: boolean; forms?: boolean }
> = {
  openai: { readsBody: true },
  responses: { readsBody: true },
  dashscope: { readsBody: true },
  "dashscope-apps": { readsBody: false },
  anthropic: { readsBody: true },
  gemini: { modelInPath: { after: "/models/", stop: ":/" }, rootArray: true, readsBody: false },
  "bedrock-converse": { modelInPath: { after: "/model/", stop: "/" }, readsBody: false },
  "bedrock-invoke": { modelInPath: { after: "/model/", stop: "/" }, readsBody: false },
  cohere: { readsBody: true },
  ollama: { readsBody: true },
  tgi: { readsBody: false },
  "vertex-anthropic": { modelInPath: { after: "/publishers/anthropic/models/", stop: ":/" }, readsBody: false },
  "gemini-embed": { modelInPath: { after: "/models/", stop: ":/" }, readsBody: false },
  "openai-images": { readsBody: true, forms: true },
  "openai-audio": { readsBody: true, forms: true },
};

/** The model a request path names (shape.ts modelFromPath, restated), percent-decoded bytes. */
export function pathModel(shape: Shape, path: string): Uint8Array | undefined {
  const m = SHAPE_INFO[shape].modelInPath;
  if (!m) return undefined;
  const bare = path.split("?")[0];
  const at = bare.indexOf(m.after);
  if (at < 0) return undefined;
  let end = at + m.after.length;
  while (end < bare.length && !m.stop.includes(bare[end])) end++;
  const raw = bare.substring(at + m.after.length, end);
  if (raw.length === 0) return undefined;
  const bytes = Buffer.from(raw, "utf8");
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const h = i + 2 < bytes.length ? /^[0-9a-fA-F]{2}$/.test(String.fromCharCode(bytes[i + 1], bytes[i + 2])) : false;
    if (bytes[i] === 0x25 && h) {
      out.push(parseInt(String.fromCharCode(bytes[i + 1], bytes[i + 2]), 16));
      i += 2;
    } else out.push(bytes[i]);
  }
  return Uint8Array.from(out);
}
type Field = "model" | "prompt" | "completion" | "total" | "cached" | "cacheWrite" | "reasoning" | "seconds" | "error";

// ---- strict JSON, iterative, materialising only shallow values ------------------------------

export type JVal =
  | { t: "obj"; at: number; entries: [string, JVal][] }
  | { t: "arr"; at: number; items: JVal[] }
  | { t: "str"; at: number; bytes: Uint8Array; raw: number }
  | { t: "num"; at: number; text: string }
  | { t: "lit"; at: number; word: "true" | "false" | "null" };

const KEEP_DEPTH = 6;

/** Parses `b` as exactly one JSON value (whitespace around allowed); undefined if invalid. */
export function parseJson(b: Uint8Array): JVal | undefined {
  let i = 0;
  const n = b.length;
  const ws = () => {
    while (i < n && (b[i] === 0x20 || b[i] === 0x09 || b[i] === 0x0a || b[i] === 0x0d)) i++;
  };
  // stack frames: containers being built
  type Frame = { obj: boolean; val: JVal | null; key: string | null; count: number };
  const stack: Frame[] = [];
  let root: JVal | undefined;
  const str = (): { bytes: Uint8Array; raw: number } | undefined => {
    const start = ++i; // after the quote
    const out: number[] = [];
    while (i < n) {
      const c = b[i];
      if (c === 0x22) {
        const raw = i - start;
        i++;
        return { bytes: Uint8Array.from(out), raw };
      }
      if (c < 0x20) return undefined;
      if (c === 0x5c) {
        if (i + 1 >= n) return undefined;
        const e = b[i + 1];
        const simple: Record<number, number> = { 0x22: 0x22, 0x5c: 0x5c, 0x2f: 0x2f, 0x62: 8, 0x66: 12, 0x6e: 10, 0x72: 13, 0x74: 9 };
        if (e in simple) {
          out.push(simple[e]);
          i += 2;
          continue;
        }
        if (e !== 0x75) return undefined;
        const hex = (at: number) => {
          if (at + 4 > n) return -1;
          const s = String.fromCharCode(...b.subarray(at, at + 4));
          return /^[0-9a-fA-F]{4}$/.test(s) ? parseInt(s, 16) : -1;
        };
        let cp = hex(i + 2);
        if (cp < 0) return undefined;
        i += 6;
        if (cp >= 0xd800 && cp < 0xdc00 && b[i] === 0x5c && b[i + 1] === 0x75) {
          const lo = hex(i + 2);
          if (lo >= 0xdc00 && lo < 0xe000) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            i += 6;
          }
        }
        out.push(...utf8(cp));
        continue;
      }
      out.push(c);
      i++;
    }
    return undefined;
  };
  const deep = () => stack.length >= KEEP_DEPTH;
  const place = (v: JVal | null): boolean => {
    // attach a finished value to the current container (or make it the root)
    if (stack.length === 0) {
      if (root !== undefined) return false;
      root = v ?? { t: "arr", at: 0, items: [] };
      return true;
    }
    const f = stack[stack.length - 1];
    if (f.obj) {
      if (f.val && f.key !== null && v) (f.val as { entries: [string, JVal][] }).entries.push([f.key, v]);
      f.key = null;
    } else if (f.val && v) {
      (f.val as { items: JVal[] }).items.push(v);
    }
    f.count++;
    return true;
  };
  ws();
  if (i >= n) return undefined;
  let expectValue = true;
  for (;;) {
    ws();
    if (expectValue) {
      if (i >= n) return undefined;
      const c = b[i];
      const at = i;
      if (c === 0x7b || c === 0x5b) {
        const obj = c === 0x7b;
        const val: JVal | null = deep() ? null : obj ? { t: "obj", at, entries: [] } : { t: "arr", at, items: [] };
        i++;
        ws();
        if (i < n && b[i] === (obj ? 0x7d : 0x5d)) {
          i++;
          if (!place(val)) return undefined;
          expectValue = false;
        } else {
          stack.push({ obj, val, key: null, count: 0 });
          if (obj) {
            if (b[i] !== 0x22) return undefined;
            const k = str();
            if (!k) return undefined;
            stack[stack.length - 1].key = dec(k.bytes);
            ws();
            if (b[i] !== 0x3a) return undefined;
            i++;
          }
          continue;
        }
      } else if (c === 0x22) {
        const s = str();
        if (!s) return undefined;
        if (!place(deep() ? null : { t: "str", at, bytes: s.bytes, raw: s.raw })) return undefined;
        expectValue = false;
      } else {
        // the whole token (letters and digits glued on included: then it is no literal), however
        // long: the filter reads a 700-digit number as a (non-count) number, so must the model
        let endAt = i;
        while (endAt < n && /[0-9A-Za-z.+\-]/.test(String.fromCharCode(b[endAt]))) endAt++;
        const m = /^(-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?|true|false|null)$/.exec(ascii(b, i, endAt - i));
        if (!m) return undefined;
        const word = m[0];
        const v: JVal = word === "true" || word === "false" || word === "null" ? { t: "lit", at, word } : { t: "num", at, text: word };
        i = endAt;
        if (!place(deep() ? null : v)) return undefined;
        expectValue = false;
      }
    } else {
      if (stack.length === 0) {
        ws();
        return i === n ? root : undefined;
      }
      if (i >= n) return undefined;
      const f = stack[stack.length - 1];
      const c = b[i];
      if (c === 0x2c) {
        i++;
        ws();
        if (f.obj) {
          if (b[i] !== 0x22) return undefined;
          const k = str();
          if (!k) return undefined;
          f.key = dec(k.bytes);
          ws();
          if (b[i] !== 0x3a) return undefined;
          i++;
        }
        expectValue = true;
      } else if (c === (f.obj ? 0x7d : 0x5d)) {
        i++;
        stack.pop();
        if (!place(f.val)) return undefined;
      } else return undefined;
    }
  }
}

function ascii(b: Uint8Array, at: number, len: number): string {
  return Buffer.from(b.buffer, b.byteOffset + at, Math.max(0, Math.min(b.length, at + len) - at)).toString("latin1");
}
function dec(b: Uint8Array): string {
  // keys compared as bytes: latin1 keeps every byte distinct
  return String.fromCharCode(...b);
}
function utf8(cp: number): number[] {
  if (cp < 0x80) return [cp];
  if (cp < 0x800) return [0xc0 | (cp >> 6), 0x80 | (cp & 0x3f)];
  if (cp < 0x10000) return [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)];
  return [0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)];
}

/** Last value of `key` in an object (JSON.parse semantics for duplicates). */
function member(v: JVal | undefined, key: string): JVal | undefined {
  if (!v || v.t !== "obj") return undefined;
  let found: JVal | undefined;
  for (const [k, x] of v.entries) if (k === key) found = x;
  return found;
}
/** Every value at `path` ("[]" = each array element), in document order. */
function allAtPath(root: JVal, path: string): JVal[] {
  let vs: JVal[] = [root];
  for (const k of path.split(".")) {
    const next: JVal[] = [];
    for (const v of vs) {
      if (k === "[]") {
        if (v.t === "arr") next.push(...v.items);
      } else if (v.t === "obj") {
        const m = member(v, k);
        if (m) next.push(m);
      }
    }
    vs = next;
  }
  return vs;
}

/** The filter's notion of a token count. */
export function countOf(v: JVal | undefined): number {
  if (!v || v.t !== "num") return -1;
  return /^(0|[1-9][0-9]{0,8})$/.test(v.text) ? Number(v.text) : -1;
}

const CAPTURE = 512;

/** One document's fields, per shape. */
export interface DocFields {
  model?: Uint8Array;
  prompt: number;
  completion: number;
  total: number;
  cached: number;
  cacheWrite: number;
  reasoning: number;
  seconds: number;
  error: boolean;
}

const MAX_COUNT = 999_999_999;

export function docFields(root: JVal, shape: Shape): DocFields {
  const best = new Map<Field, JVal>();
  const sums = new Map<Field, number>();
  for (const row of FIELDS[shape]) {
    const [path, field] = row;
    const summed = (row as unknown as string[])[2] === "sum";
    const found = allAtPath(root, path);
    if (found.length === 0) continue;
    if (summed) {
      let sum = 0;
      for (const v of found) {
        const n = countOf(v);
        sum = sum < 0 || n < 0 || sum + n > MAX_COUNT ? -1 : sum + n;
      }
      sums.set(field, sum);
      continue;
    }
    for (const v of found) {
      const prev = best.get(field);
      if (!prev || v.at > prev.at) best.set(field, v);
    }
  }
  const m = best.get("model");
  const err = best.get("error");
  const num = (f: Field) => (sums.has(f) ? sums.get(f)! : countOf(best.get(f)));
  return {
    model: m && m.t === "str" && m.raw <= CAPTURE && m.bytes.length > 0 ? m.bytes : undefined,
    prompt: num("prompt"),
    completion: num("completion"),
    total: num("total"),
    cached: num("cached"),
    cacheWrite: num("cacheWrite"),
    reasoning: num("reasoning"),
    seconds: num("seconds"),
    error: !!err && !(err.t === "lit" && (err.word === "null" || err.word === "false")) && !(err.t === "str" && err.bytes.length === 0),
  };
}

// ---- SSE (WHATWG "interpret an event stream"), partial last event dropped --------------------

export function sseEvents(b: Uint8Array): { data: Uint8Array }[] {
  const events: { data: Uint8Array }[] = [];
  let data: number[] | null = null;
  let i = 0;
  const n = b.length;
  while (i < n) {
    let j = i;
    while (j < n && b[j] !== 0x0a && b[j] !== 0x0d) j++;
    if (j === n) break; // an unterminated line: never dispatched
    const line = b.subarray(i, j);
    i = j + 1;
    if (b[j] === 0x0d && i < n && b[i] === 0x0a) i++;
    if (line.length === 0) {
      if (data !== null) events.push({ data: Uint8Array.from(data) });
      data = null;
      continue;
    }
    if (line[0] === 0x3a) continue;
    const colon = line.indexOf(0x3a);
    const name = String.fromCharCode(...line.subarray(0, colon < 0 ? line.length : colon));
    let value = colon < 0 ? new Uint8Array(0) : line.subarray(colon + 1);
    if (value[0] === 0x20) value = value.subarray(1);
    if (name === "data") {
      if (data === null) data = [];
      else data.push(0x0a);
      for (const x of value) data.push(x);
    }
  }
  return events;
}

// ---- NDJSON (Ollama): one document per LF-terminated line ------------------------------------

/** The non-blank lines of an NDJSON body; a last line without its LF counts only when it parses
 *  (JSON delimits itself; a cut-off document is dropped). */
export function ndjsonLines(b: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  const blank = (l: Uint8Array) => l.every((c) => c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a);
  while (at < b.length) {
    const lf = b.indexOf(0x0a, at);
    const line = b.subarray(at, lf < 0 ? b.length : lf);
    if (lf < 0) {
      if (!blank(line) && parseJson(line)?.t === "obj") out.push(line);
      break;
    }
    if (!blank(line)) out.push(line);
    at = lf + 1;
  }
  return out;
}

// ---- the whole exchange ---------------------------------------------------------------------

export interface RefResponse {
  status: number;
  headers: [string, string][];
  body: Uint8Array;
}

export interface Expected {
  /** Whether every input was valid by the strict reading (the expectation is then exact). */
  exact: boolean;
  requestModel?: Uint8Array;
  responseModel?: Uint8Array;
  /** Token filter state that must be published (absent keys must be absent). */
  tokens: Partial<Record<"prompt" | "completion" | "total" | "cached" | "cacheWrite" | "reasoning", number>>;
  skip?: "error_status" | "compressed" | "content_type" | "malformed" | "no_usage" | "provider_error";
}

export function requestModel(body: Uint8Array): { exact: boolean; model?: Uint8Array } {
  const root = parseJson(body);
  if (!root) return { exact: false };
  if (root.t !== "obj") return { exact: true };
  const m = member(root, "model");
  return { exact: true, model: m && m.t === "str" && m.raw <= CAPTURE && m.bytes.length > 0 ? m.bytes : undefined };
}

/** The body as the API wrote it: identity as is; gzip / x-gzip / deflate (zlib, or raw when the
 *  first two bytes are no zlib header) inflated by node:zlib, null when that fails; any other
 *  coding, or two stacked, "unreadable" (as the filter's assembly/compress/codings.ts decides). */
export function decodeBody(contentEncoding: string | undefined, body: Uint8Array): Uint8Array | null | "unreadable" {
  const codings = (contentEncoding ?? "")
    .split(",")
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== "" && c !== "identity");
  if (codings.length === 0) return body;
  if (codings.length > 1 || !["gzip", "x-gzip", "deflate"].includes(codings[0])) return "unreadable";
  if (body.length === 0) return body;
  try {
    if (codings[0] !== "deflate") return zlib.gunzipSync(body);
    const zlibHeader = body.length >= 2 && (body[0] & 0x0f) === 8 && body[0] >> 4 <= 7 && ((body[0] << 8) | body[1]) % 31 === 0;
    return zlibHeader ? zlib.inflateSync(body) : zlib.inflateRawSync(body);
  } catch {
    return null;
  }
}

export function expected(shape: Shape, request: Uint8Array, response: RefResponse, path = ""): Expected {
  // Shapes with the model in the path never read the request body, nor does a form upload
  // (a multipart body starts with its boundary's `--`).
  const form = SHAPE_INFO[shape].forms === true && request[0] === 0x2d && request[1] === 0x2d;
  const rq = SHAPE_INFO[shape].readsBody && !form ? requestModel(request) : { exact: true, model: pathModel(shape, path) };
  const out: Expected = { exact: rq.exact, requestModel: rq.model, tokens: {} };
  const h = new Map(response.headers.map(([k, v]) => [k.toLowerCase(), v]));
  if (response.status < 200 || response.status >= 300) return { ...out, skip: "error_status" };
  const decoded = decodeBody(h.get("content-encoding"), response.body);
  if (decoded === "unreadable") return { ...out, skip: "compressed" };
  if (decoded === null) return { ...out, exact: false, skip: "malformed" };
  response = { ...response, body: decoded };
  const ct = (h.get("content-type") ?? "").toLowerCase();
  let kind: "sse" | "ndjson" | "json" | "eventstream" | undefined = ct.includes("vnd.amazon.eventstream")
    ? "eventstream"
    : ct.includes("text/event-stream")
      ? "sse"
      : ct.includes("ndjson")
        ? "ndjson"
        : ct.includes("json")
          ? "json"
          : undefined;
  if (!kind) {
    const first = response.body.find((c) => c > 0x20);
    if (first === undefined) return { ...out, skip: "no_usage" };
    if (first === 0x7b || (first === 0x5b && SHAPE_INFO[shape].rootArray)) kind = "json";
    else if ([0x64, 0x3a, 0x65, 0x69].includes(first)) kind = "sse";
    else return { ...out, skip: "content_type" };
  }
  const docs: JVal[] = [];
  if (kind === "json") {
    if (response.body.every((c) => c <= 0x20)) return { ...out, skip: "no_usage" };
    const root = parseJson(response.body);
    if (!root) return { ...out, exact: false, skip: "malformed" };
    if (root.t === "obj" || (root.t === "arr" && SHAPE_INFO[shape].rootArray)) docs.push(root);
  } else if (kind === "eventstream") {
    // Bedrock: every message framed and checked; exception/error messages are a provider
    // error; events carry JSON (converse-stream) or base64 of it in `bytes` (invoke `chunk`s).
    const framed = decodeStream(response.body);
    if (!framed.ok) return { ...out, skip: "malformed" };
    if (framed.messages.length === 0) return { ...out, skip: "no_usage" };
    let problem = false;
    let parsed = 0;
    for (const m of framed.messages) {
      const type = m.headers.get(":message-type") ?? "event";
      if (type === "exception" || type === "error") {
        problem = true;
        continue;
      }
      // any other :message-type is read as an event, as the filter does
      let json: Uint8Array | undefined = m.payload;
      if (shape === "bedrock-invoke") {
        if (m.headers.get(":event-type") !== "chunk") continue;
        const outer = parseJson(m.payload);
        if (outer?.t === "obj" && outer.entries.filter(([k]) => k === "bytes").length > 1) {
          out.exact = false; // two documents in one chunk: the filter refuses the second
          continue;
        }
        const bytes = member(outer, "bytes");
        json =
          bytes &&
          bytes.t === "str" &&
          /^[A-Za-z0-9+/]*={0,2}$/.test(Buffer.from(bytes.bytes).toString("latin1")) &&
          bytes.bytes.length % 4 === 0
            ? new Uint8Array(Buffer.from(Buffer.from(bytes.bytes).toString("latin1"), "base64"))
            : undefined;
        if (!outer || !json) out.exact = false;
      }
      const root = json && parseJson(json);
      if (!root) {
        out.exact = false;
        continue;
      }
      if (root.t === "obj") {
        docs.push(root);
        parsed++;
      }
    }
    if (parsed === 0 && !problem) return { ...out, skip: "malformed" };
    if (problem) return { ...out, skip: "provider_error" };
  } else if (kind === "ndjson") {
    const lines = ndjsonLines(response.body);
    // A last line without its LF that is not a clean object is dropped; whether the filter's
    // scanner (lax about stray bytes such as a NUL before the object) reads it as one is not
    // modelled here: the numbers are then only checked to come from the input.
    const lf = response.body.lastIndexOf(0x0a);
    const tail = response.body.subarray(lf + 1);
    const blankTail = tail.every((c) => c === 0x20 || c === 0x09 || c === 0x0d);
    if (!blankTail && !(lines.length > 0 && lines[lines.length - 1].byteOffset === tail.byteOffset)) out.exact = false;
    if (lines.length === 0) return { ...out, skip: "no_usage" };
    for (const line of lines) {
      const root = parseJson(line);
      if (!root) {
        out.exact = false;
        continue;
      }
      if (root.t === "obj") docs.push(root);
    }
  } else {
    const events = sseEvents(response.body).filter((e) => !startsWith(e.data, "[DONE]"));
    if (events.length === 0) return { ...out, skip: "no_usage" };
    for (const e of events) {
      const root = parseJson(e.data);
      if (!root) {
        out.exact = false;
        continue;
      }
      if (root.t === "obj") docs.push(root);
    }
  }
  if (docs.length === 0) return { ...out, skip: "malformed" };
  const acc = { prompt: -1, completion: -1, total: -1, cached: -1, cacheWrite: -1, reasoning: -1 };
  let model: Uint8Array | undefined;
  let error = false;
  let seconds = -1;
  for (const d of docs) {
    const f = docFields(d, shape);
    if (f.model) model = f.model;
    if (f.seconds >= 0) seconds = f.seconds;
    for (const k of Object.keys(acc) as (keyof typeof acc)[]) if (f[k] >= 0) acc[k] = f[k];
    // An embeddings answer is all prompt: a server that reports only a total has it as prompt.
    if (shape === "openai" && path.split("?")[0].endsWith("/embeddings") && acc.prompt < 0) acc.prompt = acc.total;
    if (f.error) error = true;
  }
  out.responseModel = model;
  if (error) return { ...out, skip: "provider_error" };
  if (shape === "bedrock-invoke") {
    // InvokeModel's count headers (Bedrock's metering) win over the body's numbers.
    const count = (name: string) => {
      const v = h.get(name);
      return v !== undefined && /^[0-9]{1,9}$/.test(v) ? Number(v) : -1;
    };
    const input = count("x-amzn-bedrock-input-token-count");
    const output = count("x-amzn-bedrock-output-token-count");
    const cacheRead = count("x-amzn-bedrock-cache-read-input-token-count");
    const cacheWrite = count("x-amzn-bedrock-cache-write-input-token-count");
    if (input >= 0) acc.prompt = input;
    if (output >= 0) acc.completion = output;
    if (cacheRead >= 0) acc.cached = cacheRead;
    if (cacheWrite >= 0) acc.cacheWrite = cacheWrite;
  }
  // Audio billed by duration reports seconds, not tokens: read, but nothing to count.
  if (acc.prompt < 0 && acc.completion < 0) return seconds >= 0 ? out : { ...out, skip: "no_usage" };
  const total = acc.total >= 0 ? acc.total : acc.prompt >= 0 && acc.completion >= 0 ? acc.prompt + acc.completion : -1;
  for (const [k, v] of Object.entries({ ...acc, total })) if (v >= 0) out.tokens[k as keyof Expected["tokens"]] = v;
  return out;
}

function startsWith(b: Uint8Array, s: string): boolean {
  if (b.length < s.length) return false;
  for (let i = 0; i < s.length; i++) if (b[i] !== s.charCodeAt(i)) return false;
  return true;
}

/** For inputs that are not valid: whether `value` appears in `body` as the value of one of
 *  the keys (a number the input really carried there, not one made up or wrapped around). */
export function appearsUnder(body: Uint8Array, keys: string[], value: number): boolean {
  const text = Buffer.from(body).toString("latin1");
  return keys.some((k) => new RegExp(`"${k}"[\\s\\x00-\\x20]*:?[\\s\\x00-\\x20]*${value}(?![0-9])`).test(text));
}

/** Like appearsUnder, for a summed field (DashScope apps' usage.models[]): `value` is the sum of
 *  a run of consecutive values the input carried under one of the keys. */
export function sumAppearsUnder(body: Uint8Array, keys: string[], value: number): boolean {
  const text = Buffer.from(body).toString("latin1");
  return keys.some((k) => {
    const vals = [...text.matchAll(new RegExp(`"${k}"[\\s\\x00-\\x20]*:?[\\s\\x00-\\x20]*([0-9]+)(?![0-9])`, "g"))].map((m) =>
      Number(m[1]),
    );
    for (let i = 0; i < vals.length; i++) {
      let sum = 0;
      for (let j = i; j < vals.length; j++) if ((sum += vals[j]) === value) return true;
    }
    return false;
  });
}

/** Whether a shape sums a field over array elements. */
export function sumsField(shape: Shape, field: "prompt" | "completion" | "total" | "cached" | "cacheWrite" | "reasoning"): boolean {
  return FIELDS[shape].some((row) => row[1] === field && (row as unknown as string[])[2] === "sum");
}

export const TOKEN_KEYS: Record<"prompt" | "completion" | "total" | "cached" | "cacheWrite" | "reasoning", string[]> = {
  prompt: ["prompt_tokens", "input_tokens", "promptTokenCount", "inputTokens", "inputTokenCount", "prompt_eval_count", "token_count"],
  completion: [
    "completion_tokens",
    "output_tokens",
    "candidatesTokenCount",
    "outputTokens",
    "outputTokenCount",
    "eval_count",
    "generated_tokens",
  ],
  total: ["total_tokens", "prompt_tokens", "input_tokens", "totalTokenCount", "totalTokens", "prompt_eval_count", "eval_count"],
  cached: [
    "cached_tokens",
    "cache_read_input_tokens",
    "prompt_cache_hit_tokens",
    "cachedContentTokenCount",
    "cacheReadInputTokens",
    "cacheReadInputTokenCount",
  ],
  cacheWrite: ["cache_creation_input_tokens", "cacheWriteInputTokens", "cacheWriteInputTokenCount"],
  reasoning: ["reasoning_tokens", "thoughtsTokenCount"],
};
