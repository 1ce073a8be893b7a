// A real Prometheus (Debian's package, installed by scripts/prometheus.sh) scrapes the local
// sidecar's admin listener every second, as the mesh's Prometheus scrapes :15090; the seed's
// series come back through PromQL with their four labels. promtool lints the exposition.
// Without root / apt the tests are skipped loudly, except in CI (CI=true), where they fail.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PrometheusServer, promtoolCheckMetrics, requirePrometheus, type PromSample } from "./helpers/prometheus";
import { get, seedCurl, startLocal, type LocalSidecar } from "./helpers/local";

const { available, install } = requirePrometheus();

const SEED_LABELS = {
  llmproxy_source_workload: "sleep",
  llmproxy_source_workload_namespace: "default",
  llmproxy_destination_service: "dashscope.aliyuncs.com",
};

function byModel(samples: PromSample[]): Record<string, number> {
  return Object.fromEntries(samples.map((s) => [s.metric.llmproxy_model, s.value]));
}

describe.skipIf(!available)(`Prometheus scraping the local sidecar (${install.message.split("\n").at(-1)})`, () => {
  let s: LocalSidecar;
  let prom: PrometheusServer;

  beforeAll(async () => {
    s = await startLocal();
    const a = await seedCurl(s.proxy.url, false);
    const b = await seedCurl(s.proxy.url, true);
    expect([a.status, b.status]).toEqual([200, 200]);
    prom = await PrometheusServer.start(`127.0.0.1:${s.admin.port}`);
  });
  afterAll(async () => {
    await prom?.stop();
    await s?.close();
  });

  it("scrapes the admin listener (target up)", async () => {
    const targets = await prom.waitTargetsUp();
    expect(targets).toHaveLength(1);
    expect(targets[0].scrapeUrl).toBe(`http://127.0.0.1:${s.admin.port}/stats/prometheus`);
    expect(targets[0].lastError).toBe("");
  });

  it("answers PromQL with the seed's series: four labels, the seed's values", async () => {
    const prompt = await prom.waitFor("asm_llm_proxy_prompt_tokens", (x) => x.length === 2);
    const completion = await prom.waitFor("asm_llm_proxy_completion_tokens", (x) => x.length === 2);
    for (const sample of [...prompt, ...completion]) {
      const { __name__, job, instance, ...labels } = sample.metric;
      expect(__name__).toMatch(/^asm_llm_proxy_(prompt|completion)_tokens$/);
      expect(job).toBe("sidecar");
      expect(instance).toBe(`127.0.0.1:${s.admin.port}`);
      expect(labels).toEqual({ ...SEED_LABELS, llmproxy_model: labels.llmproxy_model });
    }
    expect(byModel(prompt)).toEqual({ "qwen-1.8b-chat": 3, "qwen-turbo": 11 });
    expect(byModel(completion)).toEqual({ "qwen-1.8b-chat": 72, "qwen-turbo": 85 });
    // the kind of query a dashboard runs
    const total = await prom.query(
      'sum by (llmproxy_model) (asm_llm_proxy_prompt_tokens{llmproxy_source_workload="sleep"} + asm_llm_proxy_completion_tokens)',
    );
    expect(byModel(total)).toEqual({ "qwen-1.8b-chat": 75, "qwen-turbo": 96 });
  });

  it("sees new traffic on the next scrapes (counters only go up)", async () => {
    const r = await seedCurl(s.proxy.url, true);
    expect(r.status).toBe(200);
    const completion = await prom.waitFor(
      'asm_llm_proxy_completion_tokens{llmproxy_model="qwen-turbo"}',
      (x) => x.length === 1 && x[0].value === 170,
    );
    expect(completion[0].value).toBe(170);
    const prompt = await prom.waitFor(
      'asm_llm_proxy_prompt_tokens{llmproxy_model="qwen-turbo"}',
      (x) => x.length === 1 && x[0].value === 22,
    );
    expect(prompt[0].value).toBe(22);
  });

  it("promtool parses the exposition; its only lint findings are Envoy's naming (no _total, no HELP)", async () => {
    const { status, body } = await get(`${s.admin.url}/stats/prometheus`);
    expect(status).toBe(200);
    const check = promtoolCheckMetrics(body);
    // exit 1 = parse failure; 3 = lint findings only
    expect(check.status, check.output).toBe(3);
    // The latency histograms are named *_ms (names fixed for the dashboard; Envoy records the
    // integer milliseconds the filter passes to proxy_record_metric): promtool's unit lint.
    const unexpected = check.findings.filter(
      (f) =>
        !/ counter metrics should have "_total" suffix$/.test(f) &&
        !/ no help text$/.test(f) &&
        !/^asm_llm_proxy_[a-z_]+_ms metric names should not contain abbreviated units$/.test(f),
    );
    expect(check.findings).toContain("asm_llm_proxy_request_duration_ms metric names should not contain abbreviated units");
    expect(unexpected, check.output).toEqual([]);
    for (const family of ["asm_llm_proxy_prompt_tokens", "asm_llm_proxy_completion_tokens"]) {
      expect(check.findings).toContain(`${family} counter metrics should have "_total" suffix`);
      expect(check.findings).toContain(`${family} no help text`);
    }
  });

  it("promtool does reject a broken exposition (the check can fail)", () => {
    const check = promtoolCheckMetrics("asm_llm_proxy_prompt_tokens{llmproxy_model=qwen} 1\n");
    expect(check.status).toBe(1);
  });
});
