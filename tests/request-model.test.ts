// The request's top-level "model", found while the body streams past: not fooled by nested
// "model" keys, string contents, escapes, whitespace or key order; no buffering.
import { beforeAll, describe, expect, it } from "vitest";
import { sidecar, Sidecar, text } from "./helpers/sidecar";
import { openaiJson, JSON_HEADERS } from "./helpers/bodies";
import { FilterDataStatus } from "../host";

const STATE = "wasm.asm.llmproxy.request_model";

function modelOf(s: Sidecar, body: string | Uint8Array[]) {
  const r = s.call({
    request: { method: "POST", path: "/v1/chat/completions", authority: "api.openai.com", headers: JSON_HEADERS, body },
    response: { status: 200, headers: JSON_HEADERS, body: openaiJson("x", { prompt: 1, completion: 1 }) },
  });
  return r.filterState[STATE];
}

/** A message list of about `bytes` bytes, full of decoys. */
function decoyMessages(bytes: number): string {
  const one = JSON.stringify({
    role: "user",
    content: 'say "model": "decoy" and {\\"model\\":\\"x\\"} \u00e9\u4e2d',
    name: "model",
    metadata: { model: "nested-decoy" },
  });
  const n = Math.max(1, Math.floor(bytes / (one.length + 1)));
  return "[" + Array(n).fill(one).join(",") + "]";
}

function chunks(s: string, size: number): Uint8Array[] {
  const b = Buffer.from(s);
  const out: Uint8Array[] = [];
  for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
  return out;
}

describe("request model", () => {
  let s: Sidecar;
  beforeAll(async () => {
    s = await sidecar();
  });

  it("first key", () => expect(modelOf(s, '{"model":"gpt-4o","messages":[]}')).toBe("gpt-4o"));
  it("last key, after nested decoys", () =>
    expect(
      modelOf(
        s,
        `{"messages":${decoyMessages(2000)},"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"model":{"type":"string","enum":["tool-decoy"]}}}}}],"model":"qwen-max"}`,
      ),
    ).toBe("qwen-max"));
  it("pretty-printed with whitespace everywhere", () =>
    expect(modelOf(s, '{\n  "messages" : [ ] ,\r\n\t"model"   :\n  "qwen-plus"\n}\n')).toBe("qwen-plus"));
  it("escaped characters in the value are decoded", () =>
    expect(modelOf(s, '{"model":"qwen\\u002dturbo\\/v1","messages":[]}')).toBe("qwen-turbo/v1"));
  it("a key that only looks like model is not it", () =>
    expect(modelOf(s, '{"model_name":"no","models":"no","messages":[]}')).toBeUndefined());
  it("a key written with escapes is the key it decodes to, as JSON.parse reads it", () =>
    expect(modelOf(s, '{"\\u006dodel":"escaped-key-is-model","messages":[]}')).toBe("escaped-key-is-model"));
  it("a string value containing the key is not it", () =>
    expect(modelOf(s, '{"prompt":"\\"model\\":\\"evil\\"","model":"good"}')).toBe("good"));
  it("duplicate keys: the last wins, as in most parsers", () => expect(modelOf(s, '{"model":"first","model":"second"}')).toBe("second"));
  it("a non-string model is not a model", () => expect(modelOf(s, '{"model":42,"messages":[]}')).toBeUndefined());
  it("a top-level array is not a request", () => expect(modelOf(s, '[{"model":"in-array"}]')).toBeUndefined());

  it("model after 1 MB of messages, 16 KiB chunks, each forwarded as it arrives", () => {
    const body = `{"messages":${decoyMessages((1 << 20) + 8192)},"stream":false,"model":"qwen-long"}`;
    expect(body.length).toBeGreaterThan(1 << 20);
    const parts = chunks(body, 16384);
    const stream = s.vm.newStream();
    stream.sendRequestHeaders(
      [
        [":method", "POST"],
        [":path", "/v1/chat/completions"],
        [":authority", "api.openai.com"],
        [":scheme", "http"],
        ["content-type", "application/json"],
      ],
      false,
    );
    let forwarded = 0;
    parts.forEach((p, i) => {
      const action = stream.sendRequestBody(p, i === parts.length - 1);
      expect(action).toBe(FilterDataStatus.Continue);
      forwarded += p.length;
      expect(stream.upstream.bodyChunks.reduce((n: number, c: Uint8Array) => n + c.length, 0)).toBe(forwarded);
    });
    expect(text(stream.upstream.body())).toBe(body); // untouched
    stream.sendResponseHeaders(
      [
        [":status", "200"],
        ["content-type", "application/json"],
      ],
      false,
    );
    stream.sendResponseBody(Buffer.from(openaiJson("qwen-long", { prompt: 300000, completion: 5 })), true);
    stream.finish();
    expect(Buffer.from(stream.filterState.get(STATE)!.value).toString()).toBe("qwen-long");
  });

  it("a request cut off after its model went upstream still reports that model, and no tokens", () => {
    const stream = s.vm.newStream();
    stream.sendRequestHeaders(
      [
        [":method", "POST"],
        [":path", "/v1/chat/completions"],
        [":authority", "api.openai.com"],
        [":scheme", "http"],
        ["content-type", "application/json"],
      ],
      false,
    );
    stream.sendRequestBody(Buffer.from('{"model":"cut-off-model","messages":[{"role":"user","content":"a long'), false);
    stream.finish(); // client abort: on_log without end of stream
    expect(Buffer.from(stream.filterState.get(STATE)!.value).toString()).toBe("cut-off-model");
    expect(stream.filterState.has("wasm.asm.llmproxy.request_prompt_tokens")).toBe(false);
    expect(Buffer.from(stream.filterState.get("wasm.asm.llmproxy.usage_skipped")!.value).toString()).toBe("incomplete");
  });

  it("model before 1 MB of messages split at odd sizes", () => {
    const body = `{"model":"qwen-long-first","messages":${decoyMessages(1 << 20)}}`;
    expect(modelOf(s, chunks(body, 7919))).toBe("qwen-long-first");
  });
});

