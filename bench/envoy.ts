// `npm run bench -- --envoy`: what the filter costs in real Envoy. One Envoy (one worker, as
// its cost per request is what a sidecar pays) per variant — no Wasm filter, the no-op filter
// built with the same SDK, this filter observing only, this filter with the seed's routing —
// each driven by Debian's wrk (a separate process) against an upstream on loopback, for each
// workload: a small chat call, a 1,000-event SSE stream, 1 MB and 10 MB requests, a non-LLM
// call. Variants are interleaved round by round; each figure is the median over rounds.
// Reported per (workload, variant): Envoy's CPU time per request (utime+stime from /proc),
// p50/p99 latency and what they add over "no filter", Envoy's resident memory; and each VM's
// start-up (Envoy start to ready). Ratios are against variants measured in the same run.
//
//   npm run bench -- --envoy [--quick] [--only SSE] [--markdown bench/RESULTS-envoy.md]
import { execFile, spawn, spawnSync } from "node:child_process";
import { createServer, type Server, type ServerResponse } from "node:http";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import type { AddressInfo } from "node:net";
import { sidecarBootstrap } from "../envoy/bootstrap";
import { median } from "./median";
import { ensureEnvoy } from "../envoy/install";
import { startEnvoy, type EnvoyProcess } from "../envoy/process";
import { ENVOY_VERSIONS } from "../envoy/versions";
import { repoRoot, wasmPluginConfig } from "../repo/manifests";

const run = promisify(execFile);

export interface Variant {
  name: string;
  /** null: no Wasm filter in the chain. */
  wasm: string | null;
  config: string;
  /** Requests go to the routed provider (dashscope.aliyuncs.com, path /) or are observed. */
  routed: boolean;
}

const VARIANTS: Variant[] = [
  { name: "no filter", wasm: null, config: "", routed: false },
  { name: "no-op filter", wasm: "build/noop.wasm", config: "", routed: false },
  { name: "observe-only", wasm: "build/llmproxy.wasm", config: "", routed: false },
  { name: "seed routing", wasm: "build/llmproxy.wasm", config: wasmPluginConfig(), routed: true },
];

export interface Workload {
  name: string;
  method: "GET" | "POST";
  /** Request body (POST). */
  body?: string;
  /** Upstream answer. */
  contentType: string;
  answer: Buffer;
  /** The answer's content-encoding (the answer is already in it). */
  contentEncoding?: string;
  /** wrk connections. */
  connections: number;
  /** Written one piece per tick of the upstream's pacer instead of all at once (as a real token
   *  stream arrives): each piece reaches the filter as its own body callback. */
  paced?: Buffer[];
}

/** The pacer's tick: long enough that Envoy reads each paced piece on its own. */
const PACE_MS = 1;

function chatAnswer(model: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      id: "chatcmpl-bench",
      object: "chat.completion",
      created: 1732550000,
      model,
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: "I am a large language model. I can answer questions and write text." },
          finish_reason: "stop",
        },
      ],
      usage: { prompt_tokens: 12, completion_tokens: 17, total_tokens: 29 },
    }),
  );
}

/** An OpenAI-style chat stream: `events` content deltas, the usage event, `[DONE]`. */
function sseEvents(events: number): Buffer[] {
  const base = { id: "chatcmpl-bench", object: "chat.completion.chunk", created: 1732550000, model: "qwen-turbo" };
  const out: Buffer[] = [];
  for (let i = 0; i < events; i++)
    out.push(
      Buffer.from(
        `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: ` token${i}` }, finish_reason: null }], usage: null })}\n\n`,
      ),
    );
  out.push(
    Buffer.from(
      `data: ${JSON.stringify({ ...base, choices: [], usage: { prompt_tokens: 12, completion_tokens: events, total_tokens: 12 + events } })}\n\n`,
    ),
  );
  out.push(Buffer.from("data: [DONE]\n\n"));
  return out;
}

