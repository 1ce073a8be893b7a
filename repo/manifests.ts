// Reads the Kubernetes/Istio manifests under manifests/ so that the local host, the tests and
// the benchmarks feed the filter exactly what Istio would: the WasmPlugin's pluginConfig (as the
// JSON string on_configure receives), its root id and VM environment, the bootstrap stats_tags,
// the access-log format and the Telemetry tag overrides.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import type { HistogramBucketSetting } from "../host/envoy/stats";

/** The repository root (the directory holding manifests/, host/, assembly/). */
export const repoRoot: string = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

/** One YAML document of one manifest file. */
export interface ManifestEntry {
  /** Path relative to the repo root, e.g. "manifests/wasmplugin.yaml". */
  file: string;
  /** Index of the document within the file (0-based, empty documents skipped). */
  index: number;
  doc: K8sObject;
}

export interface WasmPluginEnvVar {
  name: string;
  valueFrom?: "INLINE" | "HOST";
  value?: string;
}

export interface StatsTag {
  tag_name: string;
  regex: string;
}

function resolveDir(dir: string): string {
  return isAbsolute(dir) ? dir : join(repoRoot, dir);
}

function yamlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...yamlFiles(p));
    else if (/\.ya?ml$/.test(name) && !/^kustomization\.ya?ml$/.test(name)) out.push(p);
  }
  return out;
}

/**
 * Every document of every YAML file under `dir` (recursively, sorted by path), skipping
 * kustomization.yaml and empty documents, with the file it came from.
 * Throws on YAML syntax errors and on documents that are not objects.
 */
export function loadManifestEntries(dir = "manifests"): ManifestEntry[] {
  const abs = resolveDir(dir);
  const entries: ManifestEntry[] = [];
  for (const path of yamlFiles(abs)) {
    const file = relative(repoRoot, path);
    const docs = parseAllDocuments(readFileSync(path, "utf8"));
    let index = 0;
    for (const d of docs) {
      if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.map((e) => e.message).join("; ")}`);
      const doc = d.toJS() as unknown;
      if (doc === null || doc === undefined) continue;
      if (typeof doc !== "object" || Array.isArray(doc)) throw new Error(`${file}#${index}: not a Kubernetes object`);
      entries.push({ file, index: index++, doc: doc as K8sObject });
    }
  }
  return entries;
}

/** All Kubernetes objects under `dir` (see loadManifestEntries). */
export function loadManifests(dir = "manifests"): K8sObject[] {
  return loadManifestEntries(dir).map((e) => e.doc);
}

/** The one object of `kind` named `name`; throws if there is none or more than one. */
export function findManifest(kind: string, name: string, dir = "manifests"): K8sObject {
  const found = loadManifests(dir).filter((o) => o.kind === kind && o.metadata?.name === name);
  if (found.length !== 1) throw new Error(`expected exactly one ${kind} named ${name} under ${dir}, found ${found.length}`);
  return found[0];
}

/** The ConfigMap that the sidecar.istio.io/bootstrapOverride annotation names. */
export const BOOTSTRAP_CONFIGMAP = "asm-llm-proxy-bootstrap-config";

/** The parsed custom_bootstrap.json of the bootstrap-override ConfigMap. */
export function customBootstrap(dir = "manifests"): Record<string, unknown> {
  const cm = findManifest("ConfigMap", BOOTSTRAP_CONFIGMAP, dir) as K8sObject & { data?: Record<string, string> };
  const text = cm.data?.["custom_bootstrap.json"];
  if (typeof text !== "string") throw new Error(`ConfigMap ${BOOTSTRAP_CONFIGMAP} has no data."custom_bootstrap.json"`);
  return JSON.parse(text) as Record<string, unknown>;
}

/** stats_config.stats_tags of the bootstrap override, in order. */
export function bootstrapStatsTags(dir = "manifests"): StatsTag[] {
  const b = customBootstrap(dir) as { stats_config?: { stats_tags?: StatsTag[] } };
  const tags = b.stats_config?.stats_tags;
  if (!Array.isArray(tags)) throw new Error("custom_bootstrap.json has no stats_config.stats_tags array");
  return tags.map((t) => ({ tag_name: t.tag_name, regex: t.regex }));
}

/** stats_config.histogram_bucket_settings of the bootstrap override ([] when absent). */
export function bootstrapHistogramBuckets(dir = "manifests"): HistogramBucketSetting[] {
  const b = customBootstrap(dir) as { stats_config?: { histogram_bucket_settings?: HistogramBucketSetting[] } };
  return b.stats_config?.histogram_bucket_settings ?? [];
}

interface WasmPluginSpec {
  pluginName?: string;
  pluginConfig?: Record<string, unknown>;
  vmConfig?: { env?: WasmPluginEnvVar[] };
  [k: string]: unknown;
}

/** The spec of the WasmPlugin named `name`. */
export function wasmPluginSpec(name = "asm-llm-proxy", dir = "manifests"): WasmPluginSpec {
  return (findManifest("WasmPlugin", name, dir) as K8sObject & { spec: WasmPluginSpec }).spec;
}

/** JSON with object keys sorted at every level and no whitespace. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const keys = Object.keys(v as object).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

/**
 * The plugin configuration as on_configure receives it. Istio converts `pluginConfig` (a
 * google.protobuf.Struct) to JSON with protojson, which emits object keys sorted and compact,
 * and wraps it in a StringValue; an absent or empty pluginConfig sends no configuration at
 * all, i.e. "" here. (protojson may add insignificant whitespace; filters must not depend on
 * the exact bytes, only on the JSON.)
 */