describe("pass-through", () => {
  const cases: [string, { method: string; path: string; headers: [string, string][] }][] = [
    ["GET", { method: "GET", path: "/v1/chat/completions", headers: [] }],
    ["another path", { method: "POST", path: "/v1/files", headers: JSON_HEADERS }],
    ["a non-JSON body", { method: "POST", path: "/v1/chat/completions", headers: [["content-type", "text/plain"]] }],
  ];
  for (const [name, req] of cases) {
    it(`${name}: untouched, no filter state, no metrics`, async () => {
      const t = await sidecar();
      const body = '{"model":"gpt-4o"}';
      const r = t.call({
        request: { ...req, authority: "api.openai.com", body: req.method === "GET" ? undefined : body },
        response: { status: 200, headers: JSON_HEADERS, body: openaiJson("gpt-4o", { prompt: 1, completion: 2 }) },
      });
      expect(Object.keys(r.filterState).filter((k) => k.startsWith("wasm.asm."))).toEqual([]);
      if (req.method !== "GET") expect(text(r.upstreamRequest!.body)).toBe(body);
      expect(t.prometheus(/^asm_llm_proxy/)).toEqual([]);
    });
  }
});

describe("request model published safely (issue 24)", () => {
  let s: Sidecar;
  beforeAll(async () => {
    s = await sidecar({ pluginConfig: JSON.stringify({ maxModels: 3 }) });
  });
  const call = (body: Uint8Array) =>
    s.call({
      request: { method: "POST", path: "/v1/chat/completions", authority: "api.openai.com", headers: JSON_HEADERS, body: [body] },
      response: { status: 200, headers: JSON_HEADERS, body: openaiJson("x", { prompt: 1, completion: 1 }) },
    }).filterState;
  const raw = (fs: Record<string, string>, key: string) => Buffer.from(fs[key], "utf8");

  it("request_model: invalid UTF-8 and lone surrogates become U+FFFD, controls '_', the bound never cuts a character", () => {
    const fs1 = call(Buffer.concat([Buffer.from('{"model":"a'), Buffer.from([0xff, 0xc0, 0xaf]), Buffer.from('\\ud800\\n"}')]));
    expect(fs1[STATE]).toBe("a\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd_");
    const fs2 = call(Buffer.from(JSON.stringify({ model: "\u{1F600}".repeat(100) })));
    expect(raw(fs2, STATE).length).toBe(256);
    expect(fs2[STATE]).toBe("\u{1F600}".repeat(64));
    const fs3 = call(Buffer.from(JSON.stringify({ model: `a${"é".repeat(200)}` })));
    expect(fs3[STATE]).toBe(`a${"é".repeat(127)}`);
  });

  it("request_model_label is the llmproxy_model value, folded to 'other' by the same budget", async () => {
    s = await sidecar({ pluginConfig: JSON.stringify({ maxModels: 3 }) }); // a fresh budget
    const label = (m: string) => call(Buffer.from(JSON.stringify({ model: m })))[`${STATE}_label`];
    expect(label('q"w\\e')).toBe("q_w_e");
    expect(label("m2")).toBe("m2");
    expect(label("m3")).toBe("m3");
    expect(label("m4")).toBe("other");
    expect(label("m2")).toBe("m2");
    expect(call(Buffer.from('{"messages":[]}'))[`${STATE}_label`]).toBeUndefined();
  });
});
