// The latency histograms and cached/reasoning counters in real Envoy (both pinned versions):
// `record_metric` samples come out on /stats/prometheus as `_bucket`/`_sum`/`_count` with the
// bootstrap ConfigMap's buckets (histogram_bucket_settings) and the four tags, and promtool
// parses Envoy's whole exposition. Envoy merges histogram samples at each stats flush, so this
// sidecar flushes every second.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEnvoySidecar, type EnvoySidecar } from "../local/envoy-sidecar";
import { DEFAULT_MOCK_KEY } from "../local/options";
import { bootstrapHistogramBuckets } from "../repo/manifests";
import { ENVOYS, send } from "./helpers/envoy";
import { get, scrape } from "./helpers/local";
import { promtoolCheckMetrics, requirePrometheus } from "./helpers/prometheus";

const { available } = requirePrometheus();
const STREAM = JSON.stringify({ stream: true, messages: [{ role: "user", content: "Please introduce yourself" }] });
const RESPONSES = JSON.stringify({
  model: "gpt-4.1",
  stream: true,
  input: "Please introduce yourself in a few long sentences, with details",
});

describe.each(ENVOYS)("histograms in Envoy %s", (version) => {
  let s: EnvoySidecar;
  beforeAll(async () => {
    s = await startEnvoySidecar({
      envoyVersion: version,
      port: 0,
      adminPort: 0,
      mockDelayMs: 5,
      statsFlushMs: 1000,
      vmEnv: { DASHSCOPE_API_KEY: DEFAULT_MOCK_KEY },
    });
    for (const [path, body] of [
      ["/", STREAM],
      ["/", STREAM],
      ["/v1/responses", RESPONSES],
    ]) {
      const r = await send(s.proxyUrl, {
        authority: "dashscope.aliyuncs.com",
        path,
        headers: { "content-type": "application/json" },
        body: [body],
      });
      expect(r.status).toBe(200);
    }
  });
  afterAll(async () => s?.close());

  it("each latency family has the ConfigMap's buckets, the four tags, and counts every stream", async () => {
    let series = await scrape(s.adminUrl);
    const deadline = Date.now() + 10_000;
    const count = (family: string, model: string) =>
      series.find((x) => x.name === `${family}_count` && x.labels.llmproxy_model === model)?.value ?? 0;
    while (count("asm_llm_proxy_time_to_first_token_ms", "qwen-1.8b-chat") < 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      series = await scrape(s.adminUrl);
    }
    // The asm_llm_proxy_* families; the gen_ai_* ones (metricNames otel) are in envoy-otel.test.ts.
    for (const setting of bootstrapHistogramBuckets().filter((b) => b.match.prefix!.startsWith("wasmcustom.asm_llm_proxy_"))) {
      const family = setting.match.prefix!.replace(/^wasmcustom\./, "");
      const buckets = series.filter((x) => x.name === `${family}_bucket` && x.labels.llmproxy_model === "qwen-1.8b-chat");
      expect(
        buckets.map((b) => b.labels.le),
        family,
      ).toEqual([...setting.buckets.map(String), "+Inf"]);
      expect(Object.keys(buckets[0].labels)).toEqual([
        "llmproxy_source_workload",
        "llmproxy_source_workload_namespace",
        "llmproxy_destination_service",
        "llmproxy_model",
        "le",
      ]);
      expect(count(family, "qwen-1.8b-chat"), family).toBe(2);
      // cumulative buckets, ending at the count
      const values = buckets.map((b) => b.value);
      expect(values).toEqual([...values].sort((a, b) => a - b));
      expect(values.at(-1)).toBe(2);
    }
    // the mock sends an event every 5 ms: time to first token is a few ms, the duration longer
    const sum = (family: string) => series.find((x) => x.name === `${family}_sum` && x.labels.llmproxy_model === "qwen-1.8b-chat")!.value;
    expect(sum("asm_llm_proxy_request_duration_ms")).toBeGreaterThan(sum("asm_llm_proxy_time_to_first_token_ms"));
  });

  it("cached and reasoning tokens (the Responses API answer) are counted with the four tags", async () => {
    const series = await scrape(s.adminUrl);
    for (const family of ["asm_llm_proxy_cached_tokens", "asm_llm_proxy_reasoning_tokens"]) {
      const line = series.find((x) => x.name === family && x.labels.llmproxy_model === "gpt-4.1");
      expect(line, family).toBeDefined();
      expect(line!.value).toBeGreaterThan(0);
      expect(line!.labels.llmproxy_destination_service).toBe("dashscope.aliyuncs.com");
    }
  });

  it.skipIf(!available)("promtool parses Envoy's exposition; on our families it finds only naming", async () => {
    const { body } = await get(`${s.adminUrl}/stats/prometheus`);
    const check = promtoolCheckMetrics(body);
    expect(check.status, check.output).toBe(3); // 3 = lint findings, no parse error
    // Envoy's own families draw other lint findings (e.g. *_count counters); ours only these.
    const unexpected = check.findings.filter(
      (f) =>
        f.startsWith("asm_llm_proxy") &&
        !/ counter metrics should have "_total" suffix$| no help text$| metric names should not contain abbreviated units$/.test(f),
    );
    expect(check.findings).toContain("asm_llm_proxy_time_to_first_token_ms metric names should not contain abbreviated units");
    expect(unexpected, check.output).toEqual([]);
  });
});