const sseAnswer = (events: number): Buffer => Buffer.concat(sseEvents(events));

function bigRequest(bytes: number): string {
  const prompt = "The quick brown fox jumps over the lazy dog. ".repeat(Math.ceil(bytes / 45)).slice(0, bytes);
  return JSON.stringify({ model: "qwen-turbo", messages: [{ role: "user", content: prompt }] });
}

export function workloads(quick: boolean): Workload[] {
  const small = JSON.stringify({ model: "qwen-turbo", messages: [{ role: "user", content: "Please introduce yourself" }] });
  return [
    {
      name: "small chat (JSON)",
      method: "POST",
      body: small,
      contentType: "application/json",
      answer: chatAnswer("qwen-turbo"),
      connections: 4,
    },
    {
      name: `SSE, ${quick ? 100 : 1000} events`,
      method: "POST",
      body: JSON.stringify({ ...JSON.parse(small), stream: true }),
      contentType: "text/event-stream",
      answer: sseAnswer(quick ? 100 : 1000),
      connections: 4,
    },
    {
      // A real token stream: one event per socket write, so one body callback per event.
      name: `SSE, ${quick ? 50 : 200} events, one per write`,
      method: "POST",
      body: JSON.stringify({ ...JSON.parse(small), stream: true }),
      contentType: "text/event-stream",
      answer: sseAnswer(quick ? 50 : 200),
      paced: sseEvents(quick ? 50 : 200),
      connections: 32,
    },
    {
      // The same stream gzip'd, as providers send it to the SDKs: the filter inflates it.
      name: `SSE, ${quick ? 100 : 1000} events, gzip`,
      method: "POST",
      body: JSON.stringify({ ...JSON.parse(small), stream: true }),
      contentType: "text/event-stream",
      answer: gzipSync(sseAnswer(quick ? 100 : 1000)),
      contentEncoding: "gzip",
      connections: 4,
    },
    {
      name: "1 MB request",
      method: "POST",
      body: bigRequest(1 << 20),
      contentType: "application/json",
      answer: chatAnswer("qwen-turbo"),
      connections: 2,
    },
    {
      name: "10 MB request",
      method: "POST",
      body: bigRequest(quick ? 2 << 20 : 10 << 20),
      contentType: "application/json",
      answer: chatAnswer("qwen-turbo"),
      connections: 1,
    },
    { name: "non-LLM GET", method: "GET", contentType: "application/json", answer: Buffer.from('{"status":"ok"}'), connections: 4 },
  ];
}

/** The upstream: reads the request whole, answers with the current workload's body (a paced
 *  workload's pieces one per tick, every open answer advancing on the same tick). */
export async function startUpstream(current: () => Workload): Promise<{ server: Server; port: number }> {
  const pacing = new Set<{ res: ServerResponse; pieces: Buffer[]; next: number }>();
  const pacer = setInterval(() => {
    for (const p of pacing) {
      if (p.next < p.pieces.length) p.res.write(p.pieces[p.next++]);
      if (p.next === p.pieces.length) {
        p.res.end();
        pacing.delete(p);
      }
    }
  }, PACE_MS);
  const server = createServer((req, res) => {
    req.on("data", () => {});
    req.on("end", () => {
      const w = current();
      res.writeHead(200, {
        "content-type": w.contentType,
        "content-length": String(w.answer.length),
        ...(w.contentEncoding ? { "content-encoding": w.contentEncoding } : {}),
      });
      if (w.paced) pacing.add({ res, pieces: w.paced, next: 0 });
      else res.end(w.answer);
    });
  });
  server.on("close", () => clearInterval(pacer));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { server, port: (server.address() as AddressInfo).port };
}

/** Envoy's CPU time so far in ns: the scheduler's own account of every thread
 *  (/proc/<pid>/task/<tid>/schedstat, first field), where /proc/<pid>/stat counts 10 ms ticks
 *  (a 3 s cell of a per-event stream is only a few dozen of them). Envoy's threads live as long
 *  as the process, so none of the time is lost with an exited thread. */
