// Routing in the sidecar: path rewrite, key injection, model by route, include_usage,
// and the bounded request buffering a rewrite needs.
import { describe, expect, it } from "vitest";
import { sidecar, text } from "./helpers/sidecar";
import { openaiJson, openaiSse, JSON_HEADERS, SSE_HEADERS } from "./helpers/bodies";
import { FilterDataStatus, prometheusText } from "../host";

const KEY = "sk-routing-test";
const provider = {
  name: "dashscope",
  hosts: ["dashscope.aliyuncs.com"],
  path: "/compatible-mode/v1/chat/completions",
  apiKeyEnv: "DASHSCOPE_API_KEY",
  model: "qwen-1.8b-chat",
};
const routes = [
  { name: "subscriber", match: { headers: [{ name: "user-type", exact: "subscriber" }] }, model: "qwen-turbo", modelPolicy: "override" },
];

async function routed(config: object = { providers: [provider], routes }) {
  return sidecar({ pluginConfig: config, env: { DASHSCOPE_API_KEY: KEY } });
}

function post(body: string | Uint8Array[], headers: [string, string][] = [], path = "/") {
  return {
    method: "POST",
    path,
    authority: "dashscope.aliyuncs.com",
    headers: [...JSON_HEADERS, ["accept-encoding", "gzip, br"], ...headers] as [string, string][],
    body,
  };
}
const ok = { status: 200, headers: JSON_HEADERS, body: openaiJson("qwen-turbo", { prompt: 1, completion: 2 }) };
const sent = (r: { upstreamRequest: { body: Uint8Array } | null }) => JSON.parse(text(r.upstreamRequest!.body));

describe("model policy", () => {
  it("a request that names a model keeps it under the provider default", async () => {
    const s = await routed();
    const r = s.call({ request: post('{"model":"qwen-max","messages":[]}'), response: ok });
    expect(sent(r).model).toBe("qwen-max");
    expect(r.filterState["wasm.asm.llmproxy.request_model"]).toBe("qwen-max");
  });
  it("an override route replaces the request's model, and the model sent upstream is the one reported", async () => {
    const s = await routed();
    const r = s.call({ request: post('{"model":"qwen-max","messages":[]}', [["user-type", "subscriber"]]), response: ok });
    expect(sent(r).model).toBe("qwen-turbo");
    expect(r.filterState["wasm.asm.llmproxy.request_model"]).toBe("qwen-turbo");
  });
  it("a default-policy route only fills a missing model", async () => {
    const s = await routed({ providers: [provider], routes: [{ ...routes[0], modelPolicy: "default" }] });
    expect(sent(s.call({ request: post('{"model":"qwen-max","messages":[]}', [["user-type", "subscriber"]]), response: ok })).model).toBe(
      "qwen-max",
    );
    expect(sent(s.call({ request: post('{"messages":[]}', [["user-type", "subscriber"]]), response: ok })).model).toBe("qwen-turbo");
  });
  it("an override route also catches a model whose key is written with escapes", async () => {
    const s = await routed();
    const r = s.call({ request: post('{"mod\\u0065l":"qwen-max","messages":[]}', [["user-type", "subscriber"]]), response: ok });
    expect(sent(r).model).toBe("qwen-turbo"); // JSON.parse of what went upstream
    expect(r.filterState["wasm.asm.llmproxy.request_model"]).toBe("qwen-turbo");
  });
  it("a model too long to keep still counts as named under the default policy", async () => {
    const s = await routed();
    const long = "m".repeat(600);
    expect(sent(s.call({ request: post(`{"model":"${long}","messages":[]}`), response: ok })).model).toBe(long);
  });
  it("an empty or null model counts as none and gets the default", async () => {
    const s = await routed();
    expect(sent(s.call({ request: post('{"model":"","messages":[]}'), response: ok })).model).toBe("qwen-1.8b-chat");
    expect(sent(s.call({ request: post('{"model":null,"messages":[]}'), response: ok })).model).toBe("qwen-1.8b-chat");
  });
  it("prefix and present header matches; first matching route wins", async () => {
    const s = await routed({
      providers: [provider],
      routes: [
        { match: { headers: [{ name: "x-tier", prefix: "gold" }] }, model: "qwen-max" },
        { match: { headers: [{ name: "x-tier", present: true }] }, model: "qwen-plus" },
      ],
    });
    expect(sent(s.call({ request: post('{"messages":[]}', [["x-tier", "gold-1"]]), response: ok })).model).toBe("qwen-max");
    expect(sent(s.call({ request: post('{"messages":[]}', [["x-tier", "silver"]]), response: ok })).model).toBe("qwen-plus");
    expect(sent(s.call({ request: post('{"messages":[]}'), response: ok })).model).toBe("qwen-1.8b-chat");
  });
  it("the rest of the body is byte-for-byte the client's", async () => {
    const s = await routed();
    const body = '{ "messages" : [ {"role":"user","content":"é \\u00e9 \\"q\\""} ],\n "temperature": 0.70 }';
    const r = s.call({ request: post(body), response: ok });
    expect(text(r.upstreamRequest!.body)).toBe(
      '{"model":"qwen-1.8b-chat", "messages" : [ {"role":"user","content":"é \\u00e9 \\"q\\""} ],\n "temperature": 0.70 }',
    );
  });
});

