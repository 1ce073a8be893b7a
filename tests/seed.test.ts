// The seed's scenario, replayed through the host: the `sleep` workload in `default` sends the
// document's two bare curl requests to dashscope.aliyuncs.com; the mesh (this filter, configured
// by the very WasmPlugin in manifests/) routes them, and the sidecar's access log and
// :15090/stats/prometheus show what SEED.md shows.
import { describe, expect, it } from "vitest";
import { sidecar, text } from "./helpers/sidecar";
import { openaiJson, JSON_HEADERS } from "./helpers/bodies";
import { wasmPluginConfig } from "../repo/manifests";
import { prometheusText } from "../host";

const SEED_BODY = '{"messages":[{"role":"user","content":"Please introduce yourself"}]}';
const KEY = "sk-seed-0123456789";

// The seed's Prometheus lines, verbatim.
const SEED_PROMETHEUS = [
  'asm_llm_proxy_completion_tokens{llmproxy_source_workload="sleep",llmproxy_source_workload_namespace="default",llmproxy_destination_service="dashscope.aliyuncs.com",llmproxy_model="qwen-1.8b-chat"} 72',
  'asm_llm_proxy_completion_tokens{llmproxy_source_workload="sleep",llmproxy_source_workload_namespace="default",llmproxy_destination_service="dashscope.aliyuncs.com",llmproxy_model="qwen-turbo"} 85',
  'asm_llm_proxy_prompt_tokens{llmproxy_source_workload="sleep",llmproxy_source_workload_namespace="default",llmproxy_destination_service="dashscope.aliyuncs.com",llmproxy_model="qwen-1.8b-chat"} 3',
  'asm_llm_proxy_prompt_tokens{llmproxy_source_workload="sleep",llmproxy_source_workload_namespace="default",llmproxy_destination_service="dashscope.aliyuncs.com",llmproxy_model="qwen-turbo"} 11',
];

/** DashScope's compatible mode as the seed's runs saw it: usage per model. */
function provider(usage: Record<string, { prompt: number; completion: number }>) {
  return (req: { headers: [string, string][]; body: Uint8Array }) => {
    const h = new Map(req.headers);
    if (h.get(":path") !== "/compatible-mode/v1/chat/completions") return { status: 404, headers: JSON_HEADERS, body: "{}" };
    if (h.get("authorization") !== `Bearer ${KEY}`)
      return { status: 401, headers: JSON_HEADERS, body: '{"error":{"code":"invalid_api_key"}}' };
    const model = JSON.parse(text(req.body)).model as string;
    const u = usage[model];
    if (!u) return { status: 400, headers: JSON_HEADERS, body: '{"error":{"message":"model not found"}}' };
    return { status: 200, headers: JSON_HEADERS, body: openaiJson(model, u) };
  };
}

function curl(extraHeaders: [string, string][] = []) {
  // curl http://dashscope.aliyuncs.com -H 'Content-Type: application/json' [-H 'user-type: subscriber'] --data '...'
  return {
    method: "POST",
    path: "/",
    authority: "dashscope.aliyuncs.com",
    scheme: "http",
    headers: [
      ["content-type", "application/json"],
      ["user-agent", "curl/8.5.0"],
      ["accept", "*/*"],
      ["content-length", String(SEED_BODY.length)],
      ...extraHeaders,
    ] as [string, string][],
    body: SEED_BODY,
  };
}

