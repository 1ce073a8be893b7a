// The benchmark's workloads: real-looking provider traffic, built once per run from a seeded
// PRNG (the same bytes every run), delivered in the chunks a proxy would see.
import type { WasmVm } from "../host/abi/vm";
import type { HttpStream } from "../host/envoy/stream";
import { chunkMessage } from "../local/aws-eventstream";
const enc = new TextEncoder();

export type Header = [string, string];

export interface Expect {
  requestModel?: string;
  responseModel?: string;
  prompt?: number;
  completion?: number;
  total?: number;
}

export interface Workload {
  name: string;
  description: string;
  requestHeaders: Header[];
  /** Body chunks (views into requestBody); none → end of stream on the headers. */
  requestChunks: Uint8Array[];
  requestBody: Uint8Array;
  responseHeaders: Header[];
  responseChunks: Uint8Array[];
  responseBody: Uint8Array;
  /** The response is SSE (for the JS baselines: parse per event). */
  sse: boolean;
  /** The response is an AWS event stream of base64 `chunk`s (Bedrock; the JS baseline decodes
   *  each frame, checks its CRCs, decodes the base64 and parses the JSON). */
  eventStream?: boolean;
  /** Whether the JSON baselines apply (a non-LLM pass-through has nothing to parse). */
  llm: boolean;
  /** What the filter must have extracted (filter state), or null: it must have written none. */
  expect: Expect | null;
  /** Workloads whose interest is the scan rate over a large body. */
  large: boolean;
  /** SSE: data events in the stream (for the per-event table). */
  events?: number;
}

export interface Sizes {
  /** "1 MB" and "10 MB" request bodies. */
  largeSmall: number;
  largeBig: number;
  /** SSE events per stream. */
  events: number;
}

export const FULL_SIZES: Sizes = { largeSmall: 1 << 20, largeBig: 10 << 20, events: 1000 };
export const QUICK_SIZES: Sizes = { largeSmall: 16 << 10, largeBig: 64 << 10, events: 20 };

/** mulberry32 */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  "the of and to in is that for it as with was on be by this are or at from have an not which but " +
  "model token request response latency cluster service mesh proxy envoy sidecar stream filter " +
  "kubernetes deployment namespace istio gateway route header body usage prompt completion cache " +
  "please explain summarize translate write function return value error retry timeout budget " +
  "データ 模型 résumé naïve café 🙂 über"
).split(" ");

/** The same vocabulary without its non-ASCII words: V8's JSON.parse is much faster on one-byte
 *  strings, so the ratio to JSON.parse depends on the content; both are measured. */
const ASCII_WORDS = WORDS.filter((w) => /^[\x20-\x7e]*$/.test(w));

/** Chat prose: words, punctuation, newlines and quotes (which JSON escapes), some non-ASCII
 *  unless `ascii`. */
function prose(rand: () => number, bytes: number, ascii = false): string {
  const parts: string[] = [];
  const words = ascii ? ASCII_WORDS : WORDS;
  let n = 0;
  while (n < bytes) {
    const r = rand();
    let w = words[Math.floor(rand() * words.length)];
    if (r < 0.02) w = `"${w}"`;
    else if (r < 0.04) w += ".\n";
    else if (r < 0.07) w += ",";
    else if (r < 0.075) w = "\\" + w;
    parts.push(w);
    n += w.length + 1;
  }
  return parts.join(" ");
}

/** A chat request of about `bytes` bytes, with "model" first or last. */
function chatRequest(
  rand: () => number,
  model: string,
  bytes: number,
  modelLast: boolean,
  extra: Record<string, unknown> = {},
  ascii = false,
): string {
  const messages: { role: string; content: string }[] = [
    { role: "system", content: "You are a helpful assistant that answers concisely." },
  ];
  let size = 200;
  let turn = 0;
  while (size < bytes) {
    const len = Math.min(bytes - size, 1000 + Math.floor(rand() * 6000));
    const content = prose(rand, Math.max(16, len), ascii);
    messages.push({ role: turn++ % 2 === 0 ? "user" : "assistant", content });
    size += content.length + 40;
  }
  const rest = { messages, temperature: 0.7, max_tokens: 512, ...extra };
  return JSON.stringify(modelLast ? { ...rest, model } : { model, ...rest });
}

