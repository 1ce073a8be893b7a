// Routing (Part 1 of the article: provider path, API key from the VM environment, default and
// header-matched model, include_usage, accept-encoding), label forgery, and counters summed
// across Envoy's workers: in real Envoy (both pinned versions) and the TypeScript host, which
// must send the upstream the same bytes and publish the same Prometheus lines.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openaiJson, JSON_HEADERS } from "./helpers/bodies";
import { get } from "./helpers/local";
import { ScriptedUpstream, type ReceivedRequest } from "./helpers/scripted-upstream";
import { ENVOYS, accessLogsAfter, filterState, llmproxyLines, send, startProxy, type ProxyUnderTest } from "./helpers/envoy";

let upstream: ScriptedUpstream;
let responseModel = "qwen-1.8b-chat";
const proxies: ProxyUnderTest[] = [];

beforeAll(async () => {
  upstream = await new ScriptedUpstream(() => ({
    status: 200,
    headers: JSON_HEADERS,
    pieces: [openaiJson(responseModel, { prompt: 5, completion: 9 })],
  })).listen();
  for (const which of [...ENVOYS, "node"])
    proxies.push(
      await startProxy(which, {
        upstream: new URL(upstream.url),
        vmEnv: { DASHSCOPE_API_KEY: "sk-from-the-env" },
        // the per-worker listener counters read below, beyond Istio's stats inclusion list
        statsInclusionSuffixes: ["downstream_cx_total"],
      }),
    );
});

afterAll(async () => {
  for (const p of proxies) await p.close();
  await upstream?.close();
});

/** What the upstream saw, reduced to what the filter decides. */
function seen(r: ReceivedRequest) {
  return {
    method: r.method,
    path: r.path,
    authority: r.headers.host,
    authorization: r.headers.authorization,
    acceptEncoding: r.headers["accept-encoding"],
    userType: r.headers["user-type"],
    body: JSON.parse(r.body.toString()) as Record<string, unknown>,
  };
}

const REQUESTS: { name: string; headers: Record<string, string>; path: string; body: Record<string, unknown> }[] = [
  {
    name: "the seed's bare request",
    headers: { "content-type": "application/json", "accept-encoding": "gzip, br" },
    path: "/",
    body: { messages: [{ role: "user", content: "Please introduce yourself" }] },
  },
  {
    name: "subscriber header overrides the model",
    headers: { "content-type": "application/json", "user-type": "subscriber" },
    path: "/",
    body: { model: "qwen-max", messages: [{ role: "user", content: "hi" }] },
  },
  {
    name: "a stream gets include_usage",
    headers: { "content-type": "application/json" },
    path: "/",
    body: { stream: true, messages: [{ role: "user", content: "hi" }] },
  },
  {
    name: "an API path keeps its path and its model",
    headers: { "content-type": "application/json" },
    path: "/compatible-mode/v1/chat/completions",
    body: { model: "qwen-plus", messages: [{ role: "user", content: "hi" }] },
  },
];

describe("routing to dashscope.aliyuncs.com (manifests/wasmplugin.yaml)", () => {
  it("each proxy sends the upstream the same routed request", async () => {
    const byProxy: ReturnType<typeof seen>[][] = [];
    for (const p of proxies) {
      const out = [];
      for (const r of REQUESTS) {
        const res = await send(p.proxyUrl, {
          authority: "dashscope.aliyuncs.com",
          path: r.path,
          headers: r.headers,
          body: [JSON.stringify(r.body)],
        });
        expect(res.status, `${p.name}: ${r.name}`).toBe(200);
        out.push(seen(upstream.received.at(-1)!));
      }
      byProxy.push(out);
    }
    const [bare, subscriber, stream, apiPath] = byProxy[0];
    expect(bare).toMatchObject({
      method: "POST",
      path: "/compatible-mode/v1/chat/completions",
      authority: "dashscope.aliyuncs.com",
      authorization: "Bearer sk-from-the-env",
      acceptEncoding: "gzip", // "gzip, br" narrowed to what the filter reads
      body: { model: "qwen-1.8b-chat" },
    });
    expect(subscriber).toMatchObject({ userType: "subscriber", body: { model: "qwen-turbo" } });
    expect(stream.body).toMatchObject({ model: "qwen-1.8b-chat", stream: true, stream_options: { include_usage: true } });
    expect(apiPath).toMatchObject({ path: "/compatible-mode/v1/chat/completions", body: { model: "qwen-plus" } });
    for (const [i, p] of proxies.entries()) expect(byProxy[i], p.name).toEqual(byProxy[0]);
  });
});

