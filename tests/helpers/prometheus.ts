// A real Prometheus server for the end-to-end tests: Debian's `prometheus` package (installed
// by scripts/prometheus.sh when missing), started on a free loopback port with a temporary
// config and TSDB, scraping the local sidecar's admin listener every second; PromQL through
// its HTTP API; promtool for linting an exposition.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../../repo/manifests";

export const PROMETHEUS = process.env.PROMETHEUS_BIN ?? "/usr/bin/prometheus";
export const PROMTOOL = process.env.PROMTOOL_BIN ?? "/usr/bin/promtool";

export interface InstallResult {
  ok: boolean;
  /** What scripts/prometheus.sh said (one line on success, apt's output on failure). */
  message: string;
  ms: number;
}

/**
 * Runs scripts/prometheus.sh (installs Debian's prometheus if missing). Outside CI a failure is
 * reported loudly and the caller skips; with CI=true the caller must fail instead
 * (see `requirePrometheus`).
 */
export function ensurePrometheus(): InstallResult {
  const t0 = Date.now();
  const r = spawnSync("bash", [join(repoRoot, "scripts", "prometheus.sh")], { encoding: "utf8", timeout: 300_000 });
  const message = `${r.stderr ?? ""}${r.error ? String(r.error) : ""}`.trim();
  return { ok: r.status === 0, message, ms: Date.now() - t0 };
}

export const inCI = (): boolean => /^(1|true|yes)$/i.test(process.env.CI ?? "");

/** ensurePrometheus, then: ok → true; failed in CI → throws; failed elsewhere → warns, false. */
export function requirePrometheus(): { available: boolean; install: InstallResult } {
  const install = ensurePrometheus();
  if (install.ok) return { available: true, install };
  const msg = `Prometheus is not available (scripts/prometheus.sh: ${install.message.split("\n").slice(-3).join(" / ")})`;
  if (inCI()) throw new Error(`${msg}; CI=true, so this fails instead of skipping`);
  console.warn(`\n${"!".repeat(78)}\n!! SKIPPING the Prometheus end-to-end tests: ${msg}\n!! Run as root (apt-get install prometheus) to run them.\n${"!".repeat(78)}\n`);
  return { available: false, install };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface PromSample {
  metric: Record<string, string>;
  value: number;
}

export class PrometheusServer {
  private constructor(
    readonly proc: ChildProcess,
    readonly url: string,
    private readonly dir: string,
    private readonly output: string[],
  ) {}

  /** Starts prometheus scraping `target` (host:port) at `metricsPath` every second, evaluating `ruleFiles` every second. */
  static async start(target: string, metricsPath = "/stats/prometheus", ruleFiles: string[] = []): Promise<PrometheusServer> {
    const dir = mkdtempSync(join(tmpdir(), "asm-llm-proxy-prom-"));
    const config = join(dir, "prometheus.yml");
    writeFileSync(
      config,
      [
        "global:",
        "  scrape_interval: 1s",
        "  scrape_timeout: 1s",
        "  evaluation_interval: 1s",
        ...(ruleFiles.length ? ["rule_files:", ...ruleFiles.map((f) => `  - ${JSON.stringify(f)}`)] : []),
        "scrape_configs:",
        "  - job_name: sidecar",
        `    metrics_path: ${metricsPath}`,
        "    static_configs:",
        `      - targets: ['${target}']`,
        "",
      ].join("\n"),
    );
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort();
      const output: string[] = [];
      const proc = spawn(
        PROMETHEUS,
        [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn"],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      // never outlive the test process, even if afterAll does not run
      const killOnExit = () => proc.kill("SIGKILL");
      process.once("exit", killOnExit);
      proc.once("exit", () => process.off("exit", killOnExit));
      proc.stdout!.on("data", (d: Buffer) => output.push(d.toString()));
      proc.stderr!.on("data", (d: Buffer) => output.push(d.toString()));
      const server = new PrometheusServer(proc, `http://127.0.0.1:${port}`, dir, output);
      try {
        await server.waitReady(20_000);
        return server;
      } catch (e) {
        lastError = e;
        await server.stop(false);
      }
    }
    rmSync(dir, { recursive: true, force: true });
    throw lastError;
  }

  get log(): string {
    return this.output.join("");
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null) throw new Error(`prometheus exited with ${this.proc.exitCode}: ${this.log}`);
      try {
        const r = await fetch(`${this.url}/-/ready`);
        if (r.ok) return;
      } catch {
        /* not listening yet */
      }
      await sleep(100);
    }
    throw new Error(`prometheus not ready after ${timeoutMs} ms: ${this.log}`);
  }

  async api<T>(path: string): Promise<T> {
    const r = await fetch(`${this.url}/api/v1/${path}`);
    const body = (await r.json()) as { status: string; data: T; error?: string };
    if (body.status !== "success") throw new Error(`prometheus API ${path}: ${body.error ?? r.status}`);
    return body.data;
  }

  /** Waits until every target is up; returns the targets. */
  async waitTargetsUp(timeoutMs = 15_000): Promise<{ health: string; scrapeUrl: string; lastError: string }[]> {
    const deadline = Date.now() + timeoutMs;
    let last: { health: string; scrapeUrl: string; lastError: string }[] = [];
    while (Date.now() < deadline) {
      const data = await this.api<{ activeTargets: { health: string; scrapeUrl: string; lastError: string }[] }>("targets");
      last = data.activeTargets;
      if (last.length > 0 && last.every((t) => t.health === "up")) return last;
      await sleep(200);
    }
    throw new Error(`targets not up after ${timeoutMs} ms: ${JSON.stringify(last)}`);
  }

  /** An instant PromQL query (vector results). */
  async query(promql: string): Promise<PromSample[]> {
    const data = await this.api<{ resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] }>(`query?query=${encodeURIComponent(promql)}`);
    if (data.resultType !== "vector") throw new Error(`expected a vector for ${promql}, got ${data.resultType}`);
    return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  }

  /** Polls `promql` until `done(samples)` holds (returns them) or the timeout passes (throws with the last answer). */
  async waitFor(promql: string, done: (s: PromSample[]) => boolean, timeoutMs = 15_000): Promise<PromSample[]> {
    const deadline = Date.now() + timeoutMs;
    let last: PromSample[] = [];
    while (Date.now() < deadline) {
      last = await this.query(promql);
      if (done(last)) return last;
      await sleep(250);
    }
    throw new Error(`${promql}: condition not met after ${timeoutMs} ms; last answer ${JSON.stringify(last)}`);
  }

  async stop(removeDir = true): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const exited = new Promise<void>((resolve) => this.proc.once("exit", () => resolve()));
      this.proc.kill("SIGTERM");
      const timer = setTimeout(() => this.proc.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
    if (removeDir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** promtool check metrics on an exposition: exit code and the findings (one per line). */
export function promtoolCheckMetrics(exposition: string): { status: number | null; findings: string[]; output: string } {
  const r = spawnSync(PROMTOOL, ["check", "metrics"], { input: exposition, encoding: "utf8", timeout: 30_000 });
  const output = `${r.stdout ?? ""}${r.stderr ?? ""}`;
  return { status: r.status, findings: output.split("\n").map((l) => l.trim()).filter((l) => l !== ""), output };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
