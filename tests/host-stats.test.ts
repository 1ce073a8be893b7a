import { describe, expect, it } from "vitest";
import { StatsStore } from "../host/envoy/stats";
import { MetricType, WasmResult } from "../host/abi/constants";
import { TagProducer } from "../host/envoy/tags";
import { loadBootstrapStatsTags } from "../host/istio/bootstrap";
import { formatG32, metricName, plainText, prometheusText } from "../host/envoy/prometheus";

const LLM_TAGS = [
  { tag_name: "llmproxy_source_workload", regex: "(\\|llmproxy_source_workload=([^|]*))" },
  { tag_name: "llmproxy_source_workload_namespace", regex: "(\\|llmproxy_source_workload_namespace=([^|]*))" },
  { tag_name: "llmproxy_destination_service", regex: "(\\|llmproxy_destination_service=([^|]*))" },
  { tag_name: "llmproxy_model", regex: "(\\|llmproxy_model=([^|]*))" },
];
const NAME =
  "asm_llm_proxy_prompt_tokens|llmproxy_source_workload=sleep|llmproxy_source_workload_namespace=default|llmproxy_destination_service=dashscope.aliyuncs.com|llmproxy_model=qwen-turbo";

describe("metric ids (stats_handler / context.cc defineMetric)", () => {
  it("every define returns a new id with the type in the low bits, pointing at one stat", () => {
    const s = new StatsStore();
    expect(s.defineMetric(MetricType.Counter, "c")).toBe(4);
    expect(s.defineMetric(MetricType.Counter, "c")).toBe(8);
    expect(s.defineMetric(MetricType.Gauge, "g")).toBe(5);
    expect(s.defineMetric(MetricType.Histogram, "h")).toBe(6);
    expect(s.defineMetric(MetricType.Gauge, "g")).toBe(9);
    expect(s.idCount()).toBe(5);
    s.incrementMetric(4, 2);
    s.incrementMetric(8, 3);
    expect(s.counterValue("c")).toBe(5);
    expect(s.counterValue("wasmcustom.c")).toBe(5);
  });
  it("a name's trailing dots are dropped, as Envoy does (the stat of `z.` is the stat of `z`); inner dots stay", () => {
    const s = new StatsStore();
    s.incrementMetric(s.defineMetric(MetricType.Counter, "m|k=z.."), 2);
    s.incrementMetric(s.defineMetric(MetricType.Counter, "m|k=z"), 3);
    s.incrementMetric(s.defineMetric(MetricType.Counter, "m|k=a..b"), 1);
    expect(s.counterValue("wasmcustom.m|k=z")).toBe(5);
    expect(s.counterValue("wasmcustom.m|k=a..b")).toBe(1);
  });

  it("counter increment with offset <= 0 is BadArgument; unknown id NotFound", () => {
    const s = new StatsStore();
    const id = s.defineMetric(MetricType.Counter, "c");
    expect(s.incrementMetric(id, 0)).toBe(WasmResult.BadArgument);
    expect(s.incrementMetric(id, -1)).toBe(WasmResult.BadArgument);
    expect(s.incrementMetric(100, 1)).toBe(WasmResult.NotFound);
    expect(s.counterValue("c")).toBe(0);
  });
  it("record sets a gauge, records a histogram, adds to a counter", () => {
    const s = new StatsStore();
    const g = s.defineMetric(MetricType.Gauge, "g");
    const h = s.defineMetric(MetricType.Histogram, "h");
    s.recordMetric(g, 7);
    s.recordMetric(g, 3);
    s.recordMetric(h, 12);
    expect(s.gaugeValue("g")).toBe(3);
    expect(s.histogramSamples("h")).toEqual([12]);
    expect(s.getMetric(h)).toBeUndefined();
  });
});

describe("tag extraction (tag_extractor_impl.cc)", () => {
  it("removes group 1, uses group 2 as value, labels in stats_tags order", () => {
    const p = new TagProducer(LLM_TAGS);
    const r = p.produceTags("wasmcustom." + NAME);
    expect(r.extractedName).toBe("wasmcustom.asm_llm_proxy_prompt_tokens");
    expect(r.tags).toEqual([
      { name: "llmproxy_source_workload", value: "sleep" },
      { name: "llmproxy_source_workload_namespace", value: "default" },
      { name: "llmproxy_destination_service", value: "dashscope.aliyuncs.com" },
      { name: "llmproxy_model", value: "qwen-turbo" },
    ]);
  });
  it("every regex runs on the original name; overlapping removals are merged", () => {
    const p = new TagProducer([
      { tag_name: "a", regex: "(\\.x=([^.]*))" },
      { tag_name: "b", regex: "(x=(\\d+))" },
    ]);
    const r = p.produceTags("m.x=12.y");
    expect(r.tags).toEqual([
      { name: "a", value: "12" },
      { name: "b", value: "12" },
    ]);
    expect(r.extractedName).toBe("m.y");
  });
  it("one group: group 1 is both removed and the value; no match keeps the text", () => {
    const p = new TagProducer([
      { tag_name: "code", regex: "_(\\d{3})$" },
      { tag_name: "none", regex: "(zzz)" },
    ]);
    const r = p.produceTags("rq_200");
    expect(r.tags).toEqual([{ name: "code", value: "200" }]);
    expect(r.extractedName).toBe("rq_");
  });
  it("a regex without groups produces no tag", () => {
    expect(new TagProducer([{ tag_name: "t", regex: "abc" }]).produceTags("abc").tags).toEqual([]);
  });
});