describe("label forgery: model names that try to add or change tags", () => {
  const FORGED = [
    "evil|llmproxy_model=forged",
    "a=b|c",
    "line\nbreak",
    "m".repeat(300),
    "qwen_rq_200",
    "cache.x.y",
    "模型-中文",
    'quote"back\\slash',
    "tab\there",
  ];
  it("publish four tags only, sanitised alike in every proxy", async () => {
    for (const p of proxies) {
      for (const model of FORGED) {
        responseModel = model;
        const res = await send(p.proxyUrl, {
          authority: "api.openai.com",
          path: "/v1/chat/completions",
          headers: { "content-type": "application/json" },
          body: [JSON.stringify({ model, messages: [] })],
        });
        expect(res.status).toBe(200);
      }
    }
    responseModel = "qwen-1.8b-chat";
    const reference = await llmproxyLines(proxies[0]);
    const tokenLines = reference.filter((l) => l.startsWith("asm_llm_proxy_prompt_tokens{"));
    expect(tokenLines.length).toBeGreaterThan(1);
    for (const line of tokenLines) {
      const labels = [...line.matchAll(/([a-z_]+)="(?:[^"\\]|\\.)*"/g)].map((m) => m[1]);
      expect(labels, line).toEqual([
        "llmproxy_source_workload",
        "llmproxy_source_workload_namespace",
        "llmproxy_destination_service",
        "llmproxy_model",
      ]);
      expect(line).not.toMatch(/llmproxy_model="forged"|response_code=|cache="/);
    }
    for (const p of proxies.slice(1)) expect(await llmproxyLines(p), p.name).toEqual(reference);
  });
});

describe("counters across Envoy's workers", () => {
  it("requests spread over both workers (one Wasm VM each) add up in one counter", async () => {
    for (const p of proxies.filter((x) => x.name.startsWith("envoy"))) {
      const model = `sum-${p.name.replace(/\W/g, "")}`;
      responseModel = model;
      const before = (await accessLogsAfter(p, 0)).length;
      const N = 40;
      const results = await Promise.all(
        Array.from({ length: N }, () =>
          send(p.proxyUrl, {
            authority: "api.openai.com",
            path: "/v1/chat/completions",
            headers: { "content-type": "application/json" },
            body: [JSON.stringify({ model, messages: [] })],
          }),
        ),
      );
      expect(results.every((r) => r.status === 200)).toBe(true);
      const logs = await accessLogsAfter(p, before + N);
      expect(logs.slice(before).every((l) => filterState(l).request_completion_tokens === "9")).toBe(true);
      const lines = await llmproxyLines(p);
      expect(
        lines.find((l) => l.startsWith("asm_llm_proxy_completion_tokens{") && l.includes(`llmproxy_model="${model}"`)),
        p.name,
      ).toMatch(new RegExp(` ${N * 9}$`));
      // Envoy's per-worker listener stats show both workers took connections (the outbound
      // listener's: the internal one for CONNECT tunnels, envoy/connect.ts, took none here).
      const stats = (await get(`${p.adminUrl}/stats?filter=^listener\\.127\\.0\\.0\\.1_[0-9]+\\.worker_[0-9]+\\.downstream_cx_total`)).body;
      const perWorker = [...stats.matchAll(/worker_(\d+)\.downstream_cx_total: (\d+)/g)].map((m) => Number(m[2]));
      expect(perWorker.length, stats).toBe(2);
      expect(
        perWorker.every((n) => n > 0),
        stats,
      ).toBe(true);
    }
    responseModel = "qwen-1.8b-chat";
  });
});