describe("headers", () => {
  it("path rewritten only for a path that is no API path; key injected; accept-encoding narrowed to what the filter reads", async () => {
    const s = await routed();
    const r = s.call({ request: post('{"messages":[]}', [["authorization", "Bearer client-key"]]), response: ok });
    const h = new Map(r.upstreamRequest!.headers);
    expect(h.get(":path")).toBe("/compatible-mode/v1/chat/completions");
    expect(h.get("authorization")).toBe(`Bearer ${KEY}`);
    expect(h.get("accept-encoding")).toBe("gzip");
    const native = s.call({
      request: post('{"model":"qwen-plus","input":{}}', [], "/api/v1/services/aigc/text-generation/generation"),
      response: ok,
    });
    expect(new Map(native.upstreamRequest!.headers).get(":path")).toBe("/api/v1/services/aigc/text-generation/generation");
  });
  it("the key can come inline when no environment variable is given, and never reaches filter state", async () => {
    const s = await sidecar({ pluginConfig: { providers: [{ ...provider, apiKeyEnv: undefined, apiKey: "sk-inline" }] } });
    const r = s.call({ request: post('{"messages":[]}'), response: ok });
    expect(new Map(r.upstreamRequest!.headers).get("authorization")).toBe("Bearer sk-inline");
    expect(JSON.stringify(r.filterState)).not.toContain("sk-inline");
    expect(prometheusText(s.stats.snapshot())).not.toContain("sk-inline");
  });
  it("dropAcceptEncoding (the older setting): true asks for identity, false keeps the client's accept-encoding", async () => {
    const drop = await routed({ providers: [{ ...provider, dropAcceptEncoding: true }] });
    const d = drop.call({ request: post('{"messages":[]}'), response: ok });
    expect(new Map(d.upstreamRequest!.headers).get("accept-encoding")).toBe("identity");
    const s = await routed({ providers: [{ ...provider, dropAcceptEncoding: false }] });
    const r = s.call({ request: post('{"messages":[]}'), response: ok });
    expect(new Map(r.upstreamRequest!.headers).get("accept-encoding")).toBe("gzip, br");
  });
  it("another host is not routed", async () => {
    const s = await routed();
    const r = s.call({ request: { ...post('{"messages":[]}'), authority: "api.openai.com" }, response: ok });
    expect(new Map(r.upstreamRequest!.headers).get(":path")).toBe("/");
    expect(text(r.upstreamRequest!.body)).toBe('{"messages":[]}');
  });
});