export function cpuNs(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // a thread that ended between the listing and the read
    }
  }
  return ns;
}

function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
}

/** wrk's times (format_time_us: us, ms, s, m, h) in ms. */
function ms(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text);
  if (!m) return NaN;
  return Number(m[1]) * { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "us"];
}

export interface Sample {
  requests: number;
  cpuUsPerRequest: number;
  p50Ms: number;
  p99Ms: number;
  rssMiB: number;
  errors: number;
}

export async function drive(envoy: EnvoyProcess, v: Variant, w: Workload, seconds: number, dir: string): Promise<Sample> {
  const url = new URL(envoy.proxyUrl);
  const path = w.method === "GET" ? "/healthz" : v.routed ? "/" : "/v1/chat/completions";
  const authority = w.method === "GET" ? "status.example" : v.routed ? "dashscope.aliyuncs.com" : "api.openai.com";
  const script = join(dir, "request.lua");
  writeFileSync(bodyFile(dir), w.body ?? "");
  writeFileSync(
    script,
    `local f = io.open("${bodyFile(dir)}", "rb")\nwrk.body = f:read("*all")\nf:close()\nwrk.method = "${w.method}"\nwrk.headers["Content-Type"] = "application/json"\nwrk.headers["Host"] = "${authority}"\n` +
      (w.method === "GET" ? "wrk.body = nil\n" : ""),
  );
  const pid = envoy.child.pid!;
  const before = cpuNs(pid);
  const { stdout } = await run(
    "wrk",
    ["-t1", `-c${w.connections}`, `-d${seconds}s`, "--latency", "--timeout", "30s", "-s", script, `http://127.0.0.1:${url.port}${path}`],
    { maxBuffer: 1 << 20 },
  );
  const after = cpuNs(pid);
  const r = parseWrk(stdout);
  if (!Number.isFinite(r.p50Ms)) process.stderr.write(`wrk printed no latency distribution:\n${stdout}\n`);
  return { ...r, cpuUsPerRequest: r.requests > 0 ? (after - before) / 1e3 / r.requests : NaN, rssMiB: rssKiB(pid) / 1024 };
}

/** What a `wrk --latency` run printed: requests, errors (non-2xx and socket errors), p50/p99. */
export function parseWrk(stdout: string): { requests: number; errors: number; p50Ms: number; p99Ms: number } {
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  return {
    requests: Number(/(\d+) requests in/.exec(stdout)?.[1] ?? 0),
    errors: non2xx + (socketErrors ? socketErrors.slice(1).reduce((a, x) => a + Number(x), 0) : 0),
    // anchored: the thread-stats line ("... 95.50%") would match a bare /50%/
    p50Ms: ms(/^\s+50%\s+(\S+)$/m.exec(stdout)?.[1] ?? ""),
    p99Ms: ms(/^\s+99%\s+(\S+)$/m.exec(stdout)?.[1] ?? ""),
  };
}

const bodyFile = (dir: string) => join(dir, "body.json");

export interface EnvoyBenchResult {
  date: string;
  machine: string;
  envoy: string;
  rounds: number;
  seconds: number;
  load: number[];
  startupMs: Record<string, number>;
  /** With --perf: where Envoy's CPU went, per (workload, variant). */
  profiles: { workload: string; variant: string; cpuUsPerRequest: number; shares: Record<string, number> }[];
  rows: {
    workload: string;
    variant: string;
    requests: number;
    cpuUsPerRequest: number;
    p50Ms: number;
    p99Ms: number;
    rssMiB: number;
    errors: number;
  }[];
}

