// What each kind of proxy-wasm host call costs in real Envoy, per call: the probe module
// (bench/baselines/hostcalls.ts: the no-op filter plus ONE kind of host call, N times per
// request, at the place the filter makes it) at a few call counts, each in its own Envoy (one
// worker), driven by wrk with the small chat call of `npm run bench -- --envoy`. Per kind, the
// CPU per call is the slope of Envoy's CPU per request over the count (least squares through the
// count-0 cell and the kind's cells, run back to back in each round); the figure is the median
// of the rounds' slopes, with their spread. Then the filter's census (bench/RESULTS-host-calls.md)
// × those unit costs, next to what the filter (observe-only) measures over the no-op filter in the
// same run: how much of the filter's per-request CPU its host calls explain.
//
//   npx tsx bench/envoy-host-calls.ts [--quick] [--markdown FILE] [--rounds N] [--seconds S]
//       [--counts 32,64] [--kinds set_property,get_header,...]
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ensureEnvoy } from "../envoy/install";
import type { EnvoyProcess } from "../envoy/process";
import { ENVOY_VERSIONS } from "../envoy/versions";
import { WasmVm } from "../host";
import { repoRoot } from "../repo/manifests";
import { drive, startUpstream, startVariant, workloads, type Sample, type Variant, type Workload } from "./envoy";
import { median } from "./median";
import { drive as driveInHost, type Workload as HostWorkload } from "./workloads";

/** The probe's kinds (its plugin configuration `<kind>=<count>`), each with the proxy-wasm import
 *  it calls and where. */
export const KINDS = [
  { kind: "get_header", import: "get_header_map_value", where: "on_request_headers; names the request carries (value copied in, decoded)" },
  { kind: "get_header_absent", import: "get_header_map_value", where: "on_request_headers; names it does not carry (NotFound)" },
  { kind: "get_header_pairs", import: "get_header_map_pairs", where: "on_request_headers; the whole request map (8 headers) in one call" },
  { kind: "set_property", import: "set_property", where: "response end; the filter's keys, distinct (Envoy: `wasm.<key>` filter state)" },
  { kind: "get_property", import: "get_property", where: "on_request_headers; `xds.listener_direction`, as the filter reads it" },
  { kind: "clock", import: "get_current_time_nanoseconds", where: "on_request_headers" },
  { kind: "increment_metric", import: "increment_metric", where: "response end; one counter defined once per VM" },
  { kind: "record_metric", import: "record_metric", where: "response end; one histogram defined once per VM" },
  { kind: "get_buffer", import: "get_buffer_bytes", where: "on_response_body; the whole chunk (~300 B) into the lent scratch block" },
] as const;

/** The probe kind that prices each import (get_header_map_value: by whether the header is there). */
const PRICED_BY: Record<string, string> = {
  set_property: "set_property",
  get_property: "get_property",
  get_current_time_nanoseconds: "clock",
  get_buffer_bytes: "get_buffer",
  increment_metric: "increment_metric",
  record_metric: "record_metric",
  get_header_map_pairs: "get_header_pairs",
};

export interface CensusRow {
  import: string;
  calls: number;
  kind?: string;
}

/** The filter's host calls (observe-only) per small chat call exactly as this bench sends it
 *  through Envoy (wrk's request with the headers Envoy's connection manager adds, the upstream's
 *  answer in one body callback and an empty end of stream), counted in the test host as
 *  bench/host-calls.ts counts them. Header reads are split by whether the header was there (a
 *  found value is the one the host copies into the module: the import's only copy). */