describe("prometheus text (prometheus_stats.cc)", () => {
  it("reproduces the LLM token counter line exactly", () => {
    const s = new StatsStore({ statsTags: LLM_TAGS });
    const id = s.defineMetric(MetricType.Counter, NAME);
    s.incrementMetric(id, 11);
    expect(prometheusText(s.snapshot())).toBe(
      "# TYPE asm_llm_proxy_prompt_tokens counter\n" +
        'asm_llm_proxy_prompt_tokens{llmproxy_source_workload="sleep",llmproxy_source_workload_namespace="default",llmproxy_destination_service="dashscope.aliyuncs.com",llmproxy_model="qwen-turbo"} 11\n',
    );
  });
  it("one TYPE line per family, families sorted, zero counters listed unless usedOnly", () => {
    const s = new StatsStore({ statsTags: LLM_TAGS });
    const b1 = s.defineMetric(MetricType.Counter, "b|llmproxy_model=m2");
    const b2 = s.defineMetric(MetricType.Counter, "b|llmproxy_model=m1");
    s.defineMetric(MetricType.Counter, "a");
    s.incrementMetric(b1, 1);
    s.incrementMetric(b2, 2);
    expect(prometheusText(s.snapshot())).toBe(
      '# TYPE a counter\na{} 0\n# TYPE b counter\nb{llmproxy_model="m1"} 2\nb{llmproxy_model="m2"} 1\n',
    );
    expect(prometheusText(s.snapshot(), { usedOnly: true })).toBe('# TYPE b counter\nb{llmproxy_model="m1"} 2\nb{llmproxy_model="m2"} 1\n');
  });
  it("sanitizes names, escapes label values, non-custom stats get envoy_", () => {
    const s = new StatsStore({ statsTags: [{ tag_name: "v", regex: "(\\|v=([^|]*))" }] });
    s.recordMetric(s.defineMetric(MetricType.Gauge, 'my.gauge-x|v=a"b\\c\nd'), 5);
    s.getOrCreate("counter", "cluster.foo.rq").value = 3;
    expect(prometheusText(s.snapshot())).toBe(
      "# TYPE envoy_cluster_foo_rq counter\nenvoy_cluster_foo_rq{} 3\n" + '# TYPE my_gauge_x gauge\nmy_gauge_x{v="a\\"b\\\\c\\nd"} 5\n',
    );
    expect(metricName("wasmcustom.1abc")).toBeUndefined();
  });
  it("histograms render buckets, +Inf, sum and count", () => {
    const s = new StatsStore({ histogramBuckets: [1, 10] });
    const h = s.defineMetric(MetricType.Histogram, "lat");
    s.recordMetric(h, 1);
    s.recordMetric(h, 7);
    s.recordMetric(h, 50);
    expect(prometheusText(s.snapshot())).toBe(
      '# TYPE lat histogram\nlat_bucket{le="1"} 1\nlat_bucket{le="10"} 2\nlat_bucket{le="+Inf"} 3\nlat_sum{} 58\nlat_count{} 3\n',
    );
    expect(formatG32(0.5)).toBe("0.5");
  });
  it("histogram_bucket_settings: the first entry whose matcher accepts the full name, else the defaults", () => {
    const s = new StatsStore({
      histogramBuckets: [1, 10],
      histogramBucketSettings: [
        { match: { prefix: "wasmcustom.ttft" }, buckets: [100, 1000] },
        { match: { contains: "ttft" }, buckets: [5] }, // also matches, but comes second
        { match: { safe_regex: { regex: "wasmcustom\\.dur.*" } }, buckets: [7] },
      ],
    });
    for (const [name, v] of [
      ["ttft|m=a", 500],
      ["dur", 3],
      ["other", 3],
    ] as const)
      s.recordMetric(s.defineMetric(MetricType.Histogram, name), v);
    const le = (family: string) =>
      prometheusText(s.snapshot())
        .split("\n")
        .filter((l) => l.startsWith(family + "_bucket"))
        .map((l) => /le="([^"]+)"/.exec(l)![1]);
    expect(le("ttft_m_a")).toEqual(["100", "1000", "+Inf"]);
    expect(le("dur")).toEqual(["7", "+Inf"]);
    expect(le("other")).toEqual(["1", "10", "+Inf"]);
  });
  it("plain text lists full names", () => {
    const s = new StatsStore({ statsTags: LLM_TAGS });
    s.incrementMetric(s.defineMetric(MetricType.Counter, "x|llmproxy_model=m"), 4);
    expect(plainText(s.snapshot())).toBe("wasmcustom.x|llmproxy_model=m: 4\n");
  });
});

describe("bootstrap stats_tags", () => {
  it("parses stats_config.stats_tags", () => {
    const tags = loadBootstrapStatsTags(JSON.stringify({ stats_config: { stats_tags: LLM_TAGS } }));
    expect(tags).toEqual(LLM_TAGS);
    expect(loadBootstrapStatsTags("{}")).toEqual([]);
  });
  it("rejects invalid JSON and invalid regexes", () => {
    expect(() => loadBootstrapStatsTags("{")).toThrow(/JSON/);
    expect(() => loadBootstrapStatsTags(JSON.stringify({ stats_config: { stats_tags: [{ tag_name: "x", regex: "(" }] } }))).toThrow(
      /compile/,
    );
  });
});
