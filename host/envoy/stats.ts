// Envoy's stats store as a wasm filter sees it.
// - proxy_define_metric (source/extensions/common/wasm/context.cc Context::defineMetric): the stat
//   is created as `<custom_stat_namespace>.<name>` = `wasmcustom.<name>`, and EVERY call returns a
//   new id (counters 4, 8, 12...; gauges 5, 9...; histograms 6, 10...: kMetricIncrement = 4, the
//   low two bits are the type, wasm.h nextCounterMetricId) that points at the same stat; the
//   per-VM id map grows with each call.
// - increment: offset <= 0 on a counter → BadArgument; on a gauge adds/subtracts.
// - record: counter adds, gauge sets, histogram records. get: histogram → BadArgument.
import { MetricType, WasmResult, type WasmResultCode } from "../abi/constants";
import { TagProducer, type StatsTagConfig, type Tag } from "./tags";

export const CUSTOM_STAT_NAMESPACE = "wasmcustom";

/** Envoy's default histogram buckets (source/common/stats/histogram_impl.h). */
export const DEFAULT_HISTOGRAM_BUCKETS = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
];

export type StatKind = "counter" | "gauge" | "histogram";

export interface Stat {
  kind: StatKind;
  /** Full name, e.g. `wasmcustom.my_metric|k=v`. */
  name: string;
  extractedName: string;
  tags: Tag[];
  value: number; // counter/gauge value (uint64 semantics; JS number is fine below 2^53)
  used: boolean;
  samples: number[]; // histogram values
  /** Histogram bucket upper bounds (histogram_bucket_settings or the defaults). */
  buckets?: number[];
}

/** stats_config.histogram_bucket_settings[] (config/metrics/v3/stats.proto HistogramBucketSettings):
 *  a StringMatcher on the stat's name and the bucket upper bounds. Envoy gives a histogram the
 *  buckets of the first entry whose matcher accepts the name (source/common/stats/histogram_impl.cc
 *  HistogramSettingsImpl::buckets), else the defaults. The name is the full one, tags still in
 *  (*read in the source, to confirm in real Envoy*); a prefix matcher on the metric's base name
 *  behaves the same either way. */
export interface HistogramBucketSetting {
  match: { exact?: string; prefix?: string; suffix?: string; contains?: string; safe_regex?: { regex: string } };
  buckets: number[];
}

/** What the admin endpoints render: the stats, and the store settings the formats depend on. */
export interface StatsSnapshot {
  stats: readonly Stat[];
  /** Namespaces whose prefix /stats/prometheus strips. */
  customNamespaces: readonly string[];
  histogramBuckets: readonly number[];
}

export interface StatsStoreOptions {
  statsTags?: StatsTagConfig[];
  histogramBuckets?: number[];
  histogramBucketSettings?: HistogramBucketSetting[];
}

function matches(m: HistogramBucketSetting["match"], name: string): boolean {
  if (m.exact !== undefined) return name === m.exact;
  if (m.prefix !== undefined) return name.startsWith(m.prefix);
  if (m.suffix !== undefined) return name.endsWith(m.suffix);
  if (m.contains !== undefined) return name.includes(m.contains);
  if (m.safe_regex !== undefined) return new RegExp(`^(?:${m.safe_regex.regex})$`).test(name); // RE2 full match
  return false;
}

/** One VM's id → stat map (Envoy keeps counters_/gauges_/histograms_ per Wasm instance). */
export class MetricIdSpace {
  private nextId = [0, 1, 2];
  readonly ids = new Map<number, Stat>();

  constructor(private readonly store: StatsStore) {}

  define(type: number, name: string): { result: WasmResultCode; id?: number } {
    if (type > MetricType.MAX || type < 0) return { result: WasmResult.BadArgument };
    const kind: StatKind = type === MetricType.Counter ? "counter" : type === MetricType.Gauge ? "gauge" : "histogram";
    const stat = this.store.getOrCreate(kind, `${CUSTOM_STAT_NAMESPACE}.${name}`);
    this.nextId[type] += 4;
    const id = this.nextId[type];
    this.ids.set(id, stat);
    return { result: WasmResult.Ok, id };
  }

  increment(id: number, offset: bigint): WasmResultCode {
    const type = id & 3;
    const stat = this.ids.get(id);
    if (type === MetricType.Counter) {
      if (!stat) return WasmResult.NotFound;
      if (offset <= 0n) return WasmResult.BadArgument;
      stat.value += Number(offset);
      stat.used = true;
      return WasmResult.Ok;
    }
    if (type === MetricType.Gauge) {
      if (!stat) return WasmResult.NotFound;
      stat.value = Math.max(0, stat.value + Number(offset));
      stat.used = true;
      return WasmResult.Ok;
    }
    return WasmResult.BadArgument;
  }

  record(id: number, value: bigint): WasmResultCode {
    const stat = this.ids.get(id);
    if (!stat) return WasmResult.NotFound;
    const type = id & 3;
    if (type === MetricType.Counter) stat.value += Number(value);
    else if (type === MetricType.Gauge) stat.value = Number(value);
    else if (type === MetricType.Histogram) stat.samples.push(Number(value));
    else return WasmResult.NotFound;
    stat.used = true;
    return WasmResult.Ok;
  }

