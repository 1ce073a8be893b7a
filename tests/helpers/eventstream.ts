// The AWS event stream framing (application/vnd.amazon.eventstream) for the tests: Bedrock
// answers built with the encoder the mock uses (local/aws-eventstream.ts), and a strict decoder
// for the reference model, written from the format description (aws-c-event-stream, smithy)
// independently of assembly/eventstream.ts. CRCs by node:zlib.
import { crc32 } from "node:zlib";
import { chunkMessage, encodeMessage, eventMessage } from "../../local/aws-eventstream";

export { chunkMessage, encodeHeaders, encodeMessage, eventMessage } from "../../local/aws-eventstream";

/** The filter's limits (assembly/eventstream.ts), restated. */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
export const MAX_HEADER_BYTES = 8 * 1024;

/** A modelled exception (`:message-type: exception`). */
export function exceptionMessage(type: string, message: string): Buffer {
  return encodeMessage(
    { ":exception-type": type, ":content-type": "application/json", ":message-type": "exception" },
    JSON.stringify({ message }),
  );
}

export interface DecodedMessage {
  headers: Map<string, string | number | boolean | Uint8Array | bigint>;
  payload: Uint8Array;
}

/** Strict decoding: every message whole, both CRCs right, lengths within the limits, header
 *  types known. `ok: false` on the first fault (later bytes cannot be framed). */
export function decodeStream(b: Uint8Array): { ok: boolean; messages: DecodedMessage[] } {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const messages: DecodedMessage[] = [];
  let at = 0;
  while (at < buf.length) {
    if (buf.length - at < 12) return { ok: false, messages };
    const total = buf.readUInt32BE(at);
    const hlen = buf.readUInt32BE(at + 4);
    if (crc32(buf.subarray(at, at + 8)) !== buf.readUInt32BE(at + 8)) return { ok: false, messages };
    if (total < 16 || total > MAX_MESSAGE_BYTES || hlen > total - 16 || hlen > MAX_HEADER_BYTES) return { ok: false, messages };
    if (buf.length - at < total) return { ok: false, messages };
    if (crc32(buf.subarray(at, at + total - 4)) !== buf.readUInt32BE(at + total - 4)) return { ok: false, messages };
    const headers = new Map<string, string | number | boolean | Uint8Array | bigint>();
    let i = at + 12;
    const hend = i + hlen;
    while (i < hend) {
      const nlen = buf[i];
      if (nlen === 0 || i + 1 + nlen >= hend) return { ok: false, messages };
      const name = buf.subarray(i + 1, i + 1 + nlen).toString("latin1");
      i += 1 + nlen;
      const type = buf[i++];
      const fixed: Record<number, number> = { 0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16 };
      if (type === 6 || type === 7) {
        if (i + 2 > hend) return { ok: false, messages };
        const len = buf.readUInt16BE(i);
        if (i + 2 + len > hend) return { ok: false, messages };
        const v = buf.subarray(i + 2, i + 2 + len);
        headers.set(name, type === 7 ? v.toString("latin1") : new Uint8Array(v));
        i += 2 + len;
      } else if (type in fixed) {
        if (i + fixed[type] > hend) return { ok: false, messages };
        headers.set(
          name,
          type === 0 ? true : type === 1 ? false : fixed[type] <= 4 && fixed[type] > 0 ? buf.readUIntBE(i, fixed[type]) : 0,
        );
        i += fixed[type];
      } else {
        return { ok: false, messages };
      }
    }
    messages.push({ headers, payload: new Uint8Array(buf.subarray(hend, at + total - 4)) });
    at += total;
  }
  return { ok: true, messages };
}

export interface StreamTokens {
  prompt: number;
  completion: number;
  cached?: number;
  cacheWrite?: number;
}