describe("stream_options.include_usage", () => {
  it("added to a streaming request that lacks it, so the usage chunk comes back", async () => {
    const s = await routed();
    const r = s.call({
      request: post('{"stream":true,"messages":[]}'),
      response: { status: 200, headers: SSE_HEADERS, body: openaiSse("qwen-1.8b-chat", { prompt: 3, completion: 9 }) },
    });
    expect(sent(r)).toEqual({ model: "qwen-1.8b-chat", stream_options: { include_usage: true }, stream: true, messages: [] });
    expect(r.filterState["wasm.asm.llmproxy.request_completion_tokens"]).toBe("9");
  });
  it("set to true where the client said false, added inside an existing object, an empty object, or null", async () => {
    const s = await routed();
    const cases: [string, unknown][] = [
      ['{"stream":true,"stream_options":{"include_usage":false},"model":"m"}', { include_usage: true }],
      [
        '{"stream":true,"stream_options":{"continuous_usage_stats":true},"model":"m"}',
        { include_usage: true, continuous_usage_stats: true },
      ],
      ['{"stream":true,"stream_options":{ },"model":"m"}', { include_usage: true }],
      ['{"stream":true,"stream_options":null,"model":"m"}', { include_usage: true }],
    ];
    for (const [body, expected] of cases) expect(sent(s.call({ request: post(body), response: ok })).stream_options).toEqual(expected);
  });
  it("not added to a non-streaming request", async () => {
    const s = await routed();
    expect(sent(s.call({ request: post('{"model":"m","messages":[]}'), response: ok }))).toEqual({ model: "m", messages: [] });
  });
  it("includeUsage: false leaves the request alone", async () => {
    const s = await routed({ providers: [{ ...provider, includeUsage: false }] });
    expect(sent(s.call({ request: post('{"stream":true,"model":"m"}'), response: ok }))).toEqual({ stream: true, model: "m" });
  });
});