describe("the seed's scenario", () => {
  it("routes the bare requests: provider path, injected key, default and subscriber models", async () => {
    const s = await sidecar({ pluginConfig: wasmPluginConfig(), env: { DASHSCOPE_API_KEY: KEY } });
    const plain = s.call({ request: curl(), response: provider({ "qwen-1.8b-chat": { prompt: 3, completion: 72 } }) });
    const h = new Map(plain.upstreamRequest!.headers);
    expect(h.get(":path")).toBe("/compatible-mode/v1/chat/completions");
    expect(h.get("authorization")).toBe(`Bearer ${KEY}`);
    expect(h.has("content-length")).toBe(false); // the body changed length after the headers left
    expect(JSON.parse(text(plain.upstreamRequest!.body))).toEqual({
      model: "qwen-1.8b-chat",
      messages: [{ role: "user", content: "Please introduce yourself" }],
    });
    expect(plain.downstreamResponse.status).toBe(200);

    const subscriber = s.call({
      request: curl([["user-type", "subscriber"]]),
      response: provider({ "qwen-turbo": { prompt: 11, completion: 85 } }),
    });
    expect(JSON.parse(text(subscriber.upstreamRequest!.body)).model).toBe("qwen-turbo");
    expect(subscriber.downstreamResponse.status).toBe(200);
  });

  it("shows the seed's four Prometheus lines on the sidecar's endpoint", async () => {
    const s = await sidecar({ pluginConfig: wasmPluginConfig(), env: { DASHSCOPE_API_KEY: KEY } });
    const upstream = provider({ "qwen-1.8b-chat": { prompt: 3, completion: 72 }, "qwen-turbo": { prompt: 11, completion: 85 } });
    s.call({ request: curl(), response: upstream });
    s.call({ request: curl([["user-type", "subscriber"]]), response: upstream });
    expect(s.prometheus(/^asm_llm_proxy_(prompt|completion)_tokens/)).toEqual(SEED_PROMETHEUS);
    const exposition = prometheusText(s.stats.snapshot());
    expect(exposition).toContain("# TYPE asm_llm_proxy_completion_tokens counter\n");
    expect(exposition).toContain("# TYPE asm_llm_proxy_prompt_tokens counter\n");
  });

  it("writes the seed's access-log fields", async () => {
    const s = await sidecar({ pluginConfig: wasmPluginConfig(), env: { DASHSCOPE_API_KEY: KEY } });
    // The seed's log line came from a run that reported 55 completion tokens for this request.
    const result = s.call({ request: curl(), response: provider({ "qwen-1.8b-chat": { prompt: 3, completion: 55 } }) });
    const log = result.accessLog;
    expect(log.response_code).toBe(200);
    expect(log.authority_for).toBe("dashscope.aliyuncs.com");
    expect(log.request_model).toBe("qwen-1.8b-chat");
    expect(String(log.request_prompt_tokens)).toBe("3");
    expect(String(log.request_completion_tokens)).toBe("55");
    expect(result.filterState["wasm.asm.llmproxy.request_model"]).toBe("qwen-1.8b-chat");
    expect(result.filterState["wasm.asm.llmproxy.request_prompt_tokens"]).toBe("3");
    expect(result.filterState["wasm.asm.llmproxy.request_completion_tokens"]).toBe("55");
    expect(result.filterState["wasm.asm.llmproxy.response_model"]).toBe("qwen-1.8b-chat");

    const turbo = s.call({
      request: curl([["user-type", "subscriber"]]),
      response: provider({ "qwen-turbo": { prompt: 11, completion: 85 } }),
    });
    expect(turbo.accessLog.request_model).toBe("qwen-turbo");
    expect(String(turbo.accessLog.request_prompt_tokens)).toBe("11");
    expect(String(turbo.accessLog.request_completion_tokens)).toBe("85");
  });

  it("adds the model dimension to istio_requests_total (Telemetry tagOverrides on filter state)", async () => {
    const s = await sidecar({ pluginConfig: wasmPluginConfig(), env: { DASHSCOPE_API_KEY: KEY } });
    const upstream = provider({ "qwen-1.8b-chat": { prompt: 3, completion: 72 }, "qwen-turbo": { prompt: 11, completion: 85 } });
    s.call({ request: curl(), response: upstream });
    s.call({ request: curl([["user-type", "subscriber"]]), response: upstream });
    const lines = s.prometheus(/^istio_requests_total/);
    expect(lines).toHaveLength(2);
    // The seed elides the middle labels with "..."; these are the ones it shows, in its order.
    const shown =
      /^istio_requests_total\{reporter="source",source_workload="sleep",.*destination_service="dashscope\.aliyuncs\.com",.*request_protocol="http",response_code="200",.*model="([^"]+)"\} 1$/;
    expect(lines.map((l) => shown.exec(l)?.[1])).toEqual(["qwen-1.8b-chat", "qwen-turbo"]);
  });

  it("without the filter's state the model dimension is 'unknown', as Istio reports a failed expression", async () => {
    const s = await sidecar({ pluginConfig: wasmPluginConfig(), env: { DASHSCOPE_API_KEY: KEY } });
    s.call({
      request: { method: "GET", path: "/healthz", authority: "dashscope.aliyuncs.com", headers: [] },
      response: { status: 200, headers: [], body: "" },
    });
    expect(s.prometheus(/^istio_requests_total/)).toEqual([expect.stringMatching(/,model="unknown"\} 1$/)]);
  });
});
