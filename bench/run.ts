// `npm run bench`: the filter's cost per workload against baselines measured in the same process
// and run — the no-op filter (the floor of any AssemblyScript filter), the same extraction on
// json-as full parsing, V8's JSON.parse on the same bytes, and a memchr pass over them.
//
//   tsx bench/run.ts            full run (~3-4 min), table on stdout, bench/results/latest.json
//   tsx bench/run.ts --quick    CI-sized smoke (tiny bodies, 3 rounds)
//   tsx bench/run.ts --help     the options (BENCH_USAGE below)
//   options: --only NAME[,NAME]  workloads whose name contains one of these
//            --out FILE          JSON output (default bench/results/latest.json, quick: quick.json)
//            --markdown FILE     also write the report as Markdown (bench/RESULTS.md)
//            --from-json FILE    re-render a saved run (with --markdown FILE: as Markdown)
//            --compare FILE      another build of the filter measured beside ours on every
//                                workload (e.g. the previous commit's build/llmproxy.wasm)
//
// Method: every timed unit is a batch of whole streams (create, request headers, body chunks,
// response headers, body chunks, finish) sized to ~targetMs; variants are interleaved round by
// round in rotating order; medians over rounds. Each filter runs in two VMs: a plain one for the
// end-to-end host time and memory, and an instrumented one (bench/instrument.ts) for the time
// spent inside the module's calls, split into the module's own code and the host imports it
// called, with the timers' cost (calibrated) taken out.
import { readFileSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import { crc32 } from "node:zlib";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { execFileSync } from "node:child_process";
import { availableParallelism, cpus, loadavg } from "node:os";
import { WasmVm, type VmOptions } from "../host/abi/vm";
import type { HttpStream } from "../host/envoy/stream";
import { median } from "./median";
import { buildWorkloads, drive, FULL_SIZES, QUICK_SIZES, type Workload } from "./workloads";
import { Profile, loadInstrumented, calibrate, corrected, type CorrectedProfile, type ProfileSnapshot } from "./instrument";
import { buildSdkLogNoop, restoredLineCount } from "./sdk-variant";
import { profile, categorize, type ProfileRow } from "./profile";
import { inflateBench, renderInflate, type InflateBenchResult } from "./inflate";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const td = new TextDecoder();
const now = () => performance.now();

export const FILTERS = ["llmproxy", "noop", "jsonas"] as const;
export type FilterName = (typeof FILTERS)[number] | "noop-sdklog" | "bytescan" | "bytescan-scratch" | "compare";
/** Each variant: its module and plugin configuration. */
const VARIANTS: Record<FilterName, { file: string; config: string }> = {
  llmproxy: { file: "build/llmproxy.wasm", config: "" },
  noop: { file: "build/noop.wasm", config: "" },
  jsonas: { file: "build/jsonas.wasm", config: "" },
  "noop-sdklog": { file: "build/noop-sdklog.wasm", config: "" },
  bytescan: { file: "build/bytescan.wasm", config: "" },
  "bytescan-scratch": { file: "build/bytescan.wasm", config: "scratch" },
  // --compare FILE: another build of the filter (say, the previous commit's) measured beside ours
  // on every workload, for a before/after in one run.
  compare: { file: "", config: "" },
};
/** Body-reading floors, on the workloads with LLM bodies. */
const FLOORS = ["bytescan", "bytescan-scratch"] as const;
/** Workloads that also run the SDK-logging no-op (the per-stream bookkeeping comparison). */
const SDKLOG_WORKLOADS = ["headers-only", "non-llm-get", "small-json"];

export interface BenchOptions {
  quick?: boolean;
  /** A second filter build measured beside ours on every workload (before/after). */
  compare?: string | null;
  only?: string[];
  out?: string | null;
  markdown?: string | null;
  log?: (line: string) => void;
}

export interface FilterResult {
  /** Median time inside the module's calls per stream (µs), instrumentation cost removed. */
  inWasmUs: number;
  /** Of which: the module's own code, and host imports it called (mean split, µs). */
  wasmSelfUs: number;
  hostImportsUs: number;
  /** Median end-to-end host time per stream, uninstrumented VM (µs). */
  e2eUs: number;
  memory: { startBytes: number; afterBytes: number };
  /** The share of the raw instrumented time that was the timers' own (subtracted); near 1, the
   *  in-module time is below the method's resolution. */
  timerShare: number;
  /** Calls per stream into the module / from it. */
  exportCalls: number;
  importCalls: number;
  profile: { name: string; side: "wasm" | "host"; us: number; pct: number; calls: number }[];
  correct: boolean;
  problems: string[];
  extracted: Record<string, string>;
  trapped: boolean;
}

export interface WorkloadResult {
  name: string;
  description: string;
  requestBytes: number;
  responseBytes: number;
  chunks: { request: number; response: number };
  /** SSE: data events per stream. */
  events?: number;
  streamsPerSample: Record<string, number>;
  filters: Partial<Record<FilterName, FilterResult>>;
  js: { jsonParseUs: number; memchrUs: number; jsonParseCorrect: boolean } | null;
  ratios: {
    inWasmVsNoop: number;
    e2eVsNoop: number;
    inWasmVsJsonas: number;
    e2eVsJsonas: number;
    vsJsonParse: number | null;
    vsMemchr: number | null;
  };
  /** MB/s (10^6 bytes) over the request + response bodies. */
  rates: {
    llmproxy: number;
    llmproxySelf: number;
    jsonas: number;
    /** The body-reading floors: copy in + one SIMD pass, with the SDK's malloc / a scratch block. */
    floorSdk: number | null;
    floorScratch: number | null;
    jsonParse: number | null;
    memchr: number | null;
  } | null;
}

export interface StartupResult {
  filter: string;
  bytes: number;
  /** Median ms: WebAssembly.compile of the bytes (made unique per run: V8 caches by bytes). */
  compileMs: number;
  /** Median ms: instantiate (imports linked) + _initialize + on_context_create + on_vm_start +
   *  on_configure (empty plugin configuration), first calls included. */
  startMs: number;
}

export interface MalformedResult {
  case: string;
  llmproxy: { trapped: boolean; nextStreamOk: boolean; skipReason?: string };
  jsonas: { trapped: boolean; nextStreamOk: boolean; error?: string };
}

export interface BenchResults {
  meta: {
    date: string;
    quick: boolean;
    node: string;
    cpu: string;
    nproc: number;
    rounds: number;
    targetMs: number;
    timerOverheadNs: number;
    durationS: number;
    /** 1-minute load average at the start and the end of the run. */
    loadavg: number[];
  };
  wasmBytes: Record<string, number>;
  workloads: WorkloadResult[];
  sdkBookkeeping: {
    patchedInWasmUs: number;
    unpatchedInWasmUs: number;
    patchedE2eUs: number;
    unpatchedE2eUs: number;
    restoredLogLines: number;
  } | null;
  malformed: MalformedResult[];
  targets: { target: string; measured: string; met: boolean }[];
  /** VM startup per module: compile, then instantiate + _initialize + on_vm_start + on_configure. */
  startup: StartupResult[];
  /** V8 sampling CPU profiles of a names-kept release build (full runs only). */
  cpuProfiles: { workload: string; filter: string; categories: { category: string; selfMs: number; pct: number }[]; top: ProfileRow[] }[];
  /** The inflater against node:zlib, a gzip'd stream's added cost, the module's growth (bench/inflate.ts). */
  inflate?: InflateBenchResult;
}

// ---------------------------------------------------------------- driving streams

const STATE_PREFIX = "wasm.asm.llmproxy.";

function extracted(s: HttpStream): Record<string, string> {
  const out: Record<string, string> = {};
  // HttpStream.filterState: a Map of entries (or, in earlier host versions, a store holding one).
  const fs = s.filterState as unknown as Map<string, { value: Uint8Array }> | { map: Map<string, { value: Uint8Array }> };
  const map = fs instanceof Map ? fs : fs.map;
  for (const [k, v] of map) out[k.startsWith(STATE_PREFIX) ? k.slice(STATE_PREFIX.length) : k] = td.decode(v.value);
  return out;
}

/** What a stream through `filter` must show: bodies through unchanged, the right filter state. */
function check(filter: FilterName, vm: WasmVm, s: HttpStream, w: Workload): string[] {
  const problems: string[] = [];
  if (vm.failed) problems.push(`VM failed: ${vm.lastTrap?.message}`);
  if (s.localReply) problems.push(`local reply ${s.localReply.status} ${s.localReply.details}`);
  if (s.upstream.body().length !== w.requestBody.length)
    problems.push(`upstream got ${s.upstream.body().length} of ${w.requestBody.length} request bytes`);
  if (s.downstream.body().length !== w.responseBody.length)
    problems.push(`downstream got ${s.downstream.body().length} of ${w.responseBody.length} response bytes`);
  const got = extracted(s);
  // The json-as baseline reads JSON and SSE, not Bedrock's binary event stream.
  const extracts = filter === "llmproxy" || (filter === "jsonas" && !w.eventStream) || filter === "compare";
  if (!extracts || w.expect === null) {
    if (Object.keys(got).length > 0 && w.expect === null) problems.push(`unexpected filter state ${JSON.stringify(got)}`);
    return problems;
  }
  const e = w.expect;
  const want: [string, string | undefined][] = [
    ["request_model", e.requestModel],
    ["response_model", e.responseModel],
    ["request_prompt_tokens", e.prompt?.toString()],
    ["request_completion_tokens", e.completion?.toString()],
    ["request_total_tokens", e.total?.toString()],
  ];
  for (const [k, v] of want) if (v !== undefined && got[k] !== v) problems.push(`${k}: want ${v}, got ${got[k]}`);
  return problems;
}

// ---------------------------------------------------------------- JS baselines

/** V8: decode the bytes and JSON.parse them (per event for SSE), reading the same fields. */
function jsonParseWork(w: Workload): { model: string; prompt: number; completion: number } {
  const req = JSON.parse(td.decode(w.requestBody));
  const out = { model: String(req.model), prompt: -1, completion: -1 };
  if (w.eventStream) {
    out.model = w.expect?.requestModel ?? ""; // Bedrock: the model is in the path
    const b = Buffer.from(w.responseBody.buffer, w.responseBody.byteOffset, w.responseBody.byteLength);
    for (let at = 0; at + 16 <= b.length; ) {
      const total = b.readUInt32BE(at);
      const hlen = b.readUInt32BE(at + 4);
      if (
        crc32(b.subarray(at, at + 8)) !== b.readUInt32BE(at + 8) ||
        crc32(b.subarray(at, at + total - 4)) !== b.readUInt32BE(at + total - 4)
      )
        break;
      const chunk = JSON.parse(td.decode(b.subarray(at + 12 + hlen, at + total - 4)));
      const ev = JSON.parse(Buffer.from(chunk.bytes, "base64").toString());
      const u = ev.usage ?? ev.message?.usage;
      if (u) {
        out.prompt = u.input_tokens ?? out.prompt;
        out.completion = u.output_tokens ?? out.completion;
      }
      const m = ev["amazon-bedrock-invocationMetrics"];
      if (m) {
        out.prompt = m.inputTokenCount;
        out.completion = m.outputTokenCount;
      }
      at += total;
    }
  } else if (w.sse) {
    const text = td.decode(w.responseBody);
    for (const line of text.split("\n")) {
      if (!line.startsWith("data:")) continue;
      const data = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
      if (data === "[DONE]") continue;
      const ev = JSON.parse(data);
      const u = ev.usage ?? ev.message?.usage; // Anthropic's message_start nests it
      if (u) {
        out.prompt = u.prompt_tokens ?? u.input_tokens ?? out.prompt;
        out.completion = u.completion_tokens ?? u.output_tokens ?? out.completion;
      }
    }
  } else {
    const u = JSON.parse(td.decode(w.responseBody)).usage;
    if (u) {
      out.prompt = u.prompt_tokens ?? u.input_tokens;
      out.completion = u.completion_tokens ?? u.output_tokens;
    }
  }
  return out;
}

/** memchr: Buffer.indexOf of a byte that never occurs, over every chunk as delivered. */
function memchrWork(bufs: Buffer[]): number {
  let n = 0;
  for (const b of bufs) n += b.indexOf(0x01);
  return n;
}

// ---------------------------------------------------------------- sampling

interface Sampler {
  key: string;
  /** Runs `n` units, returns elapsed ms. */
  run(n: number): number;
  batch: number;
  samples: number[];
  /** Instrumented samplers: the profile of each round, per stream. */
  prof?: Profile;
  raw?: ProfileSnapshot[];
}

function cpuModel(): string {
  try {
    const info = readFileSync("/proc/cpuinfo", "utf8");
    const field = (k: string) => info.match(new RegExp(`^${k}\\s*:\\s*(.+)$`, "m"))?.[1].trim();
    const name = field("model name");
    if (name) return `${name} (family ${field("cpu family") ?? "?"}, model ${field("model") ?? "?"}, stepping ${field("stepping") ?? "?"})`;
  } catch {
    /* not Linux */
  }
  return cpus()[0]?.model ?? "unknown";
}

async function newVm(module: WebAssembly.Module, prof?: Profile, pluginConfig = ""): Promise<WasmVm> {
  const opts: VmOptions = { wasm: module, rootId: "asm-llm-proxy", pluginConfig, logLevel: 2, maxLogs: 1000 };
  const vm = prof ? await loadInstrumented(opts, prof) : await WasmVm.load(opts);
  if (!vm.start()) throw new Error(`VM failed to start: ${vm.lastTrap?.message ?? vm.logs.map((l) => l.message).join("; ")}`);
  return vm;
}

// ---------------------------------------------------------------- malformed inputs

const MALFORMED: { case: string; request?: string; contentType: string; response: string[] }[] = [
  {
    case: "truncated JSON response",
    contentType: "application/json",
    response: ['{"id":"x","model":"gpt-4o","usage":{"prompt_tokens":12,"completion'],
  },
  {
    case: "HTML error page as application/json",
    contentType: "application/json",
    response: ["<html><body><h1>502 Bad Gateway</h1></body></html>"],
  },
  {
    case: '"model" is a number (type mismatch)',
    contentType: "application/json",
    response: ['{"model":42,"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}'],
  },
  {
    case: "request body is not JSON",
    request: "model=gpt-4o&prompt=hi",
    contentType: "application/json",
    response: ['{"model":"gpt-4o","usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}'],
  },
  {
    case: "SSE event with broken JSON",
    contentType: "text/event-stream",
    response: [
      'data: {"model":"gpt-4o","choices":[{"delta":\n\n',
      'data: {"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}\n\n',
      "data: [DONE]\n\n",
    ],
  },
];

async function malformedRuns(modules: Record<string, WebAssembly.Module>, valid: Workload): Promise<MalformedResult[]> {
  const enc = new TextEncoder();
  const out: MalformedResult[] = [];
  for (const m of MALFORMED) {
    const w: Workload = {
      ...valid,
      requestChunks: [enc.encode(m.request ?? td.decode(valid.requestBody))],
      requestBody: enc.encode(m.request ?? td.decode(valid.requestBody)),
      requestHeaders: valid.requestHeaders.filter(([k]) => k !== "content-length"),
      responseHeaders: [
        [":status", "200"],
        ["content-type", m.contentType],
      ],
      responseChunks: m.response.map((r) => enc.encode(r)),
      responseBody: enc.encode(m.response.join("")),
    };
    const row = { case: m.case } as MalformedResult;
    for (const f of ["llmproxy", "jsonas"] as const) {
      const vm = await newVm(modules[f]);
      const s = drive(vm, w);
      const trapped = vm.failed;
      const next = drive(vm, valid);
      const nextStreamOk = !vm.failed && !next.localReply && next.downstream.body().length === valid.responseBody.length;
      if (f === "llmproxy") row.llmproxy = { trapped, nextStreamOk, skipReason: extracted(s).usage_skipped };
      else row.jsonas = { trapped, nextStreamOk, error: trapped ? vm.lastTrap?.message : undefined };
    }
    out.push(row);
  }
  return out;
}

// ---------------------------------------------------------------- VM startup

/** A copy of `bytes` with a custom section appended whose content is `n`: the same module, but
 *  new wire bytes, so V8's per-process native module cache cannot serve the compile. */
function uniqueBytes(bytes: Uint8Array, n: number): Uint8Array<ArrayBuffer> {
  const name = new TextEncoder().encode("bench");
  const body = new TextEncoder().encode(String(n).padStart(12, "0"));
  const payload = 1 + name.length + body.length; // name length (1 byte LEB) + name + body
  const out = new Uint8Array(bytes.length + 2 + payload);
  out.set(bytes, 0);
  let o = bytes.length;
  out[o++] = 0; // custom section
  out[o++] = payload; // < 128: one LEB byte
  out[o++] = name.length;
  out.set(name, o);
  o += name.length;
  out.set(body, o);
  return out;
}

/** Compile and start each module `rounds` times, interleaved; medians. */
async function measureStartup(files: Record<string, string>, rounds: number): Promise<StartupResult[]> {
  const bytes = Object.fromEntries(Object.entries(files).map(([k, f]) => [k, new Uint8Array(readFileSync(join(root, f)))]));
  const times: Record<string, { c: number[]; s: number[] }> = Object.fromEntries(Object.keys(files).map((k) => [k, { c: [], s: [] }]));
  let n = Date.now();
  for (let r = 0; r < rounds + 1; r++) {
    for (const k of Object.keys(files)) {
      const wire = uniqueBytes(bytes[k], n++);
      const t0 = now();
      const module = await WebAssembly.compile(wire);
      const t1 = now();
      const vm = await WasmVm.load({ wasm: module, rootId: "asm-llm-proxy", pluginConfig: "", logLevel: 2, maxLogs: 100 });
      if (!vm.start()) throw new Error(`${k}: VM failed to start`);
      const t2 = now();
      if (r === 0) continue; // warm-up round (the host's own code, V8's compiler threads)
      times[k].c.push(t1 - t0);
      times[k].s.push(t2 - t1);
    }
  }
  return Object.keys(files).map((k) => ({ filter: k, bytes: bytes[k].length, compileMs: median(times[k].c), startMs: median(times[k].s) }));
}

// ---------------------------------------------------------------- the run

/** How long and how often each variant is sampled. */
interface SamplingPlan {
  rounds: number;
  /** The aimed-for duration of one sample (a batch of whole streams), ms. */
  targetMs: number;
  warmupMs: number;
  /** The largest batch: a bound on a sample's length when a stream takes next to nothing. */
  maxBatch: number;
}

function samplingPlan(quick: boolean): SamplingPlan {
  return { rounds: quick ? 3 : 15, targetMs: quick ? 2 : 30, warmupMs: quick ? 0 : 250, maxBatch: quick ? 20 : 20000 };
}

/** The whole run: every workload on every variant, then VM startup, malformed input, CPU
 *  profiles (full runs) and the inflater; the results written as JSON (and Markdown if asked). */
export async function runBench(opts: BenchOptions = {}): Promise<BenchResults> {
  const log = opts.log ?? ((line: string) => console.error(line));
  const quick = !!opts.quick;
  const t0 = now();
  const loadStart = loadavg()[0];
  const plan = samplingPlan(quick);

  await buildSdkLogNoop();
  const { modules, wasmBytes } = await compileVariants(opts.compare);
  // The timers' cost per wrapped call: calibrated before each workload (the machine's load
  // drifts), the median of all of them subtracted everywhere.
  const calibrations: number[] = [calibrate()];
  const workloads = selectWorkloads(quick, opts.only);
  const { results, timerOverhead } = await measureWorkloads(workloads, modules, plan, calibrations, log);
  const bookkeeping = sdkBookkeeping(results);

  const startup = await measureVariantStartup(modules, quick, log);
  const small = workloads.find((w) => w.name === "small-json") ?? workloads.find((w) => w.llm && !w.sse);
  const malformed = small ? await malformedRuns(modules, small) : [];
  const cpuProfiles = quick ? [] : await cpuProfileRuns(workloads, log);
  const inflate = !opts.only?.length || opts.only.includes("inflate") ? await inflateBench(root, quick, log) : undefined;

  const res: BenchResults = {
    meta: runMeta(quick, plan, timerOverhead, t0, loadStart),
    wasmBytes,
    workloads: results,
    sdkBookkeeping: bookkeeping,
    malformed,
    targets: targets(results, wasmBytes),
    cpuProfiles,
    startup,
    inflate,
  };
  writeResults(res, opts, log);
  return res;
}

/** Every variant's module, compiled once; the file sizes under the names the report uses. */
async function compileVariants(compare: string | null | undefined) {
  const modules = {} as Record<FilterName, WebAssembly.Module>;
  const wasmBytes: Record<string, number> = {};
  if (compare) VARIANTS.compare.file = relative(root, resolve(compare));
  for (const [name, { file }] of Object.entries(VARIANTS) as [FilterName, { file: string }][]) {
    if (!file) continue;
    const path = join(root, file);
    if (!existsSync(path)) throw new Error(`${file} is missing: run node scripts/build.mjs`);
    const bytes = readFileSync(path);
    wasmBytes[name === "compare" ? `compare: ${file}` : file.replace(/^build\//, "")] = bytes.length;
    modules[name] = await WebAssembly.compile(bytes);
  }
  return { modules, wasmBytes };
}

/** The run's workloads: every one, or those whose name contains one of `only`. */
function selectWorkloads(quick: boolean, only: string[] | undefined): Workload[] {
  const workloads = buildWorkloads(quick ? QUICK_SIZES : FULL_SIZES);
  return only?.length ? workloads.filter((w) => only.some((o) => w.name.includes(o))) : workloads;
}

/** Every workload measured, then the numbers settled with the timers' cost: the median of
 *  `calibrations` and of one more taken before each workload (pushed onto it). */
async function measureWorkloads(
  workloads: Workload[],
  modules: Record<FilterName, WebAssembly.Module>,
  plan: SamplingPlan,
  calibrations: number[],
  log: (line: string) => void,
): Promise<{ results: WorkloadResult[]; timerOverhead: number }> {
  const settle: ((overhead: number) => WorkloadResult)[] = [];
  for (const w of workloads) {
    const tw = now();
    calibrations.push(calibrate());
    settle.push(await measureWorkload(w, modules, plan, log));
    log(`${w.name}: measured in ${((now() - tw) / 1000).toFixed(1)} s`);
  }
  const timerOverhead = median(calibrations);
  log(
    `timer cost ${(timerOverhead * 1e6).toFixed(0)} ns per wrapped call (median of ${calibrations.length} calibrations, ${(Math.min(...calibrations) * 1e6).toFixed(0)}–${(Math.max(...calibrations) * 1e6).toFixed(0)})`,
  );
  return { results: settle.map((s) => s(timerOverhead)), timerOverhead };
}

/** The variants a workload runs: the three filters, and the extra baselines that apply to it. */
function variantsFor(w: Workload, modules: Record<FilterName, WebAssembly.Module>): FilterName[] {
  return [
    ...FILTERS,
    ...(SDKLOG_WORKLOADS.includes(w.name) ? (["noop-sdklog"] as const) : []),
    ...(w.llm ? FLOORS : []),
    ...(modules.compare ? (["compare"] as const) : []),
  ];
}

/** Samples every variant (and the JS baselines) on `w`, interleaved; returns what turns the
 *  samples into the workload's row once the timers' cost is known. */
async function measureWorkload(
  w: Workload,
  modules: Record<FilterName, WebAssembly.Module>,
  plan: SamplingPlan,
  log: (line: string) => void,
): Promise<(overhead: number) => WorkloadResult> {
  const filters = variantsFor(w, modules);
  const vms = new Map<FilterName, VariantVms>();
  const fr: Partial<Record<FilterName, FilterResult>> = {};
  const samplers: Sampler[] = [];
  for (const f of filters) {
    const v = await startVariant(f, w, modules[f]);
    vms.set(f, v.vms);
    fr[f] = v.result;
    samplers.push(...v.samplers);
  }
  let js: WorkloadResult["js"] = null;
  if (w.llm) {
    const baselines = jsBaselines(w, log);
    js = baselines.js;
    samplers.push(...baselines.samplers);
  }
  sizeBatches(samplers, plan);
  sampleRounds(samplers, plan.rounds);

  // Keep the numbers, let the VMs go (a json-as VM holds ~150 MiB after a 10 MB body).
  const afterBytes = new Map(filters.map((f) => [f, vms.get(f)!.plain.memoryBytes()]));
  const failed = new Map(filters.map((f) => [f, vms.get(f)!.plain.failed || vms.get(f)!.instrumented.failed]));
  for (const s of samplers) s.run = () => 0;
  vms.clear();
  return (overhead: number) => {
    const by = (key: string) => samplers.find((s) => s.key === key)!;
    for (const f of filters) {
      const r = fr[f]!;
      settleFilterResult(r, by(`${f}:e2e`), by(`${f}:wasm`), overhead);
      r.memory.afterBytes = afterBytes.get(f)!;
      r.trapped = r.trapped || failed.get(f)!;
      if (r.trapped && r.correct) {
        r.correct = false;
        r.problems.push("a VM trapped during the timed runs");
      }
    }
    if (js) {
      js.jsonParseUs = median(by("json-parse").samples) * 1000;
      js.memchrUs = median(by("memchr").samples) * 1000;
    }
    const row = workloadRow(w, fr, js, samplers);
    log(workloadSummary(w, filters, fr, js));
    return row;
  };
}

/** A variant's two VMs: plain (end-to-end time, memory) and instrumented (time inside the module). */
interface VariantVms {
  plain: WasmVm;
  instrumented: WasmVm;
}

/** A variant's VMs on `w`, its correctness checked on the first stream through each, and its
 *  two samplers (end to end on the plain VM, in-module time on the instrumented one). */
async function startVariant(f: FilterName, w: Workload, module: WebAssembly.Module) {
  const vm = await newVm(module, undefined, VARIANTS[f].config);
  const startBytes = vm.memoryBytes();
  const prof = new Profile();
  const ivm = await newVm(module, prof, VARIANTS[f].config);
  // Correctness: the first stream through each VM.
  const s = drive(vm, w);
  const problems = check(f, vm, s, w);
  const si = drive(ivm, w);
  for (const p of check(f, ivm, si, w)) problems.push(`instrumented: ${p}`);
  const result: FilterResult = {
    inWasmUs: NaN,
    wasmSelfUs: NaN,
    hostImportsUs: NaN,
    e2eUs: NaN,
    exportCalls: 0,
    importCalls: 0,
    timerShare: 0,
    memory: { startBytes, afterBytes: 0 },
    profile: [],
    correct: problems.length === 0,
    problems,
    extracted: extracted(s),
    trapped: vm.failed || ivm.failed,
  };
  // Each sampler's timed loop is written out (here and in jsBaselines): a shared helper calling a
  // closure per stream would add that call to what is timed, and the sub-µs baselines would feel it.
  const samplers: Sampler[] = [
    {
      key: `${f}:e2e`,
      batch: 1,
      samples: [],
      run: (n) => {
        const t = now();
        for (let i = 0; i < n; i++) drive(vm, w);
        return now() - t;
      },
    },
    {
      key: `${f}:wasm`,
      batch: 1,
      samples: [],
      prof,
      raw: [],
      run: (n) => {
        prof.reset();
        const t = now();
        for (let i = 0; i < n; i++) drive(ivm, w);
        return now() - t;
      },
    },
  ];
  const vms: VariantVms = { plain: vm, instrumented: ivm };
  return { vms, result, samplers };
}

/** The JS baselines on an LLM workload: JSON.parse (checked against what the filter must read)
 *  and memchr, each a sampler. */
function jsBaselines(w: Workload, log: (line: string) => void) {
  const parsed = jsonParseWork(w);
  const e = w.expect!;
  const jsonParseCorrect = parsed.model === e.requestModel && parsed.prompt === e.prompt && parsed.completion === e.completion;
  const js: NonNullable<WorkloadResult["js"]> = { jsonParseUs: NaN, memchrUs: NaN, jsonParseCorrect };
  // The results go to a sink, so that V8 cannot drop the work as unused.
  let sink = 0;
  const bufs = [...w.requestChunks, ...w.responseChunks].map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength));
  const samplers: Sampler[] = [
    {
      key: "json-parse",
      batch: 1,
      samples: [],
      run: (n) => {
        const t = now();
        for (let i = 0; i < n; i++) sink += jsonParseWork(w).prompt;
        return now() - t;
      },
    },
    {
      key: "memchr",
      batch: 1,
      samples: [],
      run: (n) => {
        const t = now();
        for (let i = 0; i < n; i++) sink += memchrWork(bufs);
        return now() - t;
      },
    },
  ];
  if (sink === 0.5) log("");
  return { js, samplers };
}

/** Warm each sampler up, then size its batch to ~targetMs from its fastest single run. */
function sizeBatches(samplers: Sampler[], plan: SamplingPlan): void {
  for (const s of samplers) {
    const until = now() + plan.warmupMs;
    let once = s.run(1);
    while (now() < until) once = Math.min(once, s.run(1));
    const one = Math.min(once, s.run(1));
    s.batch = Math.max(1, Math.min(plan.maxBatch, Math.round(plan.targetMs / Math.max(one, 1e-4))));
  }
}

/** `rounds` rounds, the samplers interleaved in an order that rotates each round; per stream,
 *  a sample's time and (instrumented samplers) its profile. */
function sampleRounds(samplers: Sampler[], rounds: number): void {
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < samplers.length; k++) {
      const s = samplers[(k + r) % samplers.length];
      const ms = s.run(s.batch);
      s.samples.push(ms / s.batch);
      if (s.prof) {
        const snap = s.prof.snapshot();
        s.raw!.push({
          ...snap,
          time: snap.time.map((x) => x / s.batch),
          calls: snap.calls.map((x) => x / s.batch),
          inclusive: snap.inclusive / s.batch,
          outerCalls: snap.outerCalls / s.batch,
        });
      }
    }
  }
}