function chatCompletion(rand: () => number, model: string, prompt: number, completion: number, contentBytes: number): string {
  return JSON.stringify({
    id: "chatcmpl-AXq3yTn0fTq6gkR9cVZk1sd2bH7qP",
    object: "chat.completion",
    created: 1732550000,
    model,
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: prose(rand, contentBytes), refusal: null },
        logprobs: null,
        finish_reason: "stop",
      },
    ],
    usage: {
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: prompt + completion,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    },
    system_fingerprint: "fp_0ba0d124f1",
  });
}

const OPENAI_REQ: Header[] = [
  [":method", "POST"],
  [":path", "/v1/chat/completions"],
  [":authority", "api.openai.com"],
  [":scheme", "https"],
  ["content-type", "application/json"],
  ["user-agent", "OpenAI/Python 1.55.0"],
  ["accept", "application/json"],
  ["authorization", "Bearer sk-bench-0000000000000000"],
  ["x-request-id", "5d3f0c2e-8a1b-4c6d-9e0f-1a2b3c4d5e6f"],
  ["x-forwarded-proto", "http"],
];
const JSON_RESP: Header[] = [
  [":status", "200"],
  ["content-type", "application/json"],
  ["openai-processing-ms", "412"],
  ["x-request-id", "req_5d3f0c2e8a1b"],
  ["date", "Mon, 25 Nov 2024 16:00:00 GMT"],
  ["server", "envoy"],
];
const SSE_RESP: Header[] = [
  [":status", "200"],
  ["content-type", "text/event-stream; charset=utf-8"],
  ["cache-control", "no-cache"],
  ["x-request-id", "req_5d3f0c2e8a1b"],
  ["date", "Mon, 25 Nov 2024 16:00:00 GMT"],
  ["server", "envoy"],
];

function withLength(h: Header[], body: Uint8Array): Header[] {
  return body.length > 0 ? [...h, ["content-length", String(body.length)]] : h;
}

/** Splits `body` into `size`-byte chunks (views, no copies). */
export function fixedChunks(body: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < body.length; i += size) out.push(body.subarray(i, Math.min(body.length, i + size)));
  return out;
}