describe("bounded buffering", () => {
  it("a body over maxRewriteBodyBytes goes upstream unchanged, no 413, counted", async () => {
    const s = await routed({ providers: [provider], maxRewriteBodyBytes: 4096 });
    const big = `{"messages":[{"role":"user","content":"${"x".repeat(20000)}"}]}`;
    const parts = [Buffer.from(big.slice(0, 3000)), Buffer.from(big.slice(3000, 9000)), Buffer.from(big.slice(9000))];
    const r = s.call({ request: post(parts), response: ok });
    expect(r.localReply).toBeUndefined();
    expect(text(r.upstreamRequest!.body)).toBe(big);
    expect(s.prometheus(/^asm_llm_proxy_rewrite_skipped/)).toEqual(['asm_llm_proxy_rewrite_skipped{llmproxy_reason="too_large"} 1']);
  });
  it("the default bound stays under Envoy's 1 MiB buffer limit: a 900 KiB body passes unchanged", async () => {
    const s = await routed();
    const big = `{"messages":[{"role":"user","content":"${"y".repeat(900 * 1024)}"}]}`;
    const parts: Uint8Array[] = [];
    for (let i = 0; i < big.length; i += 65536) parts.push(Buffer.from(big.slice(i, i + 65536)));
    const r = s.call({ request: post(parts), response: ok });
    expect(r.localReply).toBeUndefined();
    expect(text(r.upstreamRequest!.body)).toBe(big);
  });
  it("HTTP/1.1: holds the body in the VM while within the bound (StopIterationNoBuffer: Envoy keeps nothing, so no 413), then releases the rewritten body", async () => {
    const s = await routed();
    const stream = s.vm.newStream();
    stream.sendRequestHeaders(
      [
        [":method", "POST"],
        [":path", "/"],
        [":authority", "dashscope.aliyuncs.com"],
        [":scheme", "http"],
        ["content-type", "application/json"],
      ],
      false,
    );
    expect(stream.sendRequestBody(Buffer.from('{"messa'), false)).toBe(FilterDataStatus.StopIterationNoBuffer);
    expect(stream.sendRequestBody(Buffer.from('ges":'), false)).toBe(FilterDataStatus.StopIterationNoBuffer);
    expect(stream.upstream.bodyChunks.length).toBe(0);
    expect(stream.sendRequestBody(Buffer.from("[]}"), true)).toBe(FilterDataStatus.Continue);
    expect(text(stream.upstream.body())).toBe('{"model":"qwen-1.8b-chat","messages":[]}');
    stream.finish();
  });
  it("HTTP/1.1, past the bound: what was held goes on first, then the chunk that crossed it, unchanged; the rest streams", async () => {
    const s = await routed({ providers: [provider], maxRewriteBodyBytes: 4096 });
    const big = `{"messages":[{"role":"user","content":"${"x".repeat(20000)}"}]}`;
    const stream = s.vm.newStream();
    stream.sendRequestHeaders(
      [
        [":method", "POST"],
        [":path", "/"],
        [":authority", "dashscope.aliyuncs.com"],
        [":scheme", "http"],
        ["content-type", "application/json"],
      ],
      false,
    );
    expect(stream.sendRequestBody(Buffer.from(big.slice(0, 3000)), false)).toBe(FilterDataStatus.StopIterationNoBuffer);
    expect(stream.sendRequestBody(Buffer.from(big.slice(3000, 9000)), false)).toBe(FilterDataStatus.Continue);
    expect(text(stream.upstream.body())).toBe(big.slice(0, 9000));
    expect(stream.sendRequestBody(Buffer.from(big.slice(9000)), true)).toBe(FilterDataStatus.Continue);
    expect(text(stream.upstream.body())).toBe(big);
    expect(s.prometheus(/^asm_llm_proxy_rewrite_skipped/)).toEqual(['asm_llm_proxy_rewrite_skipped{llmproxy_reason="too_large"} 1']);
    stream.finish();
  });
  it("HTTP/2: buffers in Envoy while within the bound (StopIterationAndBuffer), then releases the rewritten body", async () => {
    const s = await routed();
    const stream = s.vm.newStream({ protocol: "HTTP/2" });
    stream.sendRequestHeaders(
      [
        [":method", "POST"],
        [":path", "/"],
        [":authority", "dashscope.aliyuncs.com"],
        [":scheme", "http"],
        ["content-type", "application/json"],
        ["content-length", "15"],
      ],
      false,
    );
    expect(new Map(stream.upstream.headers!).has("content-length")).toBe(false);
    expect(stream.sendRequestBody(Buffer.from('{"messa'), false)).toBe(FilterDataStatus.StopIterationAndBuffer);
    expect(stream.upstream.bodyChunks.length).toBe(0);
    expect(stream.sendRequestBody(Buffer.from('ges":[]}'), true)).toBe(FilterDataStatus.Continue);
    expect(text(stream.upstream.body())).toBe('{"model":"qwen-1.8b-chat","messages":[]}');
    stream.finish();
  });
  // Found in Envoy 1.36.4 under load (tests/envoy-failure.test.ts): a held body got 413 when
  // one large read pushed it past Envoy's limit before the filter could give up. A body whose
  // Content-Length is over the bound is now never held.
  it("a Content-Length over the bound: never held, Content-Length kept, counted", async () => {
    const s = await routed({ providers: [provider], maxRewriteBodyBytes: 4096 });
    const stream = s.vm.newStream();
    stream.sendRequestHeaders(
      [
        [":method", "POST"],
        [":path", "/"],
        [":authority", "dashscope.aliyuncs.com"],
        [":scheme", "http"],
        ["content-type", "application/json"],
        ["content-length", "20000"],
      ],
      false,
    );
    expect(new Map(stream.upstream.headers!).get("content-length")).toBe("20000");
    expect(stream.sendRequestBody(Buffer.from('{"messa'), false)).toBe(FilterDataStatus.Continue);
    expect(stream.upstream.bodyChunks.length).toBe(1);
    expect(s.prometheus(/^asm_llm_proxy_rewrite_skipped/)).toEqual(['asm_llm_proxy_rewrite_skipped{llmproxy_reason="too_large"} 1']);
    stream.finish();
  });
  it("HTTP/2: a body ending in trailers is rewritten in the trailers callback", async () => {
    const s = await routed();
    const stream = s.vm.newStream({ protocol: "HTTP/2" });
    stream.sendRequestHeaders(
      [
        [":method", "POST"],
        [":path", "/"],
        [":authority", "dashscope.aliyuncs.com"],
        [":scheme", "http"],
        ["content-type", "application/json"],
      ],
      false,
    );
    expect(stream.sendRequestBody(Buffer.from('{"messages":[]}'), false)).toBe(FilterDataStatus.StopIterationAndBuffer);
    stream.sendRequestTrailers([["x-trailer", "1"]]);
    expect(text(stream.upstream.body())).toBe('{"model":"qwen-1.8b-chat","messages":[]}');
    stream.finish();
  });
  it("a malformed body is passed through untouched and counted", async () => {
    const s = await routed();
    for (const body of ['{"messages":[', "not json at all", '{"messages":[]} trailing', '[{"model":"x"}]']) {
      const r = s.call({ request: post(body), response: ok });
      expect(text(r.upstreamRequest!.body)).toBe(body);
      expect(r.localReply).toBeUndefined();
    }
    expect(s.prometheus(/^asm_llm_proxy_rewrite_skipped/)).toEqual(['asm_llm_proxy_rewrite_skipped{llmproxy_reason="malformed"} 4']);
  });
});

