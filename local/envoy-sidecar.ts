// The local sidecar in real Envoy: the embedded mock LLM (or a real provider), the bootstrap
// generated from manifests/ (envoy/bootstrap.ts) and one Envoy process with two workers, as
// in an Istio sidecar. `npm start` runs this by default; `--host node` runs local/sidecar.ts.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { sidecarBootstrap, type Upstream } from "../envoy/bootstrap";
import { ensureEnvoy } from "../envoy/install";
import { EnvoyStartError, startEnvoy, type EnvoyProcess } from "../envoy/process";
import { ENVOY_VERSIONS } from "../envoy/versions";
import { demoWorkload, repoRoot, wasmPluginConfig, wasmPluginEnv } from "../repo/manifests";
import { MockLlm } from "./mock-llm";
import { DEFAULT_MOCK_KEY, type LogLevel } from "./options";
import { apiKeyEnvNames, type CommonSidecarConfig } from "./sidecar";

export interface EnvoySidecarConfig extends CommonSidecarConfig {
  envoyVersion?: string;
  /** Fetch the module over HTTP(S) with this sha256 (vm_config.code.remote) instead. */
  wasmRemote?: { url: string; sha256: string };
  /** Worker threads (default 2, as in a sidecar). */
  concurrency?: number;
  /** Access-log file; default a temporary file read through `accessLogs()`. "/dev/stdout" prints. */
  accessLogPath?: string;
  /** Each Envoy log line (the filter's lines among them). */
  onLog?: (line: string) => void;
  stdout?: "pipe" | "inherit";
  /** Envoy's stats_flush_interval in ms (default 5 s; tests reading histograms shorten it). */
  statsFlushMs?: number;
  /** One line when Envoy must be installed first, one when done (npm start prints them). */
  onProgress?: (line: string) => void;
  /** Stat name suffixes exported beyond Istio's inclusion list (envoy/bootstrap.ts). */
  statsInclusionSuffixes?: string[];
}

export interface EnvoySidecar {
  envoy: EnvoyProcess;
  proxyUrl: string;
  adminUrl: string;
  mock?: MockLlm;
  upstream: URL;
  workload: string;
  namespace: string;
  accessLogPath: string;
  /** The access-log lines written so far, parsed. */
  accessLogs(): Record<string, unknown>[];
  /** The filter's log lines (Envoy's `wasm` logger) so far. */
  filterLines(): string[];
  close(): Promise<void>;
}

const ENVOY_LEVEL: Record<LogLevel, string> = {
  trace: "trace",
  debug: "debug",
  info: "info",
  warn: "warning",
  error: "error",
  critical: "critical",
  off: "off",
};

function upstreamOf(url: URL, caFile: string | undefined): Upstream {
  const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  return url.protocol === "https:" ? { kind: "tls", address: url.hostname, port, caFile } : { kind: "plain", address: url.hostname, port };
}

/** A start-up problem a user can cause or fix, in one line (as local/sidecar.ts words them). */
export class EnvoySidecarError extends Error {}

/** The one-line reason for a failed Envoy start, from Envoy's log lines. */
export function explainStartFailure(e: EnvoyStartError, proxyPort: number, adminPort: number): EnvoySidecarError {
  const text = e.logs.join("\n");
  const bind = /cannot bind '([^']*):(\d+)'|(\d+\.\d+\.\d+\.\d+):(\d+).*[Aa]ddress already in use/.exec(text);
  if (bind || /[Aa]ddress already in use/.test(text)) {
    const port = Number(bind?.[2] ?? bind?.[4] ?? proxyPort);
    const [what, flag] = port === adminPort ? ["admin listener", "--admin-port"] : ["proxy listener", "--port"];
    return new EnvoySidecarError(`port ${port} (${what}) is already in use on 127.0.0.1: stop what uses it or pick another with ${flag}`);
  }
  // The filter's own error lines (logger `wasm`), without Envoy's prefix.
  const filterErrors = e.logs
    .filter((l) => /\]\[(error|critical)\]\[wasm\] wasm log /.test(l))
    .map((l) => l.replace(/^.*?wasm log [^:]*: /, ""));
  if (/Unable to create Wasm HTTP filter|Failed to configure|on_configure|configure base Wasm plugin/i.test(text)) {
    const why = [...new Set(filterErrors)];
    return new EnvoySidecarError(
      `the filter rejected its configuration (on_configure returned false): ${why.length ? why.join(" | ") : "no log line"}`,
    );
  }
  const last = e.logs.filter((l) => /\]\[(error|critical)\]/.test(l)).pop();
  return new EnvoySidecarError(
    `envoy did not start: ${last ? last.replace(/^\[[^\]]*\]\[[^\]]*\]\[[^\]]*\] /, "") : e.message.split("\n")[0]}`,
  );
}