export async function runEnvoyBench(opts: {
  quick: boolean;
  only?: string[];
  perf?: boolean;
  compare?: string;
  /** Rounds per cell (default 3, 1 with quick): each figure is the median over them. */
  rounds?: number;
}): Promise<EnvoyBenchResult> {
  // --compare: another build of the filter, observing only, beside this one in every round.
  const variants = opts.compare
    ? [...VARIANTS, { name: "observe-only (compare)", wasm: opts.compare, config: "", routed: false }]
    : VARIANTS;
  const install = spawnSync("bash", [join(repoRoot, "scripts", "wrk.sh")], { encoding: "utf8" });
  if (install.status !== 0) throw new Error(`wrk is not available: ${install.stderr.trim()}`);
  const binary = await ensureEnvoy(ENVOY_VERSIONS.newest);
  const all = workloads(opts.quick).filter((w) => !opts.only?.length || opts.only.some((o) => w.name.includes(o)));
  let current = all[0];
  const upstream = await startUpstream(() => current);
  const dir = mkdtempSync(join(tmpdir(), "asm-llm-bench-"));
  const rounds = opts.rounds ?? (opts.quick ? 1 : 3);
  const seconds = opts.quick ? 1 : 3;
  const load0 = loadavg()[0];
  const envoys = new Map<string, EnvoyProcess>();
  const startupMs: Record<string, number> = {};
  try {
    for (const v of variants) {
      const t0 = performance.now();
      envoys.set(v.name, await startVariant(binary, v, upstream.port));
      startupMs[v.name] = performance.now() - t0;
    }
    const samples = new Map<string, Sample[]>();
    for (let round = 0; round < rounds; round++) {
      for (const w of all) {
        current = w;
        // rotate the order each round so no variant always runs first
        const order = variants.map((_, i) => variants[(i + round) % variants.length]);
        for (const v of order) {
          const s = await drive(envoys.get(v.name)!, v, w, seconds, dir);
          const key = `${w.name}\u0000${v.name}`;
          samples.set(key, [...(samples.get(key) ?? []), s]);
          process.stderr.write(
            `round ${round + 1}/${rounds} ${w.name} / ${v.name}: ${s.requests} requests, ${s.cpuUsPerRequest.toFixed(1)} µs CPU each\n`,
          );
        }
      }
    }
    const profiles: EnvoyBenchResult["profiles"] = [];
    if (opts.perf) {
      // One more cell per (workload, variant) under perf: its CPU figure is not used (sampling
      // costs CPU too), only the split of the samples between Envoy's code, the module's and
      // the kernel's.
      for (const w of all) {
        current = w;
        for (const v of variants) {
          const envoy = envoys.get(v.name)!;
          const { shares, result } = await underPerf(envoy.child.pid!, dir, () => drive(envoy, v, w, seconds, dir));
          profiles.push({ workload: w.name, variant: v.name, cpuUsPerRequest: result.cpuUsPerRequest, shares });
          process.stderr.write(`perf ${w.name} / ${v.name}: ${JSON.stringify(shares)}\n`);
        }
      }
    }
    const rows = [...samples.entries()].map(([key, ss]) => {
      const [workload, variant] = key.split("\u0000");
      return {
        workload,
        variant,
        requests: ss.reduce((a, s) => a + s.requests, 0),
        cpuUsPerRequest: median(ss.map((s) => s.cpuUsPerRequest)),
        p50Ms: median(ss.map((s) => s.p50Ms)),
        p99Ms: median(ss.map((s) => s.p99Ms)),
        rssMiB: median(ss.map((s) => s.rssMiB)),
        errors: ss.reduce((a, s) => a + s.errors, 0),
      };
    });
    return {
      date: new Date().toISOString(),
      machine: `${cpus().length} × ${cpus()[0]?.model ?? "?"}`,
      envoy: envoys.values().next().value!.version,
      rounds,
      seconds,
      load: [load0, loadavg()[0]],
      startupMs,
      rows,
      profiles,
    };
  } finally {
    for (const e of envoys.values()) await e.stop();
    upstream.server.close();
  }
}

