#!/usr/bin/env node
// The release module's size under other compiler flags (issue 13, item 4): builds
// assembly/index.ts with the release target plus each variant's extra asc flags into
// build/knobs/NAME.wasm and prints the sizes. The numbers behind bench/RESULTS.md's knob table.
//   node bench/size-knobs.mjs '[["s2",["--shrinkLevel","2"]],["incremental",["--runtime","incremental"]]]'
import { main as asc } from "assemblyscript/asc";
import { statSync, mkdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

process.chdir(join(dirname(fileURLToPath(import.meta.url)), ".."));
const variants = JSON.parse(process.argv[2] ?? '[["release",[]]]');
mkdirSync("build/knobs", { recursive: true });
for (const [name, flags] of variants) {
  const out = `build/knobs/${name}.wasm`;
  const t0 = Date.now();
  const { error, stderr } = await asc([
    "assembly/index.ts",
    "--config",
    "asconfig.json",
    "--target",
    "release",
    "--outFile",
    out,
    ...flags,
  ]);
  if (error) {
    console.log(name, "ERROR", stderr.toString().slice(0, 500));
    continue;
  }
  console.log(`${name}\t${statSync(out).size} bytes\t${Date.now() - t0} ms\t${flags.join(" ")}`);
}
