// A real Prometheus server for the end-to-end tests: Debian's `prometheus` package (installed
// by scripts/prometheus.sh when missing), started on a free loopback port with a temporary
// config and TSDB, scraping the local sidecar's admin listener every second; PromQL through
// its HTTP API; promtool for linting an exposition.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LoopbackServer, requireTools, sleep } from "./loopback-server";

export { freePort, inCI, sleep } from "./loopback-server";

export const PROMETHEUS = process.env.PROMETHEUS_BIN ?? "/usr/bin/prometheus";
export const PROMTOOL = process.env.PROMTOOL_BIN ?? "/usr/bin/promtool";

/** scripts/prometheus.sh (installs Debian's prometheus if missing): available, or skip (fail in CI). */
export function requirePrometheus(): { available: boolean; install: { message: string; ms: number } } {
  const r = requireTools("prometheus.sh", "Prometheus is", "Run as root (apt-get install prometheus) to run these tests.");
  return { available: r.available, install: r };
}

export interface PromSample {
  metric: Record<string, string>;
  value: number;
}

export class PrometheusServer {
  private constructor(private readonly server: LoopbackServer) {}

  get url(): string {
    return `http://${this.server.address}`;
  }

  get log(): string {
    return this.server.log;
  }

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
    const server = await LoopbackServer.start(
      "prometheus",
      dir,
      (address) => [
        PROMETHEUS,
        [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=${address}`, "--log.level=warn"],
      ],
      "/-/ready",
    );
    return new PrometheusServer(server);
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
    const data = await this.api<{ resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] }>(
      `query?query=${encodeURIComponent(promql)}`,
    );
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

  stop(removeDir = true): Promise<void> {
    return this.server.stop(removeDir);
  }
}

/** promtool check metrics on an exposition: exit code and the findings (one per line). */
export function promtoolCheckMetrics(exposition: string): { status: number | null; findings: string[]; output: string } {
  const r = spawnSync(PROMTOOL, ["check", "metrics"], { input: exposition, encoding: "utf8", timeout: 30_000 });
  const output = `${r.stdout ?? ""}${r.stderr ?? ""}`;
  return {
    status: r.status,
    findings: output
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== ""),
    output,
  };
}
