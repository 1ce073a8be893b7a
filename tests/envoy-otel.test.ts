// metricNames "both" in real Envoy (both pinned versions): the OpenTelemetry GenAI families
// (semconv v1.37.0) next to asm_llm_proxy_* on /stats/prometheus, with the bootstrap ConfigMap's
// semconv buckets and attribute-named tags, their sums equal to the asm counters'; and the same
// histograms pushed over OTLP/gRPC by Envoy's OpenTelemetry stats sink to a receiver on loopback.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sidecarBootstrap } from "../envoy/bootstrap";
import { ensureEnvoy } from "../envoy/install";
import { withOtlpStatsSink } from "../envoy/otlp-sink";
import { startEnvoy, type EnvoyProcess } from "../envoy/process";
import { MockLlm } from "../local/mock-llm";
import { DEFAULT_MOCK_KEY } from "../local/options";
import { bootstrapHistogramBuckets, repoRoot, wasmPluginConfig } from "../repo/manifests";
import { ENVOYS, send } from "./helpers/envoy";
import { scrape, type Series } from "./helpers/local";
import { startOtlpReceiver, type OtlpMetric, type OtlpReceiver } from "./helpers/otlp";

const PLAIN = JSON.stringify({ messages: [{ role: "user", content: "Please introduce yourself" }] });
const STREAM = JSON.stringify({ stream: true, messages: [{ role: "user", content: "Please introduce yourself at length" }] });
/** Envoy keeps a histogram's samples in log-linear bins (libcircllhist, two significant
 *  digits) and reports the sum from them: 8 tokens read back as 8.0987 (1.40.0) or 8.1 (1.36.4).
 *  The asm counters are the exact totals; a histogram sum is within a few percent of them. */
function expectNear(approx: number, exact: number) {
  expect(Math.abs(approx - exact) / exact, `${approx} vs ${exact}`).toBeLessThan(0.05);
}
const bucketsOf = (family: string) => bootstrapHistogramBuckets().find((b) => b.match.prefix === `wasmcustom.${family}`)!.buckets;

describe.each(ENVOYS)("OpenTelemetry GenAI families in Envoy %s", (version) => {
  let mock: MockLlm;
  let envoy: EnvoyProcess;
  let receiver: OtlpReceiver;
  let dir: string;
  let series: Series[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "asm-llm-otel-"));
    mock = await new MockLlm({ apiKey: DEFAULT_MOCK_KEY, streamDelayMs: 2 }).listen(0);
    receiver = await startOtlpReceiver();
    const bootstrap = sidecarBootstrap({
      wasmFile: join(repoRoot, "build", "llmproxy.wasm"),
      upstream: { kind: "plain", address: "127.0.0.1", port: Number(new URL(mock.url).port) },
      proxyPort: 0,
      adminPort: 0,
      accessLogPath: join(dir, "access.log"),
      pluginConfig: JSON.stringify({ ...JSON.parse(wasmPluginConfig()), metricNames: "both" }),
      statsFlushMs: 1000,
    });
    envoy = await startEnvoy({
      binary: await ensureEnvoy(version),
      bootstrap: withOtlpStatsSink(bootstrap, { address: "127.0.0.1", port: receiver.port }),
      env: { DASHSCOPE_API_KEY: DEFAULT_MOCK_KEY },
    });
    for (const body of [PLAIN, STREAM]) {
      const r = await send(envoy.proxyUrl, {
        authority: "dashscope.aliyuncs.com",
        path: "/",
        headers: { "content-type": "application/json" },
        body: [body],
      });
      expect(r.status).toBe(200);
    }
    // Histogram samples show after a stats flush (every second here).
    const deadline = Date.now() + 15_000;
    do {
      series = await scrape(envoy.adminUrl);
      if (series.some((s) => s.name === "gen_ai_server_time_to_first_token_milliseconds_count" && s.value >= 1)) break;
      await new Promise((r) => setTimeout(r, 250));
    } while (Date.now() < deadline);
  }, 60_000);

  afterAll(async () => {
    await envoy?.stop();
    await receiver?.close();
    await mock?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const find = (name: string, labels: Record<string, string> = {}) =>
    series.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  const total = (name: string, labels: Record<string, string> = {}) => find(name, labels).reduce((n, s) => n + s.value, 0);

  it("gen_ai_client_token_usage: semconv buckets, attribute-named tags, sums equal to the asm counters", () => {
    const buckets = find("gen_ai_client_token_usage_bucket", { gen_ai_token_type: "input" });
    expect(buckets.map((b) => b.labels.le)).toEqual([...bucketsOf("gen_ai_client_token_usage").map(String), "+Inf"]);
    expect(buckets[0].labels).toMatchObject({
      gen_ai_operation_name: "chat",
      gen_ai_provider_name: "dashscope",
      gen_ai_request_model: "qwen-1.8b-chat",
      server_address: "dashscope.aliyuncs.com",
      llmproxy_source_workload: "sleep",
      llmproxy_source_workload_namespace: "default",
    });
    expect(total("gen_ai_client_token_usage_count", { gen_ai_token_type: "input" })).toBe(2);
    expect(total("asm_llm_proxy_prompt_tokens")).toBeGreaterThan(0);
    expectNear(total("gen_ai_client_token_usage_sum", { gen_ai_token_type: "input" }), total("asm_llm_proxy_prompt_tokens"));
    expectNear(total("gen_ai_client_token_usage_sum", { gen_ai_token_type: "output" }), total("asm_llm_proxy_completion_tokens"));
  });

  it("latency families in milliseconds with semconv's boundaries x1000: first token and per-token for the stream only", () => {
    for (const family of [
      "gen_ai_server_time_to_first_token_milliseconds",
      "gen_ai_server_time_per_output_token_milliseconds",
      "gen_ai_client_operation_duration_milliseconds",
    ]) {
      const le = [...new Set(find(`${family}_bucket`).map((b) => b.labels.le))];
      expect(le, family).toEqual([...bucketsOf(family).map(String), "+Inf"]);
    }
    expect(total("gen_ai_server_time_to_first_token_milliseconds_count")).toBe(1);
    expect(total("gen_ai_server_time_per_output_token_milliseconds_count")).toBe(1);
    expect(total("gen_ai_client_operation_duration_milliseconds_count")).toBe(2);
  });

  it("Envoy's OpenTelemetry stats sink pushes the token histogram over OTLP/gRPC, tags as attributes", async () => {
    const deadline = Date.now() + 15_000;
    let usage: OtlpMetric | undefined;
    while (Date.now() < deadline) {
      // An export may carry the family as several metrics (one per series): look at each.
      for (const e of receiver.exports) {
        for (const m of e.filter((x) => x.name.endsWith("gen_ai_client_token_usage"))) {
          const input = m.histogram.find((p) => p.attributes.gen_ai_token_type === "input");
          if (input && input.count === 2n) usage = m;
        }
      }
      if (usage) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(
      usage,
      `metrics received: ${[...new Set(receiver.exports.flat().map((m) => m.name))].filter((n) => n.includes("gen_ai")).join(", ")}`,
    ).toBeDefined();
    const input = usage!.histogram.find((p) => p.attributes.gen_ai_token_type === "input")!;
    expect(input.attributes).toMatchObject({
      gen_ai_provider_name: "dashscope",
      gen_ai_request_model: "qwen-1.8b-chat",
      server_address: "dashscope.aliyuncs.com",
    });
    expectNear(input.sum, total("asm_llm_proxy_prompt_tokens"));
    expect(input.bounds).toEqual(bucketsOf("gen_ai_client_token_usage"));
  });
});
