// Bedrock's binary answers through the host, observe-only: the AWS event stream framing of
// converse-stream and invoke-with-response-stream (assembly/eventstream.ts, eventstream-body.ts,
// base64-json.ts) and InvokeModel's token-count headers (token-headers.ts). Counted exactly,
// whole and split at every byte (inside the prelude, between prelude and payload, inside a
// base64 quad); a corrupted, truncated, oversized or garbage stream is `malformed` (or what the
// reference model says), never a trap; the bytes the client receives are the upstream's.
import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { crc32 } from "node:zlib";
import { manualClock, sidecar, type Sidecar } from "./helpers/sidecar";
import { checkAgainstReference, cut, snap, STATE, TOKEN_STATE } from "./helpers/harness";
import type { Shape } from "./helpers/reference";
import {
  EVENTSTREAM_HEADERS,
  chunkMessage,
  converseStreamBody,
  encodeMessage,
  eventMessage,
  exceptionMessage,
  invokeStreamBody,
} from "./helpers/eventstream";
import { anthropicJson, JSON_HEADERS } from "./helpers/bodies";
import VECTORS from "./fixtures/aws-eventstream-vectors.json";

const CONVERSE = "/model/amazon.nova-pro-v1%3A0/converse-stream";
const INVOKE = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke-with-response-stream";
const INVOKE_JSON = "/model/amazon.titan-embed-text-v2%3A0/invoke";
const REQUEST = JSON.stringify({ messages: [{ role: "user", content: [{ text: "Hello" }] }] });
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);

const latin1 = (b: Uint8Array) => Buffer.from(b).toString("latin1");

function ex(path: string, chunks: Uint8Array[], headers: [string, string][] = EVENTSTREAM_HEADERS) {
  return {
    request: {
      method: "POST",
      path,
      authority: "bedrock-runtime.us-east-1.amazonaws.com",
      headers: [["content-type", "application/json"]] as [string, string][],
      body: REQUEST,
    },
    response: { status: 200, headers, body: chunks },
  };
}

function read(fs: Record<string, string>) {
  const out: Record<string, string | number | undefined> = { skip: fs[STATE + "usage_skipped"], model: fs[STATE + "response_model"] };
  for (const [k, v] of Object.entries(TOKEN_STATE)) out[k] = fs[STATE + v] === undefined ? undefined : Number(fs[STATE + v]);
  return out;
}

const shapeOf = (path: string): Shape => (path.includes("converse") ? "bedrock-converse" : "bedrock-invoke");

let s: Sidecar;
beforeAll(async () => {
  s = await sidecar();
});

/** One exchange, checked: no trap, the reference model agrees, bytes unchanged downstream. */
function run(path: string, body: Uint8Array, chunks: Uint8Array[] = [body], headers = EVENTSTREAM_HEADERS) {
  const r = snap(s, ex(path, chunks, headers));
  expect(r.failed, r.trap).toBe(false);
  expect(checkAgainstReference(r, shapeOf(path), Buffer.from(REQUEST), { status: 200, headers, body }, path)).toEqual([]);
  expect(r.downstreamBody).toBe(latin1(body));
  return read(r.filterState);
}

