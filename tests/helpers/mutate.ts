// Mutations of exchanges for fuzzing: byte-level (flip, insert, delete, duplicate, truncate,
// splice hostile tokens) and structural (hostile JSON values put where the usage goes).
import fc from "fast-check";
import { anyCase, type Case } from "./gen";

const enc = new TextEncoder();

/** Tokens a hostile or broken peer might produce; spliced in anywhere. */
export const HOSTILE = [
  "\0",
  "\xff\xfe",
  "\xc3",
  "\xed\xa0\x80",
  '"',
  "\\",
  "\\u",
  "\\ud800",
  "{",
  "}",
  "[",
  "]",
  ":",
  ",",
  "\n",
  "\r",
  "\r\n",
  "\n\n",
  "data: [DONE]\n\n",
  "[DONE]",
  "data:",
  "data: {",
  "event: x\n",
  ": c\n",
  '"usage":null',
  '"usage":{"prompt_tokens":7}',
  '"prompt_tokens":-5',
  '"prompt_tokens":1e3',
  '"prompt_tokens":99999999999999999999',
  '"prompt_tokens":"12"',
  '"prompt_tokens":1.5',
  '"model":"x|llmproxy_model=forged"',
  '"error":{"message":"x"}',
  '"code":"InvalidApiKey"',
  "true",
  "null",
  "-0",
  "0123",
];

export type Mutation =
  | { k: "flip"; at: number; bit: number }
  | { k: "insert"; at: number; tok: number }
  | { k: "delete"; at: number; len: number }
  | { k: "dup"; at: number; len: number }
  | { k: "truncate"; at: number }
  | { k: "random"; at: number; bytes: number[] };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ k: fc.constant("flip" as const), at: fc.double({ min: 0, max: 1, noNaN: true }), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({
    k: fc.constant("insert" as const),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
    tok: fc.nat({ max: HOSTILE.length - 1 }),
  }),
  fc.record({ k: fc.constant("delete" as const), at: fc.double({ min: 0, max: 1, noNaN: true }), len: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ k: fc.constant("dup" as const), at: fc.double({ min: 0, max: 1, noNaN: true }), len: fc.integer({ min: 1, max: 60 }) }),
  fc.record({ k: fc.constant("truncate" as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({
    k: fc.constant("random" as const),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
    bytes: fc.array(fc.nat({ max: 255 }), { maxLength: 16 }),
  }),
) as fc.Arbitrary<Mutation>;

export function applyMutation(b: Uint8Array, m: Mutation): Uint8Array {
  const at = Math.floor((m as { at: number }).at * (b.length + 1));
  const a = Array.from(b);
  switch (m.k) {
    case "flip":
      if (at < a.length) a[at] ^= 1 << m.bit;
      break;
    case "insert":
      a.splice(at, 0, ...Buffer.from(HOSTILE[m.tok], "latin1"));
      break;
    case "delete":
      a.splice(at, m.len);
      break;
    case "dup":
      a.splice(at, 0, ...a.slice(at, at + m.len));
      break;
    case "truncate":
      a.length = Math.min(a.length, at);
      break;
    case "random":
      a.splice(at, 0, ...m.bytes);
      break;
  }
  return Uint8Array.from(a);
}

/** Hostile values for a usage field, as JSON text. */
export const HOSTILE_VALUES = [
  "null",
  "-1",
  "-0",
  "0",
  "00",
  "1.0",
  "1e2",
  "1E+2",
  '"12"',
  "true",
  "[]",
  "{}",
  "[12]",
  '{"n":12}',
  "18446744073709551617",
  "999999999999999",
  "1000000000000000",
  "9007199254740993",
  "1" + "0".repeat(400),
  "-" + "9".repeat(30),
  "0.000001",
  "NaN",
  "Infinity",
];

/** A valid case whose usage fields are replaced by hostile values (still valid JSON, mostly). */
export const structuralCase: fc.Arbitrary<Case> = fc
  .tuple(
    anyCase,
    fc.nat({ max: HOSTILE_VALUES.length - 1 }),
    fc.constantFrom(
      "prompt_tokens",
      "completion_tokens",
      "input_tokens",
      "output_tokens",
      "total_tokens",
      "usage",
      "model",
      "error",
      "code",
      "cached_tokens",
      "reasoning_tokens",
      "promptTokenCount",
      "candidatesTokenCount",
      "usageMetadata",
      "inputTokens",
      "outputTokens",
      "models",
      "model_id",
      "x_groq",
      "choices",
      "response",
      "modelVersion",
    ),
  )
  .map(([c, v, key]) => {
    const text = Buffer.from(c.response).toString("latin1");
    const re = new RegExp(`"${key}":(\\{[^{}]*\\}|"[^"]*"|[^,}\\]]*)`, "g");
    const replaced = text.replace(re, `"${key}":${HOSTILE_VALUES[v]}`);
    return { ...c, response: Buffer.from(replaced, "latin1") };
  });

export const mutatedCase: fc.Arbitrary<Case> = fc
  .tuple(anyCase, fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.array(mutation, { maxLength: 2 }), fc.boolean())
  .map(([c, ms, rqMs, touchRequest]) => {
    let response = c.response;
    for (const m of ms) response = applyMutation(response, m);
    let request = c.request;
    if (touchRequest) for (const m of rqMs) request = applyMutation(request, m);
    return { ...c, request, response };
  });

export const oddHeaders: fc.Arbitrary<{ status: number; headers: [string, string][] }> = fc
  .record({
    status: fc.oneof(
      fc.constant(200),
      fc.constant(201),
      fc.constant(204),
      fc.constant(304),
      fc.constant(400),
      fc.constant(401),
      fc.constant(429),
      fc.constant(500),
      fc.constant(503),
      fc.integer({ min: 100, max: 599 }),
    ),
    ct: fc.constantFrom(
      undefined,
      "application/json",
      "text/event-stream",
      "text/plain",
      "text/html; charset=utf-8",
      "application/x-ndjson",
      "",
      "TEXT/EVENT-STREAM",
      "application/problem+json",
    ),
    ce: fc.constantFrom(undefined, undefined, "gzip", "br", "identity", "deflate, gzip", ""),
  })
  .map(({ status, ct, ce }) => ({
    status,
    headers: [
      ...(ct !== undefined ? [["content-type", ct] as [string, string]] : []),
      ...(ce !== undefined ? [["content-encoding", ce] as [string, string]] : []),
    ],
  }));

export function bytes(s: string): Uint8Array {
  return enc.encode(s);
}
