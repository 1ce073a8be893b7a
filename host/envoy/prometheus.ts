// /stats/prometheus and /stats rendering, after source/server/admin/prometheus_stats.cc:
// - families grouped by tag-extracted name, counters then gauges then histograms, each group
//   sorted by name (StatNameLessThan: token by token on '.'), series in a family sorted by the
//   full stat name;
// - metricName(): a name in a registered custom namespace (`wasmcustom.`) is stripped of it and
//   sanitized with NO `envoy_` prefix (and dropped if the result is empty or starts with a digit);
//   every other stat becomes `envoy_` + sanitized name; sanitize = [^a-zA-Z0-9_] → `_`;
// - `# TYPE <name> <type>` once per family; series `name{labels} value` (labels `{}` when none);
// - label names sanitized, label values escaped (`\` → `\\`, newline → `\n`, `"` → `\"`,
//   sanitizeValue in current Envoy; releases before it printed values raw);
// - histograms: `_bucket{...,le="<bucket %.32g>"} n` per bucket, `le="+Inf"`, `_sum`, `_count`.
// Older Envoy releases also printed an empty line after each family: `blankLineAfterFamily`.
import { CUSTOM_STAT_NAMESPACE, type Stat, type StatKind, type StatsSnapshot } from "./stats";
import type { Tag } from "./tags";

export interface PrometheusOptions {
  usedOnly?: boolean;
  /** Like `?filter=`: std::regex_search on the full stat name. */
  filter?: RegExp;
  blankLineAfterFamily?: boolean;
}

export function sanitizeName(name: string): string {
  return name.replace(/[^a-zA-Z0-9_]/g, "_");
}

export function sanitizeValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

export function metricName(extractedName: string, customNamespaces: readonly string[] = [CUSTOM_STAT_NAMESPACE]): string | undefined {
  for (const ns of customNamespaces) {
    if (extractedName.startsWith(ns + ".")) {
      const s = sanitizeName(extractedName.slice(ns.length + 1));
      if (s === "" || (s[0] >= "0" && s[0] <= "9")) return undefined;
      return s;
    }
  }
  return "envoy_" + sanitizeName(extractedName);
}

export function formattedTags(tags: readonly Tag[]): string {
  return tags.map((t) => `${sanitizeName(t.name)}="${sanitizeValue(t.value)}"`).join(",");
}

/** StatNameLessThan: compares the '.'-separated tokens in order, bytewise. */
export function statNameCompare(a: string, b: string): number {
  const ta = a.split("."),
    tb = b.split(".");
  const n = Math.min(ta.length, tb.length);
  for (let i = 0; i < n; i++) {
    if (ta[i] !== tb[i]) return ta[i] < tb[i] ? -1 : 1;
  }
  return ta.length - tb.length;
}

/** fmt `{:.32g}` for the values Envoy prints (bucket bounds, sums). */
export function formatG32(v: number): string {
  if (Number.isInteger(v) && Math.abs(v) < 1e21) return String(v);
  if (!Number.isFinite(v)) return v > 0 ? "inf" : v < 0 ? "-inf" : "nan";
  let s = v.toPrecision(32);
  if (s.includes("e")) return s;
  if (s.includes(".")) s = s.replace(/0+$/, "").replace(/\.$/, "");
  return s;
}

export function prometheusText(snapshot: StatsSnapshot, opts: PrometheusOptions = {}): string {
  let out = "";
  const kinds: StatKind[] = ["counter", "gauge", "histogram"];
  for (const kind of kinds) {
    const groups = new Map<string, Stat[]>();
    for (const s of snapshot.stats) {
      if (s.kind !== kind) continue;
      if (opts.usedOnly && !s.used) continue;
      if (opts.filter && !opts.filter.test(s.name)) continue;
      let g = groups.get(s.extractedName);
      if (!g) groups.set(s.extractedName, (g = []));
      g.push(s);
    }
    const names = [...groups.keys()].sort(statNameCompare);
    for (const extracted of names) {
      const name = metricName(extracted, snapshot.customNamespaces);
      if (name === undefined) continue;
      const series = groups.get(extracted)!.sort((a, b) => statNameCompare(a.name, b.name));
      out += `# TYPE ${name} ${kind}\n`;
      for (const s of series) {
        const tags = formattedTags(s.tags);
        if (kind !== "histogram") {
          out += `${name}{${tags}} ${s.value}\n`;
          continue;
        }
        const histTags = s.tags.length === 0 ? "" : tags + ",";
        for (const b of s.buckets ?? snapshot.histogramBuckets) {
          const n = s.samples.reduce((acc, x) => acc + (x <= b ? 1 : 0), 0);
          out += `${name}_bucket{${histTags}le="${formatG32(b)}"} ${n}\n`;
        }
        const sum = s.samples.reduce((a, x) => a + x, 0);
        out += `${name}_bucket{${histTags}le="+Inf"} ${s.samples.length}\n`;
        out += `${name}_sum{${tags}} ${formatG32(sum)}\n`;
        out += `${name}_count{${tags}} ${s.samples.length}\n`;
      }
      if (opts.blankLineAfterFamily) out += "\n";
    }
  }
  return out;
}

/** `/stats` plain text: `name: value` for counters and gauges (full names, sorted), then
 * histograms summarized as `name: count=N sum=S` (Envoy prints quantiles there instead). */
export function plainText(snapshot: StatsSnapshot, opts: { usedOnly?: boolean; filter?: RegExp } = {}): string {
  const keep = (s: Stat) => (!opts.usedOnly || s.used) && (!opts.filter || opts.filter.test(s.name));
  const ofKind = (kind: StatKind) => snapshot.stats.filter((s) => s.kind === kind && keep(s));
  const numeric = [...ofKind("counter"), ...ofKind("gauge")].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let out = "";
  for (const s of numeric) out += `${s.name}: ${s.value}\n`;
  const hist = ofKind("histogram").sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const s of hist) {
    out +=
      s.samples.length === 0
        ? `${s.name}: No recorded values\n`
        : `${s.name}: count=${s.samples.length} sum=${s.samples.reduce((a, x) => a + x, 0)}\n`;
  }
  return out;
}