/** A variant's medians from its samples, the timers' cost (`overhead`, ms per wrapped call) taken out. */
function settleFilterResult(r: FilterResult, e2e: Sampler, wasm: Sampler, overhead: number): void {
  r.e2eUs = median(e2e.samples) * 1000;
  const profiles = wasm.raw!.map((p) => corrected(p, overhead));
  r.inWasmUs = median(profiles.map((p) => p.total)) * 1000;
  // Where most of the raw time was the timers' own, the number is at the method's resolution.
  const raw = median(wasm.raw!.map((p) => p.inclusive)) * 1000;
  r.timerShare = raw > 0 ? 1 - r.inWasmUs / raw : 0;
  splitInModuleTime(r, profiles);
}

/** The split (module code / host imports) and the profile: mean shares over rounds, applied to the median. */
function splitInModuleTime(r: FilterResult, profiles: CorrectedProfile[]): void {
  const n = profiles.length;
  const total = profiles.reduce((a, p) => a + p.total, 0) / n;
  const share = (x: number) => (total > 0 ? x / total : 0);
  r.wasmSelfUs = r.inWasmUs * share(profiles.reduce((a, p) => a + p.wasm, 0) / n);
  r.hostImportsUs = r.inWasmUs * share(profiles.reduce((a, p) => a + p.host, 0) / n);
  r.profile = profiles[0].bins
    .map((b, i) => {
      const ms = profiles.reduce((a, p) => a + p.bins[i].ms, 0) / n;
      const c = profiles.reduce((a, p) => a + p.bins[i].calls, 0) / n;
      return { name: b.name, side: b.side, us: r.inWasmUs * share(ms), pct: 100 * share(ms), calls: c };
    })
    .filter((b) => b.calls > 0)
    .sort((a, b) => b.us - a.us);
  r.exportCalls = r.profile.filter((b) => b.side === "wasm").reduce((a, b) => a + b.calls, 0);
  r.importCalls = r.profile.filter((b) => b.side === "host").reduce((a, b) => a + b.calls, 0);
}

