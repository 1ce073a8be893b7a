// Puts the local sidecar together: the filter in one WasmVm (as Istio configures it from
// manifests/), a stats store with the bootstrap ConfigMap's stats_tags, the admin listener,
// the proxy listener and (by default) the embedded mock LLM. Used by main.ts and by the
// end-to-end tests (in-process). Problems a user can cause or fix throw SidecarError with a
// one-line message.
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { WasmVm } from "../host/abi/vm";
import { StatsStore } from "../host/envoy/stats";
import { IstioStats } from "../host/istio/istio-stats";
import { LogLevel } from "../host/abi/constants";
import {
  accessLogFormat,
  bootstrapHistogramBuckets,
  bootstrapStatsTags,
  demoWorkload,
  repoRoot,
  resolveWasmPluginEnv,
  wasmPluginConfig,
  wasmPluginRootId,
  wasmPluginSpec,
  telemetryTagOverrides,
} from "../repo/manifests";
import { startAdmin, type AdminServer } from "./admin";
import { MockLlm } from "./mock-llm";
import { startProxy, type ProxyServer } from "./proxy";
import { DEFAULT_MOCK_KEY, LOG_LEVELS, type LogLevel as LevelName } from "./options";

export class SidecarError extends Error {}

/** What either sidecar (this one, or real Envoy's in envoy-sidecar.ts) is started with. */
export interface CommonSidecarConfig {
  port?: number;
  adminPort?: number;
  /** "mock" (default) or an http(s) origin. */
  upstream?: "mock" | URL;
  /** Extra CA certificates (PEM) for an https upstream. */
  upstreamCa?: string | Buffer;
  /** Plugin configuration JSON (default: the WasmPlugin's pluginConfig). */
  pluginConfig?: string;
  workload?: string;
  namespace?: string;
  wasmFile?: string;
  /** VM environment overrides (applied last). */
  vmEnv?: Record<string, string>;
  mockKey?: string;
  mockDelayMs?: number;
  /** Overrides of the WasmPlugin's failStrategy and pluginName (tests). */
  failStrategy?: "FAIL_OPEN" | "FAIL_CLOSE" | "FAIL_RELOAD";
  rootId?: string;
  /** Envoy's per_connection_buffer_limit_bytes (default 1 MiB): a filter buffering more gets 413/500. */
  bufferLimitBytes?: number;
  /** Filter log lines at or above this level are shown. */
  logLevel?: LevelName;
}

export interface SidecarConfig extends CommonSidecarConfig {
  /** Environment HOST-valued vmConfig.env variables are read from (default process.env). */
  hostEnv?: Record<string, string | undefined>;
  filterLog?: (line: string) => void;
  accessLog?: (line: string) => void;
  onError?: (message: string) => void;
}

export interface Sidecar {
  vm: WasmVm;
  stats: StatsStore;
  proxy: ProxyServer;
  admin: AdminServer;
  mock?: MockLlm;
  upstream: URL;
  workload: string;
  namespace: string;
  /** The VM environment (values of API keys included: do not print). */
  vmEnv: Record<string, string>;
  pluginConfig: string;
  /** Every filter log line so far (level name, message). */
  filterLogs: { level: LevelName; message: string }[];
  close(): Promise<void>;
}

const LEVEL_NAMES: LevelName[] = ["trace", "debug", "info", "warn", "error", "critical"];

export function formatFilterLog(level: number, message: string, now = new Date()): string {
  return `[${now.toISOString()}][${LEVEL_NAMES[level] ?? level}][wasm] ${message}`;
}

function listenError(e: unknown, what: string, flag: string, port: number): SidecarError {
  const err = e as NodeJS.ErrnoException;
  if (err.code === "EADDRINUSE")
    return new SidecarError(`port ${port} (${what}) is already in use on 127.0.0.1: stop what uses it or pick another with ${flag}`);
  if (err.code === "EACCES") return new SidecarError(`no permission to listen on port ${port} (${what}): pick another with ${flag}`);
  return new SidecarError(`cannot listen on 127.0.0.1:${port} (${what}): ${err.message}`);
}

