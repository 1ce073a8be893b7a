// Where a filter's time goes inside the module, function by function: builds the filter (or a
// baseline) at the release optimization level with its name section kept (--debug), runs one
// workload's streams through the host under V8's sampling CPU profiler (node:inspector), and
// prints self time by function — wasm functions by their AssemblyScript names, host functions
// by name and file.
//
//   tsx bench/profile.ts [WORKLOAD] [--filter llmproxy|jsonas|noop] [--ms 3000] [--top 30]
//   e.g. tsx bench/profile.ts req-10MB-model-last
import { Session } from "node:inspector/promises";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { WasmVm } from "../host/abi/vm";
import { buildWorkloads, drive, FULL_SIZES, type Workload } from "./workloads";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

const ENTRIES: Record<string, [string, string[]]> = {
  llmproxy: ["assembly/index.ts", []],
  noop: ["bench/baselines/noop.ts", ["--runtime", "incremental", "--shrinkLevel", "0"]],
  jsonas: ["bench/baselines/jsonas.ts", ["--transform", "json-as/transform", "--runtime", "incremental", "--shrinkLevel", "0"]],
};

function newest(dir: string): number {
  let t = 0;
  for (const name of existsSync(dir) ? readdirSync(dir) : []) {
    const p = join(dir, name);
    const s = statSync(p);
    t = Math.max(t, s.isDirectory() ? newest(p) : s.mtimeMs);
  }
  return t;
}

/** The release build with function names (a separate file; build/ outputs are untouched). */
export function buildNamed(filter: string): string {
  const [entry, extra] = ENTRIES[filter];
  const out = join(root, `build/profile/${filter}.named.wasm`);
  const inputs = Math.max(
    newest(join(root, "assembly")),
    newest(join(root, "bench/baselines")),
    statSync(join(root, "asconfig.json")).mtimeMs,
  );
  if (existsSync(out) && statSync(out).mtimeMs > inputs) return out;
  mkdirSync(dirname(out), { recursive: true });
  const r = spawnSync(
    process.execPath,
    [
      join(root, "node_modules/assemblyscript/bin/asc.js"),
      entry,
      "--config",
      "asconfig.json",
      "--target",
      "release",
      "--debug",
      "--outFile",
      relative(root, out),
      ...extra,
    ],
    { cwd: root, encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`build failed:\n${r.stderr}`);
  return out;
}

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

export interface ProfileRow {
  name: string;
  where: string;
  /** Self time per stream (ms). */
  selfMs: number;
  pct: number;
}

export async function profile(w: Workload, filter: string, ms: number): Promise<ProfileRow[]> {
  const wasm = readFileSync(buildNamed(filter));
  const vm = await WasmVm.load({ wasm, rootId: "asm-llm-proxy", pluginConfig: "" });
  if (!vm.start()) throw new Error("VM failed to start");
  const warm = performance.now() + 500;
  while (performance.now() < warm) drive(vm, w);
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 100 });
  await session.post("Profiler.start");
  const until = performance.now() + ms;
  let streams = 0;
  while (performance.now() < until) {
    drive(vm, w);
    streams++;
  }
  const { profile } = (await session.post("Profiler.stop")) as unknown as {
    profile: { nodes: Node[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] };
  };
  session.disconnect();
  // Self time per node from samples × deltas.
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++)
    self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0));
  const byFn = new Map<string, { name: string; where: string; us: number }>();
  let total = 0;
  for (const n of profile.nodes) {
    const us = self.get(n.id) ?? 0;
    if (!us) continue;
    const f = n.callFrame;
    const where = f.url.startsWith("wasm://")
      ? "wasm"
      : f.url.startsWith("file:")
        ? relative(root, fileURLToPath(f.url))
        : f.url.startsWith("/")
          ? relative(root, f.url)
          : f.url || "(native)";
    const name = f.functionName || "(anonymous)";
    const key = `${where}|${name}`;
    const e = byFn.get(key) ?? { name, where, us: 0 };
    e.us += us;
    byFn.set(key, e);
    total += us;
  }
  if (vm.failed) throw new Error(`VM trapped: ${vm.lastTrap?.message}`);
  return [...byFn.values()]
    .filter((e) => e.name !== "(idle)" && e.name !== "(program)")
    .sort((a, b) => b.us - a.us)
    .map((e) => ({ name: e.name, where: e.where, selfMs: e.us / 1000 / streams, pct: (100 * e.us) / total }));
}

