// The Grafana dashboard (dashboards/asm-llm-proxy.json) against a real Prometheus: traffic
// goes through the local sidecar (the seed's two calls, one malformed request; maxModels 1 so
// the second model folds into "other"), Prometheus scrapes it and evaluates rules/, and every
// panel's PromQL, with the dashboard's variables substituted as Grafana would for "All",
// returns data. The panel list comes from the dashboard file itself.
// Without root / apt the tests are skipped loudly, except in CI (CI=true), where they fail.
import { readFileSync } from "node:fs";
import { send } from "./helpers/http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot, wasmPluginConfig } from "../repo/manifests";
import { seedCurl, startLocal, type LocalSidecar } from "./helpers/local";
import { PrometheusServer, requirePrometheus, type PromSample } from "./helpers/prometheus";

interface Target {
  expr: string;
  refId: string;
  datasource: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: Target[];
}
interface Variable {
  name: string;
  type: string;
  query: string | { query: string };
  allValue?: string;
  includeAll?: boolean;
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Variable[] };
}

const dashboard = JSON.parse(readFileSync(join(repoRoot, "dashboards", "asm-llm-proxy.json"), "utf8")) as Dashboard;
const variables = dashboard.templating.list;
const queryPanels = dashboard.panels.filter((p) => p.type !== "row");

/** Grafana's built-ins at a short range (the test's data is seconds old), and "All" for each query variable. */
const GRAFANA_GLOBALS: Record<string, string> = { __rate_interval: "1m", __interval: "15s", __range: "1m" };
function substitute(expr: string): string {
  return expr.replace(/\$\{?(\w+)\}?/g, (whole, name: string) => {
    if (name in GRAFANA_GLOBALS) return GRAFANA_GLOBALS[name];
    const v = variables.find((x) => x.name === name);
    if (!v) throw new Error(`${whole} is neither a Grafana built-in nor a dashboard variable`);
    return v.allValue!;
  });
}

const { available, install } = requirePrometheus();

/** The qwen models priced (the folded one too: prices apply to the model, not its label). */
const PRICING = { currency: "CNY", models: [{ model: "qwen-*", input: 0.8, cachedInput: 0.16, output: 2 }] };

describe("dashboard file", () => {
  it("is an importable Grafana model: uid, schemaVersion, unique panel ids, datasource as a variable", () => {
    expect(dashboard.uid).toBe("asm-llm-proxy");
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(variables.find((v) => v.name === "datasource")).toMatchObject({ type: "datasource", query: "prometheus" });
    for (const p of queryPanels) {
      expect(p.datasource, p.title).toEqual({ type: "prometheus", uid: "$" + "{datasource}" }); // Grafana variable syntax, not a template
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets!) expect(t.datasource, `${p.title} ${t.refId}`).toEqual(p.datasource);
    }
  });

  it("has the panels the issue asks for", () => {
    const exprs = (title: RegExp) => queryPanels.filter((p) => title.test(p.title)).flatMap((p) => p.targets!.map((t) => t.expr));
    expect(exprs(/by model/).join()).toMatch(/sum by \(llmproxy_model\)/);
    expect(exprs(/by source workload/).join()).toMatch(/llmproxy_source_workload\)/);
    expect(exprs(/by destination/).join()).toMatch(/sum by \(llmproxy_destination_service\)/);
    expect(exprs(/Cached share/).join()).toContain("asm_llm_proxy_cached_tokens");
    expect(exprs(/Reasoning share/).join()).toContain("asm_llm_proxy_reasoning_tokens");
    for (const [title, metric] of [
      [/first token/, "time_to_first_token_ms"],
      [/duration/, "request_duration_ms"],
      [/per output token/, "time_per_output_token_ms"],
    ] as const) {
      expect(exprs(title).map((e) => /histogram_quantile\((0\.\d+),/.exec(e)?.[1])).toEqual(["0.5", "0.95", "0.99"]);
      expect(exprs(title).every((e) => e.includes(`asm_llm_proxy_${metric}_bucket`))).toBe(true);
    }
    expect(exprs(/unreadable usage/).join()).toContain("sum by (llmproxy_reason) (rate(asm_llm_proxy_unparsed_responses");
    expect(exprs(/Skipped request rewrites/).join()).toContain("sum by (llmproxy_reason) (rate(asm_llm_proxy_rewrite_skipped");
    expect(exprs(/folded/).join()).toContain("asm_llm_proxy_labels_folded");
    for (const [title, by] of [
      [/^Cost per hour by namespace/, "llmproxy_source_workload_namespace)"],
      [/^Cost per hour by workload/, "llmproxy_source_workload_namespace, llmproxy_source_workload)"],
      [/^Cost per hour by model/, "llmproxy_model)"],
      [/^Cost per hour by provider/, "llmproxy_destination_service)"],
    ] as const) {
      expect(exprs(title).join(), String(title)).toContain(`sum by (${by} (rate(asm_llm_proxy_cost_micros{`);
      expect(exprs(title).join(), String(title)).toContain("* 3600 / 1e6");
    }
    expect(exprs(/Top callers of each provider/).join()).toMatch(/^topk by \(llmproxy_destination_service\) \(5, /);
    expect(exprs(/Unpriced/).join()).toContain("asm_llm_proxy_unpriced_requests");
    expect(exprs(/Errors per second by class/).join()).toContain("sum by (llmproxy_error_type) (rate(asm_llm_proxy_errors{");
    expect(exprs(/Finish reasons/).join()).toContain("sum by (llmproxy_finish_reason) (rate(asm_llm_proxy_finish_reasons{");
  });

  it("uses only variables it defines (each query variable with an All value)", () => {
    for (const v of variables.filter((x) => x.type === "query")) expect(v, v.name).toMatchObject({ includeAll: true, allValue: ".*" });
    for (const p of queryPanels) for (const t of p.targets!) expect(() => substitute(t.expr), p.title).not.toThrow();
    expect(() => substitute("rate(x[$nope])")).toThrow(/\$nope/);
  });
});

