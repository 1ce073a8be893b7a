// `npm start`: the asm-llm-proxy filter in a local sidecar on one machine, in real Envoy by
// default (local/envoy-sidecar.ts) or in the project's TypeScript host (`--host node`,
// local/sidecar.ts). stdout: one JSON access-log line per request (the mesh's format); stderr:
// the startup message, the filter's log lines and errors. Exit code 1 with one line on any
// startup problem.
import { relative } from "node:path";
import { OptionsError, parseOptions, USAGE, type Options } from "./options";
import { SidecarError, startSidecar } from "./sidecar";
import { EnvoySidecarError, startEnvoySidecar } from "./envoy-sidecar";
import { EnvoyUnavailable } from "../envoy/install";
import { EnvoyStartError } from "../envoy/process";
import { repoRoot, wasmPluginEnv } from "../repo/manifests";
import { banner, envoyRuntime, nodeRuntime, type Running } from "./banner";

function fail(message: string): never {
  process.stderr.write(`asm-llm-proxy local: error: ${message}\n`);
  process.exit(1);
}

/** What both sidecars take from the command line. */
function commonConfig(opts: Options) {
  const { port, adminPort, upstream, upstreamCa, pluginConfig, workload, namespace, wasmFile, vmEnv, mockKey, mockDelayMs, logLevel } =
    opts;
  return { port, adminPort, upstream, upstreamCa, pluginConfig, workload, namespace, wasmFile, vmEnv, mockKey, mockDelayMs, logLevel };
}

async function startNode(opts: Options): Promise<Running> {
  const s = await startSidecar(commonConfig(opts));
  return {
    runtime: nodeRuntime(relative(process.cwd(), opts.wasmFile)),
    proxyUrl: s.proxy.url,
    adminUrl: s.admin.url,
    mockUrl: s.mock?.url,
    mockKey: s.mock?.options.apiKey,
    ...s,
  };
}

async function startEnvoy(opts: Options): Promise<Running> {
  // Until Envoy is up, its lines are held: a failed start is reported once, in one line.
  let held: string[] | null = [];
  const s = await startEnvoySidecar({
    ...commonConfig(opts),
    envoyVersion: opts.envoyVersion,
    // Envoy writes the access log to its stdout, which is ours.
    accessLogPath: "/dev/stdout",
    stdout: "inherit",
    onProgress: (line) => process.stderr.write(`asm-llm-proxy local: ${line}\n`),
    onLog: (line) => (held ? held.push(line) : process.stderr.write(`${line}\n`)),
  });
  for (const line of held) process.stderr.write(`${line}\n`);
  held = null;
  return {
    runtime: envoyRuntime(s.envoy.version, relative(process.cwd(), opts.wasmFile)),
    mockUrl: s.mock?.url,
    mockKey: s.mock?.options.apiKey,
    exited: s.envoy.exited,
    ...s,
  };
}

/** Calls `gone` once this process is orphaned (its parent, e.g. npm, died without passing a
 *  signal on: SIGKILL, or a SIGHUP npm does not forward): the orphan is re-parented, so its
 *  ppid changes. Envoy under us follows through its own watcher (envoy/watchdog.ts). */
function watchParent(gone: () => void): void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(timer);
      gone();
    }
  }, 500);
  timer.unref();
}

async function main(): Promise<void> {
  let opts: Options;
  try {
    opts = parseOptions(process.argv.slice(2), process.env, repoRoot);
  } catch (e) {
    if (e instanceof OptionsError) fail(e.message);
    throw e;
  }
  if (opts.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (opts.upstream !== "mock") {
    for (const v of wasmPluginEnv()) {
      if (v.valueFrom === "HOST" && !(v.name in opts.vmEnv) && !process.env[v.name]) {
        process.stderr.write(
          `asm-llm-proxy local: warning: ${v.name} is not set: requests reach ${opts.upstream.origin} without an API key\n`,
        );
      }
    }
  }
  let sidecar: Running;
  try {
    if (opts.host === "envoy") {
      try {
        sidecar = await startEnvoy(opts);
      } catch (e) {
        if (!(e instanceof EnvoyUnavailable)) throw e;
        // A release asked for by name is that release or nothing: running another host instead
        // would answer a different question than the one asked.
        if (opts.envoyVersionGiven) fail(`Envoy ${opts.envoyVersion} cannot be had: ${e.message}`);
        process.stderr.write(
          `asm-llm-proxy local: Envoy cannot be had here (${e.message}); running the filter in the TypeScript host instead\n`,
        );
        sidecar = await startNode(opts);
      }
    } else sidecar = await startNode(opts);
  } catch (e) {
    if (e instanceof SidecarError || e instanceof EnvoySidecarError || e instanceof EnvoyStartError) fail(e.message);
    fail((e as Error).message ?? String(e));
  }
  process.stderr.write(banner(sidecar, opts.configFile ?? "manifests/wasmplugin.yaml"));

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`asm-llm-proxy local: ${signal}, stopping\n`);
    const timer = setTimeout(() => process.exit(0), 6000);
    timer.unref();
    sidecar.close().then(
      () => process.exit(0),
      () => process.exit(0),
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGHUP", () => stop("SIGHUP"));
  void sidecar.exited?.then((code) => {
    if (stopping) return;
    stopping = true;
    const why = `envoy exited by itself (${code === null || code < 0 ? "killed" : `code ${code}`}); the sidecar is gone`;
    void sidecar.close().finally(() => fail(why));
  });
  watchParent(() => stop("parent process gone"));
}

main().catch((e) => fail((e as Error)?.message ?? String(e)));
