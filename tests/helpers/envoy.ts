// The proxies the Envoy tests drive: real Envoy at each pinned version and the TypeScript host's
// local sidecar, started alike (same manifests, same upstream), behind one interface, so every
// scenario runs through all of them and their answers can be compared (differential testing).
import { startEnvoySidecar } from "../../local/envoy-sidecar";
import { TESTED_ENVOY_VERSIONS } from "../../envoy/versions";
import type { FailStrategy } from "../../envoy/bootstrap";
import { accessLogFormat } from "../../repo/manifests";
import { startLocal, scrape, type Series } from "./local";

export { send, type Received, type SendOptions } from "./http";

export const ENVOYS = TESTED_ENVOY_VERSIONS;

export interface ProxyConfig {
  upstream: URL;
  /** Extra CA certificates (PEM) for an https upstream. */
  upstreamCa?: string | Buffer;
  pluginConfig?: string;
  vmEnv?: Record<string, string>;
  bufferLimitBytes?: number;
  failStrategy?: FailStrategy;
  wasmFile?: string;
  rootId?: string;
  /** Envoy worker threads (one Wasm VM each; the TypeScript host has one VM). Default 2. */
  concurrency?: number;
  /** Envoy stats to export beyond Istio's inclusion list (the TypeScript host keeps all). */
  statsInclusionSuffixes?: string[];
}

export interface ProxyUnderTest {
  /** "envoy 1.40.0", "node". */
  name: string;
  proxyUrl: string;
  adminUrl: string;
  accessLogs(): Record<string, unknown>[];
  filterLines(): string[];
  close(): Promise<void>;
}

/** `which` is an Envoy version or "node". */
export async function startProxy(which: string, cfg: ProxyConfig): Promise<ProxyUnderTest> {
  if (which === "node") {
    const { concurrency: _oneVm, statsInclusionSuffixes: _all, ...rest } = cfg;
    const s = await startLocal({ ...rest, hostEnv: {} });
    return {
      name: "node",
      proxyUrl: s.proxy.url,
      adminUrl: s.admin.url,
      accessLogs: () => s.accessLogs,
      filterLines: () => s.filterLines,
      close: s.close,
    };
  }
  const s = await startEnvoySidecar({ ...cfg, envoyVersion: which, port: 0, adminPort: 0 });
  return {
    name: `envoy ${s.envoy.version}`,
    proxyUrl: s.proxyUrl,
    adminUrl: s.adminUrl,
    accessLogs: s.accessLogs,
    filterLines: s.filterLines,
    close: s.close,
  };
}

/** Waits until a proxy wrote `n` access-log lines; returns them. */
export async function accessLogsAfter(p: ProxyUnderTest, n: number, timeoutMs = 5000): Promise<Record<string, unknown>[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const logs = p.accessLogs();
    if (logs.length >= n) return logs;
    if (Date.now() > deadline) throw new Error(`${p.name}: expected ${n} access-log lines, got ${logs.length}`);
    await new Promise((r) => setTimeout(r, 15));
  }
}

/** The access-log fields that print the filter's state (FILTER_STATE operators). */
export const FILTER_STATE_FIELDS = Object.entries(accessLogFormat())
  .filter(([, v]) => v.includes("%FILTER_STATE("))
  .map(([k]) => k);

/** Fields that measure time: two proxies agree on whether they are set, not on their value. */
const TIMINGS = new Set(FILTER_STATE_FIELDS.filter((k) => k.endsWith("_ms")));

/** What the filter told the access log about one request (timings reduced to set / unset). */
export function filterState(line: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    FILTER_STATE_FIELDS.map((k) => [
      k,
      TIMINGS.has(k) ? (line[k] === null || line[k] === undefined || line[k] === "-" ? "unset" : "set") : line[k],
    ]),
  );
}

const HISTOGRAM_SERIES = /_(bucket|sum|count)$/;
/** The VM's linear memory (telemetry/vm-memory.ts): each proxy's own, not the traffic's. */
const VM_MEMORY = "asm_llm_proxy_vm_memory_bytes";

/** The filter's counter lines (asm_llm_proxy_*), sorted. Histograms are left out: Envoy shows
 * a sample only after its next stats flush (5 s by default), the test host at once. So is the
 * memory gauge, which measures the proxy, not the requests. */
export async function llmproxyLines(p: ProxyUnderTest): Promise<string[]> {
  return (await scrape(p.adminUrl))
    .filter((s: Series) => s.name.startsWith("asm_llm_proxy_") && !HISTOGRAM_SERIES.test(s.name) && s.name !== VM_MEMORY)
    .map((s) => s.line)
    .sort();
}

// Observed (not routed) authorities: no provider in the manifests' pluginConfig names them.
export const OBSERVED_AUTHORITY: Record<string, string> = {
  openai: "api.openai.com",
  embeddings: "api.openai.com",
  responses: "api.openai.com",
  dashscope: "dashscope-intl.aliyuncs.com",
  "dashscope-apps": "dashscope-intl.aliyuncs.com",
  anthropic: "api.anthropic.com",
  gemini: "generativelanguage.googleapis.com",
  "bedrock-converse": "bedrock-runtime.us-east-1.amazonaws.com",
  "bedrock-invoke": "bedrock-runtime.us-east-1.amazonaws.com",
  cohere: "api.cohere.com",
  ollama: "ollama.default.svc.cluster.local:11434",
  tgi: "tgi.default.svc.cluster.local",
  "vertex-anthropic": "us-east5-aiplatform.googleapis.com",
  "gemini-embed": "generativelanguage.googleapis.com",
  "openai-images": "api.openai.com",
  "openai-audio": "api.openai.com",
};