/** apiKeyEnv names of the providers in a plugin configuration (the mock's key goes there). */
export function apiKeyEnvNames(pluginConfig: string): string[] {
  try {
    const c = JSON.parse(pluginConfig) as { providers?: { apiKeyEnv?: unknown }[] };
    return (c.providers ?? []).map((p) => p.apiKeyEnv).filter((n): n is string => typeof n === "string" && n !== "");
  } catch {
    return []; // the filter itself reports a bad configuration
  }
}

/** Reads and compiles the filter module; a missing or broken file is the user's to fix. */
function compileFilter(wasmFile: string): WebAssembly.Module {
  let wasm: Buffer;
  try {
    wasm = readFileSync(wasmFile);
  } catch {
    throw new SidecarError(
      `filter module ${relative(process.cwd(), wasmFile) || wasmFile} not found: build it with 'npm run build' (npm start builds it when missing)`,
    );
  }
  try {
    return new WebAssembly.Module(new Uint8Array(wasm));
  } catch (e) {
    throw new SidecarError(`${wasmFile} is not a valid wasm module: ${(e as Error).message}`);
  }
}

/** The VM environment as Envoy builds it from vmConfig.env; with the mock, the providers' API
 *  key variables hold the mock's key (a real key never reaches the mock). */
function vmEnvironment(cfg: SidecarConfig, pluginConfig: string, mockKey: string | undefined): Record<string, string> {
  const vmEnv = resolveWasmPluginEnv(cfg.hostEnv ?? process.env);
  if (mockKey !== undefined) for (const name of apiKeyEnvNames(pluginConfig)) vmEnv[name] = mockKey;
  Object.assign(vmEnv, cfg.vmEnv ?? {});
  return vmEnv;
}

interface FilterVmSettings {
  module: WebAssembly.Module;
  wasmFile: string;
  pluginConfig: string;
  vmEnv: Record<string, string>;
  workload: string;
  namespace: string;
  stats: StatsStore;
}

/** Loads the filter as Istio configures it from the WasmPlugin and starts it (on_vm_start,
 *  on_configure); a configuration the filter rejects is a SidecarError quoting its log. */
async function startFilterVm(cfg: SidecarConfig, s: FilterVmSettings): Promise<{ vm: WasmVm; filterLogs: Sidecar["filterLogs"] }> {
  const minLevel = LOG_LEVELS.indexOf(cfg.logLevel ?? "info");
  const filterLog = cfg.filterLog ?? ((l: string) => process.stderr.write(`${l}\n`));
  const filterLogs: Sidecar["filterLogs"] = [];
  let startupLines: string[] | null = [];
  const spec = wasmPluginSpec();
  let vm: WasmVm;
  try {
    vm = await WasmVm.load({
      wasm: s.module,
      rootId: cfg.rootId ?? wasmPluginRootId(),
      pluginName: cfg.rootId ?? wasmPluginRootId(),
      pluginConfig: s.pluginConfig,
      env: s.vmEnv,
      properties: {
        nodeMetadata: {
          WORKLOAD_NAME: s.workload,
          NAMESPACE: s.namespace,
          NAME: `${s.workload}-local`,
          CLUSTER_ID: "Kubernetes",
          SERVICE_ACCOUNT: s.workload,
        },
      },
      stats: s.stats,
      bufferLimitBytes: cfg.bufferLimitBytes,
      failStrategy: (cfg.failStrategy ?? spec.failStrategy) === "FAIL_OPEN" ? "FAIL_OPEN" : "FAIL_CLOSE",
      logLevel: Math.min(minLevel, LogLevel.critical),
      logSink: (level, message) => {
        filterLogs.push({ level: LEVEL_NAMES[level] ?? "info", message });
        if (filterLogs.length > 1000) filterLogs.splice(0, 500);
        if (level < minLevel) return;
        // Until on_configure accepted the configuration, lines are held: a rejection is
        // reported once, in the SidecarError, instead of twice.
        if (startupLines) startupLines.push(formatFilterLog(level, message));
        else filterLog(formatFilterLog(level, message));
      },
    });
  } catch (e) {
    throw new SidecarError(`cannot load ${s.wasmFile}: ${(e as Error).message}`);
  }
  if (!vm.start()) {
    const why = filterLogs.filter((l) => l.level === "error" || l.level === "critical").map((l) => l.message);
    throw new SidecarError(
      `the filter rejected its configuration (on_configure returned false): ${why.length ? why.join(" | ") : "no log line"}`,
    );
  }
  const held = startupLines;
  startupLines = null;
  for (const l of held) filterLog(l);
  return { vm, filterLogs };
}

