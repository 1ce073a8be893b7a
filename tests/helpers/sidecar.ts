// A sidecar as the tests see it: one Envoy stats store with the bootstrap ConfigMap's stats_tags,
// one wasm VM running the release build with a plugin configuration, node metadata of the
// workload, and the access-log format of the mesh config, all taken from manifests/.
import { readFileSync, existsSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { WasmVm, StatsStore, runExchange, formatAccessLog, IstioStats, prometheusText } from "../../host";
import type { Exchange, ExchangeResult } from "../../host";
import {
  accessLogFormat,
  bootstrapHistogramBuckets,
  bootstrapStatsTags,
  demoWorkload,
  repoRoot,
  telemetryTagOverrides,
} from "../../repo/manifests";

let module: WebAssembly.Module | undefined;

/** The release build of the filter (built once if missing). */
export function filterModule(): WebAssembly.Module {
  if (module) return module;
  const file = join(repoRoot, "build", "llmproxy.wasm");
  if (!existsSync(file))
    execFileSync(process.execPath, [join(repoRoot, "scripts", "build.mjs"), "--if-needed", "--for", "test"], { stdio: "inherit" });
  module = new WebAssembly.Module(readFileSync(file));
  return module;
}

export interface SidecarOptions {
  pluginConfig?: string | object;
  env?: Record<string, string>;
  workload?: string;
  namespace?: string;
  rootId?: string;
  nodeMetadataPaths?: "xds" | "legacy" | "both";
  stats?: StatsStore;
  bufferLimitBytes?: number;
  /** Node metadata beyond WORKLOAD_NAME and NAMESPACE (e.g. SERVICE_ACCOUNT). */
  nodeMetadata?: Record<string, string>;
  /** The listener's traffic_direction (1 inbound, 2 outbound; default unspecified). */
  listenerDirection?: number;
  /** Properties by path, answered before the builtins (e.g. Istio's peer metadata). */
  extraProperties?: Record<string, string>;
  /** The host clock in ns. Default: frozen, so latencies are 0 and the same under any split;
   *  latency tests pass a clock they move between callbacks. */
  now?: () => bigint;
}

/** A clock the test moves: `clock.at(ms)` sets it. */
export function manualClock(startMs = 1_764_000_000_000): { now: () => bigint; at(ms: number): void; advance(ms: number): void } {
  let t = BigInt(startMs) * 1_000_000n;
  return {
    now: () => t,
    at(ms: number) {
      t = BigInt(startMs + ms) * 1_000_000n;
    },
    advance(ms: number) {
      t += BigInt(Math.round(ms * 1_000_000));
    },
  };
}

const FROZEN_NS = 1_764_000_000_000n * 1_000_000n;

export interface Sidecar {
  vm: WasmVm;
  stats: StatsStore;
  logs: string[];
  call(ex: Exchange): ExchangeResult & { accessLog: Record<string, unknown> };
  prometheus(filter?: RegExp): string[];
}

/** The pod labels as Istio's injector hands them to the proxy (canonical service labels added). */
export function injectedLabels(labels: Record<string, string>): Record<string, string> {
  return {
    ...labels,
    "service.istio.io/canonical-name": labels["service.istio.io/canonical-name"] ?? labels.app ?? "",
    "service.istio.io/canonical-revision": labels["service.istio.io/canonical-revision"] ?? labels.version ?? "latest",
  };
}

export async function sidecar(opts: SidecarOptions = {}): Promise<Sidecar> {
  const stats = opts.stats ?? new StatsStore({ statsTags: bootstrapStatsTags(), histogramBucketSettings: bootstrapHistogramBuckets() });
  const logs: string[] = [];
  const pluginConfig = typeof opts.pluginConfig === "object" ? JSON.stringify(opts.pluginConfig) : (opts.pluginConfig ?? "");
  const vm = await WasmVm.load({
    wasm: filterModule(),
    rootId: opts.rootId ?? "asm-llm-proxy",
    pluginConfig,
    env: opts.env ?? {},
    properties: {
      nodeMetadata: { WORKLOAD_NAME: opts.workload ?? "sleep", NAMESPACE: opts.namespace ?? "default", ...opts.nodeMetadata },
      nodeMetadataPaths: opts.nodeMetadataPaths ?? "xds",
      listenerDirection: opts.listenerDirection,
      extra: opts.extraProperties,
    },
    stats,
    bufferLimitBytes: opts.bufferLimitBytes,
    logSink: (_level: number, msg: string) => logs.push(msg),
    now: opts.now ?? (() => FROZEN_NS),
  });
  const started = vm.start();
  if (!started) throw new Error("on_configure rejected the configuration: " + logs.join(" | "));
  const format = accessLogFormat();
  // Istio's stats filter on the same sidecar, with the Telemetry manifest's tagOverrides.
  const istio = new IstioStats(
    stats,
    {
      workloadName: opts.workload ?? "sleep",
      namespace: opts.namespace ?? "default",
      labels: injectedLabels(demoWorkload().labels),
      clusterId: "Kubernetes",
    },
    telemetryTagOverrides(),
  );
  return {
    vm,
    stats,
    logs,
    call(ex: Exchange) {
      const result = runExchange(vm, ex);
      const ctx = result.stream.accessLogContext();
      const line = formatAccessLog(format, ctx);
      istio.log(ctx);
      return Object.assign(result, { accessLog: JSON.parse(line) as Record<string, unknown> });
    },
    prometheus(filter = /llmproxy/) {
      return prometheusText(stats.snapshot())
        .split("\n")
        .filter((l: string) => filter.test(l) && !l.startsWith("#"));
    },
  };
}

/** Starts a VM and returns whether on_configure accepted the configuration, with its log lines. */
export async function configure(pluginConfig: string | object, env: Record<string, string> = {}): Promise<{ ok: boolean; logs: string[] }> {
  const logs: string[] = [];
  const vm = await WasmVm.load({
    wasm: filterModule(),
    rootId: "asm-llm-proxy",
    pluginConfig: typeof pluginConfig === "object" ? JSON.stringify(pluginConfig) : pluginConfig,
    env,
    properties: { nodeMetadata: { WORKLOAD_NAME: "sleep", NAMESPACE: "default" } },
    logSink: (_level: number, msg: string) => logs.push(msg),
  });
  return { ok: vm.start(), logs };
}

export const text = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b).toString("utf8") : "");