/** A POST to dashscope.aliyuncs.com through the local proxy, as curl -x sends it. */
async function postViaProxy(proxyUrl: string, body: string, path = "/"): Promise<number> {
  return (
    await send(proxyUrl, { authority: "dashscope.aliyuncs.com", path, headers: { "content-type": "application/json" }, body: [body] })
  ).status;
}

describe.skipIf(!available)(`dashboard queries on a real Prometheus (${install.message.split("\n").at(-1)})`, () => {
  let s: LocalSidecar;
  let prom: PrometheusServer;
  let t0: number;

  /** The seed's two calls, a malformed request (a 400: an error), a stream (time to first
   *  token, time per output token) and a Responses API stream, whose mock answer reports cached
   *  and reasoning tokens. With PRICING, the qwen models are priced and gpt-4.1 is not. */
  async function traffic(): Promise<void> {
    expect((await seedCurl(s.proxy.url, false)).status).toBe(200);
    expect((await seedCurl(s.proxy.url, true)).status).toBe(200);
    expect(await postViaProxy(s.proxy.url, '{"messages": [')).toBe(400);
    expect(await postViaProxy(s.proxy.url, '{"stream":true,"messages":[{"role":"user","content":"Please introduce yourself"}]}')).toBe(200);
    const input = JSON.stringify({
      model: "gpt-4.1",
      stream: true,
      input: "Please introduce yourself in a few long sentences, with details",
    });
    expect(await postViaProxy(s.proxy.url, input, "/v1/responses")).toBe(200);
  }

  beforeAll(async () => {
    t0 = Date.now();
    s = await startLocal({ pluginConfig: JSON.stringify({ ...JSON.parse(wasmPluginConfig()), maxModels: 1, pricing: PRICING }) });
    // Series are born with their first value, which rate() cannot see grow: traffic once before
    // Prometheus scrapes, once after, so every rate (and every ratio of rates) has a value.
    await traffic();
    prom = await PrometheusServer.start(`127.0.0.1:${s.admin.port}`, "/stats/prometheus", [
      join(repoRoot, "rules", "asm-llm-proxy.rules.yaml"),
    ]);
    await prom.waitTargetsUp();
    await prom.waitFor("asm_llm_proxy_prompt_tokens", (x) => x.length > 0);
    await traffic();
  });
  afterAll(async () => {
    await prom?.stop();
    await s?.close();
    console.info(`dashboard end-to-end: ${Date.now() - t0} ms`);
  });

  it.each(queryPanels.map((p) => [p.title, p] as const))("panel %s returns data", async (_, p) => {
    for (const t of p.targets!) {
      const expr = substitute(t.expr);
      const samples = await prom.waitFor(expr, (x) => x.length > 0 && x.every((v) => Number.isFinite(v.value)), 20_000);
      expect(samples.length, expr).toBeGreaterThan(0);
    }
  });

  it("the variables' label_values queries list the traffic's labels", async () => {
    const expected: Record<string, string[]> = {
      namespace: ["default"],
      workload: ["sleep"],
      destination: ["dashscope.aliyuncs.com"],
      model: ["other", "qwen-1.8b-chat"],
    };
    for (const v of variables.filter((x) => x.type === "query")) {
      const q = typeof v.query === "string" ? v.query : v.query.query;
      const m = /^label_values\((.+), (\w+)\)$/.exec(substitute(q));
      expect(m, q).not.toBeNull();
      const values = await prom.api<string[]>(`label/${m![2]}/values?match[]=${encodeURIComponent(m![1])}`);
      expect(values.sort(), v.name).toEqual(expected[v.name]);
    }
  });

  it('the folded model shows as "other" in the by-model panel, and the rules\' recordings have the traffic', async () => {
    const byModel = queryPanels.find((p) => p.title === "Tokens per second by model")!;
    const models = (await prom.query(substitute(byModel.targets![0].expr))).map((x: PromSample) => x.metric.llmproxy_model).sort();
    expect(models).toEqual(["other", "qwen-1.8b-chat"]);
    const recorded = await prom.waitFor("asm_llm_proxy:tokens:increase1m", (x) => x.length === 2, 20_000);
    expect(recorded.map((x) => x.metric.llmproxy_model).sort()).toEqual(["other", "qwen-1.8b-chat"]);
    for (const x of recorded)
      expect(x.metric).toMatchObject({ llmproxy_source_workload: "sleep", llmproxy_source_workload_namespace: "default" });
  });
});