/** Istio's stats filter: istio_requests_total with the Telemetry manifest's `model` dimension. */
function istioStats(stats: StatsStore, workload: string, namespace: string): IstioStats {
  const labels = demoWorkload().labels;
  return new IstioStats(
    stats,
    {
      workloadName: workload,
      namespace,
      labels: {
        ...labels,
        "service.istio.io/canonical-name": labels.app ?? workload,
        "service.istio.io/canonical-revision": labels.version ?? "latest",
      },
      clusterId: "Kubernetes",
    },
    telemetryTagOverrides(),
  );
}

/** proxy_set_tick_period: Envoy's dispatcher calls proxy_on_tick on the root context. */
function startTicker(vm: WasmVm): { close(): Promise<void> } {
  let nextTick = 0;
  const ticker = setInterval(() => {
    if (vm.tickPeriodMs <= 0 || vm.failed) return;
    const now = Date.now();
    if (nextTick === 0) nextTick = now + vm.tickPeriodMs;
    if (now < nextTick) return;
    nextTick = now + vm.tickPeriodMs;
    vm.tick();
  }, 20);
  ticker.unref();
  return { close: async () => clearInterval(ticker) };
}

export async function startSidecar(cfg: SidecarConfig = {}): Promise<Sidecar> {
  const wasmFile = cfg.wasmFile ?? `${repoRoot}/build/llmproxy.wasm`;
  const module = compileFilter(wasmFile);
  const demo = demoWorkload();
  const workload = cfg.workload ?? demo.name;
  const namespace = cfg.namespace ?? demo.namespace;
  const pluginConfig = cfg.pluginConfig ?? wasmPluginConfig();
  const useMock = (cfg.upstream ?? "mock") === "mock";
  const mockKey = cfg.mockKey ?? DEFAULT_MOCK_KEY;
  const vmEnv = vmEnvironment(cfg, pluginConfig, useMock ? mockKey : undefined);
  const stats = new StatsStore({ statsTags: bootstrapStatsTags(), histogramBucketSettings: bootstrapHistogramBuckets() });
  const { vm, filterLogs } = await startFilterVm(cfg, { module, wasmFile, pluginConfig, vmEnv, workload, namespace, stats });

  const opened: { close(): Promise<void> }[] = [];
  const closeAll = async () => {
    for (const c of opened.reverse()) await c.close();
    opened.length = 0;
  };
  try {
    let mock: MockLlm | undefined;
    let upstream: URL;
    if (useMock) {
      mock = await new MockLlm({ apiKey: mockKey, streamDelayMs: cfg.mockDelayMs ?? 0 }).listen(0);
      opened.push(mock);
      upstream = new URL(mock.url);
    } else upstream = cfg.upstream as URL;

    const adminPort = cfg.adminPort ?? 15090;
    let admin: AdminServer;
    try {
      admin = await startAdmin(stats, adminPort);
    } catch (e) {
      throw listenError(e, "admin listener", "--admin-port", adminPort);
    }
    opened.push(admin);

    const istio = istioStats(stats, workload, namespace);
    const port = cfg.port ?? 10000;
    let proxy: ProxyServer;
    try {
      proxy = await startProxy({
        vm,
        port,
        upstream,
        // Envoy (as Istio configures it) forwards the request's own authority; the upstream
        // origin only picks where the connection goes (found by the Envoy differential tests).
        hostRewrite: false,
        upstreamCa: cfg.upstreamCa,
        accessLogFormat: accessLogFormat(),
        accessLog: cfg.accessLog ?? ((l) => process.stdout.write(`${l}\n`)),
        logHandlers: [(ctx) => istio.log(ctx)],
        onError: cfg.onError,
      });
    } catch (e) {
      throw listenError(e, "proxy listener", "--port", port);
    }
    opened.push(proxy);
    opened.unshift(startTicker(vm));

    return { vm, stats, proxy, admin, mock, upstream, workload, namespace, vmEnv, pluginConfig, filterLogs, close: closeAll };
  } catch (e) {
    await closeAll();
    throw e;
  }
}