  get(id: number): { result: WasmResultCode; value?: bigint } {
    const type = id & 3;
    if (type !== MetricType.Counter && type !== MetricType.Gauge) return { result: WasmResult.BadArgument };
    const stat = this.ids.get(id);
    if (!stat) return { result: WasmResult.NotFound };
    return { result: WasmResult.Ok, value: BigInt(stat.value) };
  }
}

export class StatsStore {
  readonly stats = new Map<string, Stat>();
  readonly tagProducer: TagProducer;
  readonly histogramBuckets: number[];
  readonly histogramBucketSettings: HistogramBucketSetting[];
  private readonly spaces: MetricIdSpace[] = [];
  private readonly defaultSpace: MetricIdSpace;

  constructor(opts: StatsStoreOptions = {}) {
    this.tagProducer = new TagProducer(opts.statsTags ?? []);
    this.histogramBuckets = opts.histogramBuckets ?? DEFAULT_HISTOGRAM_BUCKETS;
    this.histogramBucketSettings = opts.histogramBucketSettings ?? [];
    this.defaultSpace = this.newIdSpace();
  }

  /** A fresh id space, one per WasmVm (ids are per Wasm instance in Envoy). */
  newIdSpace(): MetricIdSpace {
    const s = new MetricIdSpace(this);
    this.spaces.push(s);
    return s;
  }

  /** Stat namespaces whose prefix /stats/prometheus strips (Api::customStatNamespaces):
   *  `wasmcustom` always; Istio's stats filter registers `istiocustom`. */
  readonly customNamespaces: string[] = [CUSTOM_STAT_NAMESPACE];

  registerStatNamespace(ns: string): void {
    if (!this.customNamespaces.includes(ns)) this.customNamespaces.push(ns);
  }

  /** A counter created from a name and explicit tags (Stats::Utility::counterFromStatNames),
   *  as Istio's stats filter does: no tag extraction, the tags are given. */
  counterFromStatNames(names: string[], tags: Tag[]): Stat {
    const extractedName = names.join(".");
    const fullName = extractedName + tags.map((t) => `.${t.name}.${t.value}`).join("");
    const key = `counter\u0000${fullName}`;
    let s = this.stats.get(key);
    if (!s) {
      s = { kind: "counter", name: fullName, extractedName, tags: [...tags], value: 0, used: false, samples: [] };
      this.stats.set(key, s);
    }
    return s;
  }

  getOrCreate(kind: StatKind, name: string): Stat {
    // Envoy drops a stat name's trailing dots (`...|llmproxy_model=z.` is the stat of model
    // `z`; seen in Envoy 1.40.0 and 1.36.4); dots inside the name stay.
    const fullName = name.replace(/\.+$/, "");
    const key = `${kind}\u0000${fullName}`;
    let s = this.stats.get(key);
    if (!s) {
      const { extractedName, tags } = this.tagProducer.produceTags(fullName);
      s = { kind, name: fullName, extractedName, tags, value: 0, used: false, samples: [] };
      if (kind === "histogram") s.buckets = this.bucketsFor(fullName);
      this.stats.set(key, s);
    }
    return s;
  }

  /** The buckets of the first histogram_bucket_settings entry matching `fullName`, else the defaults. */
  bucketsFor(fullName: string): number[] {
    for (const b of this.histogramBucketSettings) if (matches(b.match, fullName)) return b.buckets;
    return this.histogramBuckets;
  }

  // Convenience API mirroring the ABI (on a default id space).
  defineMetric(type: number, name: string): number {
    const r = this.defaultSpace.define(type, name);
    if (r.id === undefined) throw new Error(`defineMetric: bad type ${type}`);
    return r.id;
  }
  incrementMetric(id: number, offset: number | bigint): WasmResultCode {
    return this.defaultSpace.increment(id, BigInt(offset));
  }
  recordMetric(id: number, value: number | bigint): WasmResultCode {
    return this.defaultSpace.record(id, BigInt(value));
  }
  getMetric(id: number): number | undefined {
    const r = this.defaultSpace.get(id);
    return r.value === undefined ? undefined : Number(r.value);
  }

  /** Number of entries in all id maps (Envoy's counters_/gauges_/histograms_ maps). */
  idCount(): number {
    let n = 0;
    for (const s of this.spaces) n += s.ids.size;
    return n;
  }

  /** Value of the counter named `name` (with or without the `wasmcustom.` prefix). */
  counterValue(name: string): number | undefined {
    return this.find("counter", name)?.value;
  }
  gaugeValue(name: string): number | undefined {
    return this.find("gauge", name)?.value;
  }
  histogramSamples(name: string): number[] | undefined {
    return this.find("histogram", name)?.samples;
  }
  private find(kind: StatKind, name: string): Stat | undefined {
    return this.stats.get(`${kind}\u0000${name}`) ?? this.stats.get(`${kind}\u0000${CUSTOM_STAT_NAMESPACE}.${name}`);
  }

  /** The stats as they are now, for the admin formats (envoy/prometheus.ts). */
  snapshot(): StatsSnapshot {
    return { stats: [...this.stats.values()], customNamespaces: [...this.customNamespaces], histogramBuckets: this.histogramBuckets };
  }

  all(kind?: StatKind): Stat[] {
    const out: Stat[] = [];
    for (const s of this.stats.values()) if (!kind || s.kind === kind) out.push(s);
    return out;
  }
}