/** One variant's Envoy (one worker) in front of the upstream on `port`. */
export async function startVariant(binary: string, v: Variant, port: number): Promise<EnvoyProcess> {
  const bootstrap = sidecarBootstrap({
    wasmFile: resolve(repoRoot, v.wasm ?? "build/noop.wasm"),
    upstream: { kind: "plain", address: "127.0.0.1", port },
    proxyPort: 0,
    adminPort: 0,
    accessLogPath: "/dev/null",
    pluginConfig: v.config,
    // 12 MiB: the 10 MB request is streamed through, but the router may hold it on retries.
    bufferLimitBytes: 12 << 20,
  });
  if (!v.wasm) stripWasm(bootstrap);
  return startEnvoy({
    binary,
    bootstrap,
    concurrency: 1,
    env: { DASHSCOPE_API_KEY: "sk-bench" },
    logLevel: "error",
    wasmLogLevel: "error",
  });
}

/** Runs `during` while perf samples every thread of `pid`; returns the share of samples per
 *  place the code lives: Envoy's binary (its own code, V8's runtime and the proxy-wasm host
 *  functions: the official build is stripped, so no finer), the code V8 compiled from the
 *  module (anonymous executable memory: perf has no map for it), the kernel, libc. */
export async function underPerf<T>(
  pid: number,
  dir: string,
  during: () => Promise<T>,
): Promise<{ shares: Record<string, number>; result: T }> {
  const data = join(dir, "perf.data");
  const perf = spawn("perf", ["record", "-q", "-F", "2999", "-p", String(pid), "-o", data], { stdio: "ignore" });
  const exited = new Promise<void>((r) => perf.on("close", () => r()));
  await new Promise((r) => setTimeout(r, 300)); // perf attaches to each thread
  const result = await during();
  perf.kill("SIGINT");
  await exited;
  const { stdout } = await run("perf", ["report", "-i", data, "--stdio", "--sort", "dso", "-q", "--percent-limit", "0"], {
    maxBuffer: 16 << 20,
  });
  const shares: Record<string, number> = {};
  for (const line of stdout.split("\n")) {
    const m = /^\s*([\d.]+)%\s+(\S.*?)\s*$/.exec(line);
    if (!m) continue;
    const place = placeOf(m[2]);
    shares[place] = (shares[place] ?? 0) + Number(m[1]) / 100;
  }
  return { shares, result };
}

function placeOf(dso: string): string {
  if (dso === "envoy") return "envoy";
  if (dso.includes("kernel")) return "kernel";
  if (dso.startsWith("libc") || dso.startsWith("libm") || dso.startsWith("ld-linux") || dso.startsWith("libpthread")) return "libc";
  if (dso.includes("unknown") || dso.includes("anon") || dso.includes("JIT") || dso.startsWith("perf-")) return "wasm (JIT)";
  return dso;
}

/** The "no filter" variant: the same bootstrap without the Wasm HTTP filter. */
export function stripWasm(bootstrap: Record<string, unknown>): void {
  const listeners = (
    bootstrap.static_resources as {
      listeners: { filter_chains: { filters: { typed_config: { http_filters: { name: string }[] } }[] }[] }[];
    }
  ).listeners;
  const hcm = listeners[0].filter_chains[0].filters[0].typed_config;
  hcm.http_filters = hcm.http_filters.filter((f) => f.name === "envoy.filters.http.router");
}