export async function smallCallCensus(w: Workload): Promise<CensusRow[]> {
  const body = Buffer.from(w.body ?? "");
  const hw: HostWorkload = {
    name: w.name,
    description: w.name,
    requestHeaders: [
      [":method", "POST"],
      [":path", "/v1/chat/completions"],
      [":authority", "api.openai.com"],
      [":scheme", "http"],
      ["content-type", "application/json"],
      ["content-length", String(body.length)],
      ["x-forwarded-proto", "http"],
      ["x-request-id", "5d3f0c2e-8a1b-4c6d-9e0f-1a2b3c4d5e6f"],
    ],
    requestChunks: [body],
    requestBody: body,
    responseHeaders: [
      [":status", "200"],
      ["content-type", w.contentType],
      ["content-length", String(w.answer.length)],
      ["date", "Mon, 07 Dec 2026 06:00:00 GMT"],
      ["x-envoy-upstream-service-time", "1"],
    ],
    responseChunks: [w.answer, new Uint8Array(0)],
    responseBody: w.answer,
    sse: false,
    llm: true,
    expect: null,
    large: false,
  };
  const vm = await WasmVm.load({
    wasm: readFileSync(join(repoRoot, "build/llmproxy.wasm")),
    rootId: "asm-llm-proxy",
    pluginConfig: "",
    properties: { nodeMetadata: { WORKLOAD_NAME: "sleep", NAMESPACE: "default" } },
  });
  if (!vm.start()) throw new Error("census: the filter did not start in the test host");
  driveInHost(vm, hw); // warm: metric ids defined, pools filled
  // The counting map sees each import's name just before the import runs: a copy into the
  // module made while the last one was get_header_map_value is a header that was there.
  let last = "";
  let found = 0;
  const counts = new (class extends Map<string, number> {
    set(k: string, v: number) {
      last = k;
      return super.set(k, v);
    }
  })();
  const copy = vm.copyToPointerSize.bind(vm);
  vm.copyToPointerSize = (bytes, ptrPtr, sizePtr) => {
    if (last === "proxy_get_header_map_value") found++;
    return copy(bytes, ptrPtr, sizePtr);
  };
  vm.hostCallCounts = counts;
  driveInHost(vm, hw);
  const rows: CensusRow[] = [];
  for (const [name, calls] of [...counts].sort((a, b) => b[1] - a[1])) {
    const imp = name.replace(/^proxy_/, "");
    if (imp === "get_header_map_value") {
      rows.push({ import: "get_header_map_value (present)", calls: found, kind: "get_header" });
      rows.push({ import: "get_header_map_value (absent)", calls: calls - found, kind: "get_header_absent" });
    } else rows.push({ import: imp, calls, kind: PRICED_BY[imp] });
  }
  return rows.filter((r) => r.calls > 0);
}

const PROBE = "build/hostcalls.wasm";
const NONE = "no filter";
const NOOP = "no-op filter";
const OBSERVE = "observe-only";
const ZERO = "hostcalls none=0";

function probe(config: string): Variant {
  return { name: `hostcalls ${config}`, wasm: PROBE, config, routed: false };
}

export interface Options {
  quick: boolean;
  rounds: number;
  seconds: number;
  counts: number[];
  kinds: string[];
}

export interface HostCallsResult {
  date: string;
  machine: string;
  envoy: string;
  rounds: number;
  seconds: number;
  counts: number[];
  load: number[];
  /** Every cell: variant name → one sample per time it ran (the count-0 probe runs once per kind per round). */
  cells: Record<string, (Sample & { round: number })[]>;
  /** Per kind: each round's slope in µs per call. */
  slopes: Record<string, number[]>;
  /** The filter's host calls per small chat call (smallCallCensus). */
  census: CensusRow[];
}

/** Least-squares slope of y over x. */
export function slope(points: [number, number][]): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  return sxx === 0 ? NaN : sxy / sxx;
}