describe("ConverseStream", () => {
  const body = converseStreamBody({ prompt: 1203, completion: 87, cached: 1024, cacheWrite: 16 });

  it("the metadata event's usage: prompt, completion, total, cache read and write; counters agree", () => {
    expect(run(CONVERSE, body)).toEqual({
      skip: undefined,
      model: undefined,
      prompt: 1203,
      completion: 87,
      total: 1203 + 87 + 1024 + 16,
      cached: 1024,
      cacheWrite: 16,
      reasoning: undefined,
    });
    const before = s.prometheus(/^asm_llm_proxy_prompt_tokens\{/);
    run(CONVERSE, body);
    const after = s.prometheus(/^asm_llm_proxy_prompt_tokens\{/);
    const value = (lines: string[]) =>
      Number(
        lines
          .find((l) => l.includes('llmproxy_model="amazon.nova-pro-v1:0"'))
          ?.split(" ")
          .pop(),
      );
    expect(value(after) - value(before)).toBe(1203);
  });

  it(`split at every byte (${body.length} cuts) and at every pair of nearby bytes gives the same`, () => {
    const whole = run(CONVERSE, body);
    for (let c = 0; c <= body.length; c++) expect([c, run(CONVERSE, body, [body.subarray(0, c), body.subarray(c)])]).toEqual([c, whole]);
    for (let c = 0; c < body.length; c += 7)
      for (const d of [1, 2, 5, 11]) expect(run(CONVERSE, body, cut(body, [c, c + d]))).toEqual(whole);
  });

  it("one byte at a time", () => {
    const chunks = [...body].map((b) => Uint8Array.of(b));
    expect(run(CONVERSE, body, chunks).prompt).toBe(1203);
  });
});

describe("InvokeModelWithResponseStream", () => {
  const body = invokeStreamBody("claude-3-haiku-20240307", { prompt: 25, completion: 74, cached: 10, cacheWrite: 3 });

  it("Anthropic chunks (base64 of message_start / message_delta) and the invocation metrics", () => {
    expect(run(INVOKE, body)).toEqual({
      skip: undefined,
      model: "claude-3-haiku-20240307",
      prompt: 25,
      completion: 74,
      total: 99,
      cached: 10,
      cacheWrite: 3,
      reasoning: undefined,
    });
  });

  it("amazon-bedrock-invocationMetrics (last chunk, Bedrock's metering) win over the model's own counts", () => {
    const b = invokeStreamBody("claude-3-haiku-20240307", { prompt: 25, completion: 74 }, { prompt: 31, completion: 80 });
    expect(run(INVOKE, b)).toMatchObject({ prompt: 31, completion: 80, total: 111 });
  });

  it("a model whose chunks carry only the invocation metrics (Titan, Llama, Mistral)", () => {
    const b = Buffer.concat([
      chunkMessage({ outputText: "Hello", index: 0, totalOutputTextTokenCount: 2, completionReason: null, inputTextTokenCount: 6 }),
      chunkMessage({
        outputText: "",
        index: 0,
        completionReason: "FINISH",
        "amazon-bedrock-invocationMetrics": { inputTokenCount: 6, outputTokenCount: 2, invocationLatency: 500, firstByteLatency: 400 },
      }),
    ]);
    expect(run("/model/amazon.titan-text-express-v1/invoke-with-response-stream", b)).toMatchObject({ prompt: 6, completion: 2, total: 8 });
  });

  it("base64 with JSON's \\/ escape and without padding is still read", () => {
    const inner = JSON.stringify({
      type: "message_stop",
      "amazon-bedrock-invocationMetrics": { inputTokenCount: 7, outputTokenCount: 9, x: "?????????" },
    });
    const b64 = Buffer.from(inner).toString("base64");
    expect(b64).toMatch(/\//);
    const escaped = `{"bytes":"${b64.replace(/\//g, "\\/").replace(/=+$/, "")}","p":"a\\"b"}`;
    const b = eventMessage("chunk", escaped);
    const r = snap(s, ex(INVOKE, [b]));
    expect(r.failed, r.trap).toBe(false);
    expect(read(r.filterState)).toMatchObject({ prompt: 7, completion: 9 });
  });

  it(`split at every byte (${body.length} cuts) gives the same`, () => {
    const whole = run(INVOKE, body);
    for (let c = 0; c <= body.length; c++) expect([c, run(INVOKE, body, [body.subarray(0, c), body.subarray(c)])]).toEqual([c, whole]);
  });

  it("chunk payloads that are not {bytes: base64} are passed over, not believed", () => {
    const bad = [
      eventMessage("chunk", { bytes: "e30*" }), // '*' is not base64
      eventMessage("chunk", { bytes: "e" }), // one digit
      eventMessage("chunk", { bytes: Buffer.from('{"usage":{"input_tokens":5}').toString("base64") }), // inner JSON cut
      eventMessage("chunk", '{"bytes":"e30=","bytes":"e30="}'),
      eventMessage("chunk", "[1]"),
      eventMessage("chunk", { bytes: "e30=x" }), // data after padding
    ];
    for (const b of bad) expect(run(INVOKE, b).skip).toBe("malformed");
    // one good event among them: counted
    const good = chunkMessage({ type: "message_stop", "amazon-bedrock-invocationMetrics": { inputTokenCount: 3, outputTokenCount: 4 } });
    expect(run(INVOKE, Buffer.concat([...bad, good]))).toMatchObject({ prompt: 3, completion: 4 });
  });
});

describe("AWS's own event stream test vectors (tests/fixtures/aws-eventstream-vectors.json)", () => {
  const usage = eventMessage("metadata", { usage: { inputTokens: 5, outputTokens: 6, totalTokens: 11 } });
  const cases = Object.entries(VECTORS.vectors) as [string, { expectation: string; hex: string }][];

  it(`${cases.length} vectors, each followed by a usage event: the valid ones frame right (the usage is read, at any split), the corrupted ones are malformed`, () => {
    expect(cases.filter(([, v]) => v.expectation === "success").length).toBeGreaterThanOrEqual(4);
    expect(cases.filter(([, v]) => v.expectation === "failure").length).toBeGreaterThanOrEqual(4);
    for (const [name, v] of cases) {
      const body = Buffer.concat([Buffer.from(v.hex, "hex"), usage]);
      const want = v.expectation === "success" ? { skip: undefined, prompt: 5, completion: 6 } : { skip: "malformed", prompt: undefined };
      for (let c = 0; c <= body.length; c++) {
        expect([name, c, run(CONVERSE, body, [body.subarray(0, c), body.subarray(c)])]).toMatchObject([name, c, want]);
      }
    }
  });
});

describe("time to first token", () => {
  it("is when the first message carrying generated text passed its CRC, not when its first bytes came", async () => {
    const clock = manualClock();
    const t = await sidecar({ now: clock.now });
    for (const [path, body, firstContent] of [
      [CONVERSE, converseStreamBody({ prompt: 4, completion: 9 }), 1], // messageStart, then contentBlockDelta
      [INVOKE, invokeStreamBody("m", { prompt: 4, completion: 9 }), 2], // message_start, content_block_start, then a delta
    ] as const) {
      const st = t.vm.newStream();
      clock.at(0);
      st.sendRequestHeaders(
        [
          [":method", "POST"],
          [":path", path],
          [":authority", "bedrock-runtime.us-east-1.amazonaws.com"],
          ["content-type", "application/json"],
        ],
        false,
      );
      st.sendRequestBody(REQUEST, true);
      clock.at(100);
      st.sendResponseHeaders(EVENTSTREAM_HEADERS.map(([k, v]) => [k, v] as [string, string]).concat([[":status", "200"]]), false);
      // one message per chunk, 100 ms apart; the first content message split in two, 50 ms apart
      const ends: number[] = [];
      for (let at = 0; at < body.length; ) {
        at += body.readUInt32BE(at);
        ends.push(at);
      }
      let start = 0;
      let now = 200;
      for (const [i, end] of ends.entries()) {
        const msg = body.subarray(start, end);
        if (i === firstContent) {
          clock.at(now);
          st.sendResponseBody(msg.subarray(0, 20), false);
          now += 50;
        }
        clock.at(now);
        st.sendResponseBody(i === firstContent ? msg.subarray(20) : msg, i === ends.length - 1);
        start = end;
        now += 100;
      }
      st.finish();
      const fs = Object.fromEntries([...st.filterState].map(([k, e]) => [k, Buffer.from(e.value).toString()]));
      expect([path, fs[STATE + "time_to_first_token_ms"]]).toEqual([path, String(200 + firstContent * 100 + 50)]);
      expect(fs[STATE + "request_prompt_tokens"]).toBe("4");
    }
  });
});

describe("exceptions, corruption, truncation, oversized frames", () => {
  const body = converseStreamBody({ prompt: 40, completion: 12 });

  it("an exception message is a provider error (no numbers), before or after the usage", () => {
    const ex1 = exceptionMessage("throttlingException", "Too many requests, please wait before trying again.");
    expect(run(CONVERSE, ex1).skip).toBe("provider_error");
    expect(run(CONVERSE, Buffer.concat([body, ex1]))).toMatchObject({ skip: "provider_error", prompt: undefined });
    const ex2 = exceptionMessage("modelStreamErrorException", "boom");
    expect(run(INVOKE, Buffer.concat([invokeStreamBody("m", { prompt: 1, completion: 2 }), ex2])).skip).toBe("provider_error");
    const err = encodeMessage({ ":message-type": "error", ":error-code": "InternalFailure", ":error-message": "x" }, "");
    expect(run(CONVERSE, err).skip).toBe("provider_error");
  });

  it(`a flipped bit anywhere (${body.length * 8} cases) is malformed: a CRC catches it`, () => {
    for (let i = 0; i < body.length; i++)
      for (let bit = 0; bit < 8; bit++) {
        const b = Buffer.from(body);
        b[i] ^= 1 << bit;
        const r = snap(s, ex(CONVERSE, [b]));
        expect(r.failed, r.trap).toBe(false);
        expect([i, bit, r.filterState[STATE + "usage_skipped"]]).toEqual([i, bit, "malformed"]);
        expect(r.downstreamBody).toBe(latin1(b));
      }
  });

  it(`cut at every length (${body.length} cases): mid-message is malformed, at a boundary what was whole`, () => {
    for (let n = 0; n < body.length; n++) {
      const r = run(CONVERSE, body.subarray(0, n));
      expect(r.prompt).toBeUndefined(); // the metadata event is last
      expect(["malformed", "no_usage"]).toContain(r.skip);
    }
  });

  function prelude(total: number, headers: number): Buffer {
    const p = Buffer.alloc(12);
    p.writeUInt32BE(total >>> 0, 0);
    p.writeUInt32BE(headers >>> 0, 4);
    p.writeUInt32BE(crc32(p.subarray(0, 8)), 8);
    return p;
  }

  it("impossible or oversized lengths (with a right prelude CRC) are malformed at once, nothing held", () => {
    for (const [total, headers] of [
      [16 * 1024 * 1024 + 1, 0], // over AWS's 16 MiB
      [0xffffffff, 0],
      [15, 0], // under the 16-byte minimum
      [100, 85], // headers longer than the message allows
      [64 * 1024, 8 * 1024 + 1], // headers over the filter's 8 KiB bound
    ]) {
      const b = Buffer.concat([prelude(total, headers), Buffer.alloc(64, 0x41)]);
      expect([total, headers, run(CONVERSE, b).skip]).toEqual([total, headers, "malformed"]);
    }
    // the largest legal message passes (16 MiB of payload streams through, nothing held)
    const payload = Buffer.alloc(16 * 1024 * 1024 - 16 - 45, 0x20);
    const usage = Buffer.from('{"usage":{"inputTokens":5,"outputTokens":6}}');
    payload.set(usage, 0);
    const big = encodeMessage({ ":event-type": "metadata", ":message-type": "event" }, payload);
    expect(big.length).toBeLessThanOrEqual(16 * 1024 * 1024);
    const r = snap(s, ex(CONVERSE, cut(big, [1 << 20, 5 << 20, 9 << 20])));
    expect(r.failed, r.trap).toBe(false);
    expect(read(r.filterState)).toMatchObject({ prompt: 5, completion: 6 });
  });

  it("unknown header types and headers overrunning their length are malformed", () => {
    expect(run(CONVERSE, encodeMessage(Buffer.from([4, 0x61, 0x62, 0x63, 0x64, 10, 0]), "{}")).skip).toBe("malformed");
    expect(run(CONVERSE, encodeMessage(Buffer.from([4, 0x61, 0x62, 0x63, 0x64, 7, 0, 9, 0x61]), "{}")).skip).toBe("malformed");
    expect(run(CONVERSE, encodeMessage(Buffer.from([0, 0]), "{}")).skip).toBe("malformed"); // empty name
    // every value type is walked over: the usage after them is read
    const h = Buffer.from([
      ...[1, 0x61, 0], // true
      ...[1, 0x62, 1], // false
      ...[1, 0x63, 2, 9], // byte
      ...[1, 0x64, 3, 0, 9], // short
      ...[1, 0x65, 4, 0, 0, 0, 9], // int
      ...[1, 0x66, 5, 0, 0, 0, 0, 0, 0, 0, 9], // long
      ...[1, 0x67, 6, 0, 2, 0xff, 0xfe], // bytes
      ...[1, 0x68, 8, 0, 0, 1, 0x8a, 0, 0, 0, 0], // timestamp
      ...[1, 0x69, 9, ...new Array(16).fill(7)], // uuid
    ]);
    expect(run(CONVERSE, encodeMessage(h, '{"usage":{"inputTokens":8,"outputTokens":9}}'))).toMatchObject({ prompt: 8, completion: 9 });
  });

  it("a body that is not an event stream at all (JSON, SSE, text) under the event stream content type: malformed", () => {
    for (const t of ['{"usage":{"inputTokens":1,"outputTokens":2}}', "data: {}\n\n", "Internal error"]) {
      expect(run(CONVERSE, Buffer.from(t)).skip).toBe("malformed");
    }
    expect(run(CONVERSE, Buffer.alloc(0)).skip).toBe("no_usage");
  });
});

describe("fuzz (never a trap; exactly the reference model when the frames are sound)", () => {
  const bodies = [
    converseStreamBody({ prompt: 40, completion: 12, cached: 5 }),
    invokeStreamBody("claude-3-haiku-20240307", { prompt: 25, completion: 74 }),
  ];
  const splits = fc.array(fc.nat(), { maxLength: 6 });

  it(`random bytes under both stream paths (${RUNS} cases)`, () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), splits, fc.boolean(), (b, cs, invoke) => {
        run(
          invoke ? INVOKE : CONVERSE,
          b,
          cut(
            b,
            cs.map((c) => c % (b.length + 1)),
          ),
        );
      }),
      { numRuns: RUNS },
    );
  });

  it(`mutations of valid streams: flipped, dropped, inserted, duplicated bytes and messages (${RUNS} cases)`, () => {
    const mutation = fc.oneof(
      fc.record({ op: fc.constant("flip" as const), at: fc.nat(), v: fc.integer({ min: 1, max: 255 }) }),
      fc.record({ op: fc.constant("drop" as const), at: fc.nat(), v: fc.integer({ min: 1, max: 40 }) }),
      fc.record({ op: fc.constant("insert" as const), at: fc.nat(), v: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ op: fc.constant("repeat" as const), at: fc.nat(), v: fc.integer({ min: 1, max: 200 }) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1 }), fc.array(mutation, { maxLength: 3 }), splits, (which, ms, cs) => {
        let b = Buffer.from(bodies[which]);
        for (const m of ms) {
          const at = m.at % (b.length + 1);
          if (m.op === "flip" && at < b.length) b[at] ^= m.v;
          else if (m.op === "drop") b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.v)]);
          else if (m.op === "insert") b = Buffer.concat([b.subarray(0, at), Buffer.from([m.v]), b.subarray(at)]);
          else b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + m.v), b.subarray(at)]);
        }
        run(
          which ? INVOKE : CONVERSE,
          b,
          cut(
            b,
            cs.map((c) => c % (b.length + 1)),
          ),
        );
      }),
      { numRuns: RUNS },
    );
  });

  it(`well-framed messages with random headers and payloads (${RUNS} cases)`, () => {
    const json = fc.oneof(
      fc.json(),
      fc
        .record({ usage: fc.record({ inputTokens: fc.integer({ min: -5, max: 2e9 }), outputTokens: fc.nat() }) })
        .map((o) => JSON.stringify(o)),
      fc.record({ bytes: fc.json().map((j) => Buffer.from(j).toString("base64")) }).map((o) => JSON.stringify(o)),
    );
    const message = fc.record({
      eventType: fc.constantFrom("chunk", "metadata", "messageStart", ""),
      messageType: fc.constantFrom("event", "event", "exception", "error", "other"),
      payload: json,
    });
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 4 }), splits, fc.boolean(), (ms, cs, invoke) => {
        const b = Buffer.concat(ms.map((m) => encodeMessage({ ":event-type": m.eventType, ":message-type": m.messageType }, m.payload)));
        run(
          invoke ? INVOKE : CONVERSE,
          b,
          cut(
            b,
            cs.map((c) => c % (b.length + 1)),
          ),
        );
      }),
      { numRuns: RUNS },
    );
  });
});