export function renderEnvoyBench(r: EnvoyBenchResult): string {
  const lines: string[] = [];
  lines.push(`# Benchmarks in real Envoy`, ``);
  lines.push(
    `Generated by \`npm run bench -- --envoy\` on ${r.date.slice(0, 10)}: Envoy ${r.envoy}, one worker; load from wrk (1 thread); upstream on loopback.`,
  );
  lines.push(
    `Machine: ${r.machine}; load average ${r.load.map((x) => x.toFixed(2)).join(" → ")} (other work shared the machine). Median of ${r.rounds} rounds of ${r.seconds} s per cell, variants interleaved.`,
    ``,
  );
  lines.push(
    `CPU = Envoy's CPU time per request (every thread's, from /proc/<pid>/task/*/schedstat); ×none = that over the no-filter variant; latency from wrk; +p50/+p99 = added over the no-filter variant.`,
    ``,
  );
  lines.push(`| workload | variant | requests | CPU µs/req | ×none | ×no-op | p50 ms | +p50 ms | p99 ms | +p99 ms | RSS MiB | errors |`);
  lines.push(`|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|`);
  const workloadNames = [...new Set(r.rows.map((x) => x.workload))];
  for (const w of workloadNames) {
    const none = r.rows.find((x) => x.workload === w && x.variant === "no filter")!;
    const noop = r.rows.find((x) => x.workload === w && x.variant === "no-op filter")!;
    for (const row of r.rows.filter((x) => x.workload === w)) {
      lines.push(
        `| ${w} | ${row.variant} | ${row.requests} | ${row.cpuUsPerRequest.toFixed(1)} | ${(row.cpuUsPerRequest / none.cpuUsPerRequest).toFixed(2)} | ${(row.cpuUsPerRequest / noop.cpuUsPerRequest).toFixed(2)} | ${row.p50Ms.toFixed(2)} | ${(row.p50Ms - none.p50Ms).toFixed(2)} | ${row.p99Ms.toFixed(2)} | ${(row.p99Ms - none.p99Ms).toFixed(2)} | ${row.rssMiB.toFixed(1)} | ${row.errors} |`,
      );
    }
  }
  lines.push(...renderTargets(r));
  if (r.profiles.length) lines.push(...renderProfiles(r));
  lines.push(
    ``,
    `Envoy start to ready (one worker; includes compiling the module and each VM's on_vm_start/on_configure): ${Object.entries(r.startupMs)
      .map(([k, v]) => `${k} ${v.toFixed(0)} ms`)
      .join(", ")}.`,
    ``,
  );
  return lines.join("\n");
}

/** Issue #23's targets for observe-only, each computed from the table above (this run). */
export function targetVerdicts(r: EnvoyBenchResult): { target: string; measured: string; met: boolean }[] {
  const cpu = (workload: (w: string) => boolean, variant: string) =>
    r.rows.find((x) => workload(x.workload) && x.variant === variant)?.cpuUsPerRequest;
  const out: { target: string; measured: string; met: boolean }[] = [];
  const ratio = (name: string, w: (w: string) => boolean, base: string, bound: number) => {
    const mine = cpu(w, "observe-only");
    const other = cpu(w, base);
    if (mine === undefined || other === undefined) return;
    out.push({
      target: `${name}: observe-only ≤ ${bound.toFixed(2)}× ${base}`,
      measured: `${(mine / other).toFixed(2)}×`,
      met: mine / other <= bound,
    });
  };
  const perEvent = (name: string, w: (w: string) => boolean, bound: number) => {
    const workload = r.rows.find((x) => w(x.workload))?.workload;
    const events = Number(/(\d+) events/.exec(workload ?? "")?.[1]);
    const mine = cpu(w, "observe-only");
    const none = cpu(w, "no filter");
    const noop = cpu(w, "no-op filter");
    if (!events || mine === undefined || none === undefined || noop === undefined) return;
    const added = (mine - none) / events;
    out.push({
      target: `${name}: observe-only adds ≤ ${bound} µs per event over no filter`,
      measured: `${added.toFixed(2)} µs (over the no-op filter: ${((mine - noop) / events).toFixed(2)} µs)`,
      met: added <= bound,
    });
  };
  const small = (w: string) => w.startsWith("small chat");
  const perWrite = (w: string) => w.endsWith("one per write");
  const bulk = (w: string) => /^SSE, \d+ events$/.test(w);
  ratio("small chat call", small, "no filter", 1.25);
  ratio("stream written one event per write", perWrite, "no filter", 1.25);
  perEvent("stream written in bulk", bulk, 1);
  ratio("non-LLM call", (w) => w.startsWith("non-LLM"), "no-op filter", 1.05);
  return out;
}