/** The workload's row: its shape, every variant's numbers, ours against the baselines. */
function workloadRow(
  w: Workload,
  fr: Partial<Record<FilterName, FilterResult>>,
  js: WorkloadResult["js"],
  samplers: Sampler[],
): WorkloadResult {
  const L = fr.llmproxy!,
    N = fr.noop!,
    J = fr.jsonas!;
  return {
    name: w.name,
    description: w.description,
    requestBytes: w.requestBody.length,
    responseBytes: w.responseBody.length,
    chunks: { request: w.requestChunks.length, response: w.responseChunks.length },
    events: w.events,
    streamsPerSample: Object.fromEntries(samplers.map((s) => [s.key, s.batch])),
    filters: fr,
    js,
    ratios: {
      inWasmVsNoop: L.inWasmUs / N.inWasmUs,
      e2eVsNoop: L.e2eUs / N.e2eUs,
      inWasmVsJsonas: L.inWasmUs / J.inWasmUs,
      e2eVsJsonas: L.e2eUs / J.e2eUs,
      vsJsonParse: js ? L.inWasmUs / js.jsonParseUs : null,
      vsMemchr: js ? L.inWasmUs / js.memchrUs : null,
    },
    rates: w.llm ? throughputRates(w, fr, js) : null,
  };
}