export async function runHostCalls(opts: Options): Promise<HostCallsResult> {
  const install = spawnSync("bash", [join(repoRoot, "scripts", "wrk.sh")], { encoding: "utf8" });
  if (install.status !== 0) throw new Error(`wrk is not available: ${install.stderr.trim()}`);
  const binary = await ensureEnvoy(ENVOY_VERSIONS.newest);
  const w: Workload = workloads(opts.quick).find((x) => x.name.startsWith("small chat"))!;
  const census = await smallCallCensus(w);
  const upstream = await startUpstream(() => w);
  const dir = mkdtempSync(join(tmpdir(), "asm-llm-hostcalls-"));
  const fixed: Variant[] = [
    { name: NONE, wasm: null, config: "", routed: false },
    { name: NOOP, wasm: "build/noop.wasm", config: "", routed: false },
    { name: OBSERVE, wasm: "build/llmproxy.wasm", config: "", routed: false },
  ];
  const zero = probe("none=0");
  const byKind = new Map(opts.kinds.map((k) => [k, opts.counts.map((c) => probe(`${k}=${c}`))]));
  const all = [...fixed, zero, ...[...byKind.values()].flat()];
  const envoys = new Map<string, EnvoyProcess>();
  const load0 = loadavg()[0];
  const cells: HostCallsResult["cells"] = {};
  const slopes: HostCallsResult["slopes"] = {};
  const cell = async (v: Variant, round: number): Promise<Sample> => {
    const s = await drive(envoys.get(v.name)!, v, w, opts.seconds, dir);
    (cells[v.name] ??= []).push({ ...s, round });
    if (s.requests === 0 || s.errors > 0) process.stderr.write(`${v.name}: ${s.requests} requests, ${s.errors} errors\n`);
    return s;
  };
  try {
    for (const v of all) envoys.set(v.name, await startVariant(binary, v, upstream.port));
    // Warm-up: connections, V8's optimizing tier, the filter's pools; not recorded.
    for (const v of all) await drive(envoys.get(v.name)!, v, w, 1, dir);
    const kinds = [...byKind.keys()];
    for (let round = 0; round < opts.rounds; round++) {
      // Rotated each round so no cell always runs first; a kind's cells (and a count-0 cell of
      // its own) run back to back, so a slope compares cells seconds apart.
      const rot = <T>(xs: T[], by: number): T[] => xs.map((_, i) => xs[(i + by) % xs.length]);
      for (const v of rot(fixed, round)) await cell(v, round);
      for (const k of rot(kinds, round)) {
        const block = rot([zero, ...byKind.get(k)!], round);
        const points: [number, number][] = [];
        for (const v of block) {
          const s = await cell(v, round);
          points.push([v === zero ? 0 : Number(v.config.split("=")[1]), s.cpuUsPerRequest]);
        }
        const sl = slope(points);
        (slopes[k] ??= []).push(sl);
        process.stderr.write(
          `round ${round + 1}/${opts.rounds} ${k}: ${points.map(([c, y]) => `${c}→${y.toFixed(1)}`).join(" ")} µs/req; ${sl.toFixed(3)} µs/call\n`,
        );
      }
      process.stderr.write(
        `round ${round + 1}/${opts.rounds}: ${fixed.map((v) => `${v.name} ${cells[v.name].at(-1)!.cpuUsPerRequest.toFixed(1)}`).join(", ")} µs/req\n`,
      );
    }
    return {
      date: new Date().toISOString(),
      machine: `${cpus().length} × ${cpus()[0]?.model ?? "?"}`,
      envoy: envoys.values().next().value!.version,
      rounds: opts.rounds,
      seconds: opts.seconds,
      counts: opts.counts,
      load: [load0, loadavg()[0]],
      cells,
      slopes,
      census,
    };
  } finally {
    for (const e of envoys.values()) await e.stop();
    upstream.server.close();
  }
}

const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);
const f3 = (x: number) => x.toFixed(3);

/** Each round's difference a − b (the cells of one round), their median and range. */
function paired(r: HostCallsResult, a: string, b: string): { median: number; min: number; max: number } {
  const d: number[] = [];
  for (let round = 0; round < r.rounds; round++) {
    const x = median((r.cells[a] ?? []).filter((s) => s.round === round).map((s) => s.cpuUsPerRequest));
    const y = median((r.cells[b] ?? []).filter((s) => s.round === round).map((s) => s.cpuUsPerRequest));
    if (Number.isFinite(x) && Number.isFinite(y)) d.push(x - y);
  }
  return { median: median(d), min: Math.min(...d), max: Math.max(...d) };
}