describe("other methods and shapes", () => {
  it("only the bare `/` is sent to the provider's path: other endpoints keep theirs", async () => {
    const s = await sidecar({
      pluginConfig: { providers: [{ name: "claude", hosts: ["api.anthropic.com"], api: "anthropic", path: "/v1/messages", apiKey: "k" }] },
    });
    for (const path of ["/v1/messages/count_tokens", "/v1/messages/batches", "/v1/models"]) {
      const r = s.call({
        request: { method: "POST", path, authority: "api.anthropic.com", headers: JSON_HEADERS, body: "{}" },
        response: ok,
      });
      expect(new Map(r.upstreamRequest!.headers).get(":path")).toBe(path);
    }
    const bare = s.call({
      request: {
        method: "POST",
        path: "/?beta=true",
        authority: "api.anthropic.com",
        headers: JSON_HEADERS,
        body: '{"model":"c","messages":[]}',
      },
      response: ok,
    });
    expect(new Map(bare.upstreamRequest!.headers).get(":path")).toBe("/v1/messages");
  });
  it("a GET to the provider keeps its path but gets the key", async () => {
    const s = await routed();
    const r = s.call({ request: { method: "GET", path: "/", authority: "dashscope.aliyuncs.com", headers: [] }, response: ok });
    const h = new Map(r.upstreamRequest!.headers);
    expect(h.get(":path")).toBe("/");
    expect(h.get("authorization")).toBe(`Bearer ${KEY}`);
  });
  it("an Anthropic provider gets x-api-key, not a bearer token", async () => {
    const s = await sidecar({
      pluginConfig: {
        providers: [{ name: "claude", hosts: ["api.anthropic.com"], api: "anthropic", path: "/v1/messages", apiKey: "sk-ant" }],
      },
    });
    const r = s.call({
      request: {
        method: "POST",
        path: "/",
        authority: "api.anthropic.com",
        headers: JSON_HEADERS,
        body: '{"model":"claude-sonnet-4-5","messages":[]}',
      },
      response: ok,
    });
    const h = new Map(r.upstreamRequest!.headers);
    expect(h.get(":path")).toBe("/v1/messages");
    expect(h.get("x-api-key")).toBe("sk-ant");
    expect(h.has("authorization")).toBe(false);
  });
  it("each shape's auth header: Gemini x-goog-api-key, OpenAI-style APIs a bearer token, Bedrock (SigV4) nothing", async () => {
    const s = await sidecar({
      pluginConfig: {
        providers: [
          { name: "gemini", hosts: ["generativelanguage.googleapis.com"], api: "gemini", apiKey: "AIza-key" },
          { name: "responses", hosts: ["api.openai.com"], api: "responses", apiKey: "sk-oai" },
          { name: "bedrock", hosts: ["bedrock-runtime.us-east-1.amazonaws.com"], api: "bedrock-converse", apiKey: "ignored" },
        ],
      },
    });
    const send = (authority: string, path: string) =>
      new Map(
        s.call({
          request: {
            method: "POST",
            path,
            authority,
            headers: [...JSON_HEADERS, ["authorization", "AWS4-HMAC-SHA256 Credential=client"]],
            body: "{}",
          },
          response: ok,
        }).upstreamRequest!.headers,
      );
    const g = send("generativelanguage.googleapis.com", "/v1beta/models/gemini-2.5-flash:generateContent");
    expect([g.get("x-goog-api-key"), g.get("authorization")]).toEqual(["AIza-key", "AWS4-HMAC-SHA256 Credential=client"]);
    expect(send("api.openai.com", "/v1/responses").get("authorization")).toBe("Bearer sk-oai");
    const b = send("bedrock-runtime.us-east-1.amazonaws.com", "/model/amazon.nova-pro-v1%3A0/converse");
    expect([b.get("authorization"), b.has("x-goog-api-key"), b.has("x-api-key")]).toEqual([
      "AWS4-HMAC-SHA256 Credential=client",
      false,
      false,
    ]);
  });
});
