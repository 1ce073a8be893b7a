#!/usr/bin/env node
// Builds the filter (release + debug) and the benchmark baselines with the AssemblyScript compiler.
//   node scripts/build.mjs [--if-needed] [--for start|test|bench|all]
// `--for` builds only what that command runs (`npm start` needs the release module alone, 9 s;
// the baselines are three more compiles, half a minute on a busy machine); default: all.
// `--if-needed` skips the outputs that are newer than every input, so a second `npm start`
// starts at once. Each compile prints one line when it starts and one when it ends (stderr).
import { main as asc } from "assemblyscript/asc";
import { readdirSync, statSync, existsSync, mkdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { generate as generateFromSchema } from "./config-schema.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(root);
// The configuration's allowed keys and bounds (assembly/config-schema.ts) and the docs' field
// table come from config/schema.json; regenerated first, so a changed schema rebuilds.
for (const file of generateFromSchema()) console.error(`generated ${file}`);

/** The baselines keep the speed-first shrink level they were measured with (the release
 *  target uses shrinkLevel 1, which measured as fast on the filter). */
export const BASELINE_RUNTIME = ["--runtime", "incremental", "--shrinkLevel", "0"];

/** Every wasm this project ships or measures: [entry, outFile, target, extra asc args?]. */
export const outputs = [
  ["assembly/index.ts", "build/llmproxy.wasm", "release"],
  ["assembly/index.ts", "build/llmproxy.debug.wasm", "debug"],
  ["bench/baselines/inflate-probe.ts", "build/inflate-probe.wasm", "release", BASELINE_RUNTIME],
  ["bench/baselines/noop.ts", "build/noop.wasm", "release", BASELINE_RUNTIME],
  ["bench/baselines/jsonas.ts", "build/jsonas.wasm", "release", ["--transform", "json-as/transform", ...BASELINE_RUNTIME]],
  ["bench/baselines/bytescan.ts", "build/bytescan.wasm", "release", BASELINE_RUNTIME],
  ["bench/baselines/hostcalls.ts", "build/hostcalls.wasm", "release", BASELINE_RUNTIME],
];

const BASELINES = ["build/noop.wasm", "build/jsonas.wasm", "build/bytescan.wasm"];
/** What each command needs (the test suite loads the baselines: host fixtures, bench smoke; and
 *  the inflater alone: its tests and the bench's inflate table). */
export const NEEDS = {
  start: ["build/llmproxy.wasm"],
  test: ["build/llmproxy.wasm", "build/inflate-probe.wasm", ...BASELINES],
  // and the host-call probe (bench/envoy-host-calls.ts), which the test suite does not load
  bench: ["build/llmproxy.wasm", "build/inflate-probe.wasm", ...BASELINES, "build/hostcalls.wasm"],
  all: outputs.map(([, out]) => out),
};

function newest(dir) {
  let t = 0;
  if (!existsSync(dir)) return t;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    t = Math.max(t, s.isDirectory() ? newest(p) : s.mtimeMs);
  }
  return t;
}

async function main() {
  let args;
  try {
    ({ values: args } = parseArgs({ options: { "if-needed": { type: "boolean" }, for: { type: "string", default: "all" } } }));
  } catch (e) {
    console.error(`build: ${e.message}`);
    process.exit(2);
  }
  const wanted = NEEDS[args.for];
  if (!wanted) {
    console.error(`build: --for ${args.for}: expected one of ${Object.keys(NEEDS).join(", ")}`);
    process.exit(2);
  }
  const inputsTime = Math.max(
    newest("assembly"),
    newest("bench/baselines"),
    statSync("asconfig.json").mtimeMs,
    newest("node_modules/@solo-io/proxy-runtime/assembly"),
    statSync("package.json").mtimeMs,
  );
  const selected = outputs.filter(([, out]) => wanted.includes(out));
  const todo = args["if-needed"] ? selected.filter(([, out]) => !existsSync(out) || statSync(out).mtimeMs < inputsTime) : selected;
  mkdirSync("build", { recursive: true });
  const t0 = Date.now();
  for (const [i, [entry, outFile, target, extraArgs = []]] of todo.entries()) {
    const ascArgs = [entry, "--config", "asconfig.json", "--target", target, "--outFile", outFile, ...extraArgs];
    if (target === "debug") ascArgs.push("--textFile", outFile.replace(/\.wasm$/, ".wat"));
    console.error(`build [${i + 1}/${todo.length}]: compiling ${outFile} (${target}) from ${entry} ...`);
    const t = Date.now();
    const { error, stderr } = await asc(ascArgs);
    if (error) {
      console.error(stderr.toString());
      console.error(`build failed: ${entry} (${target}): ${error.message}`);
      process.exit(1);
    }
    console.error(
      `build [${i + 1}/${todo.length}]: built ${outFile} (${statSync(outFile).size} bytes) in ${((Date.now() - t) / 1000).toFixed(1)} s`,
    );
  }
  if (todo.length > 1) console.error(`build: ${todo.length} modules in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

await main();