/** MB/s over the request + response bodies (bytes/µs = MB/s). */
function throughputRates(w: Workload, fr: Partial<Record<FilterName, FilterResult>>, js: WorkloadResult["js"]): WorkloadResult["rates"] {
  const bytes = w.requestBody.length + w.responseBody.length;
  const rate = (us: number) => (us > 0 ? bytes / us : NaN);
  const L = fr.llmproxy!;
  return {
    llmproxy: rate(L.inWasmUs),
    llmproxySelf: rate(L.wasmSelfUs),
    jsonas: rate(fr.jsonas!.inWasmUs),
    floorSdk: fr.bytescan ? rate(fr.bytescan.inWasmUs) : null,
    floorScratch: fr["bytescan-scratch"] ? rate(fr["bytescan-scratch"].inWasmUs) : null,
    jsonParse: js ? rate(js.jsonParseUs) : null,
    memchr: js ? rate(js.memchrUs) : null,
  };
}

/** The workload's line in the run's log, with every failed check. */
function workloadSummary(
  w: Workload,
  filters: FilterName[],
  fr: Partial<Record<FilterName, FilterResult>>,
  js: WorkloadResult["js"],
): string {
  const L = fr.llmproxy!,
    N = fr.noop!,
    J = fr.jsonas!;
  const baselines = js ? `; JSON.parse ${fmtUs(js.jsonParseUs)}; memchr ${fmtUs(js.memchrUs)}` : "";
  const failed = filters.every((f) => fr[f]!.correct)
    ? ""
    : "  [CHECK FAILED: " + filters.flatMap((f) => fr[f]!.problems.map((p) => `${f}: ${p}`)).join("; ") + "]";
  return `${w.name}: ours ${fmtUs(L.inWasmUs)} in wasm / ${fmtUs(L.e2eUs)} e2e; noop ${fmtUs(N.inWasmUs)} / ${fmtUs(N.e2eUs)}; json-as ${fmtUs(J.inWasmUs)}${baselines}${failed}`;
}