/** A ConverseStream answer as Bedrock sends it: messageStart, text deltas, stops, metadata. */
export function converseStreamBody(t: StreamTokens, text = ["Hello", " there", "!"]): Buffer {
  const usage: Record<string, number> = { inputTokens: t.prompt, outputTokens: t.completion, totalTokens: t.prompt + t.completion };
  if (t.cached !== undefined) usage.cacheReadInputTokens = t.cached;
  if (t.cacheWrite !== undefined) usage.cacheWriteInputTokens = t.cacheWrite;
  if (t.cached !== undefined || t.cacheWrite !== undefined) usage.totalTokens += (t.cached ?? 0) + (t.cacheWrite ?? 0);
  return Buffer.concat([
    eventMessage("messageStart", { p: "abcdefghijklmnopqrstuvwxyzABCDEF", role: "assistant" }),
    ...text.map((s) => eventMessage("contentBlockDelta", { contentBlockIndex: 0, delta: { text: s }, p: "abcdefghij" })),
    eventMessage("contentBlockStop", { contentBlockIndex: 0, p: "abcdefghijklmnop" }),
    eventMessage("messageStop", { p: "abcdefghijklmnopqrstuvwxyz", stopReason: "end_turn" }),
    eventMessage("metadata", { metrics: { latencyMs: 612 }, p: "abcdefghijkl", usage }),
  ]);
}

/** An InvokeModelWithResponseStream answer of an Anthropic model: the Messages API's events as
 *  base64 `chunk`s, the last with Bedrock's invocation metrics (which may differ: `metrics`). */
export function invokeStreamBody(model: string, t: StreamTokens, metrics: StreamTokens = t): Buffer {
  const usage: Record<string, number> = { input_tokens: t.prompt, output_tokens: 1 };
  if (t.cached !== undefined) usage.cache_read_input_tokens = t.cached;
  if (t.cacheWrite !== undefined) usage.cache_creation_input_tokens = t.cacheWrite;
  const invocationMetrics: Record<string, number> = {
    inputTokenCount: metrics.prompt,
    outputTokenCount: metrics.completion,
    invocationLatency: 881,
    firstByteLatency: 402,
  };
  if (metrics.cached !== undefined) invocationMetrics.cacheReadInputTokenCount = metrics.cached;
  if (metrics.cacheWrite !== undefined) invocationMetrics.cacheWriteInputTokenCount = metrics.cacheWrite;
  return Buffer.concat([
    chunkMessage(
      {
        type: "message_start",
        message: {
          id: "msg_bdrk_01",
          type: "message",
          role: "assistant",
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage,
        },
      },
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123",
    ),
    chunkMessage({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }, "abcd"),
    chunkMessage({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hi there" } }, "abcdefg"),
    chunkMessage({ type: "content_block_stop", index: 0 }, "ab"),
    chunkMessage(
      { type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: t.completion } },
      "abcdef",
    ),
    chunkMessage({ type: "message_stop", "amazon-bedrock-invocationMetrics": invocationMetrics }, "abcdefghijklmnopqrstu"),
  ]);
}

export const EVENTSTREAM_HEADERS: [string, string][] = [
  ["content-type", "application/vnd.amazon.eventstream"],
  ["x-amzn-requestid", "7b5bc3c3-3b1b-4a0e-9c2f-1d0f2a6b9c11"],
];

/** For the reference model's lenient check: the text an event stream carries, i.e. its
 *  payloads and the base64-decoded `bytes` inside them, as far as its frames hold. */
export function carriedBytes(body: Uint8Array): Uint8Array {
  const parts: Buffer[] = [];
  for (const m of decodeStream(body).messages) {
    const payload = Buffer.from(m.payload);
    parts.push(payload, Buffer.from("\n"));
    for (const match of payload.toString("latin1").matchAll(/"bytes"\s*:\s*"((?:[^"\\]|\\.)*)"/g)) {
      parts.push(Buffer.from(match[1].replace(/\\\//g, "/"), "base64"), Buffer.from("\n"));
    }
  }
  return new Uint8Array(Buffer.concat(parts));
}
