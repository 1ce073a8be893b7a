#!/usr/bin/env node
// Builds the filter (release + debug) and the benchmark baselines with the AssemblyScript compiler.
// `--if-needed` skips the build when every output is newer than every input, so `npm test` and
// `npm start` on a fresh clone build once and then start fast.
import { main as asc } from "assemblyscript/asc";
import { readdirSync, statSync, existsSync, mkdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
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
  ["bench/baselines/noop.ts", "build/noop.wasm", "release", BASELINE_RUNTIME],
  ["bench/baselines/jsonas.ts", "build/jsonas.wasm", "release", ["--transform", "json-as/transform", ...BASELINE_RUNTIME]],
  ["bench/baselines/bytescan.ts", "build/bytescan.wasm", "release", BASELINE_RUNTIME],
];

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

const inputsTime = Math.max(
  newest("assembly"),
  newest("bench/baselines"),
  statSync("asconfig.json").mtimeMs,
  newest("node_modules/@solo-io/proxy-runtime/assembly"),
  statSync("package.json").mtimeMs,
);
const stale = outputs.filter(([, out]) => !existsSync(out) || statSync(out).mtimeMs < inputsTime);
if (process.argv.includes("--if-needed") && stale.length === 0) process.exit(0);

mkdirSync("build", { recursive: true });
for (const [entry, outFile, target, extraArgs = []] of outputs) {
  const args = [entry, "--config", "asconfig.json", "--target", target, "--outFile", outFile, ...extraArgs];
  if (target === "debug") args.push("--textFile", outFile.replace(/\.wasm$/, ".wat"));
  const t0 = Date.now();
  const { error, stderr } = await asc(args);
  if (error) {
    console.error(stderr.toString());
    console.error(`build failed: ${entry} (${target}): ${error.message}`);
    process.exit(1);
  }
  console.error(`built ${outFile} (${statSync(outFile).size} bytes, ${Date.now() - t0} ms)`);
}