/** The no-op on the patched SDK against the SDK with its debug logging restored (headers-only). */
function sdkBookkeeping(results: WorkloadResult[]): BenchResults["sdkBookkeeping"] {
  const ho = results.find((r) => r.name === "headers-only");
  return ho && ho.filters["noop-sdklog"]
    ? {
        patchedInWasmUs: ho.filters.noop!.inWasmUs,
        unpatchedInWasmUs: ho.filters["noop-sdklog"].inWasmUs,
        patchedE2eUs: ho.filters.noop!.e2eUs,
        unpatchedE2eUs: ho.filters["noop-sdklog"].e2eUs,
        restoredLogLines: restoredLineCount(),
      }
    : null;
}

/** VM startup of ours, the no-op, json-as (and the --compare build). */
async function measureVariantStartup(
  modules: Record<FilterName, WebAssembly.Module>,
  quick: boolean,
  log: (line: string) => void,
): Promise<StartupResult[]> {
  const startupFiles: Record<string, string> = { llmproxy: VARIANTS.llmproxy.file, noop: VARIANTS.noop.file, jsonas: VARIANTS.jsonas.file };
  if (modules.compare) startupFiles.compare = VARIANTS.compare.file;
  const startup = await measureStartup(startupFiles, quick ? 3 : 21);
  log(`VM startup: ${startup.map((x) => `${x.filter} ${x.compileMs.toFixed(2)} + ${x.startMs.toFixed(2)} ms`).join("; ")}`);
  return startup;
}

/** V8 CPU profiles (full runs): ours and json-as on the largest model-last request, ours on an
 *  OpenAI stream and on the small call. */
async function cpuProfileRuns(workloads: Workload[], log: (line: string) => void): Promise<BenchResults["cpuProfiles"]> {
  const cpuProfiles: BenchResults["cpuProfiles"] = [];
  const big = workloads
    .filter((w) => w.name.startsWith("req-") && w.name.endsWith("model-last"))
    .sort((a, b) => b.requestBody.length - a.requestBody.length)[0];
  const sse = workloads.find((w) => w.name.startsWith("sse-openai") && !w.name.endsWith("split"));
  const smallW = workloads.find((w) => w.name === "small-json");
  const plan: [Workload | undefined, string][] = [
    [big, "llmproxy"],
    [big, "jsonas"],
    [sse, "llmproxy"],
    [smallW, "llmproxy"],
  ];
  for (const [w, f] of plan) {
    if (!w) continue;
    const rows = await profile(w, f, 2500);
    cpuProfiles.push({ workload: w.name, filter: f, categories: categorize(rows), top: rows.slice(0, 12) });
    log(`profiled ${f} on ${w.name}`);
  }
  return cpuProfiles;
}

/** The run's circumstances; taken last, so the duration and the end load average cover the run. */
function runMeta(quick: boolean, plan: SamplingPlan, timerOverhead: number, t0: number, loadStart: number): BenchResults["meta"] {
  return {
    date: new Date().toISOString(),
    quick,
    node: process.version,
    cpu: cpuModel(),
    nproc: availableParallelism(),
    rounds: plan.rounds,
    targetMs: plan.targetMs,
    timerOverheadNs: timerOverhead * 1e6,
    durationS: (now() - t0) / 1000,
    loadavg: [loadStart, loadavg()[0]],
  };
}

/** The JSON (default bench/results/latest.json, quick.json with --quick; none for out: null), and the Markdown if asked. */
function writeResults(res: BenchResults, opts: BenchOptions, log: (line: string) => void): void {
  const out = opts.out === undefined ? join(root, "bench/results", res.meta.quick ? "quick.json" : "latest.json") : opts.out;
  if (out) {
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, JSON.stringify(res, null, 2) + "\n");
    log(`wrote ${relative(process.cwd(), out)}`);
  }
  if (opts.markdown) {
    writeMarkdown(opts.markdown, res);
    log(`wrote ${relative(process.cwd(), opts.markdown)}`);
  }
}

// ---------------------------------------------------------------- targets

/** Per data event of an SSE workload, µs. */
function perEvent(r: WorkloadResult) {
  const n = r.events ?? 1;
  const f = r.filters;
  const noop = f.noop!.inWasmUs;
  return {
    ours: f.llmproxy!.inWasmUs / n,
    added: (f.llmproxy!.inWasmUs - noop) / n,
    copySdk: f.bytescan ? (f.bytescan.inWasmUs - noop) / n : NaN,
    copyScratch: f["bytescan-scratch"] ? (f["bytescan-scratch"].inWasmUs - noop) / n : NaN,
    jsonParse: r.js ? r.js.jsonParseUs / n : NaN,
    beforeAdded: f.compare ? (f.compare.inWasmUs - noop) / n : NaN,
  };
}

/** The release module's size target (issue 13). */
const SIZE_TARGET = 64 * 1024;