describe("InvokeModel: token counts in the response headers", () => {
  const titan = JSON.stringify({ embedding: [0.1, -0.2], embeddingsByType: { float: [0.1, -0.2] }, inputTextTokenCount: 7 });
  const counts = (input: string, output?: string): [string, string][] => [
    ...JSON_HEADERS,
    ["x-amzn-bedrock-input-token-count", input],
    ...(output === undefined ? [] : ([["x-amzn-bedrock-output-token-count", output]] as [string, string][])),
    ["x-amzn-bedrock-invocation-latency", "112"],
  ];

  it("Titan embeddings (no usage object the shape reads): the headers' counts", () => {
    expect(run(INVOKE_JSON, Buffer.from(titan), undefined, counts("7", "0"))).toMatchObject({
      skip: undefined,
      prompt: 7,
      completion: 0,
      total: 7,
    });
    // without the headers nothing is known
    expect(run(INVOKE_JSON, Buffer.from(titan), undefined, JSON_HEADERS).skip).toBe("no_usage");
  });

  it("Llama and Mistral bodies are counted from the headers", () => {
    const llama = JSON.stringify({ generation: "Hi", prompt_token_count: 14, generation_token_count: 3, stop_reason: "stop" });
    expect(run("/model/meta.llama3-8b-instruct-v1%3A0/invoke", Buffer.from(llama), undefined, counts("14", "3"))).toMatchObject({
      prompt: 14,
      completion: 3,
    });
    const mistral = JSON.stringify({ outputs: [{ text: "Hi", stop_reason: "stop" }] });
    expect(run("/model/mistral.mistral-7b-instruct-v0%3A2/invoke", Buffer.from(mistral), undefined, counts("9", "2"))).toMatchObject({
      prompt: 9,
      completion: 2,
    });
  });

  it("headers win over an Anthropic body's usage (Bedrock's metering)", () => {
    const body = Buffer.from(anthropicJson("claude-3-haiku-20240307", { prompt: 12, completion: 30 }));
    expect(run(INVOKE_JSON, body, undefined, counts("13", "31"))).toMatchObject({ prompt: 13, completion: 31, total: 44 });
    // one header only: that one wins, the body fills the other
    expect(run(INVOKE_JSON, body, undefined, counts("13"))).toMatchObject({ prompt: 13, completion: 30 });
  });

  it("absurd header values are ignored (body values stay), never a trap", () => {
    const body = Buffer.from(anthropicJson("claude-3-haiku-20240307", { prompt: 12, completion: 30 }));
    for (const v of ["", "-1", "+5", " 12", "12 ", "1e5", "0x10", "1234567890", "99999999999999999999999", "١٢", "12.0"]) {
      expect([v, run(INVOKE_JSON, body, undefined, counts(v, v))]).toMatchObject([v, { prompt: 12, completion: 30 }]);
    }
  });

  it("headers do not turn an error or a broken body into numbers", () => {
    expect(run(INVOKE_JSON, Buffer.from('{"usage":'), undefined, counts("5", "6")).skip).toBe("malformed");
    expect(run(INVOKE_JSON, Buffer.from('{"error":{"type":"overloaded_error"}}'), undefined, counts("5", "6")).skip).toBe("provider_error");
  });
});
