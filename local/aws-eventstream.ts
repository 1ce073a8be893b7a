// The AWS event stream framing (application/vnd.amazon.eventstream), encoding side: what
// Bedrock's converse-stream and invoke-with-response-stream answers are made of. A message is
// prelude (total length, headers length: u32 BE; CRC32 of those 8 bytes), headers (name length
// u8, name, type u8, value), payload, CRC32 of everything before it. Used by the mock LLM and
// the tests.
import { crc32 } from "node:zlib";

export type HeaderValue = { type: "string"; value: string } | { type: "bool"; value: boolean } | { type: "int"; value: number };

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

export function encodeHeaders(headers: Record<string, string | HeaderValue>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, v] of Object.entries(headers)) {
    const value: HeaderValue = typeof v === "string" ? { type: "string", value: v } : v;
    const n = Buffer.from(name);
    parts.push(Buffer.from([n.length]), n);
    if (value.type === "string") {
      const s = Buffer.from(value.value);
      const len = Buffer.alloc(2);
      len.writeUInt16BE(s.length);
      parts.push(Buffer.from([7]), len, s);
    } else if (value.type === "bool") {
      parts.push(Buffer.from([value.value ? 0 : 1]));
    } else {
      parts.push(Buffer.from([4]), u32(value.value));
    }
  }
  return Buffer.concat(parts);
}

/** One message: prelude, headers, payload, message CRC. */
export function encodeMessage(headers: Record<string, string | HeaderValue> | Buffer, payload: Uint8Array | string): Buffer {
  const h = Buffer.isBuffer(headers) ? headers : encodeHeaders(headers);
  const p = typeof payload === "string" ? Buffer.from(payload) : Buffer.from(payload);
  const total = 12 + h.length + p.length + 4;
  const prelude8 = Buffer.concat([u32(total), u32(h.length)]);
  const prelude = Buffer.concat([prelude8, u32(crc32(prelude8))]);
  const body = Buffer.concat([prelude, h, p]);
  return Buffer.concat([body, u32(crc32(body))]);
}

/** A Bedrock event (`:message-type: event`) with a JSON payload. */
export function eventMessage(eventType: string, json: unknown): Buffer {
  return encodeMessage(
    { ":event-type": eventType, ":content-type": "application/json", ":message-type": "event" },
    typeof json === "string" ? json : JSON.stringify(json),
  );
}

/** An InvokeModelWithResponseStream `chunk` event: the model's JSON, base64 in `bytes`. */
export function chunkMessage(modelJson: unknown, padding = ""): Buffer {
  const inner = typeof modelJson === "string" ? modelJson : JSON.stringify(modelJson);
  const payload: Record<string, string> = { bytes: Buffer.from(inner).toString("base64") };
  if (padding) payload.p = padding;
  return eventMessage("chunk", payload);
}