function targets(rs: WorkloadResult[], wasmBytes: Record<string, number> = {}): BenchResults["targets"] {
  const out: BenchResults["targets"] = [];
  const size = wasmBytes["llmproxy.wasm"];
  if (size)
    out.push({ target: "release module ≤ 64 KiB", measured: `${size} bytes (${(size / 1024).toFixed(1)} KiB)`, met: size <= SIZE_TARGET });
  for (const r of rs.filter((r) => r.events && r.js && r.filters.bytescan)) {
    const e = perEvent(r);
    out.push({
      target: `${r.name}: added cost per event within 3× of copying the event in`,
      measured: `${fmtUs(e.added)} vs ${fmtUs(e.copySdk)} (${fmtX(e.added / e.copySdk)})`,
      met: e.added <= 3 * e.copySdk,
    });
    out.push({
      target: `${r.name}: added cost per event well below JSON.parse of the event (≤ 0.5×)`,
      measured: `${fmtUs(e.added)} vs ${fmtUs(e.jsonParse)} (${fmtX(e.added / e.jsonParse)})`,
      met: e.added <= 0.5 * e.jsonParse,
    });
  }
  const small = rs.find((r) => r.name === "small-json");
  if (small) {
    const x = small.ratios.inWasmVsNoop,
      e = small.ratios.e2eVsNoop;
    out.push({
      target: "small call: filter time within a small factor (≤ 5×) of the no-op filter",
      measured: `${x.toFixed(1)}× in wasm, ${e.toFixed(2)}× end to end`,
      met: x <= 5,
    });
  }
  const get = rs.find((r) => r.name === "non-llm-get");
  if (get) {
    const x = get.ratios.inWasmVsNoop;
    out.push({
      target: "non-LLM pass-through: close to the no-op filter (≤ 2×)",
      measured: `${x.toFixed(1)}× in wasm, ${get.ratios.e2eVsNoop.toFixed(2)}× end to end`,
      met: x <= 2,
    });
  }
  for (const r of rs.filter((r) => r.name.startsWith("req-") && r.rates)) {
    const rt = r.rates!;
    out.push({
      target: `${r.name}: scan rate ≥ JSON.parse`,
      measured: `${fmtRate(rt.llmproxy)} vs ${fmtRate(rt.jsonParse!)} (${(rt.llmproxy / rt.jsonParse!).toFixed(1)}×)`,
      met: rt.llmproxy >= rt.jsonParse!,
    });
    out.push({
      target: `${r.name}: scan rate within a small factor (≤ 4×) of memchr`,
      measured: `${fmtRate(rt.llmproxy)} vs ${fmtRate(rt.memchr!)} (${(rt.memchr! / rt.llmproxy).toFixed(1)}× slower)`,
      met: rt.memchr! / rt.llmproxy <= 4,
    });
    if (rt.floorSdk && rt.floorScratch) {
      out.push({
        target: `${r.name}: (context) within ≤ 4× of the proxy-wasm read floor (copy in + one SIMD pass)`,
        measured: `${(rt.floorSdk / rt.llmproxy).toFixed(1)}× below the floor with the SDK's malloc (${fmtRate(rt.floorSdk)}), ${(rt.floorScratch / rt.llmproxy).toFixed(1)}× below it with a scratch block (${fmtRate(rt.floorScratch)})`,
        met: rt.floorSdk / rt.llmproxy <= 4,
      });
    }
  }
  return out;
}

// ---------------------------------------------------------------- rendering

function fmtUs(us: number): string {
  if (!Number.isFinite(us)) return "–";
  if (us >= 10000) return `${(us / 1000).toFixed(1)} ms`;
  if (us >= 1000) return `${(us / 1000).toFixed(2)} ms`;
  if (us >= 100) return `${us.toFixed(0)} µs`;
  if (us >= 10) return `${us.toFixed(1)} µs`;
  return `${us.toFixed(2)} µs`;
}
/** In-module time, marked † when most of the raw measurement was the timers' own. */
function fmtIn(f: FilterResult | undefined): string {
  if (!f) return "–";
  return fmtUs(f.inWasmUs) + (f.timerShare > 0.5 ? "†" : "");
}
function fmtX(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "–";
  return x >= 100 ? `${x.toFixed(0)}×` : x >= 10 ? `${x.toFixed(1)}×` : `${x.toFixed(2)}×`;
}
function fmtRate(mbs: number | null | undefined): string {
  if (mbs === null || mbs === undefined || !Number.isFinite(mbs)) return "–";
  return mbs >= 1000 ? `${(mbs / 1000).toFixed(2)} GB/s` : `${mbs.toFixed(0)} MB/s`;
}
function fmtBytes(n: number): string {
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(n >= 10 << 20 ? 0 : 1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(n >= 10240 ? 0 : 1)} KiB`;
  return `${n} B`;
}

function table(head: string[], rows: string[][]): string {
  const lines = [`| ${head.join(" | ")} |`, `|${head.map((_, i) => (i === 0 ? " --- " : " ---: ")).join("|")}|`];
  for (const r of rows) lines.push(`| ${r.join(" | ")} |`);
  return lines.join("\n");
}

/** The report's tables as Markdown (stdout, and the body of --markdown): one function per section,
 *  in the report's order. */
export function renderTables(res: BenchResults): string {
  const W = res.workloads;
  const parts: string[] = [
    ...timePerStreamTable(W),
    ...endToEndTable(W),
    ...throughputTable(W),
    ...beforeAfterTable(res),
    ...ssePerEventTable(W),
    ...startupTable(res.startup),
    ...memoryTable(W),
    ...whereTheTimeGoesTables(W),
    ...(res.cpuProfiles ?? []).flatMap(cpuProfileTables),
    ...moduleSizesTable(res.wasmBytes),
    ...sdkBookkeepingTable(res.sdkBookkeeping),
    ...malformedTable(res.malformed),
    ...(res.inflate ? [renderInflate(res.inflate, table)] : []),
    ...targetsTable(res),
  ];
  return parts.join("\n") + "\n";
}

/** The headline: time inside the module's calls per stream, ours against every baseline. */
function timePerStreamTable(W: WorkloadResult[]): string[] {
  return [
    "### Time per stream (median; filter = time inside the module's calls, timers' cost removed)\n",
    table(
      [
        "workload",
        "body bytes",
        "ours",
        "no-op",
        "json-as",
        "JSON.parse",
        "memchr",
        "ours/no-op",
        "ours/json-as",
        "ours/JSON.parse",
        "ours/memchr",
      ],
      W.map((r) => {
        const f = r.filters;
        return [
          r.name,
          fmtBytes(r.requestBytes + r.responseBytes),
          fmtIn(f.llmproxy),
          fmtIn(f.noop),
          fmtIn(f.jsonas),
          r.js ? fmtUs(r.js.jsonParseUs) : "n/a",
          r.js ? fmtUs(r.js.memchrUs) : "n/a",
          fmtX(r.ratios.inWasmVsNoop) + (f.noop!.timerShare > 0.5 ? "†" : ""),
          fmtX(r.ratios.inWasmVsJsonas),
          fmtX(r.ratios.vsJsonParse),
          fmtX(r.ratios.vsMemchr),
        ];
      }),
    ),
    "\n† most of the raw instrumented time was the timers' own (subtracted): below the method's resolution; use the end-to-end numbers for these.",
  ];
}

/** The whole stream through the host, uninstrumented, and ours split into module code and host imports. */
function endToEndTable(W: WorkloadResult[]): string[] {
  return [
    "\n### End-to-end host time per stream (uninstrumented VM: host + module)\n",
    table(
      [
        "workload",
        "ours",
        "no-op",
        "json-as",
        "ours/no-op",
        "ours/json-as",
        "ours: module's code",
        "ours: host imports",
        "chunks req/resp",
      ],
      W.map((r) => {
        const f = r.filters;
        return [
          r.name,
          fmtUs(f.llmproxy!.e2eUs),
          fmtUs(f.noop!.e2eUs),
          fmtUs(f.jsonas!.e2eUs),
          fmtX(r.ratios.e2eVsNoop),
          fmtX(r.ratios.e2eVsJsonas),
          fmtUs(f.llmproxy!.wasmSelfUs),
          fmtUs(f.llmproxy!.hostImportsUs),
          `${r.chunks.request}/${r.chunks.response}`,
        ];
      }),
    ),
  ];
}

/** MB/s over the bodies of the LLM workloads, against the read floors and the JS baselines. */
function throughputTable(W: WorkloadResult[]): string[] {
  const rated = W.filter((r) => r.rates);
  return [
    "\n### Throughput over the body bytes (MB/s = 10^6 B/s)\n",
    table(
      [
        "workload",
        "ours (in module calls)",
        "ours (module code only)",
        "json-as",
        "read floor, SDK malloc",
        "read floor, scratch",
        "JSON.parse",
        "memchr",
      ],
      rated.map((r) => [
        r.name,
        fmtRate(r.rates!.llmproxy),
        fmtRate(r.rates!.llmproxySelf),
        fmtRate(r.rates!.jsonas),
        fmtRate(r.rates!.floorSdk),
        fmtRate(r.rates!.floorScratch),
        fmtRate(r.rates!.jsonParse),
        fmtRate(r.rates!.memchr),
      ]),
    ),
    "\nread floor = bench/baselines/bytescan.ts: every chunk copied into the module and passed over once with a SIMD quote count, nothing else; with the SDK's malloc (a GC-managed ArrayBuffer per chunk, as the filter does today) or a reused scratch block.",
  ];
}

/** --compare: the other build against ours, workload by workload (none without --compare). */
function beforeAfterTable(res: BenchResults): string[] {
  const W = res.workloads;
  if (!W.some((r) => r.filters.compare)) return [];
  const before =
    Object.keys(res.wasmBytes)
      .find((k) => k.startsWith("compare"))
      ?.replace(/^compare: /, "") ?? "?";
  return [
    `\n### Before / after: the build given with --compare (${before}) and ours, same run\n`,
    table(
      ["workload", "before: in module calls", "after", "before / after", "before: end to end", "after", "before / after"],
      W.filter((r) => r.filters.compare).map((r) => {
        const b = r.filters.compare!,
          a = r.filters.llmproxy!;
        return [r.name, fmtIn(b), fmtIn(a), fmtX(b.inWasmUs / a.inWasmUs), fmtUs(b.e2eUs), fmtUs(a.e2eUs), fmtX(b.e2eUs / a.e2eUs)];
      }),
    ),
  ];
}