/** Splits at the given boundaries (ascending offsets). */
function cutAt(body: Uint8Array, ends: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  for (const e of ends) {
    out.push(body.subarray(at, e));
    at = e;
  }
  if (at < body.length) out.push(body.subarray(at));
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** SSE bodies with their event boundaries. */
function events(texts: string[]): { body: Uint8Array; ends: number[] } {
  const parts = texts.map((t) => enc.encode(t));
  const ends: number[] = [];
  let at = 0;
  for (const p of parts) ends.push((at += p.length));
  return { body: concat(parts), ends };
}

/** Random cut points: chunk lengths uniform in [1, 2*avg-1]. */
function randomCuts(rand: () => number, length: number, avg: number): number[] {
  const ends: number[] = [];
  let at = 0;
  for (;;) {
    at += 1 + Math.floor(rand() * (2 * avg - 1));
    if (at >= length) break;
    ends.push(at);
  }
  return ends;
}

const CHUNK = 16 << 10;

export function buildWorkloads(sizes: Sizes): Workload[] {
  // One PRNG drawn in this order: each group draws after the one before, so the bytes of
  // every workload stay what they were measured with.
  const rand = prng(0x5eed);
  return [
    ...smallChat(rand),
    ...openaiStreams(rand, sizes),
    ...largeRequests(rand, sizes),
    ...largeAsciiRequests(sizes),
    ...anthropicStream(sizes),
    ...dashscopeStream(rand, sizes),
    ...nonLlmGet(rand),
    ...headersOnly(),
  ];
}

/** The workloads of the small chat completion. */
function smallChat(rand: () => number): Workload[] {
  const list: Workload[] = [];
  // 1. Small chat completion: 1 KB request, 1 KB JSON response, one chunk each.
  {
    const req = enc.encode(chatRequest(rand, "gpt-4o-mini", 1000, false));
    const resp = enc.encode(chatCompletion(rand, "gpt-4o-mini-2024-07-18", 213, 87, 520));
    list.push({
      name: "small-json",
      description: `chat completion, ${kb(req.length)} request, ${kb(resp.length)} JSON response, one chunk each`,
      requestHeaders: withLength(OPENAI_REQ, req),
      requestChunks: [req],
      requestBody: req,
      responseHeaders: withLength(JSON_RESP, resp),
      responseChunks: [resp],
      responseBody: resp,
      sse: false,
      llm: true,
      large: false,
      expect: { requestModel: "gpt-4o-mini", responseModel: "gpt-4o-mini-2024-07-18", prompt: 213, completion: 87, total: 300 },
    });
  }
  return list;
}

/** The workloads of OpenAI streams, events per chunk and cut at random, Unicode and ASCII text. */
function openaiStreams(rand: () => number, sizes: Sizes): Workload[] {
  const list: Workload[] = [];
  // 2. OpenAI streaming: N chunk events (usage in the last), then [DONE]; one event per chunk,
  //    and the same bytes cut at random positions; then the same with ASCII-only text.
  for (const ascii of [false, true]) {
    // the ASCII variant draws from its own PRNG, so the other workloads' bytes stay as they were
    const rnd = ascii ? prng(0xa5c11) : rand;
    const model = "gpt-4o-mini-2024-07-18";
    const req = enc.encode(chatRequest(rnd, "gpt-4o-mini", 1000, false, { stream: true, stream_options: { include_usage: true } }));
    const base = {
      id: "chatcmpl-AXq3yTn0fTq6gkR9cVZk1sd2bH7qP",
      object: "chat.completion.chunk",
      created: 1732550000,
      model,
      system_fingerprint: "fp_0ba0d124f1",
    };
    const texts: string[] = [];
    const n = sizes.events;
    for (let i = 0; i < n - 2; i++) {
      const delta =
        i === 0 ? { role: "assistant", content: "", refusal: null } : { content: " " + prose(rnd, 4 + Math.floor(rnd() * 12), ascii) };
      texts.push(
        `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: null }], usage: null })}\n\n`,
      );
    }
    texts.push(
      `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: "stop" }], usage: null })}\n\n`,
    );
    const prompt = 1021,
      completion = n - 2,
      total = prompt + completion;
    texts.push(
      `data: ${JSON.stringify({ ...base, choices: [], usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: total, prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 } } })}\n\n`,
    );
    texts.push("data: [DONE]\n\n");
    const { body, ends } = events(texts);
    const expect = { requestModel: "gpt-4o-mini", responseModel: model, prompt, completion, total };
    const reqHeaders: Header[] = withLength(
      OPENAI_REQ.map(([k, v]) => (k === "accept" ? [k, "text/event-stream"] : [k, v]) as Header),
      req,
    );
    const common = {
      requestHeaders: reqHeaders,
      requestChunks: [req],
      requestBody: req,
      responseHeaders: SSE_RESP,
      responseBody: body,
      sse: true,
      llm: true,
      large: false,
      expect,
      events: n,
    };
    if (ascii) {
      list.push({
        name: `sse-openai-${n}-ascii`,
        description: `the same OpenAI stream with ASCII-only text (${kb(body.length)}), one event per chunk`,
        responseChunks: cutAt(body, ends),
        ...common,
      });
      continue;
    }
    list.push({
      name: `sse-openai-${n}`,
      description: `OpenAI stream, ${n} events + [DONE] (${kb(body.length)}), one event per chunk`,
      responseChunks: cutAt(body, ends),
      ...common,
    });
    const avg = Math.round(body.length / ends.length);
    const cuts = randomCuts(prng(0xc0ffee), body.length, avg);
    list.push({
      name: `sse-openai-${n}-split`,
      description: `the same stream cut at random positions (${cuts.length + 1} chunks, 1..${2 * avg - 1} B)`,
      responseChunks: cutAt(body, cuts),
      ...common,
    });
  }
  return list;
}

/** The workloads of large requests, model first and last. */
function largeRequests(rand: () => number, sizes: Sizes): Workload[] {
  const list: Workload[] = [];
  // 3. Large requests: messages before/after "model", 16 KiB chunks, small JSON response.
  for (const size of [sizes.largeSmall, sizes.largeBig]) {
    for (const last of [false, true]) {
      const model = "gpt-4o";
      const req = enc.encode(chatRequest(rand, model, size, last));
      const resp = enc.encode(chatCompletion(rand, "gpt-4o-2024-08-06", 250000, 120, 400));
      list.push({
        name: `req-${mb(size)}-model-${last ? "last" : "first"}`,
        description: `${mb(req.length)} request, "model" ${last ? "after" : "before"} the messages, ${CHUNK >> 10} KiB chunks`,
        requestHeaders: withLength(OPENAI_REQ, req),
        requestChunks: fixedChunks(req, CHUNK),
        requestBody: req,
        responseHeaders: withLength(JSON_RESP, resp),
        responseChunks: [resp],
        responseBody: resp,
        sse: false,
        llm: true,
        large: true,
        expect: { requestModel: model, responseModel: "gpt-4o-2024-08-06", prompt: 250000, completion: 120, total: 250120 },
      });
    }
  }
  return list;
}

/** The workloads of the model-last large requests with ASCII-only text. */
function largeAsciiRequests(sizes: Sizes): Workload[] {
  const list: Workload[] = [];
  // 3b. The model-last large requests again with ASCII-only text (own PRNG: the bytes above stay).
  {
    const rnd = prng(0xa5c12);
    for (const size of [sizes.largeSmall, sizes.largeBig]) {
      const model = "gpt-4o";
      const req = enc.encode(chatRequest(rnd, model, size, true, {}, true));
      const resp = enc.encode(chatCompletion(rnd, "gpt-4o-2024-08-06", 250000, 120, 400));
      list.push({
        name: `req-${mb(size)}-model-last-ascii`,
        description: `${mb(req.length)} request of ASCII-only text, "model" after the messages, ${CHUNK >> 10} KiB chunks`,
        requestHeaders: withLength(OPENAI_REQ, req),
        requestChunks: fixedChunks(req, CHUNK),
        requestBody: req,
        responseHeaders: withLength(JSON_RESP, resp),
        responseChunks: [resp],
        responseBody: resp,
        sse: false,
        llm: true,
        large: true,
        expect: { requestModel: model, responseModel: "gpt-4o-2024-08-06", prompt: 250000, completion: 120, total: 250120 },
      });
    }
  }
  return list;
}

/** Claude's counts in the Anthropic stream: input tokens in message_start; output tokens = the text deltas. */
const ANTHROPIC_PROMPT = 472;
/** Events that are not text deltas: message_start, content_block_start/_stop, message_delta, message_stop. */
const ANTHROPIC_FRAMING_EVENTS = 5;

/** The workloads of an Anthropic Messages stream, as SSE and as Bedrock's event stream. */
function anthropicStream(sizes: Sizes): Workload[] {
  // 3c. Anthropic Messages streaming: message_start (model, input tokens), text deltas that name
  //     no usage or model field at all, message_delta (output tokens); one event per chunk.
  const rnd = prng(0xa7e1);
  const n = sizes.events;
  const model = "claude-3-5-haiku-20241022";
  // The request draws from the PRNG before the deltas: the order keeps the bytes measured before.
  const req = anthropicRequest(rnd);
  const stream = anthropicEvents(rnd, n, model);
  return [anthropicSseWorkload(n, model, req, stream.texts), bedrockInvokeStreamWorkload(n, model, req, stream.data)];
}

/** The client's request: a streamed call with one ~700-byte user message. */
function anthropicRequest(rnd: () => number): Uint8Array {
  return enc.encode(
    JSON.stringify({
      model: "claude-3-5-haiku-latest",
      max_tokens: 1024,
      stream: true,
      messages: [{ role: "user", content: prose(rnd, 700) }],
    }),
  );
}

/** The stream's `n` events: as SSE texts, and their data objects (for the Bedrock framing). */
function anthropicEvents(rnd: () => number, n: number, model: string): { texts: string[]; data: unknown[] } {
  const data: unknown[] = [];
  const sse = (event: string, d: unknown) => {
    data.push(d);
    return `event: ${event}\ndata: ${JSON.stringify(d)}\n\n`;
  };
  const texts = [
    sse("message_start", {
      type: "message_start",
      message: {
        id: "msg_01XFDUDYJgAACzvnptvVoYEL",
        type: "message",
        role: "assistant",
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: ANTHROPIC_PROMPT, output_tokens: 1 },
      },
    }),
    sse("content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }),
  ];
  for (let i = 0; i < n - ANTHROPIC_FRAMING_EVENTS; i++)
    texts.push(
      sse("content_block_delta", {
        type: "content_block_delta",
        index: 0,
        delta: { type: "text_delta", text: " " + prose(rnd, 4 + Math.floor(rnd() * 12)) },
      }),
    );
  texts.push(sse("content_block_stop", { type: "content_block_stop", index: 0 }));
  texts.push(
    sse("message_delta", {
      type: "message_delta",
      delta: { stop_reason: "end_turn", stop_sequence: null },
      usage: { output_tokens: n - ANTHROPIC_FRAMING_EVENTS },
    }),
  );
  texts.push(sse("message_stop", { type: "message_stop" }));
  return { texts, data };
}

/** 3c: the stream as Anthropic's API sends it, one SSE event per chunk. */
function anthropicSseWorkload(n: number, model: string, req: Uint8Array, texts: string[]): Workload {
  const { body, ends } = events(texts);
  return {
    name: `sse-anthropic-${n}`,
    description: `Anthropic Messages stream, ${n} events (${kb(body.length)}), one event per chunk`,
    requestHeaders: withLength(
      [
        [":method", "POST"],
        [":path", "/v1/messages"],
        [":authority", "api.anthropic.com"],
        [":scheme", "https"],
        ["content-type", "application/json"],
        ["x-api-key", "sk-ant-bench"],
        ["anthropic-version", "2023-06-01"],
        ["accept", "text/event-stream"],
      ],
      req,
    ),
    requestChunks: [req],
    requestBody: req,
    responseHeaders: [
      [":status", "200"],
      ["content-type", "text/event-stream; charset=utf-8"],
      ["request-id", "req_018EeWyXxfu5pfWkrYcMdjWG"],
    ],
    responseChunks: cutAt(body, ends),
    responseBody: body,
    sse: true,
    llm: true,
    large: false,
    events: n,
    expect: {
      requestModel: "claude-3-5-haiku-latest",
      responseModel: model,
      prompt: ANTHROPIC_PROMPT,
      completion: n - ANTHROPIC_FRAMING_EVENTS,
    },
  };
}

/** 3d. The same events from Claude on Bedrock (invoke-with-response-stream): each one base64 in
 *  a `chunk` message of the AWS event stream, Bedrock's metrics on the last; a frame per chunk.
 *  Beside 3c it gives the framing's and base64's cost per event. */
function bedrockInvokeStreamWorkload(n: number, model: string, req: Uint8Array, data: unknown[]): Workload {
  const frames = bedrockChunkFrames(n, data);
  const ebody = new Uint8Array(Buffer.concat(frames));
  const eends: number[] = [];
  let at = 0;
  for (const f of frames) eends.push((at += f.length));
  // The Anthropic request's messages in Bedrock's body (the model is in the path).
  const ereq = enc.encode(
    JSON.stringify({
      anthropic_version: "bedrock-2023-05-31",
      max_tokens: 1024,
      messages: JSON.parse(new TextDecoder().decode(req)).messages,
    }),
  );
  return {
    name: `eventstream-bedrock-invoke-${n}`,
    description: `the same Claude stream through Bedrock invoke-with-response-stream, ${n} event-stream frames (${kb(ebody.length)}), one per chunk`,
    requestHeaders: withLength(
      [
        [":method", "POST"],
        [":path", "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/invoke-with-response-stream"],
        [":authority", "bedrock-runtime.us-east-1.amazonaws.com"],
        [":scheme", "https"],
        ["content-type", "application/json"],
        ["accept", "application/vnd.amazon.eventstream"],
      ],
      ereq,
    ),
    requestChunks: [ereq],
    requestBody: ereq,
    responseHeaders: [
      [":status", "200"],
      ["content-type", "application/vnd.amazon.eventstream"],
      ["x-amzn-requestid", "34a8c7a8-854e-4255-91d2-1d9840e60626"],
    ],
    responseChunks: cutAt(ebody, eends),
    responseBody: ebody,
    sse: false,
    eventStream: true,
    llm: true,
    large: false,
    events: n,
    expect: {
      requestModel: "anthropic.claude-3-5-haiku-20241022-v1:0",
      responseModel: model,
      prompt: ANTHROPIC_PROMPT,
      completion: n - ANTHROPIC_FRAMING_EVENTS,
    },
  };
}

/** Each event's data in a `chunk` frame; the last also carries Bedrock's invocation metrics.
 *  The `p` padding varies in length, as in Bedrock's frames. */
function bedrockChunkFrames(n: number, data: unknown[]): Buffer[] {
  return data.map((e, i) =>
    chunkMessage(
      i < data.length - 1
        ? e
        : {
            ...(e as object),
            "amazon-bedrock-invocationMetrics": {
              inputTokenCount: ANTHROPIC_PROMPT,
              outputTokenCount: n - ANTHROPIC_FRAMING_EVENTS,
              invocationLatency: 2100,
              firstByteLatency: 380,
            },
          },
      "abcdefghijklmnop".slice(0, 1 + (i % 16)),
    ),
  );
}

/** The workloads of a DashScope native stream. */
function dashscopeStream(rand: () => number, sizes: Sizes): Workload[] {
  const list: Workload[] = [];
  // 4. DashScope native SSE: cumulative usage in every event.
  {
    const n = sizes.events;
    const req = enc.encode(
      JSON.stringify({
        model: "qwen-turbo",
        input: {
          messages: [
            { role: "system", content: "You are a helpful assistant." },
            { role: "user", content: prose(rand, 700) },
          ],
        },
        parameters: { result_format: "message", incremental_output: true },
      }),
    );
    const texts: string[] = [];
    const prompt = 236;
    for (let i = 1; i <= n; i++) {
      const data = {
        output: {
          choices: [
            { message: { content: prose(rand, 4 + Math.floor(rand() * 12)), role: "assistant" }, finish_reason: i === n ? "stop" : "null" },
          ],
        },
        usage: { total_tokens: prompt + i, output_tokens: i, input_tokens: prompt },
        request_id: "5bd7a3a2-ef6a-9a4f-9b2d-7e1c3a5f0b11",
      };
      texts.push(`id:${i}\nevent:result\n:HTTP_STATUS/200\ndata:${JSON.stringify(data)}\n\n`);
    }
    const { body, ends } = events(texts);
    list.push({
      name: `sse-dashscope-${n}`,
      description: `DashScope native stream, ${n} events with running usage (${kb(body.length)}), one event per chunk`,
      requestHeaders: withLength(
        [
          [":method", "POST"],
          [":path", "/api/v1/services/aigc/text-generation/generation"],
          [":authority", "dashscope.aliyuncs.com"],
          [":scheme", "https"],
          ["content-type", "application/json"],
          ["authorization", "Bearer sk-bench"],
          ["x-dashscope-sse", "enable"],
          ["user-agent", "dashscope/1.20.14; python/3.11"],
        ],
        req,
      ),
      requestChunks: [req],
      requestBody: req,
      responseHeaders: [
        [":status", "200"],
        ["content-type", "text/event-stream;charset=UTF-8"],
        ["x-dashscope-call-gateway", "true"],
        ["req-cost-time", "180"],
      ],
      responseChunks: cutAt(body, ends),
      responseBody: body,
      sse: true,
      llm: true,
      large: false,
      events: n,
      expect: { requestModel: "qwen-turbo", prompt, completion: n, total: prompt + n },
    });
  }
  return list;
}

/** The workloads of a non-LLM GET. */
function nonLlmGet(rand: () => number): Workload[] {
  const list: Workload[] = [];
  // 5. Non-LLM traffic: a GET through the same sidecar (pass-through cost).
  {
    const resp = enc.encode(
      JSON.stringify({ id: 42, name: "Ada", email: "ada@example.com", roles: ["admin", "dev"], bio: prose(rand, 800) }),
    );
    list.push({
      name: "non-llm-get",
      description: `GET /api/v1/users/42, ${kb(resp.length)} JSON response (pass-through)`,
      requestHeaders: [
        [":method", "GET"],
        [":path", "/api/v1/users/42"],
        [":authority", "users.default.svc.cluster.local"],
        [":scheme", "http"],
        ["accept", "application/json"],
        ["user-agent", "curl/8.5.0"],
      ],
      requestChunks: [],
      requestBody: new Uint8Array(0),
      responseHeaders: withLength(JSON_RESP, resp),
      responseChunks: [resp],
      responseBody: resp,
      sse: false,
      llm: false,
      large: false,
      expect: null,
    });
  }
  return list;
}

/** The workloads of headers only, both ways. */
function headersOnly(): Workload[] {
  const list: Workload[] = [];
  // 6. The SDK's per-stream bookkeeping: headers only, both ways.
  list.push({
    name: "headers-only",
    description: "stream create + request/response headers (end of stream) + finish",
    requestHeaders: [
      [":method", "GET"],
      [":path", "/healthz"],
      [":authority", "users.default.svc.cluster.local"],
      [":scheme", "http"],
    ],
    requestChunks: [],
    requestBody: new Uint8Array(0),
    responseHeaders: [
      [":status", "200"],
      ["content-length", "0"],
    ],
    responseChunks: [],
    responseBody: new Uint8Array(0),
    sse: false,
    llm: false,
    large: false,
    expect: null,
  });
  return list;
}

function kb(n: number): string {
  return n >= 10240 ? `${Math.round(n / 1024)} KiB` : `${(n / 1024).toFixed(1)} KiB`;
}
function mb(n: number): string {
  return n >= 1 << 20 ? `${Math.round(n / (1 << 20))}MB` : `${Math.round(n / 1024)}KB`;
}

/** One stream of a workload through a VM: headers, every chunk, the end (on_log, on_done, on_delete). */
export function drive(vm: WasmVm, w: Workload): HttpStream {
  const s = vm.newStream();
  const rq = w.requestChunks,
    rs = w.responseChunks;
  s.sendRequestHeaders(w.requestHeaders, rq.length === 0);
  for (let i = 0; i < rq.length; i++) s.sendRequestBody(rq[i], i === rq.length - 1);
  s.sendResponseHeaders(w.responseHeaders, rs.length === 0);
  for (let i = 0; i < rs.length; i++) s.sendResponseBody(rs[i], i === rs.length - 1);
  s.finish();
  return s;
}