function renderTargets(r: EnvoyBenchResult): string[] {
  const verdicts = targetVerdicts(r);
  if (!verdicts.length) return [];
  return [
    ``,
    `## Targets (issue #23), from the table above`,
    ``,
    `Where a target is missed, [docs/benchmarks.md](../docs/benchmarks.md#where-the-cost-goes-in-envoy) says why, from the perf table below and [RESULTS-envoy-host-calls.md](RESULTS-envoy-host-calls.md).`,
    ``,
    `| target | measured | met |`,
    `|---|---|---|`,
    ...verdicts.map((v) => `| ${v.target} | ${v.measured} | ${v.met ? "yes" : "**no**"} |`),
  ];
}

/** The --perf table: each variant's CPU per request (from the tables above, not the perf cell)
 *  split by the perf samples' shares, and what each place adds over the no-op filter. */
function renderProfiles(r: EnvoyBenchResult): string[] {
  const places = ["envoy", "wasm (JIT)", "kernel", "libc"];
  const lines = [
    ``,
    `## Where Envoy's CPU goes (perf)`,
    ``,
    `One more cell per workload and variant under \`perf record -F 2999\` (every thread of the Envoy process). Envoy's official build is stripped: \`envoy\` is all of Envoy's own code, V8's runtime and the proxy-wasm host functions together; \`wasm (JIT)\` is the code V8 compiled from the module (anonymous memory, no symbols). µs per request = the CPU figure of the table above × the place's share of samples; (+no-op) = over the no-op filter.`,
    ``,
    `| workload | variant | ${places.map((p) => `${p} µs/req (+no-op)`).join(" | ")} | other |`,
    `|---|---|${places.map(() => "---:").join("|")}|---:|`,
  ];
  const split = (workload: string, variant: string): number[] | null => {
    const p = r.profiles.find((x) => x.workload === workload && x.variant === variant);
    const row = r.rows.find((x) => x.workload === workload && x.variant === variant);
    if (!p || !row) return null;
    const known = places.map((k) => (p.shares[k] ?? 0) * row.cpuUsPerRequest);
    return [...known, row.cpuUsPerRequest - known.reduce((a, b) => a + b, 0)];
  };
  for (const p of r.profiles) {
    const mine = split(p.workload, p.variant)!;
    const noop = split(p.workload, "no-op filter");
    const cells = mine.map((v, i) =>
      noop && i < places.length ? `${v.toFixed(1)} (${v - noop[i] >= 0 ? "+" : ""}${(v - noop[i]).toFixed(1)})` : v.toFixed(1),
    );
    lines.push(`| ${p.workload} | ${p.variant} | ${cells.join(" | ")} |`);
  }
  return lines;
}

/** `npm run bench -- --envoy ...`, its options already checked by bench/run.ts (parseArgs). */
export async function envoyBenchMain(opts: {
  quick: boolean;
  only?: string[];
  markdown?: string;
  perf: boolean;
  compare?: string;
  fromJson?: string;
  rounds?: number;
}): Promise<void> {
  const md = opts.markdown;
  let r: EnvoyBenchResult;
  if (opts.fromJson) r = JSON.parse(readFileSync(opts.fromJson, "utf8")) as EnvoyBenchResult;
  else {
    r = await runEnvoyBench(opts);
    mkdirSync(join(repoRoot, "bench", "results"), { recursive: true });
    writeFileSync(join(repoRoot, "bench", "results", "envoy-latest.json"), JSON.stringify(r, null, 1));
  }
  const text = renderEnvoyBench(r);
  process.stdout.write(text);
  if (md) writeFileSync(md, text);
  const failed = r.rows.filter((x) => x.requests === 0 || x.errors > 0);
  if (failed.length) {
    for (const f of failed) console.error(`FAIL ${f.workload} / ${f.variant}: ${f.requests} requests, ${f.errors} errors`);
    process.exitCode = 1;
  }
}
