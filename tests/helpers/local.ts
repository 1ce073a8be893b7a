// The local sidecar (local/sidecar.ts) started in-process for the end-to-end tests, on free
// ports, with its access-log lines and filter log lines captured; a Prometheus-text scraper for
// its admin listener; the seed's two curl commands.
import { execFile } from "node:child_process";
import { request } from "node:http";
import { existsSync } from "node:fs";
import { startSidecar, type Sidecar, type SidecarConfig } from "../../local/sidecar";

export interface LocalSidecar extends Sidecar {
  /** Parsed access-log lines, in order. */
  accessLogs: Record<string, unknown>[];
  /** Raw filter log lines (formatted). */
  filterLines: string[];
  /** Waits until at least `n` access-log lines were written; returns them all. */
  waitForAccessLogs(n: number, timeoutMs?: number): Promise<Record<string, unknown>[]>;
}

export async function startLocal(cfg: SidecarConfig = {}): Promise<LocalSidecar> {
  const accessLogs: Record<string, unknown>[] = [];
  const filterLines: string[] = [];
  const s = await startSidecar({
    port: 0,
    adminPort: 0,
    mockDelayMs: 0,
    ...cfg,
    accessLog: (line) => accessLogs.push(JSON.parse(line) as Record<string, unknown>),
    filterLog: (line) => filterLines.push(line),
  });
  return Object.assign(s, {
    accessLogs,
    filterLines,
    async waitForAccessLogs(n: number, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (accessLogs.length < n) {
        if (Date.now() > deadline)
          throw new Error(`expected ${n} access-log lines, got ${accessLogs.length}: ${JSON.stringify(accessLogs)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      return accessLogs;
    },
  });
}

export interface Series {
  name: string;
  labels: Record<string, string>;
  value: number;
  line: string;
}

/** GETs a URL on loopback (no proxy); status and body text. */
export function get(url: string): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), headers: res.headers }));
    })
      .on("error", reject)
      .end();
  });
}

/** Scrapes /stats/prometheus of the admin listener and parses the sample lines. */
export async function scrape(adminUrl: string): Promise<Series[]> {
  const { status, body } = await get(`${adminUrl}/stats/prometheus`);
  if (status !== 200) throw new Error(`scrape: HTTP ${status}`);
  const out: Series[] = [];
  for (const line of body.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparsable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]), line });
  }
  return out;
}

/** The value of the counter `name` for `model` (workload sleep.default, dashscope), 0 if absent. */
export function tokens(series: Series[], name: "asm_llm_proxy_prompt_tokens" | "asm_llm_proxy_completion_tokens", model: string): number {
  return series.find((s) => s.name === name && s.labels.llmproxy_model === model)?.value ?? 0;
}

export const SEED_BODY = '{"messages":[{"role":"user","content":"Please introduce yourself"}]}';

/** The seed's Prometheus lines after its two curl commands (shared/SEED.md, section 2). */
export const SEED_PROMETHEUS_LINES = [
  'asm_llm_proxy_completion_tokens{llmproxy_source_workload="sleep",llmproxy_source_workload_namespace="default",llmproxy_destination_service="dashscope.aliyuncs.com",llmproxy_model="qwen-1.8b-chat"} 72',
  'asm_llm_proxy_completion_tokens{llmproxy_source_workload="sleep",llmproxy_source_workload_namespace="default",llmproxy_destination_service="dashscope.aliyuncs.com",llmproxy_model="qwen-turbo"} 85',
  'asm_llm_proxy_prompt_tokens{llmproxy_source_workload="sleep",llmproxy_source_workload_namespace="default",llmproxy_destination_service="dashscope.aliyuncs.com",llmproxy_model="qwen-1.8b-chat"} 3',
  'asm_llm_proxy_prompt_tokens{llmproxy_source_workload="sleep",llmproxy_source_workload_namespace="default",llmproxy_destination_service="dashscope.aliyuncs.com",llmproxy_model="qwen-turbo"} 11',
];

export const hasCurl = (): boolean => existsSync("/usr/bin/curl") || existsSync("/bin/curl");

/**
 * The seed's curl command (`curl http://dashscope.aliyuncs.com -H 'Content-Type: application/json'
 * [-H 'user-type: subscriber'] --data '...'`) through the local proxy: real curl with -x when
 * available, else the same absolute-form request with node:http.
 */
export function seedCurl(proxyUrl: string, subscriber: boolean): Promise<{ status: number; body: string; via: "curl" | "node" }> {
  if (hasCurl()) {
    const args = ["-sS", "-x", proxyUrl, "http://dashscope.aliyuncs.com", "-H", "Content-Type: application/json"];
    if (subscriber) args.push("-H", "user-type: subscriber");
    args.push("--data", SEED_BODY, "-w", "\n%{http_code}");
    return new Promise((resolve, reject) => {
      execFile("curl", args, { timeout: 15_000 }, (err, stdout, stderr) => {
        if (err) return reject(new Error(`curl failed: ${err.message} ${stderr}`));
        const nl = stdout.lastIndexOf("\n");
        resolve({ status: Number(stdout.slice(nl + 1)), body: stdout.slice(0, nl), via: "curl" });
      });
    });
  }
  const proxy = new URL(proxyUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: proxy.hostname,
        port: proxy.port,
        method: "POST",
        path: "http://dashscope.aliyuncs.com/",
        headers: {
          host: "dashscope.aliyuncs.com",
          "content-type": "application/json",
          ...(subscriber ? { "user-type": "subscriber" } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), via: "node" }));
      },
    );
    req.on("error", reject);
    req.end(SEED_BODY);
  });
}