export async function startEnvoySidecar(cfg: EnvoySidecarConfig = {}): Promise<EnvoySidecar> {
  const wasmFile = cfg.wasmFile ?? join(repoRoot, "build", "llmproxy.wasm");
  if (!cfg.wasmRemote && !existsSync(wasmFile)) {
    throw new EnvoySidecarError(
      `filter module ${relative(process.cwd(), wasmFile) || wasmFile} not found: build it with 'npm run build' (npm start builds it when missing)`,
    );
  }
  const binary = await ensureEnvoy(cfg.envoyVersion ?? ENVOY_VERSIONS.newest, cfg.onProgress);
  const demo = demoWorkload();
  const workload = cfg.workload ?? demo.name;
  const namespace = cfg.namespace ?? demo.namespace;
  const pluginConfig = cfg.pluginConfig ?? wasmPluginConfig();
  const useMock = (cfg.upstream ?? "mock") === "mock";
  const mockKey = cfg.mockKey ?? DEFAULT_MOCK_KEY;
  const dir = mkdtempSync(join(tmpdir(), "asm-llm-sidecar-"));
  const accessLogPath = cfg.accessLogPath ?? join(dir, "access.log");
  const filterLines: string[] = [];
  let mock: MockLlm | undefined;
  try {
    let upstream: URL;
    if (useMock) {
      mock = await new MockLlm({ apiKey: mockKey, streamDelayMs: cfg.mockDelayMs ?? 0 }).listen(0);
      upstream = new URL(mock.url);
    } else upstream = cfg.upstream as URL;
    let caFile: string | undefined;
    if (cfg.upstreamCa) writeFileSync((caFile = join(dir, "upstream-ca.pem")), cfg.upstreamCa);

    // vmConfig.env HOST values come from Envoy's own environment (the istio-proxy container's);
    // with the mock, the providers' key variables hold the mock's key.
    const env: Record<string, string> = {};
    if (useMock) for (const name of apiKeyEnvNames(pluginConfig)) env[name] = mockKey;
    const hostKeys = new Set(
      wasmPluginEnv()
        .filter((e) => e.valueFrom === "HOST")
        .map((e) => e.name),
    );
    const inline: Record<string, string> = {};
    for (const [k, v] of Object.entries(cfg.vmEnv ?? {})) (hostKeys.has(k) ? env : inline)[k] = v;

    const proxyPort = cfg.port ?? 10000;
    const adminPort = cfg.adminPort ?? 15090;
    const bootstrap = sidecarBootstrap({
      wasmFile,
      wasmRemote: cfg.wasmRemote,
      upstream: upstreamOf(upstream, caFile),
      proxyPort,
      adminPort,
      accessLogPath,
      workload,
      namespace,
      pluginConfig,
      rootId: cfg.rootId,
      failStrategy: cfg.failStrategy,
      vmEnv: inline,
      bufferLimitBytes: cfg.bufferLimitBytes,
      statsFlushMs: cfg.statsFlushMs,
      statsInclusionSuffixes: cfg.statsInclusionSuffixes,
    });
    const envoy = await startEnvoy({
      binary,
      bootstrap,
      concurrency: cfg.concurrency ?? 2,
      env,
      cleanupDirs: [dir],
      wasmLogLevel: ENVOY_LEVEL[cfg.logLevel ?? "info"],
      stdout: cfg.stdout,
      onLog: (line) => {
        if (/\]\[wasm\] /.test(line)) {
          filterLines.push(line);
          if (filterLines.length > 2000) filterLines.splice(0, 1000);
        }
        cfg.onLog?.(line);
      },
    }).catch((e: unknown) => {
      throw e instanceof EnvoyStartError ? explainStartFailure(e, proxyPort, adminPort) : e;
    });
    const close = async () => {
      await envoy.stop();
      await mock?.close();
      rmSync(dir, { recursive: true, force: true });
    };
    // Whole lines only: Envoy may be writing the last one while it is read (a line without its
    // newline yet is left for the next read).
    const accessLogs = () =>
      existsSync(accessLogPath)
        ? readFileSync(accessLogPath, "utf8")
            .split("\n")
            .slice(0, -1)
            .filter((l) => l !== "")
            .map((l) => JSON.parse(l) as Record<string, unknown>)
        : [];
    return {
      envoy,
      proxyUrl: envoy.proxyUrl,
      adminUrl: envoy.adminUrl,
      mock,
      upstream,
      workload,
      namespace,
      accessLogPath,
      accessLogs,
      filterLines: () => [...filterLines],
      close,
    };
  } catch (e) {
    await mock?.close();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