/** Streams: what each data event costs beyond the no-op, against copying it in and JSON.parse of it. */
function ssePerEventTable(W: WorkloadResult[]): string[] {
  const sse = W.filter((r) => r.events && r.js);
  if (!sse.length) return [];
  const hasCompare = sse.some((r) => r.filters.compare);
  return [
    "\n### SSE: cost per event (in module calls, per data event; added = ours − no-op)\n",
    table(
      [
        "workload",
        "events",
        "ours",
        "added",
        "copy in (SDK malloc)",
        "copy in (scratch)",
        "JSON.parse",
        "added / copy in (SDK malloc)",
        "added / JSON.parse",
        ...(hasCompare ? ["before: added", "before / after"] : []),
      ],
      sse.map((r) => {
        const e = perEvent(r);
        return [
          r.name,
          String(r.events),
          fmtUs(e.ours),
          fmtUs(e.added),
          fmtUs(e.copySdk),
          fmtUs(e.copyScratch),
          fmtUs(e.jsonParse),
          fmtX(e.added / e.copySdk),
          fmtX(e.added / e.jsonParse),
          ...(hasCompare ? [fmtUs(e.beforeAdded), fmtX(e.beforeAdded / e.added)] : []),
        ];
      }),
    ),
    "\ncopy in = the read floor (bytescan: the chunk copied into the module through the SDK's getBuffer, one SIMD pass) minus the no-op, per event: what any filter that reads the body pays. JSON.parse = V8 parsing the event's data in the bench process." +
      (hasCompare ? " before = the build given with --compare, in the same run." : ""),
  ];
}

/** VM startup per module: what Envoy pays per worker and per configuration update. */
function startupTable(startup: StartupResult[] | undefined): string[] {
  if (!startup?.length) return [];
  return [
    "\n### VM startup (median of interleaved rounds; this host on Node's V8)\n",
    table(
      ["module", "bytes", "compile", "instantiate + start + configure", "total"],
      startup.map((x) => [
        x.filter,
        String(x.bytes),
        `${x.compileMs.toFixed(2)} ms`,
        `${x.startMs.toFixed(2)} ms`,
        `${(x.compileMs + x.startMs).toFixed(2)} ms`,
      ]),
    ),
    "\ncompile = WebAssembly.compile of the module's bytes (a unique custom section each time, so V8's module cache cannot answer; V8 compiles lazily, so functions first called during start are compiled there); start = instantiate with the host's imports, _initialize, on_context_create, on_vm_start, on_configure with the empty plugin configuration. Envoy pays this per worker thread and on every configuration update.",
  ];
}

function memoryTable(W: WorkloadResult[]): string[] {
  return [
    "\n### Wasm linear memory (start → after the workload's streams)\n",
    table(
      ["workload", "ours", "no-op", "json-as"],
      W.map((r) => [
        r.name,
        ...(["llmproxy", "noop", "jsonas"] as const).map(
          (f) => `${fmtBytes(r.filters[f]!.memory.startBytes)} → ${fmtBytes(r.filters[f]!.memory.afterBytes)}`,
        ),
      ]),
    ),
  ];
}

/** The instrumented profiles: ours and json-as on the largest request, ours on the small call. */
function whereTheTimeGoesTables(W: WorkloadResult[]): string[] {
  const parts: string[] = [];
  const big = W.filter((r) => r.name.startsWith("req-")).sort((a, b) => b.requestBytes - a.requestBytes)[0];
  if (big) {
    for (const f of ["llmproxy", "jsonas"] as const) {
      const p = big.filters[f]!;
      parts.push(
        `\n### Where the time goes: ${f === "llmproxy" ? "ours" : "json-as"}, ${big.name} (mean per stream, ${fmtUs(p.wasmSelfUs + p.hostImportsUs)})\n`,
      );
      parts.push(profileBinsTable(p.profile.slice(0, 8)));
    }
  }
  const small = W.find((r) => r.name === "small-json");
  if (small) {
    const p = small.filters.llmproxy!;
    parts.push(
      `\n### Where the time goes: ours, small-json (mean per stream, ${fmtUs(p.wasmSelfUs + p.hostImportsUs)}; ${p.exportCalls.toFixed(0)} calls in, ${p.importCalls.toFixed(0)} calls out)\n`,
    );
    parts.push(profileBinsTable(p.profile.slice(0, 12)));
  }
  return parts;
}

/** An instrumented profile's bins: each export of the module and each host import it called. */
function profileBinsTable(bins: FilterResult["profile"]): string {
  return table(
    ["side", "function", "time", "share", "calls"],
    bins.map((b) => [b.side === "wasm" ? "module" : "host", b.name, fmtUs(b.us), `${b.pct.toFixed(1)}%`, b.calls.toFixed(0)]),
  );
}

/** A V8 sampling profile: the self time by category, then the top functions. */
function cpuProfileTables(cp: BenchResults["cpuProfiles"][number]): string[] {
  return [
    `\n### CPU profile: ${cp.filter === "llmproxy" ? "ours" : cp.filter}, ${cp.workload} (V8 sampling profiler over the names-kept release build, host + module; shares of self time)\n`,
    table(
      ["what", "share"],
      cp.categories.filter((c) => c.pct >= 0.5).map((c) => [c.category, `${c.pct.toFixed(1)}%`]),
    ),
    "",
    table(
      ["top functions (self time)", "share"],
      cp.top.slice(0, 8).map((r) => [`${r.where === "wasm" ? "" : r.where + " "}${r.name}`.replace(/\|/g, "\\|"), `${r.pct.toFixed(1)}%`]),
    ),
  ];
}

function moduleSizesTable(wasmBytes: BenchResults["wasmBytes"]): string[] {
  return [
    "\n### Module sizes\n",
    table(
      ["file", "bytes"],
      Object.entries(wasmBytes).map(([k, v]) => [k, String(v)]),
    ),
  ];
}

/** The no-op filter on the patched SDK against the SDK with its debug logging restored. */
function sdkBookkeepingTable(b: BenchResults["sdkBookkeeping"]): string[] {
  if (!b) return [];
  return [
    "\n### The SDK's per-stream bookkeeping (no-op filter, headers-only stream)\n",
    table(
      ["SDK", "in module calls", "end to end"],
      [
        ["patched (debug strings removed)", fmtUs(b.patchedInWasmUs), fmtUs(b.patchedE2eUs)],
        [`original logging (${b.restoredLogLines} debug lines restored)`, fmtUs(b.unpatchedInWasmUs), fmtUs(b.unpatchedE2eUs)],
      ],
    ),
  ];
}

/** Whether a malformed body traps the VM, and whether the VM still serves the next stream. */
function malformedTable(malformed: MalformedResult[]): string[] {
  if (!malformed.length) return [];
  return [
    "\n### Malformed input (a fresh VM each; then one valid stream on the same VM)\n",
    table(
      ["case", "ours: trap?", "ours: next stream", "json-as: trap?", "json-as: next stream"],
      malformed.map((m) => [
        m.case,
        m.llmproxy.trapped ? "TRAP" : `no (${m.llmproxy.skipReason ?? "usage read"})`,
        m.llmproxy.nextStreamOk ? "ok" : "FAILED",
        m.jsonas.trapped ? `TRAP (${(m.jsonas.error ?? "").replace(/\s+in ~lib.*$/, "").slice(0, 60)})` : "no",
        m.jsonas.nextStreamOk ? "ok" : "503 (VM failed)",
      ]),
    ),
  ];
}