export function wasmPluginConfig(name = "asm-llm-proxy", dir = "manifests"): string {
  const cfg = wasmPluginSpec(name, dir).pluginConfig;
  if (cfg === undefined || cfg === null || Object.keys(cfg).length === 0) return "";
  return canonicalJson(cfg);
}

/** vmConfig.env of the WasmPlugin, as written (valueFrom absent means INLINE). */
export function wasmPluginEnv(name = "asm-llm-proxy", dir = "manifests"): WasmPluginEnvVar[] {
  return (wasmPluginSpec(name, dir).vmConfig?.env ?? []).map((e) => ({ ...e }));
}

/**
 * The VM environment Envoy would build for the WasmPlugin: INLINE values as written, HOST
 * values looked up in `hostEnv` (the istio-proxy container's environment); a HOST variable
 * missing from hostEnv is left out, as Envoy does.
 */
export function resolveWasmPluginEnv(
  hostEnv: Record<string, string | undefined>,
  name = "asm-llm-proxy",
  dir = "manifests",
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of wasmPluginEnv(name, dir)) {
    if (e.valueFrom === "HOST") {
      const v = hostEnv[e.name];
      if (v !== undefined) out[e.name] = v;
    } else out[e.name] = e.value ?? "";
  }
  return out;
}

/** The root id the filter is configured with: spec.pluginName ("" when absent). */
export function wasmPluginRootId(name = "asm-llm-proxy", dir = "manifests"): string {
  return wasmPluginSpec(name, dir).pluginName ?? "";
}

/** The MeshConfig held by the `istio` ConfigMap in istio-system (parsed data.mesh). */
export function meshConfig(dir = "manifests"): Record<string, unknown> {
  const cm = loadManifests(dir).find(
    (o) => o.kind === "ConfigMap" && o.metadata?.name === "istio" && o.metadata?.namespace === "istio-system",
  ) as (K8sObject & { data?: Record<string, string> }) | undefined;
  if (!cm) throw new Error("no ConfigMap istio-system/istio (mesh config) under manifests");
  const docs = parseAllDocuments(cm.data?.mesh ?? "");
  if (docs.length !== 1 || docs[0].errors.length > 0) throw new Error("ConfigMap istio: data.mesh is not one YAML document");
  return (docs[0].toJS() ?? {}) as Record<string, unknown>;
}

interface ExtensionProvider {
  name: string;
  envoyFileAccessLog?: { path?: string; logFormat?: { text?: string; labels?: Record<string, string> } };
  [k: string]: unknown;
}

/** meshConfig.extensionProviders. */
export function extensionProviders(dir = "manifests"): ExtensionProvider[] {
  return ((meshConfig(dir).extensionProviders ?? []) as ExtensionProvider[]).map((p) => ({ ...p }));
}

/** The JSON access-log fields (envoyFileAccessLog.logFormat.labels) of an extension provider. */
export function accessLogFormat(provider = "llm-access-log", dir = "manifests"): Record<string, string> {
  const p = extensionProviders(dir).find((x) => x.name === provider);
  const labels = p?.envoyFileAccessLog?.logFormat?.labels;
  if (!labels) throw new Error(`extension provider ${provider} has no envoyFileAccessLog.logFormat.labels`);
  return { ...labels };
}

interface TelemetrySpec {
  metrics?: {
    providers?: { name: string }[];
    overrides?: {
      match?: { metric?: string; mode?: string; customMetric?: string };
      disabled?: boolean;
      tagOverrides?: Record<string, { operation?: string; value?: string }>;
    }[];
  }[];
  [k: string]: unknown;
}

/**
 * Tags added (UPSERT) to `metric` by the Telemetry resources under manifests, tag -> CEL
 * expression. An override with no metric applies to ALL_METRICS and is included too.
 */
export function telemetryTagOverrides(metric = "REQUEST_COUNT", dir = "manifests"): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of loadManifests(dir).filter((o) => o.kind === "Telemetry")) {
    for (const m of (t as K8sObject & { spec?: TelemetrySpec }).spec?.metrics ?? []) {
      for (const o of m.overrides ?? []) {
        const target = o.match?.metric ?? (o.match?.customMetric ? undefined : "ALL_METRICS");
        if (target !== metric && target !== "ALL_METRICS") continue;
        for (const [tag, v] of Object.entries(o.tagOverrides ?? {})) {
          if ((v.operation ?? "UPSERT") === "UPSERT" && typeof v.value === "string") out[tag] = v.value;
        }
      }
    }
  }
  return out;
}

export interface DemoWorkload {
  name: string;
  namespace: string;
  /** Pod template annotations. */
  annotations: Record<string, string>;
  /** Pod template labels. */
  labels: Record<string, string>;
}

/** The demo client Deployment (the one opting into the bootstrap override, i.e. `sleep`). */
export function demoWorkload(dir = "manifests"): DemoWorkload {
  type Deployment = K8sObject & {
    spec?: { template?: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> } } };
  };
  const deployments = loadManifests(dir).filter((o) => o.kind === "Deployment") as Deployment[];
  const d =
    deployments.find((x) => x.spec?.template?.metadata?.annotations?.["sidecar.istio.io/bootstrapOverride"] === BOOTSTRAP_CONFIGMAP) ??
    deployments.find((x) => x.metadata.name === "sleep");
  if (!d) throw new Error("no demo Deployment under manifests");
  return {
    name: d.metadata.name,
    namespace: d.metadata.namespace ?? "default",
    annotations: { ...(d.spec?.template?.metadata?.annotations ?? {}) },
    labels: { ...(d.spec?.template?.metadata?.labels ?? {}) },
  };
}
