// Runs one Envoy process on a generated bootstrap: spawns it, waits until its admin answers
// /ready and its listener is bound, reports the proxy and admin URLs, and stops it. Envoy's own
// log lines (the filter's among them, logger `wasm`) are kept, bounded, for tests and errors.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { releaseOf } from "./install";
import { watchedCommand } from "./watchdog";

export class EnvoyStartError extends Error {
  constructor(
    message: string,
    /** Envoy's log lines up to the failure. */
    readonly logs: string[],
  ) {
    super(message);
  }
}

export interface EnvoyRunOptions {
  binary: string;
  bootstrap: Record<string, unknown>;
  /** Worker threads: one Wasm VM each, as in a sidecar (Istio's default concurrency is 2). */
  concurrency?: number;
  /** Process environment additions (vmConfig.env HOST values are read from it). */
  env?: Record<string, string>;
  /** Envoy's log level, and the `wasm` logger's (the filter's lines). */
  logLevel?: string;
  wasmLogLevel?: string;
  /** Each Envoy log line as it arrives (default: kept only). */
  onLog?: (line: string) => void;
  /** Envoy's stdout (the access log when its path is /dev/stdout). */
  stdout?: "pipe" | "inherit";
  /** Flush access-log files this often (Envoy's default is 1 s). */
  fileFlushMs?: number;
  startTimeoutMs?: number;
  /** Folders to remove should this Node process die without stopping Envoy (envoy/watchdog.ts). */
  cleanupDirs?: string[];
  /** The listener whose port is the proxy URL's (default "0.0.0.0_80", the outbound one). */
  listenerName?: string;
  /** --drain-time-s: how long a listener replaced by LDS keeps draining, and so keeps its filter
   *  chain (and its Wasm plugin's root context) alive (Envoy's default 600 s). */
  drainTimeS?: number;
}

export interface EnvoyProcess {
  child: ChildProcess;
  version: string;
  proxyUrl: string;
  adminUrl: string;
  /** The last log lines (at most 5,000). */
  logs: string[];
  /** Resolves with the exit code once Envoy exited. */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

const MAX_LOG_LINES = 5000;

async function getJson(url: string): Promise<unknown> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return r.json();
}

/** The port the listener named `name` is bound to, from the admin's /listeners. */
async function listenerPort(adminUrl: string, name: string): Promise<number | null> {
  const doc = (await getJson(`${adminUrl}/listeners?format=json`)) as {
    listener_statuses?: { name: string; local_address?: { socket_address?: { port_value?: number } } }[];
  };
  const l = doc.listener_statuses?.find((s) => s.name === name);
  return l?.local_address?.socket_address?.port_value ?? null;
}

export async function startEnvoy(opts: EnvoyRunOptions): Promise<EnvoyProcess> {
  const dir = mkdtempSync(join(tmpdir(), "asm-llm-envoy-"));
  const configPath = join(dir, "bootstrap.json");
  const adminPath = join(dir, "admin-address");
  writeFileSync(configPath, JSON.stringify(opts.bootstrap, null, 1));
  const args = [
    "-c",
    configPath,
    "--concurrency",
    String(opts.concurrency ?? 2),
    "--admin-address-path",
    adminPath,
    // Several Envoys (test files, both pinned versions) run side by side on one machine.
    "--disable-hot-restart",
    "--log-level",
    opts.logLevel ?? "warning",
    "--component-log-level",
    `wasm:${opts.wasmLogLevel ?? "info"}`,
    "--log-format",
    "[%Y-%m-%d %T.%e][%l][%n] %v",
    "--file-flush-interval-msec",
    String(opts.fileFlushMs ?? 20),
    ...(opts.drainTimeS === undefined ? [] : ["--drain-time-s", String(opts.drainTimeS)]),
  ];
  const [command, argv] = watchedCommand(opts.binary, args, [dir, ...(opts.cleanupDirs ?? [])]);
  const child = spawn(command, argv, {
    env: { ...process.env, ...(opts.env ?? {}) },
    // stdin: the pipe Envoy's watcher waits on; it closes when this process goes.
    stdio: ["pipe", opts.stdout ?? "pipe", "pipe"],
  });
  const logs: string[] = [];
  let partial = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      logs.push(line);
      if (logs.length > MAX_LOG_LINES) logs.splice(0, logs.length - MAX_LOG_LINES);
      opts.onLog?.(line);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let exitCode: number | null | undefined;
  void exited.then((c) => (exitCode = c === null ? -1 : c));
  const cleanup = () => {
    child.stdin?.destroy(); // the watcher's pipe: nothing left to watch
    rmSync(dir, { recursive: true, force: true });
  };
  void exited.then(cleanup);

  const stop = async () => {
    if (exitCode === undefined) {
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(t);
    }
  };

  const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
  const failure = (why: string) => {
    const errors = logs.filter((l) => /\]\[(error|critical|warning)\]/.test(l)).slice(-8);
    return new EnvoyStartError(`${why}${errors.length ? `:\n  ${errors.join("\n  ")}` : ""}`, [...logs]);
  };
  let adminUrl = "";
  let proxyPort: number | null = null;
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw failure(`envoy exited with code ${exitCode} while starting`);
    try {
      if (!adminUrl && existsSync(adminPath)) {
        const address = readFileSync(adminPath, "utf8").trim();
        if (address) adminUrl = `http://${address}`;
      }
      if (adminUrl) {
        const ready = await fetch(`${adminUrl}/ready`);
        if (ready.ok) proxyPort = await listenerPort(adminUrl, opts.listenerName ?? "0.0.0.0_80");
        if (proxyPort) break;
      }
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!proxyPort) {
    await stop();
    throw failure("envoy did not become ready in time");
  }
  const serverInfo = (await getJson(`${adminUrl}/server_info`)) as { version?: string };
  const version = releaseOf(serverInfo.version ?? "") ?? "unknown";
  return { child, version, proxyUrl: `http://127.0.0.1:${proxyPort}`, adminUrl, logs, exited, stop };
}