function targetsTable(res: BenchResults): string[] {
  // Tiny bodies, 3 rounds, 2 ms samples: the harness ran, the figures judge nothing.
  if (res.meta.quick)
    return [
      "\n### Targets\n",
      "Not judged: `--quick` checks that every workload and baseline runs, with tiny bodies and 3 rounds; its figures are too small and too few for a target. Run without `--quick` for the verdicts.",
    ];
  return [
    "\n### Targets\n",
    table(
      ["target", "measured", "met"],
      res.targets.map((t) => [t.target, t.measured, t.met ? "yes" : "**no**"]),
    ),
  ];
}

function markdown(res: BenchResults): string {
  const m = res.meta;
  return [
    "# Benchmark results",
    "",
    "Generated by `npm run bench -- --markdown bench/RESULTS.md` (bench/run.ts); the JSON is in bench/results/latest.json (not committed).",
    "",
    `- date: ${m.date}`,
    `- machine: ${m.nproc} cores (\`nproc\`), ${m.cpu}; Node ${m.node}`,
    `- method: ${m.rounds} interleaved rounds per variant after warm-up, ~${m.targetMs} ms of streams per sample, medians; timer cost ${m.timerOverheadNs.toFixed(0)} ns per wrapped call, subtracted; run took ${m.durationS.toFixed(0)} s`,
    `- load average at start / end: ${m.loadavg.map((x) => x.toFixed(2)).join(" / ")} (other work shared the machine; ratios come from interleaved samples of the same run)`,
    "- ours = build/llmproxy.wasm (release), observe-only configuration (empty plugin config); no-op = build/noop.wasm (same SDK, no work); json-as = build/jsonas.wasm (bench/baselines/jsonas.ts: chunks appended to a buffer in wasm memory, json-as parse at end of stream, same outputs); read floor = build/bytescan.wasm (copy each chunk in, one SIMD pass); JSON.parse = TextDecoder + JSON.parse of the whole bodies in the bench process (per event for SSE); memchr = Buffer.indexOf of an absent byte over the chunks as delivered.",
    '- "in module calls" = wall time inside the host\'s calls into the module (bench/instrument.ts wraps every export and import; nested host imports such as the body copy are included and shown split), with the timers\' cost subtracted. "End to end" = the whole stream through the TypeScript host (host/), uninstrumented: header maps, body chunks, the host\'s copies of forwarded chunks, filter state, stats.',
    "- The host is this repository's TypeScript proxy-wasm host, not Envoy: host-side costs (header lookups, filter state, copying chunks) are JavaScript's here and C++'s in Envoy; the module's own code runs on V8's wasm tiers, as in Envoy's V8 runtime.",
    "",
    renderTables(res),
  ].join("\n");
}

const KEEP = "<!-- observations: kept when the tables above are regenerated -->";

/** Writes the report; a hand-written section after the KEEP marker in the old file survives. */
function writeMarkdown(path: string, res: BenchResults): void {
  const old = existsSync(path) ? readFileSync(path, "utf8") : "";
  const at = old.indexOf(KEEP);
  writeFileSync(path, markdown(res) + (at >= 0 ? "\n" + old.slice(at) : ""));
}

// ---------------------------------------------------------------- CLI

export const BENCH_USAGE = `Usage: npm run bench -- [options]

The filter's cost per workload against baselines measured in the same run (bench/run.ts;
docs/benchmarks.md). Without options: the full run (~3-4 min), tables on stdout, JSON in
bench/results/latest.json.

  --quick             CI-sized smoke: every workload and baseline runs (tiny bodies, 3 rounds);
                      no target verdicts
  --only NAME[,NAME]  only the workloads whose name contains one of these
  --out FILE          JSON output (default bench/results/latest.json; --quick: quick.json)
  --markdown FILE     also write the report as Markdown (e.g. bench/RESULTS.md)
  --from-json FILE    re-render a saved run (with --markdown FILE: as Markdown)
  --compare FILE      another build of the filter measured beside ours on every workload
  --envoy             the real-Envoy benchmark instead (bench/envoy.ts; takes --quick, --only,
                      --markdown, --perf, --compare, --from-json, --rounds)
  --rounds N          with --envoy: rounds per cell (default 3; medians over them)
  --perf              with --envoy: one more cell per workload and variant under perf, to
                      split Envoy's CPU between its own code, the module's and the kernel
  -h, --help          this text
`;

const BENCH_FLAGS = {
  help: { type: "boolean", short: "h" },
  quick: { type: "boolean" },
  only: { type: "string" },
  out: { type: "string" },
  markdown: { type: "string" },
  "from-json": { type: "string" },
  compare: { type: "string" },
  envoy: { type: "boolean" },
  perf: { type: "boolean" },
  rounds: { type: "string" },
} as const;

/** The command line, checked: an unknown option or a stray argument is an error, not a run. */
export function parseBenchArgs(argv: string[]) {
  return parseArgs({ args: argv, options: BENCH_FLAGS, strict: true, allowPositionals: false }).values;
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);

function benchMain(): void {
  let args: ReturnType<typeof parseBenchArgs>;
  try {
    args = parseBenchArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`bench: ${(e as Error).message.split(". ")[0]} (see --help)`);
    process.exit(2);
  }
  if (args.help) {
    process.stdout.write(BENCH_USAGE);
    return;
  }
  if (args["from-json"] && !args.envoy) {
    // Re-render a saved run.
    const res = JSON.parse(readFileSync(args["from-json"], "utf8")) as BenchResults;
    if (args.markdown) writeMarkdown(args.markdown, res);
    else process.stdout.write(renderTables(res));
    return;
  }
  if (args.rounds !== undefined && !(Number.isInteger(Number(args.rounds)) && Number(args.rounds) > 0)) {
    console.error("bench: --rounds takes a positive integer");
    process.exit(2);
  }
  // Built here, after the options are checked, so --help and a typo answer at once.
  execFileSync(process.execPath, [join(root, "scripts", "build.mjs"), "--if-needed", "--for", "bench"], { stdio: "inherit" });
  if (args.envoy) {
    // Real Envoy with wrk: bench/envoy.ts.
    void import("./envoy").then((m) =>
      m.envoyBenchMain({
        quick: !!args.quick,
        only: args.only?.split(","),
        markdown: args.markdown,
        perf: !!args.perf,
        compare: args.compare,
        fromJson: args["from-json"],
        rounds: args.rounds === undefined ? undefined : Number(args.rounds),
      }),
    );
    return;
  }
  runBench({
    quick: !!args.quick,
    only: args.only?.split(","),
    out: args.out,
    markdown: args.markdown ?? null,
    compare: args.compare ?? null,
  })
    .then((res) => {
      process.stdout.write(renderTables(res));
      const failed = res.workloads.flatMap((w) =>
        Object.entries(w.filters)
          .filter(([, f]) => !f!.correct)
          .map(([k, f]) => `${w.name}/${k}: ${f!.problems.join("; ")}`),
      );
      const missing = res.workloads.flatMap((w) => missingNumbers(w));
      if (failed.length || missing.length) {
        for (const f of [...failed, ...missing]) console.error(`FAIL ${f}`);
        process.exit(1);
      }
    })
    .catch((e) => {
      console.error(e);
      process.exit(1);
    });
}

if (isMain) benchMain();

/** Every baseline must have produced a number. */
export function missingNumbers(w: WorkloadResult): string[] {
  const out: string[] = [];
  for (const f of FILTERS) {
    const r = w.filters[f];
    if (!r) out.push(`${w.name}: no result for ${f}`);
    else
      for (const k of ["inWasmUs", "e2eUs"] as const) if (!Number.isFinite(r[k]) || r[k] <= 0) out.push(`${w.name}/${f}: ${k} = ${r[k]}`);
  }
  if (w.js)
    for (const k of ["jsonParseUs", "memchrUs"] as const)
      if (!Number.isFinite(w.js[k]) || w.js[k] <= 0) out.push(`${w.name}: ${k} = ${w.js[k]}`);
  return out;
}