export function renderHostCalls(r: HostCallsResult): string {
  const cpu = (name: string) => median((r.cells[name] ?? []).map((s) => s.cpuUsPerRequest));
  const requests = (name: string) => (r.cells[name] ?? []).reduce((a, s) => a + s.requests, 0);
  const unit = (kind: string) => median(r.slopes[kind] ?? []);
  const lines: string[] = [];
  lines.push(`# What each proxy-wasm host call costs in real Envoy`, ``);
  lines.push(
    `Generated by \`npx tsx bench/envoy-host-calls.ts\` on ${r.date.slice(0, 10)}: Envoy ${r.envoy}, one worker; load from wrk (1 thread, 4 connections); upstream on loopback; the small chat call of \`npm run bench -- --envoy\` (JSON request and answer, ~300 B each).`,
    `Machine: ${r.machine}; load average ${r.load.map(f2).join(" → ")} (other work shared the machine). ${r.rounds} rounds of ${r.seconds} s per cell.`,
    ``,
    `**Method.** \`build/hostcalls.wasm\` (bench/baselines/hostcalls.ts) is the no-op filter (same SDK, same root-context and stream bookkeeping) plus one kind of host call, made N times per request at the place the filter makes it, through the filter's own wrappers (assembly/envoy.ts). Each (kind, N) is its own Envoy; so are no filter, the no-op filter, this filter observe-only (build/llmproxy.wasm, empty configuration) and the probe with no calls (N = 0). CPU = Envoy's CPU time per request (every thread's, from /proc/<pid>/task/*/schedstat). In each round a kind's cells run back to back with a count-0 cell of their own, order rotated by round; the kind's cost per call in that round is the least-squares slope of CPU per request over N (N = 0, ${r.counts.join(", ")}: counts well above the filter's own, so the calls' CPU stands above the cells' noise, a few µs on this shared machine). Reported: the median of the rounds' slopes, and their range (min … max). The slope is the host call itself (V8's exit into Envoy, the host function, its copy into the module: for a returned value the host calls the module's malloc) plus the module's few instructions around it (decoding a header value to a string, as the filter does), and anything the call costs Envoy later in the request (a filter-state entry also lives until the stream ends, and the access log reads it). The calls of one kind come in a loop, back to back (caches and branch predictors warm), where the filter's are spread over its callbacks: if anything, a lower bound. The slopes are taken against the probe with no calls, not against the no-op filter: the probe's own state (its names and keys, a larger heap for the collector) may cost it a few µs per request more than the no-op filter, whatever the calls.`,
    ``,
    `## Cost per call`,
    ``,
    `| kind | import | where | µs per call (median) | range over rounds | CPU µs/req at N = 0, ${r.counts.join(", ")} (medians) |`,
    `|---|---|---|---:|---|---|`,
  );
  for (const k of KINDS) {
    const s = r.slopes[k.kind];
    if (!s) continue;
    const at = [cpu(ZERO), ...r.counts.map((c) => cpu(`hostcalls ${k.kind}=${c}`))];
    lines.push(
      `| ${k.kind} | ${k.import} | ${k.where} | ${f3(unit(k.kind))} | ${f3(Math.min(...s))} … ${f3(Math.max(...s))} | ${at.map(f1).join(", ")} |`,
    );
  }
  lines.push(
    ``,
    `## Reference variants`,
    ``,
    `| variant | requests | CPU µs/req (median) | over no-op: median of the rounds' differences (range) |`,
    `|---|---:|---:|---|`,
  );
  for (const name of [NONE, NOOP, ZERO, OBSERVE]) {
    const d = paired(r, name, NOOP);
    lines.push(
      `| ${name} | ${requests(name)} | ${f1(cpu(name))} | ${name === NOOP ? "" : `${f1(d.median)} (${f1(d.min)} … ${f1(d.max)})`} |`,
    );
  }
  lines.push(
    ``,
    `## The filter's small chat call: its host calls × these costs`,
    ``,
    `The filter's host calls per small chat call (observe-only), counted in the test host for exactly this call (the request as Envoy hands it to the filter, the answer in one body callback; as bench/host-calls.ts counts them; header reads split by whether the header was there), each import priced at the unit cost above, against what the filter measured over the no-op filter in this run (the no-op filter already pays the callbacks themselves and the SDK's per-stream bookkeeping). bench/RESULTS-host-calls.md counts another request and answer (the test host's small-json), hence its different figures.`,
    ``,
    `| import | calls per request | µs per call | µs per request |`,
    `|---|---:|---:|---:|`,
  );
  let predicted = 0;
  let unpriced = 0;
  for (const c of r.census) {
    const u = c.kind ? unit(c.kind) : NaN;
    if (Number.isFinite(u)) predicted += c.calls * u;
    else unpriced += c.calls;
    lines.push(
      `| ${c.import} | ${c.calls} | ${Number.isFinite(u) ? f3(u) : "not measured"} | ${Number.isFinite(u) ? f2(c.calls * u) : ""} |`,
    );
  }
  const total = r.census.reduce((a, c) => a + c.calls, 0);
  const observed = paired(r, OBSERVE, NOOP);
  lines.push(
    `| **host calls, predicted** | ${total}${unpriced ? ` (${unpriced} not priced)` : ""} | | **${f1(predicted)}** |`,
    `| **observe-only − no-op, measured** | | | **${f1(observed.median)}** (${f1(observed.min)} … ${f1(observed.max)}) |`,
    `| rest: the module's own work (parsing, publishing, GC) and whatever the host calls do not show alone | | | ${f1(observed.median - predicted)} |`,
    ``,
  );
  // A value returned into the module is one more crossing: the host calls the module's malloc
  // (a call into V8 from Envoy) before it copies the bytes in.
  const span = (kinds: string[]) => {
    const us = kinds.map(unit).filter(Number.isFinite);
    return us.length ? `${f2(Math.min(...us))} … ${f2(Math.max(...us))} µs` : "";
  };
  const returning = span(["get_header", "get_header_pairs", "get_property", "get_buffer"]);
  const plain = span(["get_header_absent", "set_property", "clock", "increment_metric", "record_metric"]);
  if (returning && plain) {
    lines.push(
      `Calls that return a value into the module (a present header, the header map, a property, a body chunk: the host first calls the module's malloc, then copies the bytes in) cost ${returning} each; calls that return none (an absent header, a filter-state write, the clock, a metric) ${plain}.`,
      ``,
    );
  }
  const present = unit("get_header");
  const pairs = unit("get_header_pairs");
  const reads = r.census.filter((c) => c.import.startsWith("get_header_map_value")).reduce((a, c) => a + c.calls, 0);
  if (Number.isFinite(pairs) && Number.isFinite(present) && reads > 0) {
    lines.push(
      `One read of the whole request map (get_header_map_pairs, 8 headers, walked in place) costs ${f3(pairs)} µs, about ${f1(pairs / present)} single reads of a present header.`,
      ``,
    );
  }
  const buf = unit("get_buffer");
  if (Number.isFinite(buf)) {
    lines.push(
      `A stream pays one get_buffer_bytes per body callback: ${f3(buf)} µs each (of a ~300-byte chunk), e.g. ${f1(200 * buf)} µs for the 200-event stream written one event per socket write.`,
      ``,
    );
  }
  return lines.join("\n");
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      markdown: { type: "string" },
      rounds: { type: "string" },
      seconds: { type: "string" },
      counts: { type: "string", default: "32,64" },
      kinds: { type: "string", default: KINDS.map((k) => k.kind).join(",") },
    },
  });
  const quick = values.quick ?? false;
  const kinds = values.kinds!.split(",");
  for (const k of kinds) if (!KINDS.some((x) => x.kind === k)) throw new Error(`--kinds: unknown kind ${k}`);
  const opts: Options = {
    quick,
    rounds: Number(values.rounds ?? (quick ? 1 : 5)),
    seconds: Number(values.seconds ?? (quick ? 1 : 2)),
    counts: values.counts!.split(",").map(Number),
    kinds,
  };
  if (opts.counts.some((c) => !Number.isInteger(c) || c <= 0)) throw new Error("--counts: positive integers");
  const r = await runHostCalls(opts);
  const text = renderHostCalls(r);
  process.stdout.write(text);
  if (values.markdown) writeFileSync(values.markdown, text);
  const failed = Object.entries(r.cells).filter(([, ss]) => ss.some((s) => s.requests === 0 || s.errors > 0));
  if (failed.length) {
    for (const [name] of failed) console.error(`FAIL ${name}: a cell had no requests or errors`);
    process.exitCode = 1;
  }
}

// Run as a script (importing it, for its census or renderer, runs nothing).
if (process.argv[1] && resolve(process.argv[1]) === import.meta.filename) await main();