/** Self time grouped by what it is for. */
export const CATEGORIES: [string, (r: ProfileRow) => boolean][] = [
  ["module: JSON scanner (assembly/json)", (r) => r.where === "wasm" && r.name.startsWith("assembly/json/")],
  ["module: SSE framer (assembly/sse)", (r) => r.where === "wasm" && r.name.startsWith("assembly/sse")],
  ["module: filter logic, telemetry (assembly/*)", (r) => r.where === "wasm" && r.name.startsWith("assembly/")],
  [
    "module: AssemblyScript GC + allocator (~lib/rt)",
    (r) => r.where === "wasm" && (r.name.startsWith("~lib/rt/") || r.name.startsWith("~lib/memory") || r.name === "~start"),
  ],
  ["module: SDK (proxy-runtime)", (r) => r.where === "wasm" && r.name.includes("@solo-io/proxy-runtime")],
  ["module: json-as", (r) => r.where === "wasm" && r.name.includes("json-as")],
  ["module: AssemblyScript std (strings, arrays, maps)", (r) => r.where === "wasm" && r.name.startsWith("~lib/")],
  ["module: baseline code (bench/baselines)", (r) => r.where === "wasm" && r.name.startsWith("bench/")],
  ["module: other", (r) => r.where === "wasm"],
  [
    "host: body copy into the module (get_buffer_bytes, memory set, copyOut)",
    (r) =>
      (r.where === "host/abi/memory.ts" && ["set", "refresh", "view"].includes(r.name)) ||
      (r.where === "host/abi/context.ts" && r.name === "copyOut") ||
      r.name === "proxy_get_buffer_bytes" ||
      r.name === "get buffer",
  ],
  [
    "host: forwarding chunks downstream/upstream (copies; Envoy moves them)",
    (r) => r.where === "host/envoy/stream.ts" && r.name === "forwardData",
  ],
  [
    "host: headers, properties, filter state, stats (strings ↔ bytes)",
    (r) => r.where.startsWith("host/") || r.where.startsWith("node:internal/encoding") || /UTF8|Utf8|encode|decode/.test(r.name),
  ],
  ["V8: JS↔wasm calls, GC, natives", (r) => r.where === "(native)" || r.where === "" || r.name === "(garbage collector)"],
  ["bench driver", (r) => r.where.startsWith("bench/")],
  ["other", () => true],
];

export function categorize(rows: ProfileRow[]): { category: string; selfMs: number; pct: number }[] {
  const out = new Map<string, { category: string; selfMs: number; pct: number }>();
  for (const r of rows) {
    const [category] = CATEGORIES.find(([, test]) => test(r))!;
    const e = out.get(category) ?? { category, selfMs: 0, pct: 0 };
    e.selfMs += r.selfMs;
    e.pct += r.pct;
    out.set(category, e);
  }
  return [...out.values()].sort((a, b) => b.selfMs - a.selfMs);
}

const isMain =
  process.argv[1] !== undefined &&
  fileURLToPath(import.meta.url) === (process.argv[1].startsWith("/") ? process.argv[1] : join(process.cwd(), process.argv[1]));
if (isMain) {
  const { values, positionals } = parseArgs({
    options: {
      filter: { type: "string", default: "llmproxy" },
      ms: { type: "string", default: "3000" },
      top: { type: "string", default: "30" },
    },
    strict: true,
    allowPositionals: true,
  });
  const filter = values.filter;
  if (!(filter in ENTRIES)) throw new Error(`--filter: one of ${Object.keys(ENTRIES).join(", ")}`);
  const ms = Number(values.ms);
  const top = Number(values.top);
  if (!(ms > 0) || !(top > 0)) throw new Error("--ms and --top take positive numbers");
  const workload = positionals[0] ?? "req-10MB-model-last";
  const w = buildWorkloads(FULL_SIZES).find((x) => x.name === workload);
  if (!w) throw new Error(`no workload ${workload}`);
  const rows = await profile(w, filter, ms);
  console.log(`${filter} on ${workload}: self time per stream by function (V8 sampling profiler)`);
  for (const r of rows.slice(0, top))
    console.log(
      `${r.pct.toFixed(1).padStart(5)}%  ${(r.selfMs * 1000).toFixed(1).padStart(9)} µs  ${r.where === "wasm" ? "" : r.where + " "}${r.name}`,
    );
  console.log("\nby category:");
  for (const c of categorize(rows))
    console.log(`${c.pct.toFixed(1).padStart(5)}%  ${(c.selfMs * 1000).toFixed(1).padStart(9)} µs  ${c.category}`);
}
