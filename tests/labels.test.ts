// Label safety and cardinality. A model name comes from a client's (or a provider's)
// body, a host from :authority, workload and namespace from node metadata: none of them may
// create or change another label, break the Prometheus text, or grow the stats without bound.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { sidecar, type Sidecar } from "./helpers/sidecar";
import { StatsStore, ISTIO_DEFAULT_TAGS, prometheusText, type StatsTagConfig } from "../host";
import { bootstrapStatsTags } from "../repo/manifests";

/** Istio's bootstrap stats_tags that are not anchored to a prefix (tools/packaging/common/
 *  envoy_bootstrap.json), which run on every stat name, ours included, after the ConfigMap's. */
const ISTIO_TAGS: StatsTagConfig[] = [
  ...ISTIO_DEFAULT_TAGS,
  { tag_name: "authz_enforce_result", regex: "rbac(\\.(allowed|denied))" },
  { tag_name: "authz_dry_run_action", regex: "(\\.istio_dry_run_(allow|deny)_)" },
  { tag_name: "authz_dry_run_result", regex: "(\\.shadow_(allowed|denied))" },
];
const meshStats = () => new StatsStore({ statsTags: [...bootstrapStatsTags(), ...ISTIO_TAGS] });

const LABELS = ["llmproxy_source_workload", "llmproxy_source_workload_namespace", "llmproxy_destination_service", "llmproxy_model"];
const SERIES =
  /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*")(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*")*)?\})? ([0-9]+)$/;

