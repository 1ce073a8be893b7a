// Counters and histograms with their tags encoded in the stat name, as the bootstrap
// stats_tags expect:
//   asm_llm_proxy_prompt_tokens|llmproxy_source_workload=sleep|llmproxy_source_workload_namespace=default|
//   llmproxy_destination_service=dashscope.aliyuncs.com|llmproxy_model=qwen-turbo
// Envoy's proxy_define_metric returns a new id (and grows its id map) on every call, even for a
// known name, so ids are cached here. The cache never evicts: evicting and re-defining is what
// grows Envoy's id map. Its size is bounded by the label budgets (maxModels x maxDestinations
// series of SERIES_METRICS metrics + a few reason counters), and absolutely by MAX_CACHED_IDS
// series: past it a new series is not created (the sample is dropped) rather than grow Envoy's map.
import { defineMetric, incrementCounter, recordHistogram, MetricType } from "../envoy";

export const PROMPT_TOKENS = "asm_llm_proxy_prompt_tokens";
export const COMPLETION_TOKENS = "asm_llm_proxy_completion_tokens";
export const CACHED_TOKENS = "asm_llm_proxy_cached_tokens";
export const REASONING_TOKENS = "asm_llm_proxy_reasoning_tokens";
export const CACHE_WRITE_TOKENS = "asm_llm_proxy_cache_write_tokens";
/** The cost of requests in millionths of the pricing currency (cost.ts). */
export const COST_MICROS = "asm_llm_proxy_cost_micros";
/** Requests whose usage was read but whose model has no row in the price table. */
export const UNPRICED_REQUESTS = "asm_llm_proxy_unpriced_requests";
export const TIME_TO_FIRST_TOKEN = "asm_llm_proxy_time_to_first_token_ms";
export const REQUEST_DURATION = "asm_llm_proxy_request_duration_ms";
export const TIME_PER_OUTPUT_TOKEN = "asm_llm_proxy_time_per_output_token_ms";
/** Responses whose usage could not be read, by reason (tag llmproxy_reason). */
export const UNPARSED = "asm_llm_proxy_unparsed_responses";
/** Request rewrites not done, by reason (tag llmproxy_reason). */
export const REWRITE_SKIPPED = "asm_llm_proxy_rewrite_skipped";
/** Requests by normalised finish reason (tag llmproxy_finish_reason; classify.ts). */
export const FINISH_REASONS = "asm_llm_proxy_finish_reasons";
/** Failed requests by class (tag llmproxy_error_type; classify.ts). */
export const ERRORS = "asm_llm_proxy_errors";
/** Id slots per series for the counters with one more tag from a closed vocabulary. */
export const TAGGED_SLOTS = 16;
/** Host reads answered neither Ok nor NotFound (envoy.ts takeHostErrors); treated as absent. */
export const HOST_CALL_ERRORS = "asm_llm_proxy_host_call_errors";
/** Label values folded into "other" by the cardinality bound (tag llmproxy_label). */
export const LABELS_FOLDED = "asm_llm_proxy_labels_folded";

export const MAX_CACHED_IDS = 65536;

/** The metrics of one (workload, namespace, destination, model) series. */
export const enum SeriesMetric {
  PromptTokens = 0, CompletionTokens, CachedTokens, ReasoningTokens,
  CacheWriteTokens, CostMicros, UnpricedRequests,
  TimeToFirstToken, RequestDuration, TimePerOutputToken,
}
const SERIES_METRICS = 10;
const SERIES_NAMES: string[] = [PROMPT_TOKENS, COMPLETION_TOKENS, CACHED_TOKENS, REASONING_TOKENS, CACHE_WRITE_TOKENS, COST_MICROS, UNPRICED_REQUESTS, TIME_TO_FIRST_TOKEN, REQUEST_DURATION, TIME_PER_OUTPUT_TOKEN];

/** What one finished request adds to its series; -1 = nothing. */
export class SeriesSample {
  promptTokens: i64 = -1;
  completionTokens: i64 = -1;
  cachedTokens: i64 = -1;
  reasoningTokens: i64 = -1;
  cacheWriteTokens: i64 = -1;
  /** Whole micro-units of the request's cost, -1 = not priced... */
  costMicros: i64 = -1;
  /** ...and the pico-units below them (0..999,999), carried over in the series. */
  costPicos: i64 = 0;
  /** 1 when the usage was read and the model has no price. */
  unpriced: i64 = -1;
  timeToFirstTokenMs: i64 = -1;
  requestDurationMs: i64 = -1;
  timePerOutputTokenMs: i64 = -1;

  value(metric: SeriesMetric): i64 {
    switch (metric) {
      case SeriesMetric.PromptTokens: return this.promptTokens;
      case SeriesMetric.CompletionTokens: return this.completionTokens;
      case SeriesMetric.CachedTokens: return this.cachedTokens;
      case SeriesMetric.ReasoningTokens: return this.reasoningTokens;
      case SeriesMetric.CacheWriteTokens: return this.cacheWriteTokens;
      case SeriesMetric.CostMicros: return this.costMicros;
      case SeriesMetric.UnpricedRequests: return this.unpriced;
      case SeriesMetric.TimeToFirstToken: return this.timeToFirstTokenMs;
      case SeriesMetric.RequestDuration: return this.requestDurationMs;
      default: return this.timePerOutputTokenMs;
    }
  }
}

// @ts-ignore: decorator
@inline
function isHistogram(metric: SeriesMetric): bool {
  return metric >= SeriesMetric.TimeToFirstToken;
}

export class Metrics {
  private ids: Map<string, u32> = new Map<string, u32>();