/** Parses the exposition text line by line; returns the series of our token counters. */
function parse(text: string): { name: string; labels: [string, string][]; value: number }[] {
  const out: { name: string; labels: [string, string][]; value: number }[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("# TYPE ") || line.startsWith("# HELP ")) continue;
    const m = SERIES.exec(line);
    expect(m, `unparseable Prometheus line: ${JSON.stringify(line)}`).not.toBeNull();
    const labels = [...(m![2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map(
      (x) => [x[1], x[2]] as [string, string],
    );
    out.push({ name: m![1], labels, value: Number(m![3]) });
  }
  return out.filter((s) => /^asm_llm_proxy_(prompt|completion)_tokens$/.test(s.name));
}

function call(s: Sidecar, opts: { requestModel?: string; responseModel?: string; authority?: string }) {
  const req = opts.requestModel !== undefined ? JSON.stringify({ model: opts.requestModel, messages: [] }) : '{"messages":[]}';
  return s.call({
    request: {
      method: "POST",
      path: "/v1/chat/completions",
      authority: opts.authority ?? "api.openai.com",
      headers: [["content-type", "application/json"]],
      body: req,
    },
    response: {
      status: 200,
      headers: [["content-type", "application/json"]],
      body: JSON.stringify({ model: opts.responseModel ?? "resp", usage: { prompt_tokens: 1, completion_tokens: 1 } }),
    },
  });
}

const FORGERIES = [
  "x|llmproxy_source_workload=admin",
  "x|llmproxy_model=forged",
  'x"} 1\nasm_llm_proxy_prompt_tokens{llmproxy_model="forged"} 999\n#',
  'x\\"y\nz',
  "x_rq_200",
  "x_rq_5xx",
  "a.cache.evil.b",
  "component.evil.",
  "wasm_filter.evil.",
  "x.rbac.allowed",
  "x.istio_dry_run_allow_",
  "x.shadow_denied",
  ".",
  "gpt-4..",
  "x;.tag.evil;.",
  "=",
  "|",
  "",
  " ",
  "\u202e\u0000\u00ff",
];

describe("label values cannot forge labels", () => {
  function expectClean(s: Sidecar, expectLabelValues: Partial<Record<string, string>> = {}) {
    const series = parse(prometheusText(s.stats.snapshot()));
    expect(series.length).toBeGreaterThan(0);
    for (const x of series) {
      expect(x.labels.map(([k]) => k)).toEqual(LABELS);
      for (const [k, v] of x.labels) {
        expect(v).toMatch(/^[A-Za-z0-9_.:/@+-]{1,96}$/);
        if (expectLabelValues[k] !== undefined) expect(v).toBe(expectLabelValues[k]);
      }
    }
    expect(prometheusText(s.stats.snapshot())).not.toMatch(/="forged"| 999$/m);
  }

  for (const forged of FORGERIES) {
    it(`model ${JSON.stringify(forged)} in the request body`, async () => {
      const s = await sidecar({ stats: meshStats() });
      call(s, { requestModel: forged });
      expectClean(s, { llmproxy_source_workload: "sleep" });
    });
    it(`model ${JSON.stringify(forged)} in the response body (request has none)`, async () => {
      const s = await sidecar({ stats: meshStats() });
      call(s, { responseModel: forged });
      expectClean(s, { llmproxy_source_workload: "sleep" });
    });
  }

  it("workload and namespace from node metadata", async () => {
    for (const forged of FORGERIES) {
      const s = await sidecar({ stats: meshStats(), workload: forged, namespace: forged });
      call(s, { requestModel: "gpt-4o" });
      expectClean(s, { llmproxy_model: "gpt-4o" });
    }
  });

  it("the destination from :authority", async () => {
    for (const forged of FORGERIES) {
      const s = await sidecar({ stats: meshStats() });
      call(s, { requestModel: "gpt-4o", authority: forged.replace(/\n/g, "") });
      expectClean(s, { llmproxy_model: "gpt-4o", llmproxy_source_workload: "sleep" });
    }
  });

  it("any string anywhere: four labels, parseable text (property)", async () => {
    const s = await sidecar({ stats: meshStats(), pluginConfig: { maxModels: 10000, maxDestinations: 10000 } });
    const part = fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.constantFrom(
        "|",
        "=",
        ".",
        "cache",
        "component",
        "wasm_filter",
        "rbac",
        "allowed",
        "_rq_",
        "200",
        "5xx",
        "shadow_",
        "istio_dry_run_",
        '"',
        "\\",
        "\n",
      ),
    );
    const str = fc.array(part, { maxLength: 8 }).map((a) => a.join(""));
    fc.assert(
      fc.property(str, str, str, (rq, rs, host) => {
        call(s, { requestModel: rq, responseModel: rs, authority: host.replace(/\n/g, "") || "h" });
      }),
      { numRuns: 300 },
    );
    expectClean(s);
  });

  it("a model's trailing dots become '_' (Envoy would drop them, counting `gpt-4.` as `gpt-4`)", async () => {
    const s = await sidecar();
    call(s, { requestModel: "gpt-4." });
    call(s, { requestModel: "gpt-4" });
    const lines = s.prometheus().filter((l) => l.startsWith("asm_llm_proxy_prompt_tokens{"));
    expect(lines.some((l) => l.includes('llmproxy_model="gpt-4_"'))).toBe(true);
    expect(lines.some((l) => l.includes('llmproxy_model="gpt-4"'))).toBe(true);
  });

  it("a long name is capped; one longer than the scanner keeps (512 bytes) counts as absent", async () => {
    const s = await sidecar();
    call(s, { requestModel: "m".repeat(300) });
    expect(s.prometheus()[0]).toContain(`llmproxy_model="${"m".repeat(96)}"`);
    const t = await sidecar();
    call(t, { requestModel: "m".repeat(10_000), responseModel: "resp" });
    expect(t.prometheus()[0]).toContain('llmproxy_model="resp"');
  });
});

describe("cardinality bound", () => {
  it("10,000 distinct models: at most maxModels label values, the rest 'other', counted; metric ids bounded", async () => {
    const s = await sidecar();
    for (let i = 0; i < 10_000; i++) call(s, { requestModel: `model-${i}` });
    const models = new Set(parse(prometheusText(s.stats.snapshot())).map((x) => x.labels[3][1]));
    expect(models.size).toBe(101);
    expect(models.has("other")).toBe(true);
    expect(s.stats.counterValue("asm_llm_proxy_labels_folded|llmproxy_label=model")).toBe(9_900);
    // one series per admitted model: at most SERIES_METRICS (7: four token counters, three latency
    // histograms) ids each, plus the diagnostics counters
    expect(s.stats.idCount()).toBeLessThan(7 * 101 + 10);
  });

  it("modelAllowList: only the listed names become labels", async () => {
    const s = await sidecar({ pluginConfig: { modelAllowList: ["gpt-4o", "qwen-turbo"] } });
    for (const m of ["gpt-4o", "qwen-turbo", "evil", "gpt-4o-x"]) call(s, { requestModel: m });
    expect(new Set(parse(prometheusText(s.stats.snapshot())).map((x) => x.labels[3][1]))).toEqual(
      new Set(["gpt-4o", "qwen-turbo", "other"]),
    );
    expect(s.stats.counterValue("asm_llm_proxy_labels_folded|llmproxy_label=model")).toBe(2);
  });

  it("Envoy's metric-id map stops growing once every admitted series exists (models x destinations)", async () => {
    const s = await sidecar({ pluginConfig: { maxModels: 30, maxDestinations: 30 } });
    const pass = () => {
      for (let d = 0; d < 30; d++) for (let m = 0; m < 30; m++) call(s, { requestModel: `m${m}`, authority: `h${d}.example` });
    };
    pass();
    const afterFirst = s.stats.idCount();
    pass();
    pass();
    expect(s.stats.idCount()).toBe(afterFirst);
  });
});