  /** Adds `amount` (> 0) to the counter `name`; false when Envoy refused or the amount is not positive. */
  add(name: string, amount: i64): bool {
    if (amount <= 0) return false; // Envoy answers BadArgument to a zero or negative increment
    const id = this.idOf(name);
    return id >= 0 && incrementCounter(<u32>id, amount);
  }

  /** The counter's id, defined on first use; -1 when Envoy refused or the cache is full. */
  private idOf(name: string): i64 {
    if (this.ids.has(name)) return this.ids.get(name);
    if (this.ids.size >= MAX_CACHED_IDS) return -1;
    const defined = defineMetric(MetricType.Counter, name);
    if (defined >= 0) this.ids.set(name, <u32>defined);
    return defined;
  }

  /** The series of one (destination, model) pair, by a short key: the ~150-byte tag suffix is
   *  built once per pair, not per stream. */
  private series: Map<string, Series> = new Map<string, Series>();

  // The last series asked for, by its parts: most calls repeat it, and then cost five string
  // compares instead of a key built from four concatenations and a hash lookup.
  private last: Series | null = null;
  private lastParts: string[] = ["", "", "", "", ""];

  private seriesOf(workload: string, namespace: string, destination: string, model: string, extraTags: string): Series | null {
    const parts = this.lastParts;
    const last = this.last;
    if (last !== null && unchecked(parts[0]) == workload && unchecked(parts[1]) == namespace && unchecked(parts[2]) == destination && unchecked(parts[3]) == model && unchecked(parts[4]) == extraTags) return last;
    const s = this.lookupSeries(workload, namespace, destination, model, extraTags);
    if (s !== null) {
      this.last = s;
      unchecked(parts[0] = workload);
      unchecked(parts[1] = namespace);
      unchecked(parts[2] = destination);
      unchecked(parts[3] = model);
      unchecked(parts[4] = extraTags);
    }
    return s;
  }

  private lookupSeries(workload: string, namespace: string, destination: string, model: string, extraTags: string): Series | null {
    // Workload and namespace are the VM's own outbound, the caller's inbound.
    const key = workload + "\u0000" + namespace + "\u0000" + destination + "\u0000" + model + extraTags;
    if (this.series.has(key)) return this.series.get(key);
    if (this.series.size >= MAX_CACHED_IDS) return null;
    const s = new Series(seriesTags(workload, namespace, destination, model) + extraTags);
    this.series.set(key, s);
    return s;
  }

  /** One more request in `base|<series tags>|tag=value`; `slot` (< TAGGED_SLOTS) is the
   *  value's index in its closed vocabulary, so each id is defined once per series. */
  countTagged(workload: string, namespace: string, destination: string, model: string, extraTags: string, slot: i32, base: string, tag: string, value: string): void {
    if (slot < 0 || slot >= TAGGED_SLOTS) return;
    const s = this.seriesOf(workload, namespace, destination, model, extraTags);
    if (s === null) return;
    let id = unchecked(s.tagged[slot]);
    if (id < 0) {
      id = defineMetric(MetricType.Counter, base + s.tags + "|" + tag + "=" + value);
      if (id < 0) return;
      unchecked(s.tagged[slot] = id);
    }
    incrementCounter(<u32>id, 1);
  }

  /** `extraTags`: the identity labels' `|key=value` segments, after the seed's four ("" when off). */
  addSample(workload: string, namespace: string, destination: string, model: string, extraTags: string, sample: SeriesSample): void {
    const s = this.seriesOf(workload, namespace, destination, model, extraTags);
    if (s === null) return;
    if (sample.costMicros >= 0) {
      // Sub-micro fractions add up across requests instead of being rounded away one by one:
      // the counter is the floor of the exact sum (per VM; docs/metrics.md).
      const carried = s.costPicos + sample.costPicos;
      sample.costMicros += carried / 1_000_000;
      s.costPicos = carried % 1_000_000;
    }
    for (let m = 0; m < SERIES_METRICS; m++) {
      const metric = <SeriesMetric>m;
      const v = sample.value(metric);
      // Counters take positive amounts only (Envoy: BadArgument otherwise); a histogram takes 0 too.
      if (v < 0 || (v == 0 && !isHistogram(metric))) continue;
      let id = unchecked(s.ids[m]);
      if (id < 0) {
        id = defineMetric(isHistogram(metric) ? MetricType.Histogram : MetricType.Counter, SERIES_NAMES[m] + s.tags);
        if (id < 0) continue;
        unchecked(s.ids[m] = id);
      }
      if (isHistogram(metric)) recordHistogram(<u32>id, v);
      else incrementCounter(<u32>id, v);
    }
  }
}

class Series {
  ids: StaticArray<i64> = new StaticArray<i64>(SERIES_METRICS);
  /** The cost below a whole micro-unit not yet counted, in pico-units (0..999,999). */
  costPicos: i64 = 0;
  /** Ids of the tagged counters (countTagged), by slot. */
  tagged: StaticArray<i64> = new StaticArray<i64>(TAGGED_SLOTS);
  constructor(public tags: string) {
    for (let i = 0; i < SERIES_METRICS; i++) unchecked(this.ids[i] = -1);
    for (let i = 0; i < TAGGED_SLOTS; i++) unchecked(this.tagged[i] = -1);
  }
}

/** The four tags in the seed's order, as `|key=value` segments. */
function seriesTags(workload: string, namespace: string, destination: string, model: string): string {
  return "|llmproxy_source_workload=" + workload
    + "|llmproxy_source_workload_namespace=" + namespace
    + "|llmproxy_destination_service=" + destination
    + "|llmproxy_model=" + model;
}

export function reasonStatName(base: string, reason: string): string {
  return base + "|llmproxy_reason=" + reason;
}
